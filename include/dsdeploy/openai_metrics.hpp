// SPDX-License-Identifier: Apache-2.0
// vLLM's /metrics page: a Prometheus text exposition parsed into samples, with vLLM's main
// gauges, counters and histograms (old and new names) picked out in server_metrics.
#pragma once

#include <dsdeploy/config.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace openai {

// One sample of a Prometheus text exposition.
struct metric_sample {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;
    std::string label(std::string_view key) const;  // "" when absent
};

struct histogram_summary {
    double sum = 0;
    double count = 0;
    double mean() const { return count > 0 ? sum / count : 0; }
};

// GET /metrics, parsed. The named values are vLLM's main gauges and counters, summed over
// every label set (engine, model_name); nullopt when the server did not report them. Old and
// new names are both read (kv_cache_usage_perc / gpu_cache_usage_perc; inter_token_latency /
// time_per_output_token; prefix_cache_* / gpu_prefix_cache_*).
struct server_metrics {
    std::vector<metric_sample> samples;

    std::optional<double> requests_running;    // vllm:num_requests_running
    std::optional<double> requests_waiting;    // vllm:num_requests_waiting
    std::optional<double> kv_cache_usage;      // 0..1
    std::optional<double> prefix_cache_queries;
    std::optional<double> prefix_cache_hits;
    std::optional<double> preemptions;
    std::optional<double> prompt_tokens;       // vllm:prompt_tokens_total
    std::optional<double> generation_tokens;   // vllm:generation_tokens_total
    std::optional<double> requests_finished;   // vllm:request_success_total, all reasons
    std::map<std::string, double> requests_by_finish_reason;  // "stop", "length", "abort"
    std::optional<histogram_summary> time_to_first_token;  // seconds
    std::optional<histogram_summary> inter_token_latency;  // seconds
    std::optional<histogram_summary> e2e_request_latency;  // seconds
    std::optional<histogram_summary> queue_time;           // seconds

    // Sum of every sample called `name` (exact exposition name); nullopt when there is none.
    std::optional<double> total(std::string_view name) const;
};

// Parses a Prometheus text exposition. Lines that are not samples are skipped; a body with
// lines but no sample at all throws client.decode (it was not a metrics page).
server_metrics parse_metrics(std::string_view text);

}  // namespace openai
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/openai_metrics_inl.hpp>
#endif
