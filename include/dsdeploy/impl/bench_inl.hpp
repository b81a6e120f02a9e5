// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/bench.hpp>

#include <dsdeploy/detail/chunk_scan.hpp>
#include <dsdeploy/detail/sonnets.hpp>
#include <dsdeploy/detail/text.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <numeric>
#include <set>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __linux__
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#endif

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

DSDEPLOY_INLINE std::string_view to_string(endpoint e) { return e == endpoint::chat ? "chat" : "completions"; }

DSDEPLOY_INLINE std::string_view sonnet_corpus() { return dsdeploy::detail::sonnets_text; }

namespace detail {

// Deterministic on every standard library: std::normal_distribution and std::shuffle are not.
struct rng {
    std::uint64_t state;
    explicit rng(std::uint64_t seed) : state(seed ^ 0x9E3779B97F4A7C15ull) {}
    std::uint64_t next() {  // splitmix64
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
    double open_uniform() {                                                       // (0, 1)
        double u;
        do u = uniform();
        while (u <= 0.0);
        return u;
    }
    double normal(double mean, double stddev) {  // Box-Muller
        const double u1 = open_uniform(), u2 = uniform();
        return mean + stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(uniform() * static_cast<double>(n)); }
    // Gamma(shape k, scale 1): Marsaglia and Tsang, with the k < 1 boost.
    double gamma(double k) {
        if (k < 1.0) return gamma(k + 1.0) * std::pow(open_uniform(), 1.0 / k);
        const double d = k - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
        for (;;) {
            double x, v;
            do {
                x = normal(0, 1);
                v = 1.0 + c * x;
            } while (v <= 0);
            v = v * v * v;
            const double u = open_uniform();
            if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
            if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
        }
    }
};

inline std::string instruction(int max_tokens) {
    return "Randomly stream lines from the following text, " + std::to_string(max_tokens) +
           " output tokens in all. Do not stop early, do not generate an end-of-sequence token:\n\n";
}

// Removes whole words from the end until `chars` characters are gone (at least one word).
inline void drop_words(std::string& s, std::size_t chars, std::size_t keep) {
    const std::size_t target = s.size() > chars ? std::max(keep, s.size() - chars) : keep;
    std::size_t cut = s.size();
    do {
        while (cut > keep && (s[cut - 1] == ' ' || s[cut - 1] == '\n')) --cut;
        while (cut > keep && s[cut - 1] != ' ' && s[cut - 1] != '\n') --cut;
    } while (cut > target);
    s.resize(std::max(cut, keep));
    while (s.size() > keep && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
}

struct corpus_cursor {
    std::vector<std::string_view> lines;
    std::size_t pos = 0;
    std::string_view next() {
        const auto l = lines[pos];
        pos = (pos + 1) % lines.size();
        return l;
    }
};

inline void build_prompt(request_spec& r, corpus_cursor& cur, const token_counter& count, double chars_per_token) {
    const std::string head = instruction(r.max_tokens);
    std::string p = head;
    auto estimate = [&](const std::string& s) {
        return static_cast<std::int64_t>(std::llround(static_cast<double>(s.size()) / chars_per_token));
    };
    auto add_until = [&](std::int64_t want_chars) {
        while (static_cast<std::int64_t>(p.size()) < want_chars) {
            if (p.size() > head.size()) p += '\n';
            p.append(cur.next());
        }
    };
    add_until(static_cast<std::int64_t>(static_cast<double>(r.target_input_tokens) * chars_per_token));
    if (!count) {
        if (estimate(p) > r.target_input_tokens)
            drop_words(p, static_cast<std::size_t>(static_cast<double>(estimate(p) - r.target_input_tokens) * chars_per_token), head.size());
        r.prompt = std::move(p);
        r.prompt_tokens = estimate(r.prompt);
        return;
    }
    // Measure, then walk toward the target by words: at most target, as close as the words allow.
    std::int64_t n = count.count(p);
    bool went_down = false;
    for (int round = 0; round < 12 && n != r.target_input_tokens; ++round) {
        if (n > r.target_input_tokens) {
            if (p.size() <= head.size()) break;
            drop_words(p, static_cast<std::size_t>(std::max<double>(1, static_cast<double>(n - r.target_input_tokens) * chars_per_token * 0.9)),
                       head.size());
            went_down = true;
        } else {
            if (went_down) break;  // it was above, now below: the closest from below
            const std::size_t before = p.size();
            const auto want = static_cast<std::size_t>(std::max<double>(2, static_cast<double>(r.target_input_tokens - n) * chars_per_token));
            while (p.size() < before + want) {
                const auto line = cur.next();
                p += (p.size() > head.size() ? "\n" : "");
                p.append(line);
            }
        }
        n = count.count(p);
    }
    r.prompt = std::move(p);
    r.prompt_tokens = n;
}

inline std::string make_body(const workload_options& o, const request_spec& r) {
    openai::stream_options so;
    so.include_usage = true;
    nlohmann::json j;
    if (o.endpoint == endpoint::chat) {
        openai::chat_request c;
        c.model = o.model;
        c.messages = {{"user", r.prompt}};
        c.max_tokens = r.max_tokens;
        if (o.ignore_eos) c.ignore_eos = true;
        c.streaming = so;
        c.extra = o.additional_sampling_params;
        j = openai::encode(c, true);
    } else {
        openai::completion_request c;
        c.model = o.model;
        c.prompt = r.prompt;
        c.max_tokens = r.max_tokens;
        if (o.ignore_eos) c.ignore_eos = true;
        c.streaming = so;
        c.extra = o.additional_sampling_params;
        j = openai::encode(c, true);
    }
    // The stream must stay a stream with usage, whatever the extra parameters say.
    j["stream"] = true;
    if (!j.contains("stream_options") || !j["stream_options"].is_object()) j["stream_options"] = nlohmann::json::object();
    j["stream_options"]["include_usage"] = true;
    return j.dump();
}

}  // namespace detail

DSDEPLOY_INLINE workload make_workload(const workload_options& o, const token_counter& count) {
    if (o.model.empty()) raise(errc::bench_config, "model", "is empty; name the served model (see GET /v1/models)");
    if (o.mean_input_tokens < 1)
        raise(errc::bench_config, "mean_input_tokens", "is " + std::to_string(o.mean_input_tokens) + "; it must be at least 1");
    if (o.mean_output_tokens < 1)
        raise(errc::bench_config, "mean_output_tokens", "is " + std::to_string(o.mean_output_tokens) + "; it must be at least 1");
    if (o.stddev_input_tokens < 0)
        raise(errc::bench_config, "stddev_input_tokens", "is negative (" + std::to_string(o.stddev_input_tokens) + ")");
    if (o.stddev_output_tokens < 0)
        raise(errc::bench_config, "stddev_output_tokens", "is negative (" + std::to_string(o.stddev_output_tokens) + ")");
    if (o.num_requests < 1) raise(errc::bench_config, "num_requests", "is 0; send at least one request");
    if (!o.additional_sampling_params.is_object())
        raise(errc::bench_config, "additional_sampling_params",
              std::string("must be a JSON object such as {\"temperature\": 0}, not ") + o.additional_sampling_params.type_name());

    workload w;
    w.endpoint = o.endpoint;
    w.model = o.model;
    w.options = o;
    detail::corpus_cursor cur;
    for (auto line : dsdeploy::detail::split_lines(sonnet_corpus()))
        if (!dsdeploy::detail::trim(line).empty()) cur.lines.push_back(line);
    detail::rng shuffle_rng(o.seed ^ 0x5A5A5A5Aull);
    for (std::size_t i = cur.lines.size(); i > 1; --i) std::swap(cur.lines[i - 1], cur.lines[shuffle_rng.below(i)]);

    double chars_per_token = 4.0;
    const std::int64_t head_estimate = static_cast<std::int64_t>(detail::instruction(o.mean_output_tokens).size() / 4);
    std::int64_t head_tokens = head_estimate;
    if (count) {
        std::string all;
        for (auto l : cur.lines) (all += l) += '\n';
        const std::int64_t n = count.count(all);
        if (n > 0) chars_per_token = static_cast<double>(all.size()) / static_cast<double>(n);
        head_tokens = count.count(detail::instruction(o.mean_output_tokens));
        w.prompt_token_source = count.source.empty() ? std::string("token counter") : count.source;
    } else {
        w.prompt_token_source = "estimate (4 characters per token; the server has no /tokenize)";
    }

    auto draw = [&](detail::rng& g, std::vector<request_spec>& out, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            request_spec r;
            // Redrawn until long enough (as llmperf), but a bounded number of times: a mean below
            // the instruction's own length would otherwise never end.
            std::int64_t in = 0;
            int tries = 0;
            do in = std::llround(g.normal(o.mean_input_tokens, o.stddev_input_tokens));
            while (in < std::max<std::int64_t>(1, head_tokens + 1) && o.stddev_input_tokens > 0 && ++tries < 100);
            r.target_input_tokens = std::max<std::int64_t>(in, head_tokens + 1);
            std::int64_t mt = 0;
            tries = 0;
            do mt = std::llround(g.normal(o.mean_output_tokens, o.stddev_output_tokens));
            while (mt < 1 && ++tries < 100);
            mt = std::max<std::int64_t>(mt, 1);
            r.max_tokens = static_cast<int>(std::min<std::int64_t>(mt, 1 << 30));
            out.push_back(std::move(r));
        }
    };
    detail::rng g(o.seed);
    draw(g, w.requests, o.num_requests);
    detail::rng gw(o.seed ^ 0xC0FFEEull);
    draw(gw, w.warmup, o.warmup_requests);
    for (auto* set : {&w.requests, &w.warmup}) {
        for (auto& r : *set) {
            detail::build_prompt(r, cur, count, chars_per_token);
            r.body = detail::make_body(o, r);
        }
    }
    return w;
}

DSDEPLOY_INLINE std::vector<double> arrival_offsets(std::size_t n, double rate, double burstiness, std::uint64_t seed) {
    if (!(rate > 0)) raise(errc::bench_config, "request_rate", "must be a positive number of requests per second (or inf)");
    if (!(burstiness > 0) || !std::isfinite(burstiness))
        raise(errc::bench_config, "burstiness", "must be a positive number (1: Poisson; < 1 burstier; > 1 more regular)");
    std::vector<double> t(n, 0.0);
    if (std::isinf(rate) || n == 0) return t;
    detail::rng g(seed);
    double acc = 0;
    for (std::size_t i = 0; i < n; ++i) {
        acc += g.gamma(burstiness) / (rate * burstiness);  // gamma(k, theta = 1 / (rate k))
        t[i] = acc;
    }
    // vLLM: rescale so that the last request goes out at exactly n / rate.
    const double want = static_cast<double>(n) / rate;
    if (acc > 0)
        for (auto& x : t) x *= want / acc;
    return t;
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

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
        if (m != "ttft" && m != "tpot" && m != "itl" && m != "e2el")
            raise(errc::bench_config, "percentile_metrics", "unknown metric \"" + m + "\"; use ttft, tpot, itl, e2el");
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
    std::vector<double> ttft, tpot, itl, e2el, queue;
    std::size_t good = 0, from_usage = 0, from_chunks = 0;
    std::vector<std::pair<double, int>> edges;  // concurrency sweep line
    const auto nb = static_cast<std::size_t>(std::max(0.0, std::ceil(r.duration)));
    s.output_tokens_per_second.assign(nb, 0.0);
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
        (q.tokens_from_usage ? from_usage : from_chunks) += 1;
        s.output_events += q.token_times.size();
        if (!r.closed_loop) queue.push_back((q.sent - q.scheduled) * 1000.0);
        if (q.token_times.empty() || q.first_token < 0) {
            ++s.empty_outputs;
            continue;
        }
        const double t = (q.first_token - q.sent) * 1000.0;
        const double e = (q.last_token - q.sent) * 1000.0;
        ttft.push_back(t);
        e2el.push_back(e);
        const double tp = q.output_tokens > 1 ? (e - t) / static_cast<double>(q.output_tokens - 1) : 0.0;
        if (q.output_tokens > 1) tpot.push_back(tp);
        for (std::size_t i = 1; i < q.token_times.size(); ++i) itl.push_back((q.token_times[i] - q.token_times[i - 1]) * 1000.0);
        if (!o.goodput.empty()) {
            const bool ok = (!o.goodput.ttft_ms || t <= *o.goodput.ttft_ms) && (!o.goodput.tpot_ms || tp <= *o.goodput.tpot_ms) &&
                            (!o.goodput.e2el_ms || e <= *o.goodput.e2el_ms);
            good += ok ? 1 : 0;
        }
        // Output tokens over time: each output event carries tokens / events of its request.
        const double per_event = static_cast<double>(q.output_tokens) / static_cast<double>(q.token_times.size());
        for (double at : q.token_times) {
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
    for (double v : s.output_tokens_per_second) s.peak_output_throughput = std::max(s.peak_output_throughput, v);
    std::sort(edges.begin(), edges.end());  // an end (-1) sorts before a start (+1) at the same time
    int cur = 0;
    for (const auto& e : edges) {
        cur += e.second;
        s.peak_concurrency = std::max(s.peak_concurrency, static_cast<double>(cur));
    }
    if (from_usage && from_chunks) s.output_token_source = "mixed (usage where the server sent it, else chunk count)";
    else if (from_chunks) s.output_token_source = "chunk count (the server sent no usage)";
    else s.output_token_source = "usage";
    s.client_cpu_seconds = r.client_cpu_seconds;
    std::size_t events = 0;
    for (const auto& q : r.requests) events += q.events;
    s.client_us_per_event = events ? r.client_cpu_seconds * 1e6 / static_cast<double>(events) : 0.0;
    return s;
}

// ---------------------------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------------------------

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
                                                   const std::vector<std::pair<std::string, std::string>>& metadata) {
    using oj = nlohmann::ordered_json;
    oj j;
    j["date"] = detail::date_stamp(r.started_unix);
    const std::string backend = r.endpoint == endpoint::chat ? "openai-chat" : "openai";
    j["endpoint_type"] = backend;
    j["backend"] = backend;
    j["label"] = label;
    j["model_id"] = r.workload.model;
    j["tokenizer_id"] = r.prompt_token_source;
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
    oj input_lens = oj::array(), output_lens = oj::array(), ttfts = oj::array(), itls = oj::array(), texts = oj::array(),
       errors = oj::array();
    for (const auto& q : r.requests) {
        if (q.status == request_status::cancelled) continue;
        const bool ok = q.status == request_status::ok;
        input_lens.push_back(q.prompt_tokens);
        output_lens.push_back(ok ? q.output_tokens : 0);
        ttfts.push_back(ok && q.first_token >= 0 ? q.first_token - q.sent : 0.0);
        oj gaps = oj::array();
        for (std::size_t i = 1; ok && i < q.token_times.size(); ++i) gaps.push_back(q.token_times[i] - q.token_times[i - 1]);
        itls.push_back(std::move(gaps));
        texts.push_back("");  // generated text is not kept (it is not needed to measure)
        errors.push_back(ok ? std::string() : q.error_msg);
    }
    j["input_lens"] = std::move(input_lens);
    j["output_lens"] = std::move(output_lens);
    j["ttfts"] = std::move(ttfts);
    j["itls"] = std::move(itls);
    j["generated_texts"] = std::move(texts);
    j["errors"] = std::move(errors);
    j["max_output_tokens_per_s"] = s.peak_output_throughput;
    j["max_concurrent_requests"] = s.peak_concurrency;
    for (const auto& m : s.options.percentile_metrics) {
        const auto& d = detail::metric(s, m);
        j["mean_" + m + "_ms"] = d.mean;
        j["median_" + m + "_ms"] = d.median;
        j["std_" + m + "_ms"] = d.std;
        for (const auto& [p, v] : d.percentiles) j["p" + detail::p_word(p) + "_" + m + "_ms"] = v;
    }
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
    auto j = vllm_result(r, s);
    for (const char* k : {"input_lens", "output_lens", "ttfts", "itls", "generated_texts", "errors"}) j.erase(k);
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
    j["dsdeploy"] = std::move(d);
    return j;
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

namespace detail {

inline std::string esc(std::string_view s) {
    std::string o;
    for (char c : s) {
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            case '\'': o += "&#39;"; break;
            default: o += c;
        }
    }
    return o;
}

inline std::string num(double v, int prec = 2) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, std::isfinite(v) ? v : 0.0);
    return b;
}

