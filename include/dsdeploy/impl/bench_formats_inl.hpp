// SPDX-License-Identifier: Apache-2.0
// The definitions of bench_formats.hpp: included by it in header-only mode, compiled once by
// src/bench_formats.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/bench_formats.hpp>
#include <dsdeploy/error.hpp>

#include <dsdeploy/detail/text.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <sys/stat.h>
#include <unistd.h>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

DSDEPLOY_INLINE std::string llmperf_stem(const std::string& model, int mean_in, int mean_out) {
    const std::string raw = model + "_" + std::to_string(mean_in) + "_" + std::to_string(mean_out);
    std::string out;
    for (char c : raw) {
        const auto u = static_cast<unsigned char>(c);
        const bool word = std::isalnum(u) || c == '_' || c == '-';
        // Python's \w also matches non-ASCII letters: keep UTF-8 bytes as they are.
        const char put = (word || u >= 0x80) ? c : '-';
        if (put == '-' && !out.empty() && out.back() == '-') continue;
        out += put;
    }
    return out;
}

namespace detail {

inline void flatten_into(nlohmann::ordered_json& out, const std::string& prefix, const nlohmann::json& v) {
    if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it) flatten_into(out, prefix + "_" + it.key(), it.value());
        return;
    }
    out[prefix] = v;
}

inline nlohmann::ordered_json number_or_null(double v, bool have) { return have ? nlohmann::ordered_json(v) : nlohmann::ordered_json(); }

struct llmperf_row {
    double itl = 0, ttft = 0, e2e = 0, tput = 0;
    std::int64_t in = 0, out = 0;
};

inline llmperf_row llmperf_values(const request_record& q) {
    llmperf_row r;
    if (q.status != request_status::ok) return r;
    r.in = q.prompt_tokens;
    r.out = q.output_tokens;
    r.ttft = q.first_token >= 0 ? q.first_token - q.sent : 0.0;
    r.e2e = q.end - q.sent;
    // llmperf's "inter token latency" includes the TTFT: time to the last output / tokens.
    const double to_last = q.last_token >= 0 ? q.last_token - q.sent : 0.0;
    r.itl = q.output_tokens > 0 ? to_last / static_cast<double>(q.output_tokens) : 0.0;
    r.tput = r.e2e > 0 ? static_cast<double>(q.output_tokens) / r.e2e : 0.0;
    return r;
}

// How the run's tokens were counted, for the files: output tokens from the server's usage or
// from counting events, prompt tokens as the workload sized them.
inline std::string output_token_source(const run_result& r) {
    std::size_t usage = 0, chunks = 0, tokenize = 0;
    for (const auto& q : r.requests)
        if (q.status == request_status::ok) (q.tokens_from_tokenize ? tokenize : q.tokens_from_usage ? usage : chunks) += 1;
    if (tokenize) return "server /tokenize of the generated text (--output-tokens tokenize)";
    if (usage && chunks) return "mixed (server usage where the server sent it, else chunk count)";
    if (chunks) return "chunk count (the server sent no usage)";
    return "server usage (stream_options.include_usage)";
}

inline std::string python_float_repr(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

}  // namespace detail

DSDEPLOY_INLINE std::vector<std::pair<std::string, std::string>> parse_metadata(std::string_view text) {
    std::vector<std::pair<std::string, std::string>> out;
    if (dsdeploy::detail::trim(text).empty()) return out;
    for (auto item : dsdeploy::detail::split(text, ',')) {
        const auto eq = item.find('=');
        if (eq == std::string_view::npos)
            raise(errc::bench_config, "metadata", "\"" + std::string(item) + "\" is not key=value (e.g. name=foo,gpu=L20)");
        out.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
    }
    return out;
}

