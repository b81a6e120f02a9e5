// SPDX-License-Identifier: Apache-2.0
// The benchmark's runner: run() sends a workload through an engine (warm-up first, then the
// measured requests; closed loop or an open-loop schedule, a concurrency cap, time limits,
// progress reports) and returns the run_result; interrupt_guard turns Ctrl-C into a stop.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/bench_engine.hpp>
#include <dsdeploy/bench_results.hpp>
#include <dsdeploy/bench_workload.hpp>
#include <dsdeploy/openai_transport.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

struct progress {
    std::size_t done = 0, failed = 0, in_flight = 0, total = 0;
    double elapsed = 0;          // seconds since the start
    double requests_per_s = 0;   // done / elapsed
    bool warmup = false;
};

struct run_options {
    double request_rate = std::numeric_limits<double>::infinity();  // inf: closed loop
    double burstiness = 1.0;
    std::size_t max_concurrency = 10;   // users (closed loop) or the cap (open loop); 0: no cap
    std::uint64_t seed = 0;             // for the arrival schedule
    // llmperf's --timeout: no request is started after this; requests in flight finish
    // (until request_timeout). nullopt: no limit.
    std::optional<std::chrono::milliseconds> time_limit;
    std::chrono::milliseconds request_timeout{600000};  // a request still running is cancelled
    // Polled between events: when it becomes true, requests in flight are cancelled and the
    // run ends with what it has (Ctrl-C).
    const std::atomic<bool>* stop = nullptr;
    std::function<void(const progress&)> on_progress;
    std::chrono::milliseconds progress_interval{1000};
    openai::header_list headers;        // extra headers for every request
    bool keep_text = false;             // keep each request's generated text (request_record)
};

// Replaces each completed request's output token count with `counter`'s count of its generated
// text (the run must have kept the text: run_options::keep_text), and marks it so the files say
// "server /tokenize". A request whose text is empty counts 0. Returns how many were recounted.
// Throws bench.config when the counter is empty (the server has no /tokenize).
std::size_t count_output_tokens(run_result& r, const token_counter& counter);

// The most requests in flight for a run, from the options a user gave (nullopt: not given), as
// vLLM bench serve decides it: a closed loop (rate infinity) has --max-concurrency, else
// --num-concurrent-requests, else llmperf's 10 users; an open loop (finite rate) is capped only
// when one of them is given (0: no cap).
std::size_t concurrency_cap(double request_rate, std::optional<std::size_t> max_concurrency,
                            std::optional<std::size_t> num_concurrent_requests);

// Runs the workload: warm-up first (same cap, not measured), then the measured requests.
// Never throws for a failing request: each one's error is in its record. `api_key` is sent as
// a bearer token when not empty. bench.config for invalid options.
template <class Engine>
run_result run(Engine& engine, const workload& w, const run_options& o, const std::string& api_key = {},
               const std::string& base_url = {});

// Sets a flag on SIGINT/SIGTERM for run_options::stop while alive (restores the old handlers).
class interrupt_guard {
public:
    interrupt_guard();
    ~interrupt_guard();
    interrupt_guard(const interrupt_guard&) = delete;
    interrupt_guard& operator=(const interrupt_guard&) = delete;
    const std::atomic<bool>* flag() const noexcept;
    bool interrupted() const noexcept;
};

namespace detail {
// The runner's engine-independent parts.
struct run_state;
// Deletes a run_state where its type is complete (impl/), so that this header can hold one.
struct run_state_deleter {
    void operator()(run_state* s) const noexcept;
};
using run_state_ptr = std::unique_ptr<run_state, run_state_deleter>;
run_state_ptr make_run_state(const workload& w, const run_options& o, const std::string& api_key,
                                          const std::string& base_url, const char* engine_name);
// One scheduling step: starts due requests (through `start`), handles finished jobs and
// timeouts (through `cancel`), reports progress; returns when to wake up next, or nullopt
// when the phase is over.
std::optional<clock::time_point> step(run_state& s, const std::function<void(stream_job&)>& start,
                                      const std::function<void(stream_job&)>& cancel,
                                      const std::vector<stream_job*>& finished);
bool next_phase(run_state& s);  // warm-up -> measured -> done; false when done
run_result finish(run_state& s);
double process_cpu_seconds();
}  // namespace detail

template <class Engine>
run_result run(Engine& engine, const workload& w, const run_options& o, const std::string& api_key,
               const std::string& base_url) {
    auto state = detail::make_run_state(w, o, api_key, base_url, engine.name());
    std::vector<stream_job*> finished;
    const auto start = [&](stream_job& j) { engine.start(j); };
    const auto cancel = [&](stream_job& j) { engine.cancel(j); };
    do {
        for (;;) {
            const auto wake = detail::step(*state, start, cancel, finished);
            if (!wake) break;
            finished.clear();
            engine.wait(*wake, finished);
        }
        finished.clear();
    } while (detail::next_phase(*state));
    return detail::finish(*state);
}

}  // namespace bench
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/bench_runner_inl.hpp>
#endif