// A "nice" axis maximum (1, 2, 5 x 10^k) at or above v.
inline double nice_max(double v) {
    if (!(v > 0)) return 1;
    const double e = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * e >= v) return m * e;
    return 10 * e;
}

struct series {
    std::string name;
    std::vector<std::pair<double, double>> points;
};

inline const char* color(std::size_t i) {
    static const char* c[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
    return c[i % 8];
}

constexpr int W = 640, H = 300, L = 60, R = 20, T = 30, B = 45;

inline std::string axes(const std::string& title, const std::string& xl, const std::string& yl, double xmax, double ymax,
                        double xmin = 0) {
    std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(W) + "\" height=\"" +
                    std::to_string(H) + "\" viewBox=\"0 0 " + std::to_string(W) + " " + std::to_string(H) +
                    "\" role=\"img\" aria-label=\"" + esc(title) + "\">\n";
    o += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(W) + "\" height=\"" + std::to_string(H) + "\" fill=\"#ffffff\"/>\n";
    o += "<text x=\"" + std::to_string(W / 2) + "\" y=\"18\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">" +
         esc(title) + "</text>\n";
    const int pw = W - L - R, ph = H - T - B;
    o += "<rect x=\"" + std::to_string(L) + "\" y=\"" + std::to_string(T) + "\" width=\"" + std::to_string(pw) +
         "\" height=\"" + std::to_string(ph) + "\" fill=\"#f8f9fb\" stroke=\"#444444\"/>\n";
    for (int i = 0; i <= 4; ++i) {
        const double fy = static_cast<double>(i) / 4;
        const int y = T + ph - static_cast<int>(fy * ph);
        o += "<line x1=\"" + std::to_string(L) + "\" y1=\"" + std::to_string(y) + "\" x2=\"" + std::to_string(L + pw) +
             "\" y2=\"" + std::to_string(y) + "\" stroke=\"#dddddd\"/>\n";
        o += "<text x=\"" + std::to_string(L - 5) + "\" y=\"" + std::to_string(y + 4) +
             "\" text-anchor=\"end\" font-size=\"10\">" + num(ymax * fy, ymax * fy >= 100 ? 0 : 2) + "</text>\n";
        const int x = L + static_cast<int>(fy * pw);
        o += "<text x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(T + ph + 14) +
             "\" text-anchor=\"middle\" font-size=\"10\">" + num(xmin + (xmax - xmin) * fy, (xmax - xmin) >= 100 ? 0 : 2) +
             "</text>\n";
    }
    o += "<text x=\"" + std::to_string(L + pw / 2) + "\" y=\"" + std::to_string(H - 8) +
         "\" text-anchor=\"middle\" font-size=\"11\">" + esc(xl) + "</text>\n";
    o += "<text x=\"14\" y=\"" + std::to_string(T + ph / 2) + "\" text-anchor=\"middle\" font-size=\"11\" transform=\"rotate(-90 14 " +
         std::to_string(T + ph / 2) + ")\">" + esc(yl) + "</text>\n";
    return o;
}

inline std::string legend(const std::vector<series>& ss) {
    std::string o;
    for (std::size_t i = 0; i < ss.size(); ++i) {
        const int y = T + 12 + static_cast<int>(i) * 14;
        o += "<rect x=\"" + std::to_string(W - R - 150) + "\" y=\"" + std::to_string(y - 8) +
             "\" width=\"10\" height=\"10\" fill=\"" + color(i) + "\"/>\n";
        o += "<text x=\"" + std::to_string(W - R - 135) + "\" y=\"" + std::to_string(y + 1) + "\" font-size=\"10\">" +
             esc(ss[i].name) + "</text>\n";
    }
    return o;
}

// Line plot (also used for histograms drawn as steps).
inline std::string line_plot(const std::string& title, const std::string& xl, const std::string& yl,
                             const std::vector<series>& ss, bool log_x = false) {
    double xmax = 0, ymax = 0, xmin = std::numeric_limits<double>::infinity();
    for (const auto& s : ss)
        for (const auto& [x, y] : s.points) {
            xmax = std::max(xmax, x);
            xmin = std::min(xmin, x);
            ymax = std::max(ymax, y);
        }
    if (!std::isfinite(xmin)) xmin = 0;
    auto tx = [&](double x) { return log_x ? std::log2(std::max(x, 1.0)) : x; };
    const double x0 = log_x ? tx(xmin) : 0.0;
    double x1 = log_x ? tx(xmax) : nice_max(xmax);
    if (x1 <= x0) x1 = x0 + 1;
    ymax = nice_max(ymax);
    std::string o = axes(title, xl + (log_x ? " (log scale)" : ""), yl, log_x ? x1 : x1, ymax, log_x ? x0 : 0);
    if (log_x) {  // label the points' own x values instead of the log axis numbers
        o += "<g font-size=\"9\" fill=\"#555555\">\n";
        std::set<double> xs;
        for (const auto& s : ss)
            for (const auto& p : s.points) xs.insert(p.first);
        for (double x : xs) {
            const double fx = (tx(x) - x0) / (x1 - x0);
            o += "<text x=\"" + num(L + fx * (W - L - R), 1) + "\" y=\"" + std::to_string(H - B + 26) +
                 "\" text-anchor=\"middle\">" + num(x, 0) + "</text>\n";
        }
        o += "</g>\n";
    }
    const int pw = W - L - R, ph = H - T - B;
    for (std::size_t i = 0; i < ss.size(); ++i) {
        if (ss[i].points.empty()) continue;
        std::string pts;
        for (const auto& [x, y] : ss[i].points) {
            const double fx = (tx(x) - x0) / (x1 - x0), fy = y / ymax;
            pts += num(L + fx * pw, 1) + "," + num(T + ph - fy * ph, 1) + " ";
        }
        pts.pop_back();
        o += "<polyline fill=\"none\" stroke=\"" + std::string(color(i)) + "\" stroke-width=\"2\" points=\"" + pts + "\"/>\n";
        if (ss[i].points.size() <= 32) {
            for (const auto& [x, y] : ss[i].points) {
                const double fx = (tx(x) - x0) / (x1 - x0), fy = y / ymax;
                o += "<circle cx=\"" + num(L + fx * pw, 1) + "\" cy=\"" + num(T + ph - fy * ph, 1) + "\" r=\"3\" fill=\"" +
                     color(i) + "\"/>\n";
            }
        }
    }
    o += legend(ss) + "</svg>\n";
    return o;
}

// Histogram of values (ms) as a step line per series, over [0, p99.5 of all].
inline std::string histogram(const std::string& title, const std::string& xl,
                             const std::vector<std::pair<std::string, std::vector<double>>>& data) {
    std::vector<double> all;
    for (const auto& d : data) all.insert(all.end(), d.second.begin(), d.second.end());
    std::vector<series> ss;
    if (all.empty()) return line_plot(title + " (no data)", xl, "share of samples (%)", ss);
    std::sort(all.begin(), all.end());
    double hi = percentile(all, 99.5);
    if (!(hi > 0)) hi = all.back() > 0 ? all.back() : 1.0;
    hi = nice_max(hi);
    const int bins = 50;
    for (const auto& [name, v] : data) {
        std::vector<double> count(bins, 0.0);
        for (double x : v) {
            auto b = static_cast<int>(x / hi * bins);
            count[static_cast<std::size_t>(std::clamp(b, 0, bins - 1))] += 1;
        }
        series s;
        s.name = name;
        for (int b = 0; b < bins; ++b) {
            const double share = v.empty() ? 0 : 100.0 * count[static_cast<std::size_t>(b)] / static_cast<double>(v.size());
            s.points.emplace_back(hi * b / bins, share);
            s.points.emplace_back(hi * (b + 1) / bins, share);
        }
        ss.push_back(std::move(s));
    }
    return line_plot(title, xl + " (last bin holds everything above)", "share of samples (%)", ss);
}

}  // namespace detail

