// SPDX-License-Identifier: Apache-2.0
// The benchmark's recorder (stream_job) takes a server's answer byte by byte: whatever the
// bytes, in whatever pieces, it records success or an error for the request and never throws
// or crashes. The first byte chooses the HTTP status and the read size.
#include <dsdeploy/bench.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    namespace b = dsdeploy::bench;
    const int status = data[0] & 0x80 ? 500 : 200;
    const std::size_t piece = 1 + data[0] % 31;
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    b::request_record rec;
    b::stream_job job;
    const auto t0 = b::clock::now();
    job.reset(&rec, t0, 8);
    rec.sent = 0;
    bool go = job.on_headers(status, t0);
    for (std::size_t i = 0; go && i < body.size(); i += piece) go = job.on_body(body.substr(i, piece), t0);
    job.on_end(go ? dsdeploy::openai::transport_error::none : dsdeploy::openai::transport_error::canceled, {}, t0);
    if (rec.status == b::request_status::ok) {
        if (status != 200) std::abort();
        if (rec.token_times.size() > rec.events) std::abort();
        if (!rec.tokens_from_usage && rec.output_tokens != static_cast<std::int64_t>(rec.token_times.size())) std::abort();
    }
    if (rec.status == b::request_status::failed && rec.error_msg.empty()) std::abort();
    b::run_result r;
    r.duration = 1;
    r.requests.push_back(rec);
    (void)b::summarize(r);
    (void)b::llmperf_individual_responses(r);
    return 0;
}