DSDEPLOY_INLINE nlohmann::ordered_json llmperf_summary(const run_result& r,
                                                       const std::vector<std::pair<std::string, std::string>>& metadata) {
    using oj = nlohmann::ordered_json;
    const auto& w = r.workload;
    const std::string stem = llmperf_stem(w.model, w.mean_input_tokens, w.mean_output_tokens);
    oj j;
    j["version"] = "2023-08-31";
    j["name"] = stem + "_summary";
    j["model"] = w.model;
    j["mean_input_tokens"] = w.mean_input_tokens;
    j["stddev_input_tokens"] = w.stddev_input_tokens;
    j["mean_output_tokens"] = w.mean_output_tokens;
    j["stddev_output_tokens"] = w.stddev_output_tokens;
    j["num_concurrent_requests"] = r.max_concurrency;
    detail::flatten_into(j, "additional_sampling_params", w.additional_sampling_params);

    std::vector<double> cols[6];
    std::size_t returned = 0, errors = 0, completed = 0;
    std::int64_t out_tokens = 0;
    std::map<int, std::size_t> codes;
    for (const auto& q : r.requests) {
        if (q.status == request_status::cancelled) continue;
        ++returned;
        if (q.status == request_status::failed) {
            ++errors;
            ++codes[q.error_code];
            continue;
        }
        ++completed;
        const auto v = detail::llmperf_values(q);
        out_tokens += v.out;
        cols[0].push_back(v.itl);
        cols[1].push_back(v.ttft);
        cols[2].push_back(v.e2e);
        cols[3].push_back(v.tput);
        cols[4].push_back(static_cast<double>(v.in));
        cols[5].push_back(static_cast<double>(v.out));
    }
    static const char* names[6] = {"inter_token_latency_s", "ttft_s", "end_to_end_latency_s",
                                   "request_output_throughput_token_per_s", "number_input_tokens", "number_output_tokens"};
    static const double qs[6] = {25, 50, 75, 90, 95, 99};
    for (int m = 0; m < 6; ++m) {
        const std::string p = std::string("results_") + names[m] + "_";
        const distribution d = describe(cols[m], {25, 50, 75, 90, 95, 99});
        const bool have = d.n > 0;
        for (int k = 0; k < 6; ++k)
            j[p + "quantiles_p" + std::to_string(static_cast<int>(qs[k]))] = detail::number_or_null(have ? d.percentiles[k].second : 0, have);
        j[p + "mean"] = detail::number_or_null(d.mean, have);
        if (m >= 4) {
            // llmperf writes the integer columns' min and max as strings (numpy int64 through
            // json's default=str); kept as it is so that its readers see what they expect.
            j[p + "min"] = have ? oj(std::to_string(static_cast<std::int64_t>(d.min))) : oj();
            j[p + "max"] = have ? oj(std::to_string(static_cast<std::int64_t>(d.max))) : oj();
        } else {
            j[p + "min"] = detail::number_or_null(d.min, have);
            j[p + "max"] = detail::number_or_null(d.max, have);
        }
        j[p + "stddev"] = detail::number_or_null(d.sample_std, d.n > 1);
    }
    j["results_num_requests_started"] = returned;
    j["results_error_rate"] = returned ? static_cast<double>(errors) / static_cast<double>(returned) : 0.0;
    j["results_number_errors"] = errors;
    // str() of a Python dict of code -> count, most frequent first (pandas value_counts).
    std::vector<std::pair<int, std::size_t>> freq(codes.begin(), codes.end());
    std::stable_sort(freq.begin(), freq.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string fs = "{";
    for (std::size_t i = 0; i < freq.size(); ++i)
        fs += (i ? ", " : "") + std::to_string(freq[i].first) + ": " + std::to_string(freq[i].second);
    fs += "}";
    j["results_error_code_frequency"] = fs;
    j["results_mean_output_throughput_token_per_s"] = r.duration > 0 ? static_cast<double>(out_tokens) / r.duration : 0.0;
    j["results_num_completed_requests"] = completed;
    j["results_num_completed_requests_per_min"] = r.duration > 0 ? static_cast<double>(completed) / r.duration * 60.0 : 0.0;
    // dsdeploy's own keys (llmperf has no open loop and does not say how it counted tokens).
    if (!r.closed_loop) {
        j["request_rate"] = r.request_rate;
        j["burstiness"] = r.burstiness;
        j["max_concurrency"] = r.max_concurrency ? oj(r.max_concurrency) : oj();  // null: no cap
        std::vector<double> lag, ttft_s, e2e_s;
        for (const auto& q : r.requests) {
            if (q.status != request_status::ok) continue;
            lag.push_back(q.sent - q.scheduled);
            if (q.first_token >= 0) ttft_s.push_back(q.first_token - q.scheduled);
            e2e_s.push_back(q.end - q.scheduled);
        }
        // Coordinated omission: latency from the scheduled send, beside llmperf's from the send.
        static const char* co[3] = {"send_lag_s", "ttft_from_scheduled_s", "end_to_end_latency_from_scheduled_s"};
        const std::vector<double>* cols_co[3] = {&lag, &ttft_s, &e2e_s};
        for (int m = 0; m < 3; ++m) {
            const distribution d = describe(*cols_co[m], {50, 90, 99});
            const bool have = d.n > 0;
            const std::string p = std::string("results_") + co[m] + "_";
            j[p + "quantiles_p50"] = detail::number_or_null(have ? d.percentiles[0].second : 0, have);
            j[p + "quantiles_p90"] = detail::number_or_null(have ? d.percentiles[1].second : 0, have);
            j[p + "quantiles_p99"] = detail::number_or_null(have ? d.percentiles[2].second : 0, have);
            j[p + "mean"] = detail::number_or_null(d.mean, have);
            j[p + "max"] = detail::number_or_null(d.max, have);
        }
    }
    j["output_token_source"] = detail::output_token_source(r);
    j["prompt_token_source"] = r.prompt_token_source;
    for (const auto& [k, v] : metadata) j[k] = v;
    j["timestamp"] = r.started_unix + static_cast<std::int64_t>(r.duration);
    return j;
}

DSDEPLOY_INLINE nlohmann::ordered_json llmperf_individual_responses(const run_result& r) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (const auto& q : r.requests) {
        if (q.status == request_status::cancelled) continue;
        const auto v = detail::llmperf_values(q);
        nlohmann::ordered_json e;
        e["error_code"] = q.status == request_status::failed ? nlohmann::ordered_json(q.error_code) : nlohmann::ordered_json();
        e["error_msg"] = q.status == request_status::failed ? q.error_msg : std::string();
        e["inter_token_latency_s"] = v.itl;
        e["ttft_s"] = v.ttft;
        e["end_to_end_latency_s"] = v.e2e;
        e["request_output_throughput_token_per_s"] = v.tput;
        e["number_total_tokens"] = v.in + v.out;
        e["number_output_tokens"] = v.out;
        e["number_input_tokens"] = v.in;
        // dsdeploy's: seconds from the run's start on a steady clock; the latencies from the
        // scheduled send count the wait for a slot (coordinated omission).
        const bool ok = q.status == request_status::ok;
        e["scheduled_time_s"] = q.scheduled;
        e["send_time_s"] = q.sent;
        e["send_lag_s"] = q.sent >= 0 ? q.sent - q.scheduled : 0.0;
        e["ttft_from_scheduled_s"] = ok && q.first_token >= 0 ? q.first_token - q.scheduled : 0.0;
        e["end_to_end_latency_from_scheduled_s"] = ok ? q.end - q.scheduled : 0.0;
        e["output_token_source"] = !ok ? "" : q.tokens_from_tokenize ? "server /tokenize" : q.tokens_from_usage ? "server usage" : "chunk count";
        a.push_back(std::move(e));
    }
    return a;
}

