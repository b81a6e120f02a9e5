// SPDX-License-Identifier: Apache-2.0
// What a benchmark run recorded: one request_record per request (times are seconds from the
// run's start, on bench::clock, a steady clock) and the run_result that holds them with the
// run's settings. Plain data: the statistics are in bench_stats.hpp, the documents written
// from it in bench_formats.hpp.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/bench_workload.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

using clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC on Linux: every duration uses it

enum class request_status { ok, failed, cancelled };

struct request_record {
    std::size_t index = 0;
    request_status status = request_status::cancelled;  // cancelled until it finishes
    double scheduled = 0;     // when the schedule wanted it sent (open loop) or when a user was free
    double sent = -1;         // just before the request was written
    double first_byte = -1;   // first byte of the answer
    double first_token = -1;  // first event that carried output (content, reasoning, text)
    double last_token = -1;   // last such event
    double end = -1;          // the stream ended ([DONE] and the end of the body) or failed
    std::vector<double> token_times;  // every output-carrying event
    std::size_t events = 0;           // data events, [DONE] excluded
    std::int64_t prompt_tokens = 0;
    std::int64_t output_tokens = 0;
    bool tokens_from_usage = false;   // false: prompt from the workload, output = events with output
    bool tokens_from_tokenize = false;  // output = the server's /tokenize of generated_text (count_output_tokens)
    std::string generated_text;       // the streamed text, kept only when run_options::keep_text
    std::string finish_reason;
    int error_code = 0;               // HTTP status, or -1 (transport, stream, decode) as llmperf
    std::string error_kind;           // "http", "connection", "timeout", "stream", "decode", "empty"
    std::string error_msg;
};

struct run_result {
    workload_options workload;
    bench::endpoint endpoint = endpoint::chat;
    std::string base_url;
    std::string prompt_token_source;
    double request_rate = std::numeric_limits<double>::infinity();
    double burstiness = 1.0;
    std::size_t max_concurrency = 0;  // 0: none
    bool closed_loop = true;
    std::string engine;               // "epoll", "transport"
    std::int64_t started_unix = 0;    // wall clock at the start (one anchor, for logs)
    double duration = 0;              // first send to last completion (or interruption)
    bool interrupted = false;         // Ctrl-C or stop flag
    bool time_limit_hit = false;
    double client_cpu_seconds = 0;    // this process's user + system CPU during the run
    std::vector<request_record> requests;  // measured requests, in index order
    std::vector<request_record> warmup;    // warm-up requests (not in any statistic)
};

}  // namespace bench
DSDEPLOY_NAMESPACE_END
