// SPDX-License-Identifier: Apache-2.0
// The definitions of bench_runner.hpp: included by it in header-only mode, compiled once by
// src/bench_runner.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/bench_runner.hpp>
#include <dsdeploy/error.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>

#include <sys/resource.h>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

DSDEPLOY_INLINE std::size_t count_output_tokens(run_result& r, const token_counter& counter) {
    if (!counter) raise(errc::bench_config, "output_tokens", "the server has no /tokenize to count output tokens with; use the server's usage");
    std::size_t n = 0;
    for (auto& q : r.requests) {
        if (q.status != request_status::ok) continue;
        q.output_tokens = q.generated_text.empty() ? 0 : counter.count(q.generated_text);
        q.tokens_from_tokenize = true;
        q.tokens_from_usage = false;
        ++n;
    }
    return n;
}

DSDEPLOY_INLINE std::size_t concurrency_cap(double request_rate, std::optional<std::size_t> max_concurrency,
                                            std::optional<std::size_t> num_concurrent_requests) {
    if (max_concurrency) return *max_concurrency;
    if (num_concurrent_requests) return *num_concurrent_requests;
    return std::isinf(request_rate) ? 10 : 0;
}

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
        j->reset(rec, s.t0, static_cast<std::size_t>(spec.max_tokens) + 8, s.o.keep_text);
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