namespace detail {
inline std::string date_stamp(std::int64_t unix_seconds) {
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
    return buf;
}
inline std::string p_word(double p) {
    if (p == std::floor(p)) return std::to_string(static_cast<long long>(p));
    std::string s = python_float_repr(p);
    // shortest form that round-trips, as Python's str(float)
    for (int prec = 1; prec <= 17; ++prec) {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.*g", prec, p);
        if (std::strtod(buf, nullptr) == p) return buf;
    }
    return s;
}
inline const distribution& metric(const run_summary& s, const std::string& m) {
    if (m == "ttft") return s.ttft;
    if (m == "tpot") return s.tpot;
    if (m == "itl") return s.itl;
    return s.e2el;
}
}  // namespace detail

DSDEPLOY_INLINE std::string vllm_result_filename(const run_result& r, const std::string& label) {
    std::string model = r.workload.model;
    if (auto slash = model.rfind('/'); slash != std::string::npos) model = model.substr(slash + 1);
    std::string rate = std::isinf(r.request_rate) ? "inf" : detail::p_word(r.request_rate);
    if (!std::isinf(r.request_rate) && rate.find('.') == std::string::npos) rate += ".0";  // Python prints floats
    const std::string conc = r.max_concurrency ? "-concurrency" + std::to_string(r.max_concurrency) : std::string();
    return (label.empty() ? "dsdeploy" : label) + "-" + rate + "qps" + conc + "-" + model + "-" +
           detail::date_stamp(r.started_unix) + ".json";
}

