// SPDX-License-Identifier: Apache-2.0
// A load generator for OpenAI-compatible servers whose own overhead is near zero, with
// llmperf-compatible and vLLM-bench-compatible results.
//
//     namespace b = dsdeploy::bench;
//     b::workload_options w;                       // llmperf's defaults: 550±150 in, 150±80 out
//     w.model = "deepseek-ai/DeepSeek-V3";
//     auto load = b::make_workload(w, b::server_token_counter(client));   // sized by /tokenize
//     b::run_options r;
//     r.max_concurrency = 64;                      // closed loop: 64 users
//     b::epoll_engine engine(client.url());        // or b::transport_engine<T> for any transport
//     b::run_result res = b::run(engine, load, r, client.options().api_key.value_or(""));
//     b::run_summary s = b::summarize(res);         // TTFT, TPOT, ITL, E2EL, throughput, goodput
//     b::write_llmperf_files("results", res, s);   // <stem>_summary.json, <stem>_individual_responses.json
//
// The pure parts (workload, arrival schedules, statistics, result documents, the HTML report)
// do no I/O and are tested on their own. The runner is generic over its engine (see "Engines").
// It depends on openai.hpp only.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/error.hpp>
#include <dsdeploy/openai.hpp>
#include <dsdeploy/detail/sse.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

using clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC on Linux: every duration uses it

enum class endpoint { chat, completions };
std::string_view to_string(endpoint e);

// ---------------------------------------------------------------------------------------------
// Workload: prompts from a public-domain corpus (Shakespeare's sonnets, as llmperf uses),
// lengths drawn like llmperf's (Gaussian, redrawn until positive), all bodies built before the
// timed run starts.
// ---------------------------------------------------------------------------------------------

// The sonnets shipped with dsdeploy (public domain), one line per verse line.
std::string_view sonnet_corpus();

struct workload_options {
    std::string model;
    bench::endpoint endpoint = endpoint::chat;
    int mean_input_tokens = 550;
    int stddev_input_tokens = 150;
    int mean_output_tokens = 150;
    int stddev_output_tokens = 80;
    std::size_t num_requests = 10;
    std::size_t warmup_requests = 0;      // extra requests sent before the measured ones
    std::uint64_t seed = 11111;           // llmperf's seed
    bool ignore_eos = false;              // vLLM's extension: generate exactly max_tokens
    // Merged into every body last (llmperf's --additional-sampling-params), so it may override
    // max_tokens, add temperature, ignore_eos, ...
    nlohmann::json additional_sampling_params = nlohmann::json::object();
};

// Counts the tokens of a prompt. server_token_counter asks the server's /tokenize.
struct token_counter {
    std::function<std::int64_t(const std::string& prompt)> count;
    std::string source;  // what was measured, e.g. "server /tokenize (model X)"
    explicit operator bool() const noexcept { return static_cast<bool>(count); }
};

// A counter that asks `client.tokenize` for the prompt's tokens (without the chat template),
// or an empty counter when the server has no /tokenize (checked once, with a probe).
template <class Client>
token_counter server_token_counter(Client& client, const std::string& model);

struct request_spec {
    std::string prompt;
    std::int64_t target_input_tokens = 0;  // the drawn length
    std::int64_t prompt_tokens = 0;        // measured by the counter, or estimated
    int max_tokens = 0;                    // the drawn length (a ceiling for the server)
    std::string body;                      // the JSON body, as sent
};

struct workload {
    bench::endpoint endpoint = endpoint::chat;
    std::string model;
    std::vector<request_spec> requests;
    std::vector<request_spec> warmup;
    // How prompt lengths were measured: the counter's source, or
    // "estimate (4 characters per token; the server has no /tokenize)".
    std::string prompt_token_source;
    workload_options options;
};

// Builds every prompt and body. The prompt is an instruction to stream lines (as llmperf's)
// followed by corpus lines from a seeded shuffle until the counter says the target is reached;
// it is then trimmed word by word to at most the target. Throws bench.config for invalid
// options (negative sizes, no model, sampling params that are not an object).
workload make_workload(const workload_options& o, const token_counter& count = {});

