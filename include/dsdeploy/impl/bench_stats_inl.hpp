// SPDX-License-Identifier: Apache-2.0
// The definitions of bench_stats.hpp: included by it in header-only mode, compiled once by
// src/bench_stats.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/bench_stats.hpp>
#include <dsdeploy/error.hpp>

#include <dsdeploy/detail/text.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

DSDEPLOY_INLINE double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) raise(errc::bench_config, "percentile", "of no values");
    if (!(p >= 0 && p <= 100)) raise(errc::bench_config, "percentile", "must be within 0..100");
    const double idx = p / 100.0 * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(idx));
    const auto hi = static_cast<std::size_t>(std::ceil(idx));
    const double frac = idx - static_cast<double>(lo);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

DSDEPLOY_INLINE double distribution::at(double p) const {
    for (const auto& [q, v] : percentiles)
        if (q == p) return v;
    raise(errc::bench_config, "percentile", "p" + std::to_string(p) + " was not computed");
}

DSDEPLOY_INLINE distribution describe(std::vector<double> values, const std::vector<double>& ps) {
    distribution d;
    d.n = values.size();
    if (values.empty()) return d;
    std::sort(values.begin(), values.end());
    const double sum = std::accumulate(values.begin(), values.end(), 0.0);
    d.mean = sum / static_cast<double>(d.n);
    double ss = 0;
    for (double v : values) ss += (v - d.mean) * (v - d.mean);
    d.std = std::sqrt(ss / static_cast<double>(d.n));
    d.sample_std = d.n > 1 ? std::sqrt(ss / static_cast<double>(d.n - 1)) : 0.0;
    d.min = values.front();
    d.max = values.back();
    d.median = percentile(values, 50);
    for (double p : ps) d.percentiles.emplace_back(p, percentile(values, p));
    return d;
}

DSDEPLOY_INLINE slo parse_goodput(std::string_view text) {
    slo s;
    std::string t(text);
    std::replace(t.begin(), t.end(), ',', ' ');
    for (auto item : dsdeploy::detail::split(t, ' ')) {
        item = dsdeploy::detail::trim(item);
        if (item.empty()) continue;
        const auto colon = item.find(':');
        if (colon == std::string_view::npos)
            raise(errc::bench_config, "goodput", "\"" + std::string(item) + "\" is not KEY:VALUE (e.g. ttft:200,tpot:50, in ms)");
        const std::string key(dsdeploy::detail::trim(item.substr(0, colon)));
        const std::string val(dsdeploy::detail::trim(item.substr(colon + 1)));
        char* end = nullptr;
        const double v = std::strtod(val.c_str(), &end);
        if (val.empty() || *end != '\0' || !(v >= 0) || !std::isfinite(v))
            raise(errc::bench_config, "goodput", "\"" + val + "\" for " + key + " is not a non-negative number of milliseconds");
        if (key == "ttft") s.ttft_ms = v;
        else if (key == "tpot") s.tpot_ms = v;
        else if (key == "e2el") s.e2el_ms = v;
        else raise(errc::bench_config, "goodput", "unknown SLO \"" + key + "\"; use ttft, tpot or e2el");
    }
    if (s.empty()) raise(errc::bench_config, "goodput", "names no SLO; e.g. ttft:200,tpot:50 (milliseconds)");
    return s;
}

DSDEPLOY_INLINE std::vector<std::string> parse_percentile_metrics(std::string_view text) {
    std::vector<std::string> out;
    for (auto item : dsdeploy::detail::split(text, ',')) {
        const std::string m(dsdeploy::detail::trim(item));
        if (m.empty()) continue;
        if (m != "ttft" && m != "tpot" && m != "itl" && m != "e2el" && m != "client_queue_time" && m != "e2el_including_client_queue")
            raise(errc::bench_config, "percentile_metrics",
                  "unknown metric \"" + m + "\"; use ttft, tpot, itl, e2el, client_queue_time, e2el_including_client_queue");
        if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
    }
    if (out.empty()) raise(errc::bench_config, "percentile_metrics", "names no metric; e.g. ttft,tpot,itl");
    return out;
}

DSDEPLOY_INLINE std::vector<double> parse_metric_percentiles(std::string_view text) {
    std::vector<double> out;
    for (auto item : dsdeploy::detail::split(text, ',')) {
        const std::string v(dsdeploy::detail::trim(item));
        if (v.empty()) continue;
        char* end = nullptr;
        const double p = std::strtod(v.c_str(), &end);
        if (*end != '\0' || !(p >= 0 && p <= 100))
            raise(errc::bench_config, "metric_percentiles", "\"" + v + "\" is not a percentile within 0..100");
        out.push_back(p);
    }
    if (out.empty()) raise(errc::bench_config, "metric_percentiles", "names no percentile; e.g. 50,90,99");
    return out;
}