DSDEPLOY_INLINE nlohmann::ordered_json vllm_result(const run_result& r, const run_summary& s, const std::string& label,
                                                   const std::vector<std::pair<std::string, std::string>>& metadata, bool detailed) {
    // Key for key and type for type vllm/benchmarks/serve.py at vllm-project/vllm commit 009e6d4
    // (main, newest read): main_async()'s result_json, then benchmark()'s result (the per-request
    // arrays only with --save-detailed, except latencies and queue_times), then the metrics.
    using oj = nlohmann::ordered_json;
    oj j;
    j["date"] = detail::date_stamp(r.started_unix);
    const std::string backend = r.endpoint == endpoint::chat ? "openai-chat" : "openai";
    j["endpoint_type"] = backend;
    j["backend"] = backend;
    j["label"] = label;
    j["model_id"] = r.workload.model;
    // vLLM names its tokenizer here; dsdeploy counts with the server: say how, in the same string.
    j["tokenizer_id"] = "output tokens: " + detail::output_token_source(r) + "; prompt tokens: " +
                        (r.prompt_token_source.empty() ? std::string("unknown") : r.prompt_token_source);
    j["num_prompts"] = r.requests.size();
    for (const auto& [k, v] : metadata) j[k] = v;
    j["request_rate"] = std::isinf(r.request_rate) ? oj("inf") : oj(r.request_rate);
    j["burstiness"] = r.burstiness;
    j["max_concurrency"] = r.max_concurrency ? oj(r.max_concurrency) : oj();
    j["duration"] = s.duration;
    j["completed"] = s.completed;
    j["failed"] = s.failed;
    j["total_input_tokens"] = s.total_input_tokens;
    j["total_output_tokens"] = s.total_output_tokens;
    j["request_throughput"] = s.request_throughput;
    j["request_goodput"] = s.request_goodput ? oj(*s.request_goodput) : oj();
    j["output_throughput"] = s.output_throughput;
    j["total_token_throughput"] = s.total_token_throughput;
    oj input_lens = oj::array(), output_lens = oj::array(), ttfts = oj::array(), itls = oj::array(), latencies = oj::array(),
       start_times = oj::array(), queue_times = oj::array(), texts = oj::array(), errors = oj::array();
    for (const auto& q : r.requests) {
        if (q.status == request_status::cancelled) continue;
        const bool ok = q.status == request_status::ok;
        input_lens.push_back(q.prompt_tokens);
        output_lens.push_back(ok ? q.output_tokens : 0);
        ttfts.push_back(ok && q.first_token >= 0 ? q.first_token - q.sent : 0.0);
        oj gaps = oj::array();
        for (std::size_t i = 1; ok && i < q.token_times.size(); ++i) gaps.push_back(q.token_times[i] - q.token_times[i - 1]);
        itls.push_back(std::move(gaps));
        latencies.push_back(ok && q.last_token >= 0 ? q.last_token - q.sent : 0.0);
        start_times.push_back(q.sent);  // seconds from the run's start (vLLM: its perf_counter)
        queue_times.push_back(q.sent >= 0 ? q.sent - q.scheduled : 0.0);  // the wait before the send
        texts.push_back(q.generated_text);  // kept only with run_options::keep_text (else "")
        errors.push_back(ok ? std::string() : q.error_msg);
    }
    if (detailed) {
        j["input_lens"] = std::move(input_lens);
        j["output_lens"] = std::move(output_lens);
        j["ttfts"] = std::move(ttfts);
        j["itls"] = std::move(itls);
    }
    j["latencies"] = std::move(latencies);
    if (detailed) j["start_times"] = std::move(start_times);
    j["queue_times"] = std::move(queue_times);
    if (detailed) {
        j["generated_texts"] = std::move(texts);
        j["errors"] = std::move(errors);
    }
    j["max_output_tokens_per_s"] = s.peak_output_throughput;
    j["max_concurrent_requests"] = static_cast<std::int64_t>(std::llround(s.peak_concurrency));
    j["rtfx"] = 0.0;
    const auto& pm = s.options.percentile_metrics;
    const auto selected = [&](const char* m) { return std::find(pm.begin(), pm.end(), m) != pm.end(); };
    const auto put = [&](const std::string& m, const distribution& d) {
        j["mean_" + m + "_ms"] = d.mean;
        j["median_" + m + "_ms"] = d.median;
        j["std_" + m + "_ms"] = d.std;
        for (const auto& [p, v] : d.percentiles) j["p" + detail::p_word(p) + "_" + m + "_ms"] = v;
    };
    for (const char* m : {"ttft", "tpot", "itl", "e2el"})  // vLLM's order, whatever the option's
        if (selected(m)) put(m, detail::metric(s, m));
    // vLLM's queue metrics exist only under --max-concurrency, and E2EL with the queue only for a
    // finite rate; both only when named in --percentile-metrics.
    if (r.max_concurrency && selected("client_queue_time")) put("client_queue_time", s.queue);
    if (r.max_concurrency && !std::isinf(r.request_rate) && selected("e2el_including_client_queue"))
        put("e2el_including_client_queue", s.e2el_from_scheduled);
    return j;
}

