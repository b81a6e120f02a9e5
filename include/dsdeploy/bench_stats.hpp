// SPDX-License-Identifier: Apache-2.0
// The benchmark's statistics, as numpy/pandas compute them: percentiles, distributions,
// vLLM's goodput SLOs and percentile options, and summarize(), which turns a run_result into
// a run_summary (TTFT, TPOT, ITL, E2EL, throughput, goodput, errors, client overhead).
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/bench_results.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

// The p-th percentile (0..100) of sorted values with linear interpolation (numpy's default).
// Throws bench.config on an empty input or p outside [0, 100].
double percentile(const std::vector<double>& sorted, double p);

struct distribution {
    std::size_t n = 0;
    double mean = 0, median = 0, min = 0, max = 0;
    double std = 0;         // population (ddof 0), as vLLM's np.std
    double sample_std = 0;  // ddof 1, as llmperf's pandas .std(); 0 for n < 2
    std::vector<std::pair<double, double>> percentiles;  // (p, value)
    double at(double p) const;  // a computed percentile; throws bench.config when not computed
};
distribution describe(std::vector<double> values, const std::vector<double>& percentiles);

// vLLM's --goodput: the SLOs a request must all meet, in milliseconds.
struct slo {
    std::optional<double> ttft_ms, tpot_ms, e2el_ms;
    bool empty() const { return !ttft_ms && !tpot_ms && !e2el_ms; }
};
// Parses "ttft:200,tpot:50" (vLLM's KEY:VALUE pairs, also space separated); bench.config on error.
slo parse_goodput(std::string_view text);

struct summary_options {
    // + "e2el"; vLLM's "client_queue_time" and "e2el_including_client_queue" (with a cap) go to its file only
    std::vector<std::string> percentile_metrics = {"ttft", "tpot", "itl"};
    std::vector<double> metric_percentiles = {99};
    bench::slo goodput;
};
// Parses vLLM's "ttft,tpot,itl,e2el" (and its client_queue_time, e2el_including_client_queue)
// and "50,90,99"; bench.config on unknown names or values.
std::vector<std::string> parse_percentile_metrics(std::string_view text);
std::vector<double> parse_metric_percentiles(std::string_view text);

struct run_summary {
    std::size_t completed = 0, failed = 0, cancelled = 0;
    std::size_t empty_outputs = 0;           // completed without any event carrying text
    double duration = 0;
    std::int64_t total_input_tokens = 0, total_output_tokens = 0;
    double request_throughput = 0;           // completed / duration
    std::optional<double> request_goodput;   // requests meeting every SLO / duration
    double output_throughput = 0;            // output tokens / duration
    double total_token_throughput = 0;       // (input + output) tokens / duration
    double peak_output_throughput = 0;       // the fullest whole 1-second bucket (a last partial one only if it is the only one)
    double peak_concurrency = 0;             // most requests in flight at once
    double mean_concurrency = 0;             // sum of latencies / duration (Little's law)
    std::string output_token_source;         // "usage", "chunk count (no usage from the server)", "mixed"
    std::size_t output_events = 0;           // output-carrying events of completed requests
    // In milliseconds. ttft: first output event - send. tpot: (e2el - ttft) / (tokens - 1),
    // per request. itl: every gap between output events, pooled. e2el: last output event - send.
    distribution ttft, tpot, itl, e2el;
    distribution queue;                      // send - scheduled (open loop: the schedule's lag)
    // Coordinated omission: the same latencies measured from the scheduled send time (open loop:
    // the schedule; closed loop: when the user was free, which is the send), so that time a
    // request waited for a slot or for the client counts. ms.
    distribution ttft_from_scheduled, e2el_from_scheduled;
    std::map<std::string, std::size_t> errors;  // "500", "-1 timeout", ... -> count
    // Output tokens per second in 1-second buckets from the start; the last bucket covers only
    // what is left of the duration (last_bucket_seconds, in (0, 1]) and is divided by that length,
    // so that a last partial second is not counted as a whole one.
    std::vector<double> output_tokens_per_second;
    double last_bucket_seconds = 1;
    double client_cpu_seconds = 0;
    double client_us_per_event = 0;          // client CPU per data event, microseconds
    summary_options options;
};
run_summary summarize(const run_result& r, const summary_options& o = {});

}  // namespace bench
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/bench_stats_inl.hpp>
#endif