DSDEPLOY_INLINE std::string html_report(const std::vector<report_point>& points, const std::string& title) {
    using detail::esc;
    using detail::num;
    std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>" + esc(title) +
                    "</title>\n<style>\nbody{font-family:sans-serif;margin:24px;color:#222;background:#fff}\n"
                    "table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}\n"
                    "th{background:#eef}td:first-child,th:first-child{text-align:left}\n"
                    "svg{margin:8px 16px 8px 0;border:1px solid #ddd}\n</style>\n</head>\n<body>\n";
    o += "<h1>" + esc(title) + "</h1>\n";
    if (points.empty()) return o + "<p>No runs.</p>\n</body>\n</html>\n";
    const run_result& first = *points.front().result;
    o += "<p>Model <b>" + esc(first.workload.model) + "</b> at " + esc(first.base_url) + " (" +
         esc(std::string(to_string(first.endpoint))) + " endpoint), engine " + esc(first.engine) + ". Output tokens from " +
         esc(points.front().summary->output_token_source) + "; prompt lengths: " + esc(first.prompt_token_source) +
         ". TTFT: first output event - send; ITL: gaps between output events; TPOT: (E2EL - TTFT) / (tokens - 1).</p>\n";
    o += "<table>\n<tr><th>run</th><th>ok</th><th>failed</th><th>duration s</th><th>req/s</th><th>output tok/s</th>"
         "<th>mean TTFT ms</th><th>p99 TTFT ms</th><th>mean TPOT ms</th><th>mean ITL ms</th><th>p99 ITL ms</th>"
         "<th>mean E2EL ms</th></tr>\n";
    auto p99 = [](const distribution& d) {
        for (const auto& [p, v] : d.percentiles)
            if (p == 99) return v;
        return d.max;
    };
    for (const auto& p : points) {
        const auto& s = *p.summary;
        o += "<tr><td>" + esc(p.label) + "</td><td>" + std::to_string(s.completed) + "</td><td>" + std::to_string(s.failed) +
             "</td><td>" + num(s.duration) + "</td><td>" + num(s.request_throughput) + "</td><td>" +
             num(s.output_throughput) + "</td><td>" + num(s.ttft.mean) + "</td><td>" + num(p99(s.ttft)) + "</td><td>" +
             num(s.tpot.mean) + "</td><td>" + num(s.itl.mean) + "</td><td>" + num(p99(s.itl)) + "</td><td>" +
             num(s.e2el.mean) + "</td></tr>\n";
    }
    o += "</table>\n";
    std::vector<std::pair<std::string, std::vector<double>>> ttfts, itls;
    std::vector<detail::series> tput;
    for (const auto& p : points) {
        std::vector<double> t, g;
        for (const auto& q : p.result->requests) {
            if (q.status != request_status::ok || q.first_token < 0) continue;
            t.push_back((q.first_token - q.sent) * 1000.0);
            for (std::size_t i = 1; i < q.token_times.size(); ++i) g.push_back((q.token_times[i] - q.token_times[i - 1]) * 1000.0);
        }
        ttfts.emplace_back(p.label, std::move(t));
        itls.emplace_back(p.label, std::move(g));
        detail::series s;
        s.name = p.label;
        const auto& b = p.summary->output_tokens_per_second;
        for (std::size_t i = 0; i < b.size(); ++i) s.points.emplace_back(static_cast<double>(i) + 0.5, b[i]);
        tput.push_back(std::move(s));
    }
    o += "<h2>Distributions</h2>\n<div>\n";
    o += detail::histogram("Time to first token", "TTFT (ms)", ttfts);
    o += detail::histogram("Inter-token latency", "ITL (ms)", itls);
    o += "</div>\n<h2>Throughput over time</h2>\n<div>\n";
    o += detail::line_plot("Output tokens per second", "time since start (s)", "tokens/s", tput);
    o += "</div>\n";
    if (points.size() > 1) {
        detail::series ttft{"mean TTFT", {}}, ttft99{"p99 TTFT", {}}, itl{"mean ITL", {}}, e2el{"mean E2EL / 10", {}};
        detail::series thr{"output tok/s", {}};
        for (const auto& p : points) {
            const double c = static_cast<double>(p.result->max_concurrency);
            const auto& s = *p.summary;
            ttft.points.emplace_back(c, s.ttft.mean);
            ttft99.points.emplace_back(c, p99(s.ttft));
            itl.points.emplace_back(c, s.itl.mean);
            e2el.points.emplace_back(c, s.e2el.mean / 10);
            thr.points.emplace_back(c, s.output_throughput);
        }
        o += "<h2>Latency vs concurrency</h2>\n<div>\n";
        o += detail::line_plot("Latency vs concurrency", "concurrency", "ms", {ttft, ttft99, itl, e2el}, true);
        o += detail::line_plot("Throughput vs concurrency", "concurrency", "output tokens/s", {thr}, true);
        o += "</div>\n";
    }
    o += "<p style=\"color:#777\">dsdeploy " DSDEPLOY_VERSION "</p>\n</body>\n</html>\n";
    return o;
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

// ---------------------------------------------------------------------------------------------
// stream_job: the measuring hot path
// ---------------------------------------------------------------------------------------------

DSDEPLOY_INLINE void stream_job::reset(request_record* rec, clock::time_point t0, std::size_t expected_events) {
    rec_ = rec;
    t0_ = t0;
    parser_ = dsdeploy::detail::sse_parser();
    status_ = 0;
    done_seen_ = failed_ = ended_ = false;
    error_body_.clear();
    rec_->token_times.clear();
    rec_->token_times.reserve(expected_events);
}

DSDEPLOY_INLINE void stream_job::fail(int code, const char* kind, std::string msg) {
    if (failed_) return;
    failed_ = true;
    rec_->status = request_status::failed;
    rec_->error_code = code;
    rec_->error_kind = kind;
    rec_->error_msg = std::move(msg);
}

DSDEPLOY_INLINE bool stream_job::on_headers(int status, clock::time_point t) {
    status_ = status;
    if (rec_->first_byte < 0) rec_->first_byte = since(t);
    return true;
}

DSDEPLOY_INLINE bool stream_job::on_body(std::string_view bytes, clock::time_point t) {
    if (failed_) return false;
    if (status_ < 200 || status_ >= 300) {
        if (error_body_.size() < 65536) error_body_.append(bytes.substr(0, 65536 - error_body_.size()));
        return true;
    }
    const double ts = since(t);
    try {
        parser_.feed(bytes, [&](const dsdeploy::detail::sse_event& ev) { return on_event(ev.data, ts); });
    } catch (const dsdeploy::error& e) {
        fail(-1, "stream", e.detail());
    }
    return !failed_;
}

DSDEPLOY_INLINE bool stream_job::on_event(std::string_view data, double t) {
    if (data.size() >= 6 && data.compare(0, 6, "[DONE]") == 0) {
        done_seen_ = true;
        return true;
    }
    ++rec_->events;
    const dsdeploy::detail::chunk_info c = dsdeploy::detail::scan_chunk(data);
    if (!c.valid) {
        fail(-1, "decode", "an event's data is not JSON: \"" + std::string(data.substr(0, 200)) + "\"");
        return false;
    }
    if (c.has_error) {
        const auto info = openai::parse_error_body(data);
        fail(-1, "stream", "the server reported an error mid-stream: " + (info.message.empty() ? std::string(data.substr(0, 300)) : info.message));
        return false;
    }
    if (c.has_output) {
        if (rec_->first_token < 0) rec_->first_token = t;
        rec_->last_token = t;
        rec_->token_times.push_back(t);
    }
    if (c.has_usage) {
        rec_->tokens_from_usage = true;
        rec_->prompt_tokens = c.prompt_tokens;
        rec_->output_tokens = c.completion_tokens;
    }
    if (!c.finish_reason.empty()) rec_->finish_reason.assign(c.finish_reason.data(), c.finish_reason.size());
    return true;
}

DSDEPLOY_INLINE void stream_job::on_end(openai::transport_error error, std::string_view message, clock::time_point t) {
    if (ended_) return;
    ended_ = true;
    rec_->end = since(t);
    if (failed_) return;
    using te = openai::transport_error;
    if (status_ == 0) {
        if (error == te::canceled) {
            rec_->status = request_status::cancelled;
            return;
        }
        fail(-1, error == te::timeout ? "timeout" : "connection",
             std::string(openai::to_string(error)) + " error: " + std::string(message));
        return;
    }
    if (status_ < 200 || status_ >= 300) {
        const auto info = openai::parse_error_body(error_body_);
        fail(status_, "http", "HTTP " + std::to_string(status_) + ": " + (info.message.empty() ? error_body_.substr(0, 300) : info.message));
        return;
    }
    if (error == te::canceled && !done_seen_) {
        rec_->status = request_status::cancelled;
        return;
    }
    const bool mid_event = parser_.finish();
    if (!done_seen_) {
        if (error != te::none && error != te::canceled)
            fail(-1, error == te::timeout ? "timeout" : "stream",
                 "the connection broke mid-stream after " + std::to_string(rec_->events) + " event(s): " +
                     std::string(openai::to_string(error)) + " error (" + std::string(message) + ")");
        else
            fail(-1, "stream", std::string("the stream ended without data: [DONE]") + (mid_event ? " in the middle of an event" : "") +
                                   " after " + std::to_string(rec_->events) + " event(s)");
        return;
    }
    rec_->status = request_status::ok;
    if (!rec_->tokens_from_usage) rec_->output_tokens = static_cast<std::int64_t>(rec_->token_times.size());
}

// ---------------------------------------------------------------------------------------------
// The epoll engine
// ---------------------------------------------------------------------------------------------
#ifdef __linux__

struct epoll_engine::impl {
    struct conn {
        int fd = -1;
        enum class st { connecting, writing, head, body, idle } state = st::connecting;
        std::string out;
        std::size_t out_off = 0;
        std::string head;
        bool chunked = false, until_close = false, keep = true;
        std::int64_t remaining = -1;
        enum class cs { size, ext, size_lf, data, data_cr, data_lf, trailer } cstate = cs::size;
        std::uint64_t chunk_left = 0;
        int size_digits = 0;
        int trailer_len = 0;
        stream_job* job = nullptr;
        bool got_bytes = false, reused = false, retried = false;
        clock::time_point connect_deadline{};
    };

    openai::base_url url;
    epoll_engine_options opt;
    int ep = -1, tfd = -1;
    sockaddr_storage addr{};
    socklen_t addrlen = 0;
    std::string host_header;
    std::vector<std::unique_ptr<conn>> conns;  // owns every connection
    std::vector<conn*> idle;
    std::vector<conn*> spare;                  // closed, reusable objects
    std::vector<char> rbuf;
    std::vector<stream_job*> ended;            // jobs ended outside wait()
    clock::time_point armed{};
    clock::time_point last_sweep{};

    conn* acquire() {
        if (!spare.empty()) {
            conn* c = spare.back();
            spare.pop_back();
            return c;
        }
        conns.push_back(std::make_unique<conn>());
        return conns.back().get();
    }
    void release(conn* c) {
        if (c->fd >= 0) ::close(c->fd);  // closing removes it from the epoll set
        c->fd = -1;
        c->job = nullptr;
        spare.push_back(c);
    }
    void set_events(conn* c, std::uint32_t ev) {
        epoll_event e{};
        e.events = ev;
        e.data.ptr = c;
        ::epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    }

    void end_job(conn* c, openai::transport_error err, std::string_view msg, clock::time_point t, bool reusable) {
        stream_job* j = c->job;
        c->job = nullptr;
        if (reusable && opt.keep_alive && c->keep) {
            c->state = conn::st::idle;
            c->head.clear();
            set_events(c, EPOLLIN | EPOLLRDHUP);
            idle.push_back(c);
        } else {
            release(c);
        }
        if (j) {
            j->engine_data = nullptr;
            j->on_end(err, msg, t);
            ended.push_back(j);
        }
    }

    void prepare(conn* c, stream_job& j) {
        const auto& r = j.request;
        c->out.clear();
        c->out += r.method;
        c->out += ' ';
        c->out += r.path;
        c->out += " HTTP/1.1\r\nHost: ";
        c->out += host_header;
        c->out += "\r\n";
        for (const auto& h : r.headers) {
            c->out += h.first;
            c->out += ": ";
            c->out += h.second;
            c->out += "\r\n";
        }
        c->out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
        if (!opt.keep_alive) c->out += "Connection: close\r\n";
        c->out += "\r\n";
        c->out += r.body;
        c->out_off = 0;
        c->head.clear();
        c->chunked = c->until_close = false;
        c->keep = true;
        c->remaining = -1;
        c->cstate = conn::cs::size;
        c->chunk_left = 0;
        c->size_digits = 0;
        c->trailer_len = 0;
        c->got_bytes = false;
        c->job = &j;
        j.engine_data = c;
    }

    bool open_socket(conn* c, clock::time_point now) {
        c->fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) return false;
        int one = 1;
        ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->reused = false;
        c->state = conn::st::connecting;
        c->connect_deadline = now + opt.connect_timeout;
        epoll_event e{};
        e.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
        e.data.ptr = c;
        if (::epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) != 0) return false;
        if (::connect(c->fd, reinterpret_cast<const sockaddr*>(&addr), addrlen) != 0 && errno != EINPROGRESS) return false;
        return true;
    }

    void fail_conn(conn* c, openai::transport_error err, const std::string& msg, clock::time_point t) {
        // A kept-alive connection the server had closed: retry once on a new one, unless
        // something of the answer arrived already.
        if (c->reused && !c->got_bytes && !c->retried && c->job) {
            stream_job* j = c->job;
            ::close(c->fd);
            c->fd = -1;
            prepare(c, *j);
            c->retried = true;
            if (open_socket(c, t)) return;
        }
        end_job(c, err, msg, t, false);
    }

    void do_write(conn* c, clock::time_point t) {
        while (c->out_off < c->out.size()) {
            const ssize_t n = ::send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
            if (n > 0) {
                c->out_off += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                set_events(c, EPOLLOUT | EPOLLIN | EPOLLRDHUP);
                c->state = conn::st::writing;
                return;
            }
            if (n < 0 && errno == EINTR) continue;
            fail_conn(c, openai::transport_error::write, std::string("send: ") + std::strerror(errno), t);
            return;
        }
        c->state = conn::st::head;
        set_events(c, EPOLLIN | EPOLLRDHUP);
    }

    // Parses the status line and headers; returns false on a malformed head.
    bool parse_head(conn* c, std::size_t end, clock::time_point t) {
        std::string_view h(c->head.data(), end);
        const auto eol = h.find("\r\n");
        const std::string_view status_line = h.substr(0, eol);
        if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) return false;
        const bool http10 = status_line.compare(0, 8, "HTTP/1.0") == 0;
        int status = 0;
        for (int i = 9; i < 12; ++i) {
            const char d = status_line[static_cast<std::size_t>(i)];
            if (d < '0' || d > '9') return false;
            status = status * 10 + (d - '0');
        }
        c->keep = !http10;
        std::size_t pos = eol == std::string_view::npos ? h.size() : eol + 2;
        while (pos < h.size()) {
            auto next = h.find("\r\n", pos);
            if (next == std::string_view::npos) next = h.size();
            const std::string_view line = h.substr(pos, next - pos);
            pos = next + 2;
            const auto colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            const std::string_view name = dsdeploy::detail::trim(line.substr(0, colon));
            const std::string_view value = dsdeploy::detail::trim(line.substr(colon + 1));
            if (dsdeploy::detail::iequals(name, "content-length")) {
                std::int64_t v = 0;
                for (char d : value) {
                    if (d < '0' || d > '9') return false;
                    v = v * 10 + (d - '0');
                    if (v > (std::int64_t{1} << 50)) return false;
                }
                c->remaining = v;
            } else if (dsdeploy::detail::iequals(name, "transfer-encoding")) {
                c->chunked = dsdeploy::detail::to_lower(value).find("chunked") != std::string::npos;
            } else if (dsdeploy::detail::iequals(name, "connection")) {
                const auto v = dsdeploy::detail::to_lower(value);
                if (v.find("close") != std::string::npos) c->keep = false;
                if (v.find("keep-alive") != std::string::npos) c->keep = true;
            }
        }
        if (status >= 100 && status < 200) {  // an interim answer: the real one follows
            c->head.erase(0, end + 4);
            return true;
        }
        if (!c->chunked && c->remaining < 0) {
            c->until_close = true;
            c->keep = false;
        }
        c->state = conn::st::body;
        if (!c->job->on_headers(status, t)) {
            end_job(c, openai::transport_error::canceled, "canceled", t, false);
            return true;
        }
        return true;
    }

    // Feeds body bytes; returns false when the connection was ended (job done or failed).
    bool feed_body(conn* c, const char* p, std::size_t n, clock::time_point t) {
        stream_job* j = c->job;
        if (!c->chunked) {
            std::size_t take = n;
            if (c->remaining >= 0) take = static_cast<std::size_t>(std::min<std::int64_t>(c->remaining, static_cast<std::int64_t>(n)));
            if (take && !j->on_body(std::string_view(p, take), t)) {
                end_job(c, openai::transport_error::canceled, "the recorder stopped the stream", t, false);
                return false;
            }
            if (c->remaining >= 0) {
                c->remaining -= static_cast<std::int64_t>(take);
                if (c->remaining == 0) {
                    end_job(c, openai::transport_error::none, {}, t, take == n);
                    return false;
                }
            }
            return true;
        }
        using cs = conn::cs;
        std::size_t i = 0;
        while (i < n) {
            const char ch = p[i];
            switch (c->cstate) {
                case cs::size: {
                    const int h = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
                    if (h >= 0) {
                        if (++c->size_digits > 15) goto bad;
                        c->chunk_left = c->chunk_left * 16 + static_cast<std::uint64_t>(h);
                    } else if (ch == ';' || ch == ' ' || ch == '\t') {
                        c->cstate = cs::ext;
                    } else if (ch == '\r') {
                        c->cstate = cs::size_lf;
                    } else if (ch == '\n') {
                        goto size_done;
                    } else {
                        goto bad;
                    }
                    ++i;
                    break;
                }
                case cs::ext:
                    if (ch == '\r') c->cstate = cs::size_lf;
                    else if (ch == '\n') goto size_done;
                    ++i;
                    break;
                case cs::size_lf:
                    if (ch != '\n') goto bad;
                size_done:
                    ++i;
                    if (c->size_digits == 0) goto bad;
                    c->size_digits = 0;
                    if (c->chunk_left == 0) {
                        c->cstate = cs::trailer;
                        c->trailer_len = 0;
                    } else {
                        c->cstate = cs::data;
                    }
                    break;
                case cs::data: {
                    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(c->chunk_left, n - i));
                    if (!j->on_body(std::string_view(p + i, take), t)) {
                        end_job(c, openai::transport_error::canceled, "the recorder stopped the stream", t, false);
                        return false;
                    }
                    i += take;
                    c->chunk_left -= take;
                    if (c->chunk_left == 0) c->cstate = cs::data_cr;
                    break;
                }
                case cs::data_cr:
                    if (ch == '\r') {
                        c->cstate = cs::data_lf;
                        ++i;
                        break;
                    }
                    if (ch != '\n') goto bad;
                    [[fallthrough]];
                case cs::data_lf:
                    if (ch != '\n') goto bad;
                    ++i;
                    c->cstate = cs::size;
                    c->chunk_left = 0;
                    break;
                case cs::trailer:
                    ++i;
                    if (ch == '\n') {
                        if (c->trailer_len == 0) {
                            end_job(c, openai::transport_error::none, {}, t, i == n);
                            return false;
                        }
                        c->trailer_len = 0;
                    } else if (ch != '\r') {
                        ++c->trailer_len;
                    }
                    break;
            }
        }
        return true;
    bad:
        end_job(c, openai::transport_error::read, "malformed chunked encoding from the server", t, false);
        return false;
    }

    void on_readable(conn* c) {
        for (int round = 0; round < 8; ++round) {
            const ssize_t n = ::recv(c->fd, rbuf.data(), rbuf.size(), 0);
            const clock::time_point t = clock::now();  // the timestamp of these bytes
            if (n > 0) {
                if (c->state == conn::st::idle) {  // an idle connection should stay silent
                    idle.erase(std::remove(idle.begin(), idle.end(), c), idle.end());
                    release(c);
                    return;
                }
                c->got_bytes = true;
                const char* p = rbuf.data();
                std::size_t len = static_cast<std::size_t>(n);
                if (c->state == conn::st::head || c->state == conn::st::writing) {
                    const std::size_t old = c->head.size();
                    c->head.append(p, len);
                    for (;;) {
                        const std::size_t from = old >= 3 ? old - 3 : 0;
                        const auto end = c->head.find("\r\n\r\n", std::min(from, c->head.size()));
                        if (end == std::string::npos) {
                            if (c->head.size() > 65536) {
                                end_job(c, openai::transport_error::read, "the answer's headers are larger than 64 KiB", t, false);
                                return;
                            }
                            break;
                        }
                        const std::size_t before = c->head.size();
                        if (!parse_head(c, end, t)) {
                            end_job(c, openai::transport_error::read, "the server's answer is not HTTP/1.x", t, false);
                            return;
                        }
                        if (!c->job) return;                   // ended in on_headers
                        if (c->state != conn::st::body) {      // a 1xx was skipped: look again
                            if (c->head.size() == before) break;
                            continue;
                        }
                        const std::string rest = c->head.substr(end + 4);
                        c->head.clear();
                        if (!rest.empty() && !feed_body(c, rest.data(), rest.size(), t)) return;
                        break;
                    }
                    continue;
                }
                if (c->state == conn::st::body && !feed_body(c, p, len, t)) return;
                if (static_cast<std::size_t>(n) < rbuf.size()) return;  // drained (level-triggered: fine)
                continue;
            }
            if (n == 0) {  // the server closed the connection
                if (c->state == conn::st::idle) {
                    idle.erase(std::remove(idle.begin(), idle.end(), c), idle.end());
                    release(c);
                } else if (c->state == conn::st::body && c->until_close) {
                    end_job(c, openai::transport_error::none, {}, t, false);
                } else {
                    fail_conn(c, openai::transport_error::read, "the server closed the connection", t);
                }
                return;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (c->state == conn::st::idle) {
                idle.erase(std::remove(idle.begin(), idle.end(), c), idle.end());
                release(c);
            } else {
                fail_conn(c, errno == ECONNREFUSED ? openai::transport_error::connection : openai::transport_error::read,
                          std::string("recv: ") + std::strerror(errno), t);
            }
            return;
        }
    }

    void on_event(conn* c, std::uint32_t ev) {
        const clock::time_point t = clock::now();
        if (c->state == conn::st::connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
                end_job(c, openai::transport_error::connection, std::string("connect: ") + std::strerror(err ? err : ECONNREFUSED), t, false);
                return;
            }
            if (ev & EPOLLOUT) do_write(c, t);
            return;
        }
        if (c->state == conn::st::writing && (ev & EPOLLOUT)) {
            do_write(c, t);
            if (!c->job) return;
        }
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
    }

    void sweep(clock::time_point now) {  // connect timeouts
        for (auto& up : conns) {
            conn* c = up.get();
            if (c->fd >= 0 && c->job && c->state == conn::st::connecting && now >= c->connect_deadline)
                end_job(c, openai::transport_error::timeout, "connect timed out", now, false);
        }
    }
};