DSDEPLOY_INLINE std::string to_text(const run_result& r, const run_summary& s) {
    std::string o;
    char buf[256];
    auto line = [&](const char* label, const std::string& value) {
        std::snprintf(buf, sizeof buf, "%-40s %-10s\n", label, value.c_str());
        o += buf;
    };
    auto f2 = [](double v) {
        char b[64];
        std::snprintf(b, sizeof b, "%.2f", v);
        return std::string(b);
    };
    auto banner = [&](const std::string& title, char c) {
        const std::size_t n = 50;
        const std::size_t left = title.size() < n ? (n - title.size()) / 2 : 0;
        const std::size_t right = title.size() < n ? n - title.size() - left : 0;
        o += std::string(left, c) + title + std::string(right, c) + "\n";
    };
    banner(" Serving Benchmark Result ", '=');
    line("Successful requests:", std::to_string(s.completed));
    line("Failed requests:", std::to_string(s.failed));
    if (r.max_concurrency) line("Maximum request concurrency:", std::to_string(r.max_concurrency));
    if (!std::isinf(r.request_rate)) line("Request rate configured (RPS):", f2(r.request_rate));
    line("Benchmark duration (s):", f2(s.duration));
    line("Total input tokens:", std::to_string(s.total_input_tokens));
    line("Total generated tokens:", std::to_string(s.total_output_tokens));
    line("Request throughput (req/s):", f2(s.request_throughput));
    if (s.request_goodput) line("Request goodput (req/s):", f2(*s.request_goodput));
    line("Output token throughput (tok/s):", f2(s.output_throughput));
    line("Peak output token throughput (tok/s):", f2(s.peak_output_throughput));
    line("Peak concurrent requests:", f2(s.peak_concurrency));
    line("Total Token throughput (tok/s):", f2(s.total_token_throughput));
    struct sec {
        const char* key;
        const char* name;
        const char* header;
    };
    static const sec secs[] = {{"ttft", "TTFT", "Time to First Token"},
                               {"tpot", "TPOT", "Time per Output Token (excl. 1st token)"},
                               {"itl", "ITL", "Inter-token Latency"},
                               {"e2el", "E2EL", "End-to-end Latency"}};
    for (const auto& x : secs) {
        if (std::find(s.options.percentile_metrics.begin(), s.options.percentile_metrics.end(), x.key) ==
            s.options.percentile_metrics.end())
            continue;
        const auto& d = detail::metric(s, x.key);
        banner(x.header, '-');
        line((std::string("Mean ") + x.name + " (ms):").c_str(), f2(d.mean));
        line((std::string("Median ") + x.name + " (ms):").c_str(), f2(d.median));
        for (const auto& [p, v] : d.percentiles) line(("P" + detail::p_word(p) + " " + x.name + " (ms):").c_str(), f2(v));
    }
    // Coordinated omission: the same latencies from the scheduled send time.
    banner("Latency from the scheduled send", '-');
    for (const auto& [name, d] : {std::pair<const char*, const distribution*>{"TTFT", &s.ttft_from_scheduled},
                                  std::pair<const char*, const distribution*>{"E2EL", &s.e2el_from_scheduled}}) {
        line((std::string("Mean ") + name + " from scheduled (ms):").c_str(), f2(d->mean));
        line((std::string("Median ") + name + " from scheduled (ms):").c_str(), f2(d->median));
        for (const auto& [p, v] : d->percentiles) line(("P" + detail::p_word(p) + " " + name + " from scheduled (ms):").c_str(), f2(v));
    }
    o += std::string(50, '=') + "\n";
    // dsdeploy's own lines: where the numbers come from, and what the client itself cost.
    o += "Output tokens from:   " + s.output_token_source + "\n";
    o += "Prompt tokens sized:  " + r.prompt_token_source + "\n";
    o += "Load:                 " +
         (r.closed_loop ? std::to_string(r.max_concurrency) + " concurrent users (closed loop)"
                        : f2(r.request_rate) + " req/s, burstiness " + f2(r.burstiness) +
                              (r.max_concurrency ? ", at most " + std::to_string(r.max_concurrency) + " in flight" : std::string())) +
         "\n";
    if (!r.closed_loop && s.queue.n)
        o += "Send lag (ms):        mean " + f2(s.queue.mean) + ", max " + f2(s.queue.max) + " (send time - scheduled time)\n";
    o += std::string("Scheduled send:       ") +
         (r.closed_loop ? "when a user is free (closed loop: latency from scheduled = from send)"
                        : "the arrival schedule (open loop: latency from scheduled includes the send lag)") +
         "\n";
    if (s.empty_outputs) o += "Empty outputs:        " + std::to_string(s.empty_outputs) + " completed request(s) streamed no text\n";
    if (!s.errors.empty()) {
        o += "Errors:              ";
        for (const auto& [k, n] : s.errors) o += " " + k + " x" + std::to_string(n) + ";";
        o.back() = '\n';
    }
    if (s.cancelled) o += "Not finished:         " + std::to_string(s.cancelled) + " request(s) (interrupted or out of time)\n";
    std::snprintf(buf, sizeof buf, "Client CPU:           %.3f s (%.2f us per event, engine %s)\n", s.client_cpu_seconds,
                  s.client_us_per_event, r.engine.c_str());
    o += buf;
    if (r.interrupted) o += "Interrupted: the results cover the requests finished before the stop.\n";
    if (r.time_limit_hit) o += "Time limit reached: no request was started after it.\n";
    return o;
}