// Send times, in seconds from the start, of n requests at `rate` requests/s with gamma-
// distributed gaps of shape `burstiness` (1: Poisson; < 1 burstier; > 1 more regular), as
// vLLM's bench: the cumulative gaps are rescaled so that the last request is sent at n/rate.
// rate = infinity sends everything at 0. Throws bench.config for rate <= 0 or burstiness <= 0.
std::vector<double> arrival_offsets(std::size_t n, double rate, double burstiness, std::uint64_t seed);

// ---------------------------------------------------------------------------------------------
// What one request did. Times are seconds from the run's start (a steady clock).
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Statistics, as numpy/pandas compute them
// ---------------------------------------------------------------------------------------------

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
    std::vector<std::string> percentile_metrics = {"ttft", "tpot", "itl"};  // + "e2el"
    std::vector<double> metric_percentiles = {99};
    bench::slo goodput;
};
// Parses vLLM's "ttft,tpot,itl,e2el" and "50,90,99"; bench.config on unknown names or values.
std::vector<std::string> parse_percentile_metrics(std::string_view text);
std::vector<double> parse_metric_percentiles(std::string_view text);

struct run_summary {
    std::size_t completed = 0, failed = 0, cancelled = 0;
    std::size_t empty_outputs = 0;           // completed without any output event
    double duration = 0;
    std::int64_t total_input_tokens = 0, total_output_tokens = 0;
    double request_throughput = 0;           // completed / duration
    std::optional<double> request_goodput;   // requests meeting every SLO / duration
    double output_throughput = 0;            // output tokens / duration
    double total_token_throughput = 0;       // (input + output) tokens / duration
    double peak_output_throughput = 0;       // the fullest 1-second bucket
    double peak_concurrency = 0;             // most requests in flight at once
    double mean_concurrency = 0;             // sum of latencies / duration (Little's law)
    std::string output_token_source;         // "usage", "chunk count (no usage from the server)", "mixed"
    std::size_t output_events = 0;           // output-carrying events of completed requests
    // In milliseconds. ttft: first output event - send. tpot: (e2el - ttft) / (tokens - 1),
    // per request. itl: every gap between output events, pooled. e2el: last output event - send.
    distribution ttft, tpot, itl, e2el;
    distribution queue;                      // send - scheduled (open loop: the schedule's lag)
    std::map<std::string, std::size_t> errors;  // "500", "-1 timeout", ... -> count
    std::vector<double> output_tokens_per_second;  // 1-second buckets from the start
    double client_cpu_seconds = 0;
    double client_us_per_event = 0;          // client CPU per data event, microseconds
    summary_options options;
};
run_summary summarize(const run_result& r, const summary_options& o = {});

// ---------------------------------------------------------------------------------------------
// Result documents
// ---------------------------------------------------------------------------------------------

// llmperf's file stem: "<model>_<mean in>_<mean out>" with every character that is not a word
// character or '-' turned into '-' and runs of '-' collapsed.
std::string llmperf_stem(const std::string& model, int mean_input_tokens, int mean_output_tokens);

// llmperf's "<stem>_summary.json" object, with its keys in its order (see README "Benchmark").
// `metadata` are llmperf's --metadata pairs (top-level keys).
nlohmann::ordered_json llmperf_summary(const run_result& r,
                                       const std::vector<std::pair<std::string, std::string>>& metadata = {});
// llmperf's "<stem>_individual_responses.json" array (returned requests, errors included).
nlohmann::ordered_json llmperf_individual_responses(const run_result& r);
// Parses llmperf's --metadata "k=v,k2=v2"; bench.config for an item without '='.
std::vector<std::pair<std::string, std::string>> parse_metadata(std::string_view text);

// vLLM bench serve's result JSON (--save-result --save-detailed), keys in its order.
nlohmann::ordered_json vllm_result(const run_result& r, const run_summary& s, const std::string& label = "dsdeploy",
                                   const std::vector<std::pair<std::string, std::string>>& metadata = {});