DSDEPLOY_INLINE run_summary summarize(const run_result& r, const summary_options& o) {
    run_summary s;
    s.options = o;
    s.duration = r.duration;
    std::vector<double> ttft, tpot, itl, e2el, queue, ttft_sched, e2el_sched;
    std::size_t good = 0, from_usage = 0, from_chunks = 0, from_tokenize = 0;
    std::vector<std::pair<double, int>> edges;  // concurrency sweep line
    const auto nb = static_cast<std::size_t>(std::max(0.0, std::ceil(r.duration)));
    s.output_tokens_per_second.assign(nb, 0.0);
    s.last_bucket_seconds = nb ? r.duration - static_cast<double>(nb - 1) : 1.0;
    for (const auto& q : r.requests) {
        if (q.status == request_status::cancelled) {
            ++s.cancelled;
            continue;
        }
        if (q.sent >= 0 && q.end >= q.sent) {
            edges.emplace_back(q.sent, +1);
            edges.emplace_back(q.end, -1);
            s.mean_concurrency += q.end - q.sent;
        }
        if (q.status == request_status::failed) {
            ++s.failed;
            ++s.errors[std::to_string(q.error_code) + (q.error_code == -1 ? " " + q.error_kind : std::string())];
            continue;
        }
        ++s.completed;
        s.total_input_tokens += q.prompt_tokens;
        s.total_output_tokens += q.output_tokens;
        (q.tokens_from_tokenize ? from_tokenize : q.tokens_from_usage ? from_usage : from_chunks) += 1;
        s.output_events += q.token_times.size();
        if (!r.closed_loop) queue.push_back((q.sent - q.scheduled) * 1000.0);
        if (q.token_times.empty()) ++s.empty_outputs;  // no text; its chunks may still time it
        if (q.first_token < 0) continue;
        const double t = (q.first_token - q.sent) * 1000.0;
        const double e = (q.last_token - q.sent) * 1000.0;
        ttft.push_back(t);
        e2el.push_back(e);
        ttft_sched.push_back((q.first_token - q.scheduled) * 1000.0);
        e2el_sched.push_back((q.last_token - q.scheduled) * 1000.0);
        const double tp = q.output_tokens > 1 ? (e - t) / static_cast<double>(q.output_tokens - 1) : 0.0;
        if (q.output_tokens > 1) tpot.push_back(tp);
        for (std::size_t i = 1; i < q.token_times.size(); ++i) itl.push_back((q.token_times[i] - q.token_times[i - 1]) * 1000.0);
        if (!o.goodput.empty()) {
            const bool ok = (!o.goodput.ttft_ms || t <= *o.goodput.ttft_ms) && (!o.goodput.tpot_ms || tp <= *o.goodput.tpot_ms) &&
                            (!o.goodput.e2el_ms || e <= *o.goodput.e2el_ms);
            good += ok ? 1 : 0;
        }
        // Output tokens over time: each output event carries tokens / events of its request.
        // A request that streamed no text puts its tokens at its last chunk.
        const std::vector<double> last_chunk{q.last_token};
        const std::vector<double>& times = q.token_times.empty() ? last_chunk : q.token_times;
        const double per_event = static_cast<double>(q.output_tokens) / static_cast<double>(times.size());
        for (double at : times) {
            const auto b = static_cast<std::size_t>(std::max(0.0, at));
            if (b < s.output_tokens_per_second.size()) s.output_tokens_per_second[b] += per_event;
            else if (!s.output_tokens_per_second.empty()) s.output_tokens_per_second.back() += per_event;
        }
    }
    const auto& ps = o.metric_percentiles;
    s.ttft = describe(std::move(ttft), ps);
    s.tpot = describe(std::move(tpot), ps);
    s.itl = describe(std::move(itl), ps);
    s.e2el = describe(std::move(e2el), ps);
    s.queue = describe(std::move(queue), ps);
    s.ttft_from_scheduled = describe(std::move(ttft_sched), ps);
    s.e2el_from_scheduled = describe(std::move(e2el_sched), ps);
    if (s.duration > 0) {
        s.request_throughput = static_cast<double>(s.completed) / s.duration;
        s.output_throughput = static_cast<double>(s.total_output_tokens) / s.duration;
        s.total_token_throughput = static_cast<double>(s.total_input_tokens + s.total_output_tokens) / s.duration;
        s.mean_concurrency /= s.duration;
        if (!o.goodput.empty()) s.request_goodput = static_cast<double>(good) / s.duration;
    } else {
        s.mean_concurrency = 0;
        if (!o.goodput.empty()) s.request_goodput = 0.0;
    }
    // A last partial bucket holds less than a second of tokens: its rate is tokens / its length,
    // and it sets the peak only when it is the only bucket (a few tokens in the last
    // milliseconds would otherwise make a peak that no second had).
    if (!s.output_tokens_per_second.empty() && s.last_bucket_seconds > 0 && s.last_bucket_seconds < 1)
        s.output_tokens_per_second.back() /= s.last_bucket_seconds;
    const std::size_t whole = s.output_tokens_per_second.size() > 1 && s.last_bucket_seconds < 1
                                  ? s.output_tokens_per_second.size() - 1
                                  : s.output_tokens_per_second.size();
    for (std::size_t i = 0; i < whole; ++i) s.peak_output_throughput = std::max(s.peak_output_throughput, s.output_tokens_per_second[i]);
    std::sort(edges.begin(), edges.end());  // an end (-1) sorts before a start (+1) at the same time
    int cur = 0;
    for (const auto& e : edges) {
        cur += e.second;
        s.peak_concurrency = std::max(s.peak_concurrency, static_cast<double>(cur));
    }
    if (from_tokenize) s.output_token_source = "server /tokenize of the generated text";
    else if (from_usage && from_chunks) s.output_token_source = "mixed (usage where the server sent it, else chunk count)";
    else if (from_chunks) s.output_token_source = "chunk count (the server sent no usage)";
    else s.output_token_source = "usage";
    s.client_cpu_seconds = r.client_cpu_seconds;
    std::size_t events = 0;
    for (const auto& q : r.requests) events += q.events;
    s.client_us_per_event = events ? r.client_cpu_seconds * 1e6 / static_cast<double>(events) : 0.0;
    return s;
}

}  // namespace bench
DSDEPLOY_NAMESPACE_END
