// SPDX-License-Identifier: Apache-2.0
// dsdeploy-pacing-server: an OpenAI-compatible streaming server for measuring load generators.
// It replays real recorded vLLM chunks (tests/fixtures/vllm/chat-stream.sse by default) at a
// fixed interval, on an absolute schedule, so the truth is known: the first event that carries
// text is sent `interval` after the request was read, and every later one `interval` after
// the one before (TTFT = ITL = interval). With --interval-ms 0 it streams as fast as it can.
//
// On exit it prints what it really sent (TTFT and ITL as sent: mean and p99), the truth on a
// busy machine where the schedule itself slips.
//
//   dsdeploy-pacing-server --port 18210 --interval-ms 20 [--recording FILE] [--model NAME]
//
// POST /v1/chat/completions and /v1/completions (stream true; max_tokens or
// max_completion_tokens content events, default 64; the usage chunk when
// stream_options.include_usage), GET /v1/models, GET /health. The recording's role-only chunk is
// merged into the first content chunk, so that every tool's "first token" is the same event.
// usage.completion_tokens is the number of content events (one token each); prompt_tokens is
// the prompt's length in bytes / 4 (the server has no tokenizer). One thread, epoll, timerfd.
// SIGINT/SIGTERM stop it and print what it sent.
#include <dsdeploy/detail/sse.hpp>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <queue>
#include <sstream>
#include <string>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct recording {
    std::vector<std::string> content;  // delta.content of each content event
    std::string model = "dsdeploy-tiny-deepseek-v3";
};

recording load_recording(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::cerr << "dsdeploy-pacing-server: cannot read " << path << "\n";
        std::exit(2);
    }
    std::stringstream ss;
    ss << in.rdbuf();
    recording r;
    dsdeploy::detail::sse_parser p;
    p.feed(ss.str(), [&](const dsdeploy::detail::sse_event& ev) {
        if (ev.data == "[DONE]") return true;
        const auto j = nlohmann::json::parse(ev.data, nullptr, false);
        if (!j.is_object()) return true;
        if (j.contains("model") && j["model"].is_string()) r.model = j["model"].get<std::string>();
        if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return true;
        const auto& ch = j["choices"][0];
        if (ch.contains("delta") && ch["delta"].is_object() && ch["delta"].contains("content") &&
            ch["delta"]["content"].is_string() && !ch["delta"]["content"].get<std::string>().empty())
            r.content.push_back(ch["delta"]["content"].get<std::string>());
        if (ch.contains("text") && ch["text"].is_string() && !ch["text"].get<std::string>().empty())
            r.content.push_back(ch["text"].get<std::string>());
        return true;
    });
    p.finish();
    if (r.content.empty()) {
        std::cerr << "dsdeploy-pacing-server: " << path << " has no content chunk\n";
        std::exit(2);
    }
    return r;
}

// Pre-rendered events, in HTTP chunked framing, so that sending costs one append.
struct events {
    std::vector<std::string> chat_first, chat, chat_last, text, text_last;  // per content index
    std::string model;
};

std::string framed(const std::string& data) {
    const std::string ev = "data: " + data + "\n\n";
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx\r\n", ev.size());
    return hex + ev + "\r\n";
}

events render(const recording& r) {
    events e;
    e.model = r.model;
    const std::string id = "chatcmpl-pacing0000000000000000000000000";
    const std::string head = "{\"id\":\"" + id + "\",\"object\":\"chat.completion.chunk\",\"created\":1795828074,\"model\":" +
                             nlohmann::json(r.model).dump() + ",\"choices\":[{\"index\":0,\"delta\":{";
    const std::string thead = "{\"id\":\"cmpl-pacing0000000000000000000000000\",\"object\":\"text_completion\",\"created\":1795828074,"
                              "\"model\":" + nlohmann::json(r.model).dump() + ",\"choices\":[{\"index\":0,\"text\":";
    for (const auto& c : r.content) {
        const std::string q = nlohmann::json(c).dump();
        e.chat_first.push_back(framed(head + "\"role\":\"assistant\",\"content\":" + q +
                                      "},\"logprobs\":null,\"finish_reason\":null}]}"));
        e.chat.push_back(framed(head + "\"content\":" + q + "},\"logprobs\":null,\"finish_reason\":null,\"token_ids\":null}]}"));
        e.chat_last.push_back(framed(head + "\"content\":" + q +
                                     "},\"logprobs\":null,\"finish_reason\":\"length\",\"stop_reason\":null,\"token_ids\":null}]}"));
        e.text.push_back(framed(thead + q + ",\"logprobs\":null,\"finish_reason\":null,\"stop_reason\":null}]}"));
        e.text_last.push_back(framed(thead + q + ",\"logprobs\":null,\"finish_reason\":\"length\",\"stop_reason\":null}]}"));
    }
    return e;
}