DSDEPLOY_INLINE epoll_engine::epoll_engine(const openai::base_url& url, epoll_engine_options o) : impl_(std::make_unique<impl>()) {
    if (url.scheme != "http")
        raise(errc::bench_config, "base_url",
              "the epoll engine speaks plain http://; for " + url.scheme + ":// use transport_engine<openai::httplib_transport>");
    impl_->url = url;
    impl_->opt = o;
    impl_->rbuf.resize(std::max<std::size_t>(o.read_buffer, 4096));
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(url.port);
    if (const int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res); rc != 0 || !res)
        raise(errc::client_connection, "base_url", "cannot resolve " + url.host + ": " + ::gai_strerror(rc));
    std::memcpy(&impl_->addr, res->ai_addr, res->ai_addrlen);
    impl_->addrlen = static_cast<socklen_t>(res->ai_addrlen);
    ::freeaddrinfo(res);
    const bool v6 = url.host.find(':') != std::string::npos;
    impl_->host_header = (v6 ? "[" + url.host + "]" : url.host) + ":" + port;
    impl_->ep = ::epoll_create1(EPOLL_CLOEXEC);
    impl_->tfd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (impl_->ep < 0 || impl_->tfd < 0) raise(errc::client_connection, "epoll", std::string("cannot create: ") + std::strerror(errno));
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.ptr = nullptr;  // the timer
    ::epoll_ctl(impl_->ep, EPOLL_CTL_ADD, impl_->tfd, &e);
}

