// SPDX-License-Identifier: Apache-2.0
// The definitions of openai_metrics.hpp: included by it in header-only mode, compiled once by
// src/openai_metrics.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/openai_metrics.hpp>
#include <dsdeploy/openai_errors.hpp>

#include <dsdeploy/detail/text.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>

DSDEPLOY_NAMESPACE_BEGIN
namespace openai {

DSDEPLOY_INLINE std::string metric_sample::label(std::string_view key) const {
    for (const auto& l : labels)
        if (l.first == key) return l.second;
    return {};
}

DSDEPLOY_INLINE std::optional<double> server_metrics::total(std::string_view name) const {
    std::optional<double> sum;
    for (const auto& s : samples)
        if (s.name == name) sum = sum.value_or(0) + s.value;
    return sum;
}

namespace detail {

inline bool parse_metric_value(std::string_view text, double& out) {
    if (text == "+Inf" || text == "Inf") { out = HUGE_VAL; return true; }
    if (text == "-Inf") { out = -HUGE_VAL; return true; }
    if (text == "NaN") { out = std::nan(""); return true; }
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    if (text.empty()) return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size();
}

// name{labels} value [timestamp]; false when the line is not a sample.
inline bool parse_sample_line(std::string_view line, metric_sample& s) {
    auto is_name_char = [](char c, bool first) {
        return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
               (!first && std::isdigit(static_cast<unsigned char>(c)));
    };
    std::size_t i = 0;
    while (i < line.size() && is_name_char(line[i], i == 0)) ++i;
    if (i == 0) return false;
    s.name.assign(line.substr(0, i));
    s.labels.clear();
    if (i < line.size() && line[i] == '{') {
        ++i;
        while (true) {
            while (i < line.size() && (line[i] == ' ' || line[i] == ',')) ++i;
            if (i >= line.size()) return false;
            if (line[i] == '}') { ++i; break; }
            const std::size_t k0 = i;
            while (i < line.size() && is_name_char(line[i], i == k0) && line[i] != ':') ++i;
            if (i == k0 || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') return false;
            std::string key(line.substr(k0, i - k0)), value;
            i += 2;
            bool closed = false;
            while (i < line.size()) {
                const char c = line[i++];
                if (c == '"') { closed = true; break; }
                if (c == '\\' && i < line.size()) {
                    const char e = line[i++];
                    value.push_back(e == 'n' ? '\n' : e);
                } else {
                    value.push_back(c);
                }
            }
            if (!closed) return false;
            s.labels.emplace_back(std::move(key), std::move(value));
        }
    }
    if (i >= line.size() || (line[i] != ' ' && line[i] != '\t')) return false;
    std::string_view rest = dsdeploy::detail::trim(line.substr(i));
    const auto space = rest.find_first_of(" \t");
    return parse_metric_value(rest.substr(0, space), s.value);
}

inline std::optional<histogram_summary> histogram(const server_metrics& m, std::initializer_list<const char*> names) {
    for (const char* n : names) {
        const auto sum = m.total(std::string(n) + "_sum");
        const auto count = m.total(std::string(n) + "_count");
        if (sum && count) return histogram_summary{*sum, *count};
    }
    return std::nullopt;
}

inline std::optional<double> first_total(const server_metrics& m, std::initializer_list<const char*> names) {
    for (const char* n : names)
        if (auto v = m.total(n)) return v;
    return std::nullopt;
}

}  // namespace detail

DSDEPLOY_INLINE server_metrics parse_metrics(std::string_view text) {
    server_metrics m;
    std::size_t content_lines = 0;
    for (std::string_view raw : dsdeploy::detail::split_lines(text)) {
        std::string_view line = dsdeploy::detail::trim(raw);
        if (line.empty() || line.front() == '#') continue;
        ++content_lines;
        metric_sample s;
        if (detail::parse_sample_line(line, s)) m.samples.push_back(std::move(s));
    }
    if (content_lines > 0 && m.samples.empty())
        throw api_decode_error("metrics", "the answer has " + std::to_string(content_lines) +
                                              " lines but not one Prometheus sample; it is not a /metrics page");
    using detail::first_total;
    m.requests_running = first_total(m, {"vllm:num_requests_running"});
    m.requests_waiting = first_total(m, {"vllm:num_requests_waiting"});
    m.kv_cache_usage = first_total(m, {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"});
    m.prefix_cache_queries = first_total(m, {"vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"});
    m.prefix_cache_hits = first_total(m, {"vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"});
    m.preemptions = first_total(m, {"vllm:num_preemptions_total"});
    m.prompt_tokens = first_total(m, {"vllm:prompt_tokens_total"});
    m.generation_tokens = first_total(m, {"vllm:generation_tokens_total"});
    m.requests_finished = first_total(m, {"vllm:request_success_total"});
    for (const auto& s : m.samples)
        if (s.name == "vllm:request_success_total") m.requests_by_finish_reason[s.label("finished_reason")] += s.value;
    m.time_to_first_token = detail::histogram(m, {"vllm:time_to_first_token_seconds"});
    m.inter_token_latency = detail::histogram(m, {"vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"});
    m.e2e_request_latency = detail::histogram(m, {"vllm:e2e_request_latency_seconds"});
    m.queue_time = detail::histogram(m, {"vllm:request_queue_time_seconds"});
    return m;
}

}  // namespace openai
DSDEPLOY_NAMESPACE_END