struct conn {
    int fd = -1;
    std::string in;
    std::string out;
    std::size_t out_off = 0;
    bool streaming = false, chat = true, usage = false, want_write = false;
    std::int64_t total = 0, sent = 0, prompt_tokens = 0;
    clk::time_point start{}, last{};
    std::uint64_t gen = 0;  // bumps when the connection is closed (stale timer entries)
};

struct server {
    events ev;
    double interval_s = 0.02;
    int default_max_tokens = 64;
    int ep = -1, lfd = -1, tfd = -1;
    std::vector<std::unique_ptr<conn>> conns;
    struct due {
        clk::time_point at;
        conn* c;
        std::uint64_t gen;
        bool operator>(const due& o) const { return at > o.at; }
    };
    std::priority_queue<due, std::vector<due>, std::greater<due>> timers;
    std::uint64_t chunks = 0, requests = 0, late = 0;
    std::vector<double> sent_ttft, sent_itl;  // what was really sent (paced mode), seconds
    double late_max_s = 0;

    void close_conn(conn* c) {
        if (c->fd >= 0) ::close(c->fd);
        c->fd = -1;
        ++c->gen;
        c->in.clear();
        c->out.clear();
        c->out_off = 0;
        c->streaming = false;
    }

    void watch(conn* c, bool write) {
        if (c->want_write == write) return;
        c->want_write = write;
        epoll_event e{};
        e.events = EPOLLIN | EPOLLRDHUP | (write ? EPOLLOUT : 0u);
        e.data.ptr = c;
        ::epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    }

    bool flush(conn* c) {
        while (c->out_off < c->out.size()) {
            const ssize_t n = ::send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
            if (n > 0) {
                c->out_off += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                watch(c, true);
                return true;
            }
            close_conn(c);
            return false;
        }
        c->out.clear();
        c->out_off = 0;
        watch(c, false);
        return true;
    }