DSDEPLOY_INLINE epoll_engine::~epoll_engine() {
    for (auto& c : impl_->conns)
        if (c->fd >= 0) ::close(c->fd);
    if (impl_->tfd >= 0) ::close(impl_->tfd);
    if (impl_->ep >= 0) ::close(impl_->ep);
}

DSDEPLOY_INLINE void epoll_engine::start(stream_job& job) {
    auto& m = *impl_;
    const clock::time_point now = clock::now();
    if (!m.idle.empty()) {
        impl::conn* c = m.idle.back();
        m.idle.pop_back();
        m.prepare(c, job);
        c->reused = true;
        c->retried = false;
        c->state = impl::conn::st::writing;
        m.do_write(c, now);
        return;
    }
    impl::conn* c = m.acquire();
    m.prepare(c, job);
    c->retried = false;
    if (!m.open_socket(c, now)) m.end_job(c, openai::transport_error::connection, std::string("socket: ") + std::strerror(errno), now, false);
}

DSDEPLOY_INLINE void epoll_engine::cancel(stream_job& job) {
    auto* c = static_cast<impl::conn*>(job.engine_data);
    if (!c) return;
    impl_->end_job(c, openai::transport_error::canceled, "canceled", clock::now(), false);
}

DSDEPLOY_INLINE void epoll_engine::wait(clock::time_point until, std::vector<stream_job*>& finished) {
    auto& m = *impl_;
    epoll_event events[256];
    for (;;) {
        if (!m.ended.empty()) {
            finished.insert(finished.end(), m.ended.begin(), m.ended.end());
            m.ended.clear();
            return;
        }
        const clock::time_point now = clock::now();
        if (now - m.last_sweep > std::chrono::milliseconds(100)) {
            m.last_sweep = now;
            m.sweep(now);
            if (!m.ended.empty()) continue;
        }
        if (now >= until) return;
        if (until != m.armed) {
            itimerspec its{};
            const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(until.time_since_epoch()).count();
            its.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
            its.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
            ::timerfd_settime(m.tfd, TFD_TIMER_ABSTIME, &its, nullptr);
            m.armed = until;
        }
        const int n = ::epoll_wait(m.ep, events, 256, 100);
        if (n < 0) {
            if (errno == EINTR) return;  // a signal: let the runner look at its stop flag
            return;
        }
        bool timer = false;
        for (int i = 0; i < n; ++i) {
            if (events[i].data.ptr == nullptr) {
                std::uint64_t ticks;
                while (::read(m.tfd, &ticks, sizeof ticks) > 0) {}
                m.armed = {};
                timer = true;
                continue;
            }
            m.on_event(static_cast<impl::conn*>(events[i].data.ptr), events[i].events);
        }
        if (timer && m.ended.empty()) return;
    }
}