DSDEPLOY_INLINE nlohmann::ordered_json to_json(const run_result& r, const run_summary& s) {
    auto j = vllm_result(r, s, "dsdeploy", {}, false);
    for (const char* k : {"latencies", "queue_times"}) j.erase(k);
    nlohmann::ordered_json d;
    d["base_url"] = r.base_url;
    d["engine"] = r.engine;
    d["closed_loop"] = r.closed_loop;
    d["cancelled"] = s.cancelled;
    d["empty_outputs"] = s.empty_outputs;
    d["errors"] = s.errors;
    d["output_token_source"] = s.output_token_source;
    d["prompt_token_source"] = r.prompt_token_source;
    d["mean_concurrency"] = s.mean_concurrency;
    d["output_events"] = s.output_events;
    d["client_cpu_seconds"] = s.client_cpu_seconds;
    d["client_us_per_event"] = s.client_us_per_event;
    d["interrupted"] = r.interrupted;
    d["time_limit_hit"] = r.time_limit_hit;
    d["warmup_requests"] = r.warmup.size();
    if (!r.closed_loop) {
        d["mean_send_lag_ms"] = s.queue.mean;
        d["max_send_lag_ms"] = s.queue.max;
    }
    // Coordinated omission: TTFT and E2EL from the scheduled send, as vLLM's keys are named.
    for (const auto& [m, dist] : {std::pair<const char*, const distribution*>{"ttft_from_scheduled", &s.ttft_from_scheduled},
                                  std::pair<const char*, const distribution*>{"e2el_from_scheduled", &s.e2el_from_scheduled}}) {
        d[std::string("mean_") + m + "_ms"] = dist->mean;
        d[std::string("median_") + m + "_ms"] = dist->median;
        d[std::string("std_") + m + "_ms"] = dist->std;
        for (const auto& [p, v] : dist->percentiles) d["p" + detail::p_word(p) + "_" + m + "_ms"] = v;
    }
    d["output_tokens_per_second"] = s.output_tokens_per_second;
    d["last_bucket_seconds"] = s.last_bucket_seconds;
    j["dsdeploy"] = std::move(d);
    return j;
}

namespace detail {
// AIPerf's JsonMetricResult of a distribution (a record metric): numpy's linear percentiles,
// the population std as numpy's default; nothing but the unit when there are no values.
inline nlohmann::ordered_json aiperf_metric(const std::string& unit, std::vector<double> values) {
    nlohmann::ordered_json m;
    m["unit"] = unit;
    if (values.empty()) return m;
    double sum = 0;
    for (double v : values) sum += v;
    const distribution d = describe(std::move(values), {1, 5, 10, 25, 50, 75, 90, 95, 99});
    m["avg"] = d.mean;
    for (const auto& [p, v] : d.percentiles) m["p" + std::to_string(static_cast<int>(p))] = v;
    m["min"] = d.min;
    m["max"] = d.max;
    m["std"] = d.std;
    m["count"] = d.n;
    m["sum"] = sum;
    return m;
}
// A run total or rate: unit and avg only (AIPerf leaves count and sum out of derived metrics).
inline nlohmann::ordered_json aiperf_scalar(const std::string& unit, double v) {
    nlohmann::ordered_json m;
    m["unit"] = unit;
    m["avg"] = v;
    return m;
}
// Python's datetime.isoformat() of a local time: "2026-12-03T07:33:09.146443".
inline std::string iso_local(double unix_seconds) {
    const auto whole = static_cast<std::time_t>(std::floor(unix_seconds));
    const auto micro = static_cast<long>(std::llround((unix_seconds - static_cast<double>(whole)) * 1e6));
    std::tm tm{};
    localtime_r(&whole, &tm);
    char buf[48];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[64];
    std::snprintf(out, sizeof out, "%s.%06ld", buf, std::min(micro, 999999L));
    return out;
}
}  // namespace detail