// vLLM's file name: "<label>-<rate>qps[-concurrency<N>]-<model basename>-<YYYYMMDD-HHMMSS>.json".
std::string vllm_result_filename(const run_result& r, const std::string& label = "dsdeploy");
// The printed block of vllm bench serve ("Serving Benchmark Result"), same labels and widths,
// followed by dsdeploy's own lines (token source, errors, client CPU).
std::string to_text(const run_result& r, const run_summary& s);
// Everything, for --json: the vLLM keys plus dsdeploy's (errors, sources, client overhead).
nlohmann::ordered_json to_json(const run_result& r, const run_summary& s);

// ---------------------------------------------------------------------------------------------
// The report: one self-contained HTML page with inline SVG plots (no script, no network).
// ---------------------------------------------------------------------------------------------

struct report_point {  // one run (one concurrency of a sweep)
    std::string label;  // e.g. "concurrency 8"
    const run_result* result = nullptr;
    const run_summary* summary = nullptr;
};
// TTFT and ITL histograms and output throughput over time for every point, and latency vs
// concurrency when there are several points.
std::string html_report(const std::vector<report_point>& points, const std::string& title = "dsdeploy bench");

// Writes text to path atomically (temporary file, then rename); bench.write on failure.
void write_file(const std::string& path, const std::string& text);
// Writes llmperf's two files into dir (created if missing); returns their paths.
std::vector<std::string> write_llmperf_files(const std::string& dir, const run_result& r,
                                             const std::vector<std::pair<std::string, std::string>>& metadata = {});

// ---------------------------------------------------------------------------------------------
// Engines
//
// An engine moves streaming HTTP requests for the runner. A type E is an engine when it has
//
//     void E::start(stream_job& job);
//         Sends job.request and then, from the thread that runs wait() (or any one thread
//         per job), calls job.on_headers(...) once, job.on_body(...) for each piece of the body
//         in order, and job.on_end(...) exactly once. A false from on_headers/on_body aborts.
//     void E::cancel(stream_job& job);     ends a started job (on_end follows, canceled)
//     void E::wait(clock::time_point until, std::vector<stream_job*>& finished);
//         Does I/O until `until` or until at least one job has ended; appends ended jobs.
//     const char* E::name() const;
//
// epoll_engine (Linux, plain http://) runs every stream on the calling thread with one epoll
// loop, keep-alive connections and a timestamp per read(). transport_engine<T> adapts any
// openai transport (cpp-httplib, https://, your own) with one thread per stream in flight.
// ---------------------------------------------------------------------------------------------

// One request in flight: the request, and the recorder the engine feeds. The recorder is the
// measuring hot path: a timestamp per read, the SSE parser of detail/sse.hpp, an exact
// allocation-free scan of each event (detail/chunk_scan.hpp), no JSON document per chunk.
class stream_job {
public:
    openai::http_request request;

    bool on_headers(int status, clock::time_point t);
    bool on_body(std::string_view bytes, clock::time_point t);
    void on_end(openai::transport_error error, std::string_view message, clock::time_point t);

    // The runner's side.
    void reset(request_record* rec, clock::time_point t0, std::size_t expected_events);
    request_record* record() const noexcept { return rec_; }
    bool ended() const noexcept { return ended_; }
    // Records a failure (e.g. the runner's request timeout); later events do not undo it.
    void fail(int code, const char* kind, std::string msg);
    void* engine_data = nullptr;  // for the engine's own bookkeeping

private:
    bool on_event(std::string_view data, double t);
    double since(clock::time_point t) const { return std::chrono::duration<double>(t - t0_).count(); }

    request_record* rec_ = nullptr;
    clock::time_point t0_{};
    dsdeploy::detail::sse_parser parser_;
    int status_ = 0;
    bool done_seen_ = false;
    bool failed_ = false;
    bool ended_ = false;
    std::string error_body_;
};

#ifdef __linux__
struct epoll_engine_options {
    std::chrono::milliseconds connect_timeout{5000};
    bool keep_alive = true;              // reuse connections between requests
    std::size_t read_buffer = 256 * 1024;
};