    void reply(conn* c, int status, const std::string& type, const std::string& body) {
        c->out += "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Error") + "\r\ncontent-type: " + type +
                  "\r\ncontent-length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        flush(c);
    }

    // Appends the next content event(s); returns false when the stream is complete.
    void append_event(conn* c) {
        const std::size_t k = static_cast<std::size_t>(c->sent) % ev.chat.size();
        const bool last = c->sent + 1 == c->total;
        if (c->chat) c->out += c->sent == 0 && !last ? ev.chat_first[k] : last ? ev.chat_last[k] : ev.chat[k];
        else c->out += last ? ev.text_last[k] : ev.text[k];
        ++c->sent;
        ++chunks;
        if (last) {
            if (c->usage) {
                const std::string u = std::string("{\"id\":\"chatcmpl-pacing\",\"object\":\"") +
                                      (c->chat ? "chat.completion.chunk" : "text_completion") +
                                      "\",\"created\":1795828074,\"model\":" + nlohmann::json(ev.model).dump() +
                                      ",\"choices\":[],\"usage\":{\"prompt_tokens\":" + std::to_string(c->prompt_tokens) +
                                      ",\"total_tokens\":" + std::to_string(c->prompt_tokens + c->total) +
                                      ",\"completion_tokens\":" + std::to_string(c->total) + "}}";
                c->out += framed(u);
            }
            c->out += framed("[DONE]");
            c->out += "0\r\n\r\n";
            c->streaming = false;
        }
    }

    void start_stream(conn* c, const std::string& path, const std::string& body) {
        const auto j = nlohmann::json::parse(body, nullptr, false);
        if (!j.is_object()) return reply(c, 400, "application/json", R"({"error":{"message":"the body is not JSON","code":400}})");
        c->chat = path.find("/chat/") != std::string::npos;
        std::int64_t n = default_max_tokens;
        for (const char* k : {"max_tokens", "max_completion_tokens"})
            if (j.contains(k) && j[k].is_number_integer()) n = j[k].get<std::int64_t>();
        c->total = std::max<std::int64_t>(1, n);
        c->usage = j.contains("stream_options") && j["stream_options"].is_object() &&
                   j["stream_options"].value("include_usage", false);
        std::size_t prompt_bytes = 0;
        if (j.contains("prompt") && j["prompt"].is_string()) prompt_bytes = j["prompt"].get<std::string>().size();
        if (j.contains("messages") && j["messages"].is_array())
            for (const auto& m : j["messages"])
                if (m.is_object() && m.contains("content") && m["content"].is_string())
                    prompt_bytes += m["content"].get<std::string>().size();
        c->prompt_tokens = static_cast<std::int64_t>(std::max<std::size_t>(1, prompt_bytes / 4));
        c->sent = 0;
        c->streaming = true;
        ++requests;
        c->out += "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\n\r\n";
        c->start = clk::now();
        if (interval_s <= 0) {
            pump_fast(c);
            return;
        }
        flush(c);
        if (c->fd >= 0) timers.push({c->start + next_offset(c), c, c->gen});
    }

    clk::duration next_offset(const conn* c) const {
        return std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(interval_s * static_cast<double>(c->sent + 1)));
    }

    // As fast as it can: fill up to 256 KiB, write, repeat while the socket takes it.
    void pump_fast(conn* c) {
        while (c->fd >= 0 && c->streaming) {
            while (c->streaming && c->out.size() - c->out_off < 256 * 1024) append_event(c);
            if (!flush(c)) return;
            if (c->want_write) return;  // the socket is full: continue on EPOLLOUT
        }
        if (c->fd >= 0) flush(c);
    }

    void on_request_bytes(conn* c) {
        for (;;) {
            if (c->streaming) return;  // pipelined requests wait for the stream to end
            const auto end = c->in.find("\r\n\r\n");
            if (end == std::string::npos) {
                if (c->in.size() > 1 << 20) close_conn(c);
                return;
            }
            const std::string head = c->in.substr(0, end);
            std::size_t length = 0;
            std::istringstream hs(head);
            std::string line, method, path;
            std::getline(hs, line);
            std::istringstream rl(line);
            rl >> method >> path;
            while (std::getline(hs, line)) {
                const auto colon = line.find(':');
                if (colon == std::string::npos) continue;
                std::string name = line.substr(0, colon);
                for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                if (name == "content-length") length = std::strtoull(line.c_str() + colon + 1, nullptr, 10);
            }
            if (length > (64u << 20)) return close_conn(c);
            if (c->in.size() < end + 4 + length) return;
            const std::string body = c->in.substr(end + 4, length);
            c->in.erase(0, end + 4 + length);
            if (method == "GET" && path.rfind("/v1/models", 0) == 0) {
                reply(c, 200, "application/json",
                      R"({"object":"list","data":[{"id":)" + nlohmann::json(ev.model).dump() +
                          R"(,"object":"model","created":1795828074,"owned_by":"dsdeploy","max_model_len":1000000}]})");
            } else if (method == "GET" && (path == "/health" || path == "/ping")) {
                reply(c, 200, "application/json", "{}");
            } else if (method == "POST" && (path.find("/completions") != std::string::npos)) {
                start_stream(c, path, body);
            } else {
                reply(c, 404, "application/json", R"({"error":{"message":"not found","code":404}})");
            }
            if (c->fd < 0) return;
        }
    }

    void on_readable(conn* c) {
        char buf[65536];
        for (;;) {
            const ssize_t n = ::recv(c->fd, buf, sizeof buf, 0);
            if (n > 0) {
                c->in.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0) return close_conn(c);
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return close_conn(c);
        }
        on_request_bytes(c);
    }

    void accept_all() {
        for (;;) {
            const int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) return;
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            conn* c = nullptr;
            for (auto& up : conns)
                if (up->fd < 0) {
                    c = up.get();
                    break;
                }
            if (!c) {
                conns.push_back(std::make_unique<conn>());
                c = conns.back().get();
            }
            c->fd = fd;
            c->want_write = false;
            epoll_event e{};
            e.events = EPOLLIN | EPOLLRDHUP;
            e.data.ptr = c;
            ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        }
    }

    void fire_due() {
        const auto now = clk::now();
        while (!timers.empty() && timers.top().at <= now) {
            const due d = timers.top();
            timers.pop();
            conn* c = d.c;
            if (c->gen != d.gen || c->fd < 0 || !c->streaming) continue;
            const double lag = std::chrono::duration<double>(now - d.at).count();
            if (lag > 0.001) ++late;
            late_max_s = std::max(late_max_s, lag);
            append_event(c);
            if (!flush(c)) continue;
            const auto sent_at = clk::now();  // the truth a client should measure
            if (c->sent == 1) sent_ttft.push_back(std::chrono::duration<double>(sent_at - c->start).count());
            else sent_itl.push_back(std::chrono::duration<double>(sent_at - c->last).count());
            c->last = sent_at;
            if (c->streaming) timers.push({c->start + next_offset(c), c, c->gen});
            else on_request_bytes(c);  // a pipelined request
        }
    }

    void arm() {
        itimerspec its{};
        if (!timers.empty()) {
            auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timers.top().at.time_since_epoch()).count();
            if (ns <= 0) ns = 1;
            its.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
            its.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
        }
        ::timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, nullptr);
    }
};