DSDEPLOY_INLINE nlohmann::ordered_json aiperf_export(const run_result& r, const run_summary& s) {
    using oj = nlohmann::ordered_json;
    std::vector<double> latency, ttft, ttst, itl, per_user, osl, isl, icl, latency_sched, ttft_sched;
    std::map<std::string, std::pair<oj, std::size_t>> errors;  // by code, kind and message
    for (const auto& q : r.requests) {
        if (q.status == request_status::cancelled) continue;
        if (q.status == request_status::failed) {
            const std::string key = std::to_string(q.error_code) + "\n" + q.error_kind + "\n" + q.error_msg;
            auto& e = errors[key];
            if (e.second == 0)
                e.first = oj{{"code", q.error_code}, {"type", q.error_kind.empty() ? std::string("error") : q.error_kind},
                             {"message", q.error_msg}};
            ++e.second;
            continue;
        }
        isl.push_back(static_cast<double>(q.prompt_tokens));
        osl.push_back(static_cast<double>(q.output_tokens));
        const double lat = (q.end - q.sent) * 1000.0;  // AIPerf: the last response - the request's start
        latency.push_back(lat);
        latency_sched.push_back((q.end - q.scheduled) * 1000.0);
        if (q.first_token < 0) continue;
        const double t = (q.first_token - q.sent) * 1000.0;
        ttft.push_back(t);
        ttft_sched.push_back((q.first_token - q.scheduled) * 1000.0);
        if (q.token_times.size() > 1) ttst.push_back((q.token_times[1] - q.token_times[0]) * 1000.0);
        for (std::size_t i = 1; i < q.token_times.size(); ++i) icl.push_back((q.token_times[i] - q.token_times[i - 1]) * 1000.0);
        if (q.output_tokens > 1) {  // AIPerf's ITL: (request latency - TTFT) / (OSL - 1)
            const double v = (lat - t) / static_cast<double>(q.output_tokens - 1);
            itl.push_back(v);
            if (v > 0) per_user.push_back(1000.0 / v);
        }
    }
    oj j;
    j["schema_version"] = "1.4";
    j["request_throughput"] = detail::aiperf_scalar("requests/sec", s.request_throughput);
    j["request_latency"] = detail::aiperf_metric("ms", latency);
    j["request_count"] = detail::aiperf_scalar("requests", static_cast<double>(s.completed));
    j["time_to_first_token"] = detail::aiperf_metric("ms", ttft);
    j["time_to_second_token"] = detail::aiperf_metric("ms", ttst);
    j["inter_token_latency"] = detail::aiperf_metric("ms", itl);
    j["output_token_throughput"] = detail::aiperf_scalar("tokens/sec", s.output_throughput);
    j["output_token_throughput_per_user"] = detail::aiperf_metric("tokens/sec/user", per_user);
    j["output_sequence_length"] = detail::aiperf_metric("tokens", osl);
    j["input_sequence_length"] = detail::aiperf_metric("tokens", isl);
    if (s.request_goodput) j["goodput"] = detail::aiperf_scalar("requests/sec", *s.request_goodput);
    const double start_unix = static_cast<double>(r.started_unix);
    j["min_request_timestamp"] = detail::aiperf_scalar("ns", start_unix * 1e9);
    j["max_response_timestamp"] = detail::aiperf_scalar("ns", (start_unix + r.duration) * 1e9);
    j["inter_chunk_latency"] = detail::aiperf_metric("ms", icl);
    j["total_output_tokens"] = detail::aiperf_scalar("tokens", static_cast<double>(s.total_output_tokens));
    j["benchmark_duration"] = detail::aiperf_scalar("sec", s.duration);
    j["total_isl"] = detail::aiperf_scalar("tokens", static_cast<double>(s.total_input_tokens));
    j["total_osl"] = detail::aiperf_scalar("tokens", static_cast<double>(s.total_output_tokens));
    if (s.failed) j["error_request_count"] = detail::aiperf_scalar("requests", static_cast<double>(s.failed));
    j["total_token_throughput"] = detail::aiperf_scalar("tokens/sec", s.total_token_throughput);
    j["was_cancelled"] = r.interrupted;
    oj es = oj::array();
    for (auto& [k, e] : errors) es.push_back(oj{{"error_details", e.first}, {"count", e.second}});
    j["error_summary"] = std::move(es);
    j["start_time"] = detail::iso_local(start_unix);
    j["end_time"] = detail::iso_local(start_unix + r.duration);
    // dsdeploy's own (AIPerf's export allows extra fields; none of these has a "unit", so a reader
    // that collects metrics by their unit passes over them).
    oj d;
    d["tool"] = "dsdeploy bench " DSDEPLOY_VERSION;
    d["format"] = "AIPerf 0.13.0 profile_export_aiperf.json (schema_version 1.4)";
    d["output_token_source"] = detail::output_token_source(r);
    d["prompt_token_source"] = r.prompt_token_source;
    d["model"] = r.workload.model;
    d["base_url"] = r.base_url;
    d["endpoint"] = std::string(to_string(r.endpoint));
    d["closed_loop"] = r.closed_loop;
    d["request_rate"] = std::isinf(r.request_rate) ? oj("inf") : oj(r.request_rate);
    d["max_concurrency"] = r.max_concurrency ? oj(r.max_concurrency) : oj();
    oj co;  // latency from the scheduled send (coordinated omission), in AIPerf's metric shape
    co["time_to_first_token_from_scheduled"] = detail::aiperf_metric("ms", ttft_sched);
    co["request_latency_from_scheduled"] = detail::aiperf_metric("ms", latency_sched);
    d["from_scheduled"] = std::move(co);
    j["dsdeploy"] = std::move(d);
    return j;
}

