// SPDX-License-Identifier: Apache-2.0
// The streaming reader of doctor's logs: line_splitter and log_reader. The first byte picks the
// chunk size (1-256) and the next two a small max_line; the rest is the input. Checked: the
// lines are the same whatever the chunks, hold no CR or LF and are at most max_line long, the
// byte count is the input's, and log_reader fed in chunks reports what the whole-text parsers do.
#include <dsdeploy/detail/line_splitter.hpp>
#include <dsdeploy/diagnose.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {
std::vector<std::string> lines_of(std::string_view text, std::size_t chunk, std::size_t max_line) {
    dsdeploy::detail::line_splitter s(max_line);
    std::vector<std::string> out;
    auto one = [&out](std::string_view l) { out.emplace_back(l); };
    for (std::size_t i = 0; i < text.size(); i += chunk) s.feed(text.substr(i, chunk), one);
    s.finish(one);
    if (s.bytes() != text.size() || s.lines() != out.size()) std::abort();
    return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const std::size_t chunk = std::size_t{data[0]} + 1;
    const std::size_t max_line = (std::size_t{data[1]} << 8 | data[2]) + 1;
    const std::string_view text(reinterpret_cast<const char*>(data + 3), size - 3);
    const auto whole = lines_of(text, text.size() + 1, max_line);
    if (lines_of(text, chunk, max_line) != whole) std::abort();
    for (const auto& l : whole)
        if (l.size() > max_line || l.find_first_of("\r\n") != std::string::npos) std::abort();

    dsdeploy::log_reader r("vllm_log");
    for (std::size_t i = 0; i < text.size(); i += chunk) r.feed(text.substr(i, chunk));
    const auto g = r.finish();
    const auto nccl = dsdeploy::parse_nccl_log(text);
    const auto vllm = dsdeploy::parse_vllm_log(text);
    const auto events = dsdeploy::parse_log_events(text);
    if (g.nccl.recognised != nccl.recognised || g.vllm.recognised != vllm.recognised || g.events.recognised != events.recognised) std::abort();
    if (g.vllm.requested_node_ips != vllm.requested_node_ips || g.nccl.warnings.size() != nccl.warnings.size()) std::abort();
    dsdeploy::node_evidence n;
    n.name = "node1";
    n.streamed.push_back(g);
    (void)dsdeploy::diagnose({{n}});
    return 0;
}
