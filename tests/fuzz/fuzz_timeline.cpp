// SPDX-License-Identifier: Apache-2.0
// The timeline's parsers: the input as one node's probe output (clock, process states, numbered
// log lines) and as a plain vLLM log, judged across two nodes, printed as text and JSON.
#include <dsdeploy/timeline.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    dsdeploy::timeline_node_input probed = dsdeploy::parse_timeline_probe(text, "h1");
    dsdeploy::timeline_node_input plain;
    plain.name = "h2";
    std::size_t n = 0, start = 0;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        if (i == text.size() || text[i] == '\n') {
            plain.lines.push_back({++n, text.substr(start, i - start)});
            start = i + 1;
        }
    }
    plain.total_lines = n;
    plain.now = probed.now ? probed.now : std::optional<std::int64_t>(1796293170);
    plain.log_mtime = probed.log_mtime;
    plain.processes = probed.processes;
    dsdeploy::timeline_options o;
    o.stuck_after = std::chrono::seconds(1);
    o.tensor_parallel_size = 2;
    o.head = "h1";
    const auto r = dsdeploy::build_timeline({probed, plain}, o);
    (void)dsdeploy::to_text(r);
    nlohmann::json j = r;
    (void)j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    (void)r.exit_code();
    return 0;
}
