// SPDX-License-Identifier: Apache-2.0
// The benchmark's engines and stream_job, the request in flight with its recorder (the
// measuring hot path). An engine moves streaming HTTP requests for the runner. A type E is an
// engine when it has
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
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/bench_results.hpp>
#include <dsdeploy/openai_transport.hpp>
#include <dsdeploy/detail/sse.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

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
    // keep_text: append each chunk's text to rec->generated_text (parsed a second time, off the
    // measuring path's fast scan; for --output-tokens tokenize and vLLM's generated_texts).
    void reset(request_record* rec, clock::time_point t0, std::size_t expected_events, bool keep_text = false);
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
    // The first and last event that carried a choice, text or not: the first-token time of a
    // request whose tokens all decoded to no text (vLLM holds back partial UTF-8 and streams an
    // empty delta), as `vllm bench serve` times it (its first chunk with "choices").
    bool keep_text_ = false;
    double first_choice_ = -1;
    double last_choice_ = -1;
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
#include <dsdeploy/impl/bench_engine_inl.hpp>
#endif
