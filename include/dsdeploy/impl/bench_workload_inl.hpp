// SPDX-License-Identifier: Apache-2.0
// The definitions of bench_workload.hpp: included by it in header-only mode, compiled once by
// src/bench_workload.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/bench_workload.hpp>
#include <dsdeploy/error.hpp>
#include <dsdeploy/openai_codec.hpp>

#include <dsdeploy/detail/sonnets.hpp>
#include <dsdeploy/detail/text.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

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

}  // namespace bench
DSDEPLOY_NAMESPACE_END