#endif  // __linux__

// ---------------------------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------------------------

namespace detail {

DSDEPLOY_INLINE double process_cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct run_state {
    const workload* w = nullptr;
    run_options o;
    openai::http_request proto;  // method, path, headers
    run_result result;
    int phase = 0;  // 0 warm-up, 1 measured, 2 done
    const std::vector<request_spec>* specs = nullptr;
    std::vector<request_record>* records = nullptr;
    std::vector<double> offsets;
    std::size_t next = 0, in_flight = 0, done = 0, failed = 0;
    std::vector<std::unique_ptr<stream_job>> jobs;
    std::vector<stream_job*> free_jobs;
    std::vector<stream_job*> active;
    std::vector<stream_job*> expired;  // scratch of step()
    clock::time_point t0{}, next_progress{}, last_timeout_check{};
    bool stopping = false, cancelled_all = false;
    double cpu0 = 0;
    std::size_t cap() const { return o.max_concurrency; }
};

inline void begin_phase(run_state& s) {
    s.next = s.in_flight = s.done = s.failed = 0;
    s.active.clear();
    s.stopping = false;
    if (s.phase == 0) {
        s.specs = &s.w->warmup;
        s.records = &s.result.warmup;
        s.offsets.assign(s.specs->size(), 0.0);
    } else {
        s.specs = &s.w->requests;
        s.records = &s.result.requests;
        s.offsets = arrival_offsets(s.specs->size(), s.o.request_rate, s.o.burstiness, s.o.seed);
        s.result.started_unix = static_cast<std::int64_t>(std::time(nullptr));
        s.cpu0 = process_cpu_seconds();
    }
    s.records->assign(s.specs->size(), request_record{});
    for (std::size_t i = 0; i < s.records->size(); ++i) {
        (*s.records)[i].index = i;
        (*s.records)[i].prompt_tokens = (*s.specs)[i].prompt_tokens;
    }
    s.t0 = clock::now();
    s.next_progress = s.t0 + s.o.progress_interval;
    s.last_timeout_check = s.t0;
}

DSDEPLOY_INLINE void run_state_deleter::operator()(run_state* s) const noexcept { delete s; }

DSDEPLOY_INLINE run_state_ptr make_run_state(const workload& w, const run_options& o, const std::string& api_key,
                                                          const std::string& base_url, const char* engine_name) {
    if (!(o.request_rate > 0)) raise(errc::bench_config, "request_rate", "must be a positive number of requests per second (or inf)");
    if (!(o.burstiness > 0) || !std::isfinite(o.burstiness)) raise(errc::bench_config, "burstiness", "must be a positive number");
    if (std::isinf(o.request_rate) && o.max_concurrency == 0)
        raise(errc::bench_config, "max_concurrency", "is 0 (no cap) with an infinite request rate; set the users or a rate");
    if (w.requests.empty()) raise(errc::bench_config, "workload", "has no requests");
    if (o.request_timeout.count() <= 0) raise(errc::bench_config, "request_timeout", "must be positive");
    run_state_ptr s(new run_state());
    s->w = &w;
    s->o = o;
    const openai::base_url url = openai::parse_base_url(base_url.empty() ? "http://127.0.0.1:8000/v1" : base_url);
    s->proto.method = "POST";
    s->proto.path = url.api_path + (w.endpoint == endpoint::chat ? "/chat/completions" : "/completions");
    s->proto.headers.emplace_back("User-Agent", "dsdeploy-bench/" DSDEPLOY_VERSION);
    s->proto.headers.emplace_back("Accept", "text/event-stream");
    s->proto.headers.emplace_back("Content-Type", "application/json");
    if (!api_key.empty()) s->proto.headers.emplace_back("Authorization", "Bearer " + api_key);
    for (const auto& h : o.headers) s->proto.headers.push_back(h);
    s->proto.read_timeout = o.request_timeout;
    auto& r = s->result;
    r.workload = w.options;
    r.endpoint = w.endpoint;
    r.base_url = url.to_string();
    r.prompt_token_source = w.prompt_token_source;
    r.request_rate = o.request_rate;
    r.burstiness = o.burstiness;
    r.max_concurrency = o.max_concurrency;
    r.closed_loop = std::isinf(o.request_rate);
    r.engine = engine_name;
    s->phase = 0;
    begin_phase(*s);
    return s;
}

inline double secs(clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(a - b).count(); }

DSDEPLOY_INLINE std::optional<clock::time_point> step(run_state& s, const std::function<void(stream_job&)>& start,
                                                      const std::function<void(stream_job&)>& cancel,
                                                      const std::vector<stream_job*>& finished) {
    for (stream_job* j : finished) {
        request_record* rec = j->record();
        --s.in_flight;
        if (rec->status != request_status::cancelled) ++s.done;
        if (rec->status == request_status::failed) ++s.failed;
        s.active.erase(std::remove(s.active.begin(), s.active.end(), j), s.active.end());
        s.free_jobs.push_back(j);
    }
    clock::time_point now = clock::now();
    const bool measured = s.phase == 1;
    if (s.o.stop && s.o.stop->load() && !s.cancelled_all) {
        s.cancelled_all = s.stopping = true;
        s.result.interrupted = true;
        const auto act = s.active;  // cancel() may end jobs right away
        for (stream_job* j : act) cancel(*j);
    }
    if (measured && s.o.time_limit && now >= s.t0 + *s.o.time_limit && !s.stopping) {
        s.stopping = true;
        s.result.time_limit_hit = true;
    }
    // Requests over their time: recorded as timeouts, then cancelled.
    clock::time_point next_deadline = clock::time_point::max();
    // Every step (they come once per finished request or timer), so that the next wake-up is
    // never later than the earliest deadline. cancel() may end a job at once (and the runner
    // then sees it among the next step's finished jobs), so the expired ones are collected first.
    {
        s.last_timeout_check = now;
        s.expired.clear();
        for (stream_job* j : s.active) {
            const auto deadline = s.t0 + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(j->record()->sent)) +
                                  s.o.request_timeout;
            if (now >= deadline && !j->ended()) s.expired.push_back(j);
            else if (!j->ended()) next_deadline = std::min(next_deadline, deadline);
        }
        for (stream_job* j : s.expired) {
            char what[96];
            std::snprintf(what, sizeof what, "no complete answer within the request timeout of %.3f s",
                          static_cast<double>(s.o.request_timeout.count()) / 1000.0);
            j->fail(-1, "timeout", what);  // kept: on_end leaves a failed job's record alone
            cancel(*j);
        }
    }
    // Start what is due, within the cap.
    const std::size_t n = s.specs->size();
    clock::time_point next_due = clock::time_point::max();
    while (!s.stopping && s.next < n && (s.cap() == 0 || s.in_flight < s.cap())) {
        const auto due = s.t0 + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s.offsets[s.next]));
        if (due > now) {
            next_due = due;
            break;
        }
        stream_job* j;
        if (!s.free_jobs.empty()) {
            j = s.free_jobs.back();
            s.free_jobs.pop_back();
        } else {
            s.jobs.push_back(std::make_unique<stream_job>());
            j = s.jobs.back().get();
            j->request = s.proto;
        }
        request_record* rec = &(*s.records)[s.next];
        const request_spec& spec = (*s.specs)[s.next];
        j->request.body = spec.body;
        j->reset(rec, s.t0, static_cast<std::size_t>(spec.max_tokens) + 8);
        now = clock::now();
        rec->sent = secs(now, s.t0);
        rec->scheduled = s.result.closed_loop ? rec->sent : s.offsets[s.next];
        ++s.next;
        ++s.in_flight;
        s.active.push_back(j);
        next_deadline = std::min(next_deadline, now + s.o.request_timeout);
        start(*j);
    }
    if (s.o.on_progress && now >= s.next_progress) {
        progress p;
        p.done = s.done;
        p.failed = s.failed;
        p.in_flight = s.in_flight;
        p.total = n;
        p.elapsed = secs(now, s.t0);
        p.requests_per_s = p.elapsed > 0 ? static_cast<double>(s.done) / p.elapsed : 0;
        p.warmup = s.phase == 0;
        s.o.on_progress(p);
        while (s.next_progress <= now) s.next_progress += s.o.progress_interval;
    }
    if ((s.next >= n || s.stopping) && s.in_flight == 0) return std::nullopt;
    clock::time_point wake = now + std::chrono::seconds(1);
    if (next_due != clock::time_point::max()) wake = std::min(wake, next_due);
    if (next_deadline != clock::time_point::max()) wake = std::min(wake, next_deadline);
    if (s.o.on_progress) wake = std::min(wake, s.next_progress);
    if (measured && s.o.time_limit && !s.stopping) wake = std::min(wake, s.t0 + *s.o.time_limit);
    if (s.o.stop) wake = std::min(wake, now + std::chrono::milliseconds(100));
    return wake;
}