[[noreturn]] void usage(int rc) {
    std::cerr << "usage: dsdeploy-pacing-server [--host 127.0.0.1] --port N [--interval-ms 20] [--max-tokens 64]\n"
                 "                              [--recording tests/fixtures/vllm/chat-stream.sse] [--model NAME]\n"
                 "  --interval-ms 0 streams as fast as it can.\n";
    std::exit(rc);
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1", recording_path = DSDEPLOY_PACING_RECORDING, model;
    int port = 0;
    server s;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) usage(2);
            return argv[++i];
        };
        if (a == "--host") host = val();
        else if (a == "--port") port = std::atoi(val().c_str());
        else if (a == "--interval-ms") s.interval_s = std::atof(val().c_str()) / 1000.0;
        else if (a == "--max-tokens") s.default_max_tokens = std::atoi(val().c_str());
        else if (a == "--recording") recording_path = val();
        else if (a == "--model") model = val();
        else if (a == "-h" || a == "--help") usage(0);
        else usage(2);
    }
    if (port <= 0 || port > 65535 || s.interval_s < 0 || s.default_max_tokens < 1) usage(2);
    recording rec = load_recording(recording_path);
    if (!model.empty()) rec.model = model;
    s.ev = render(rec);

    s.lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(s.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) usage(2);
    if (::bind(s.lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s.lfd, 4096) != 0) {
        std::cerr << "dsdeploy-pacing-server: cannot listen on " << host << ":" << port << ": " << std::strerror(errno) << "\n";
        return 3;
    }
    s.ep = ::epoll_create1(EPOLL_CLOEXEC);
    s.tfd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.ptr = &s.lfd;
    ::epoll_ctl(s.ep, EPOLL_CTL_ADD, s.lfd, &e);
    e.data.ptr = &s.tfd;
    ::epoll_ctl(s.ep, EPOLL_CTL_ADD, s.tfd, &e);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    std::cerr << "dsdeploy-pacing-server: http://" << host << ":" << port << "/v1, model " << rec.model << ", "
              << rec.content.size() << " recorded chunks, interval " << s.interval_s * 1000 << " ms" << std::endl;

    const auto t0 = clk::now();
    epoll_event evs[512];
    while (!g_stop) {
        s.arm();
        const int n = ::epoll_wait(s.ep, evs, 512, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < n; ++i) {
            void* p = evs[i].data.ptr;
            if (p == &s.lfd) {
                s.accept_all();
            } else if (p == &s.tfd) {
                std::uint64_t ticks;
                while (::read(s.tfd, &ticks, sizeof ticks) > 0) {
                }
            } else {
                conn* c = static_cast<conn*>(p);
                if (c->fd < 0) continue;
                if (evs[i].events & EPOLLOUT) {
                    if (s.interval_s <= 0 && c->streaming) s.pump_fast(c);
                    else if (!s.flush(c)) continue;
                    if (c->fd >= 0 && !c->streaming && !c->want_write) s.on_request_bytes(c);
                }
                if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) s.on_readable(c);
            }
        }
        s.fire_due();
    }
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    const double cpu = static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
                       static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
    const double wall = std::chrono::duration<double>(clk::now() - t0).count();
    auto stats = [](std::vector<double> v) {
        if (v.empty()) return std::string("n 0");
        std::sort(v.begin(), v.end());
        double sum = 0;
        for (double x : v) sum += x;
        const double idx = 0.99 * static_cast<double>(v.size() - 1);
        const auto lo = static_cast<std::size_t>(idx);
        const double p99 = v[lo] + (v[std::min(lo + 1, v.size() - 1)] - v[lo]) * (idx - static_cast<double>(lo));
        char b[128];
        std::snprintf(b, sizeof b, "n %zu mean %.3f ms p99 %.3f ms", v.size(), sum / static_cast<double>(v.size()) * 1000,
                      p99 * 1000);
        return std::string(b);
    };
    if (s.interval_s > 0)
        std::cerr << "dsdeploy-pacing-server: as sent: TTFT " << stats(s.sent_ttft) << "; ITL " << stats(s.sent_itl) << std::endl;
    std::cerr << "dsdeploy-pacing-server: " << s.requests << " request(s), " << s.chunks << " content chunk(s) in " << wall
              << " s, CPU " << cpu << " s, " << s.late << " chunk(s) sent more than 1 ms late (max "
              << s.late_max_s * 1000 << " ms)" << std::endl;
    return 0;
}