DSDEPLOY_INLINE void write_file(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) raise(errc::bench_write, path, std::string("cannot create the file: ") + std::strerror(errno));
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    const bool closed = std::fclose(f) == 0;
    if (!ok || !closed) {
        std::remove(tmp.c_str());
        raise(errc::bench_write, path, std::string("cannot write the file: ") + std::strerror(errno));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        std::remove(tmp.c_str());
        raise(errc::bench_write, path, std::string("cannot rename the file into place: ") + std::strerror(e));
    }
}

namespace detail {
inline void make_dirs(const std::string& dir) {
    if (dir.empty()) return;
    std::string cur;
    for (std::size_t i = 0; i <= dir.size(); ++i) {
        if (i == dir.size() || dir[i] == '/') {
            if (!cur.empty() && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
                raise(errc::bench_write, dir, "cannot create the folder " + cur + ": " + std::strerror(errno));
            struct stat st {};
            if (!cur.empty() && ::stat(cur.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
                raise(errc::bench_write, dir, cur + " exists and is not a folder");
        }
        if (i < dir.size()) cur += dir[i];
    }
}
}  // namespace detail

DSDEPLOY_INLINE std::string write_aiperf_export(const std::string& dir, const run_result& r, const run_summary& s) {
    detail::make_dirs(dir);
    const std::string base = dir.empty() ? std::string() : (dir.back() == '/' ? dir : dir + "/");
    const std::string path = base + "profile_export_aiperf.json";
    write_file(path, aiperf_export(r, s).dump(2) + "\n");
    return path;
}

DSDEPLOY_INLINE std::vector<std::string> write_llmperf_files(const std::string& dir, const run_result& r,
                                                             const std::vector<std::pair<std::string, std::string>>& metadata) {
    detail::make_dirs(dir);
    const std::string stem = llmperf_stem(r.workload.model, r.workload.mean_input_tokens, r.workload.mean_output_tokens);
    const std::string base = dir.empty() ? std::string() : (dir.back() == '/' ? dir : dir + "/");
    const std::string a = base + stem + "_summary.json", b = base + stem + "_individual_responses.json";
    write_file(a, llmperf_summary(r, metadata).dump(4) + "\n");
    write_file(b, llmperf_individual_responses(r).dump(4) + "\n");
    return {a, b};
}

}  // namespace bench
DSDEPLOY_NAMESPACE_END
