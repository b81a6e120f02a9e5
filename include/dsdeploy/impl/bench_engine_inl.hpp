// SPDX-License-Identifier: Apache-2.0
// The definitions of bench_engine.hpp: included by it in header-only mode, compiled once by
// src/bench_engine.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/bench_engine.hpp>
#include <dsdeploy/error.hpp>
#include <dsdeploy/openai_errors.hpp>

#include <dsdeploy/detail/chunk_scan.hpp>
#include <dsdeploy/detail/text.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
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
namespace detail {
// The text one streamed chunk carried (already known to be valid JSON with output): every
// choice's delta.reasoning_content / delta.reasoning / delta.content (chat) or text (completions),
// in that order, as `vllm bench serve` concatenates them into generated_text.
inline void append_chunk_text(std::string_view data, std::string& out) {
    const auto j = nlohmann::json::parse(data, nullptr, false);
    if (!j.is_object()) return;
    const auto ch = j.find("choices");
    if (ch == j.end() || !ch->is_array()) return;
    for (const auto& c : *ch) {
        if (!c.is_object()) continue;
        const auto d = c.find("delta");
        if (d != c.end() && d->is_object()) {
            for (const char* k : {"reasoning_content", "reasoning", "content"}) {
                const auto v = d->find(k);
                if (v != d->end() && v->is_string()) out += v->get_ref<const std::string&>();
            }
        }
        const auto t = c.find("text");
        if (t != c.end() && t->is_string()) out += t->get_ref<const std::string&>();
    }
}
}  // namespace detail

DSDEPLOY_INLINE void stream_job::reset(request_record* rec, clock::time_point t0, std::size_t expected_events, bool keep_text) {
    keep_text_ = keep_text;
    first_choice_ = -1;
    last_choice_ = -1;
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
    if (c.has_choices) {
        if (first_choice_ < 0) first_choice_ = t;
        last_choice_ = t;
    }
    if (c.has_output) {
        if (keep_text_) detail::append_chunk_text(data, rec_->generated_text);
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
    if (rec_->first_token < 0 && rec_->output_tokens > 0 && first_choice_ >= 0) {
        // Tokens that streamed as empty deltas only (usage counted them): time them by the
        // chunks that carried them, as vllm bench serve does, rather than leave no TTFT.
        rec_->first_token = first_choice_;
        rec_->last_token = last_choice_;
    }
}

// The epoll engine: one loop, every stream on the calling thread.
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

}  // namespace bench
DSDEPLOY_NAMESPACE_END