class epoll_engine {
public:
    // Plain http:// only (bench.config for https://: use transport_engine<openai::httplib_transport>).
    explicit epoll_engine(const openai::base_url& url, epoll_engine_options o = {});
    ~epoll_engine();
    epoll_engine(const epoll_engine&) = delete;
    epoll_engine& operator=(const epoll_engine&) = delete;

    void start(stream_job& job);
    void cancel(stream_job& job);
    void wait(clock::time_point until, std::vector<stream_job*>& finished);
    const char* name() const { return "epoll"; }

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};
#endif

template <class Transport>
class transport_engine {
public:
    explicit transport_engine(Transport transport) : transport_(std::move(transport)) {}
    ~transport_engine();
    transport_engine(const transport_engine&) = delete;
    transport_engine& operator=(const transport_engine&) = delete;

    void start(stream_job& job);
    void cancel(stream_job& job);
    void wait(clock::time_point until, std::vector<stream_job*>& finished);
    const char* name() const { return "transport"; }

private:
    struct slot {
        stream_job* job;
        std::thread thread;
        std::atomic<bool> cancel{false};
    };
    Transport transport_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<slot>> running_;
    std::vector<stream_job*> done_;
};

// ---------------------------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------------------------

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
};

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

template <class Client>
token_counter server_token_counter(Client& client, const std::string& model) {
    openai::tokenize_request probe;
    probe.model = model;
    probe.prompt = "probe";
    try {
        (void)client.tokenize(probe);
    } catch (const openai::api_error&) {
        return {};
    }
    token_counter c;
    c.source = "server /tokenize";
    c.count = [&client, model](const std::string& prompt) {
        openai::tokenize_request r;
        r.model = model;
        r.prompt = prompt;
        r.add_special_tokens = false;
        return client.tokenize(r).count;
    };
    return c;
}

// ---- transport_engine ------------------------------------------------------------------------

template <class Transport>
transport_engine<Transport>::~transport_engine() {
    std::vector<std::unique_ptr<slot>> left;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto& s : running_) s->cancel = true;
        left.swap(running_);
    }
    for (auto& s : left)
        if (s->thread.joinable()) s->thread.join();
}

template <class Transport>
void transport_engine<Transport>::start(stream_job& job) {
    auto s = std::make_unique<slot>();
    s->job = &job;
    slot* raw = s.get();
    job.engine_data = raw;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        running_.push_back(std::move(s));
    }
    raw->thread = std::thread([this, raw]() {
        stream_job& j = *raw->job;
        openai::stream_sink sink;
        sink.on_headers = [&](int status, const openai::header_list&) {
            return !raw->cancel && j.on_headers(status, clock::now());
        };
        sink.on_data = [&](std::string_view bytes) { return !raw->cancel && j.on_body(bytes, clock::now()); };
        const openai::http_response res = transport_.send(j.request, sink);
        j.on_end(raw->cancel ? openai::transport_error::canceled : res.error, res.error_message, clock::now());
        std::lock_guard<std::mutex> lock(mutex_);
        done_.push_back(&j);
        cv_.notify_all();
    });
}

template <class Transport>
void transport_engine<Transport>::cancel(stream_job& job) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto* s = static_cast<slot*>(job.engine_data)) s->cancel = true;
}

template <class Transport>
void transport_engine<Transport>::wait(clock::time_point until, std::vector<stream_job*>& finished) {
    std::vector<std::unique_ptr<slot>> joined;
    {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait_until(lock, until, [&] { return !done_.empty(); });
        for (stream_job* j : done_) {
            for (auto it = running_.begin(); it != running_.end(); ++it) {
                if ((*it)->job == j) {
                    joined.push_back(std::move(*it));
                    running_.erase(it);
                    break;
                }
            }
            j->engine_data = nullptr;
            finished.push_back(j);
        }
        done_.clear();
    }
    for (auto& s : joined)
        if (s->thread.joinable()) s->thread.join();
}

}  // namespace bench
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/bench_inl.hpp>
#endif