DSDEPLOY_INLINE bool next_phase(run_state& s) {
    if (s.phase == 0) {
        if (s.result.interrupted) {  // stopped during the warm-up: nothing measured
            s.phase = 2;
            s.result.requests.assign(s.w->requests.size(), request_record{});
            for (std::size_t i = 0; i < s.result.requests.size(); ++i) s.result.requests[i].index = i;
            return false;
        }
        s.phase = 1;
        begin_phase(s);
        return true;
    }
    if (s.phase == 1) {
        s.result.duration = secs(clock::now(), s.t0);
        s.result.client_cpu_seconds = process_cpu_seconds() - s.cpu0;
    }
    s.phase = 2;
    return false;
}

DSDEPLOY_INLINE run_result finish(run_state& s) { return std::move(s.result); }

inline std::atomic<bool>& interrupt_flag() {
    static std::atomic<bool> f{false};
    return f;
}
struct saved_handlers {
    struct sigaction old_int {}, old_term {};
    bool active = false;
};
inline saved_handlers& handlers() {
    static saved_handlers h;
    return h;
}
inline void dsdeploy_bench_on_signal(int) { interrupt_flag().store(true); }

}  // namespace detail

DSDEPLOY_INLINE interrupt_guard::interrupt_guard() {
    detail::interrupt_flag().store(false);
    auto& h = detail::handlers();
    struct sigaction sa {};
    sa.sa_handler = &detail::dsdeploy_bench_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: epoll_wait returns EINTR at once
    ::sigaction(SIGINT, &sa, &h.old_int);
    ::sigaction(SIGTERM, &sa, &h.old_term);
    h.active = true;
}

DSDEPLOY_INLINE interrupt_guard::~interrupt_guard() {
    auto& h = detail::handlers();
    if (!h.active) return;
    ::sigaction(SIGINT, &h.old_int, nullptr);
    ::sigaction(SIGTERM, &h.old_term, nullptr);
    h.active = false;
}

DSDEPLOY_INLINE const std::atomic<bool>* interrupt_guard::flag() const noexcept { return &detail::interrupt_flag(); }
DSDEPLOY_INLINE bool interrupt_guard::interrupted() const noexcept { return detail::interrupt_flag().load(); }

}  // namespace bench
DSDEPLOY_NAMESPACE_END
