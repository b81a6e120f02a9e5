// SPDX-License-Identifier: Apache-2.0
// The client's error paths that a real vLLM cannot produce on demand (429 with Retry-After,
// 503, a connection that drops mid-stream, an error object inside a 200 stream, a silent
// server), tested against real HTTP servers: cpp-httplib servers started by each test on
// 127.0.0.1, speaking HTTP/1.1 with chunked event streams over real sockets. Every test name
// starts with "local server". The responses they send are vLLM's, recorded in
// tests/fixtures/vllm, or written in vLLM's shapes.
#include <dsdeploy/openai.hpp>

#include "test_support.hpp"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <random>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace dsdeploy;
using namespace dsdeploy::openai;
using namespace std::chrono_literals;

namespace {

// Ports for these servers: the upper half of this project's test range (vLLM uses the lower).
constexpr int port_lo = 18150, port_hi = 18199;

template <class Server>
class basic_local_server {
public:
    template <class Setup, class... ServerArgs>
    explicit basic_local_server(Setup setup, ServerArgs&&... args) : svr(std::forward<ServerArgs>(args)...) {
        setup(svr);
        std::mt19937 rng{std::random_device{}()};
        const int span = port_hi - port_lo + 1;
        const int start = std::uniform_int_distribution<int>(0, span - 1)(rng);
        for (int i = 0; i < span && port_ == 0; ++i) {
            const int p = port_lo + (start + i) % span;
            if (svr.bind_to_port("127.0.0.1", p)) port_ = p;
        }
        REQUIRE(port_ != 0);
        thread_ = std::thread([this] { svr.listen_after_bind(); });
        for (int i = 0; i < 200 && !svr.is_running(); ++i) std::this_thread::sleep_for(5ms);
        REQUIRE(svr.is_running());
    }
    ~basic_local_server() { stop(); }
    void stop() {
        if (thread_.joinable()) {
            svr.stop();
            thread_.join();
        }
    }
    int port() const { return port_; }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

    Server svr;

private:
    int port_ = 0;
    std::thread thread_;
};
using local_server = basic_local_server<httplib::Server>;

std::string fixture(const std::string& name) { return dsdeploy_test::fixture("vllm/" + name); }

std::string chunk_event(const std::string& content) {
    nlohmann::json j = {{"id", "chatcmpl-local"},
                        {"object", "chat.completion.chunk"},
                        {"created", 1},
                        {"model", "local"},
                        {"choices", {{{"index", 0}, {"delta", {{"content", content}}}, {"finish_reason", nullptr}}}}};
    return "data: " + j.dump() + "\n\n";
}

client_options fast_options(const local_server& s) {
    client_options o;
    o.base_url = s.base_url();
    o.api_key = "";
    o.initial_retry_delay = 50ms;
    o.max_retry_delay = 200ms;
    return o;
}

chat_request hello() {
    chat_request r;
    r.messages = {{"user", "Hello"}};
    return r;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Streams `events` in writes of `piece` bytes, then ends as `end` says.
enum class stream_end { done_sink, drop };
void stream_events(httplib::Response& res, std::vector<std::string> events, stream_end end, std::size_t piece = 0,
                   std::chrono::milliseconds pause_before_end = 0ms) {
    res.set_chunked_content_provider("text/event-stream", [events, end, piece, pause_before_end](std::size_t, httplib::DataSink& sink) {
        for (const auto& e : events) {
            if (piece == 0) {
                sink.write(e.data(), e.size());
            } else {
                for (std::size_t i = 0; i < e.size(); i += piece) sink.write(e.data() + i, std::min(piece, e.size() - i));
            }
        }
        if (pause_before_end.count() > 0) std::this_thread::sleep_for(pause_before_end);
        if (end == stream_end::drop) return false;  // closes the connection without the last chunk
        sink.done();
        return true;
    });
}

}  // namespace

TEST_CASE("local server: 429 with Retry-After is retried after the server's delay") {
    std::atomic<int> calls{0};
    local_server s([&](httplib::Server& svr) {
        svr.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
            if (calls++ == 0) {
                res.status = 429;
                res.set_header("Retry-After", "1");
                res.set_content(R"({"error":{"message":"slow down","type":"RateLimitError","code":429}})", "application/json");
                return;
            }
            res.set_content(fixture("chat.json"), "application/json");
        });
    });
    std::vector<std::string> log;
    auto o = fast_options(s);
    o.log = [&](std::string_view line) { log.emplace_back(line); };
    client c(o);
    const auto t0 = std::chrono::steady_clock::now();
    const auto done = c.chat(hello());
    const double took = seconds_since(t0);
    CHECK(calls == 2);
    CHECK(took >= 0.95);  // the server's 1 s, not the client's 50 ms
    CHECK(took < 5);
    CHECK_FALSE(done.text().empty());
    REQUIRE(log.size() == 1);
    CHECK_THAT(log[0], Catch::Matchers::Contains("HTTP 429; retry 1 of 2 in 1.00 s"));
}

TEST_CASE("local server: retry-after-ms, and a Retry-After beyond the cap falls back to backoff") {
    std::atomic<int> calls{0};
    std::string header, value;
    local_server s([&](httplib::Server& svr) {
        svr.Get("/v1/models", [&](const httplib::Request&, httplib::Response& res) {
            if (calls++ % 2 == 0) {
                res.status = 503;
                res.set_header(header.c_str(), value);
                return;
            }
            res.set_content(fixture("models.json"), "application/json");
        });
    });
    auto o = fast_options(s);
    o.max_retry_after = 10s;
    client c(o);
    header = "retry-after-ms";
    value = "400";
    auto t0 = std::chrono::steady_clock::now();
    CHECK(c.models().data.size() == 1);
    CHECK(seconds_since(t0) >= 0.38);
    header = "Retry-After";
    value = "3600";  // above max_retry_after: ignored, jittered backoff from 50 ms instead
    t0 = std::chrono::steady_clock::now();
    CHECK(c.models().data.size() == 1);
    CHECK(seconds_since(t0) < 1.0);
    // An HTTP date two seconds ahead.
    char date[64];
    const std::time_t when = std::time(nullptr) + 2;
    std::tm tm{};
    gmtime_r(&when, &tm);
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    value = date;
    t0 = std::chrono::steady_clock::now();
    CHECK(c.models().data.size() == 1);
    CHECK(seconds_since(t0) >= 0.9);
    CHECK(seconds_since(t0) < 4);
    CHECK(calls == 6);
}

TEST_CASE("local server: 503 is retried with backoff, then internal_server_error with the server's message") {
    std::atomic<int> calls{0};
    local_server s([&](httplib::Server& svr) {
        svr.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
            ++calls;
            res.status = 503;
            res.set_header("x-request-id", "req-503");
            res.set_content(R"({"error":{"message":"engine is overloaded","type":"ServiceUnavailable","param":null,"code":503}})",
                            "application/json");
        });
    });
    auto o = fast_options(s);
    o.initial_retry_delay = 100ms;
    client c(o);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_DSDEPLOY_ERROR(c.chat(hello()), errc::client_status, "POST /v1/chat/completions",
                         "HTTP 503 (ServiceUnavailable): engine is overloaded [request id req-503]");
    CHECK(calls == 3);  // max_retries = 2
    CHECK(seconds_since(t0) >= 0.75 * (0.1 + 0.2));
    calls = 0;
    try {
        c.chat(hello());
        FAIL("no error");
    } catch (const internal_server_error& e) {
        CHECK(e.status() == 503);
        CHECK(e.message() == "engine is overloaded");
        CHECK(e.request_id() == "req-503");
    }
    o.max_retries = 0;
    calls = 0;
    CHECK_THROWS_AS(client(o).chat(hello()), internal_server_error);
    CHECK(calls == 1);
}

TEST_CASE("local server: 400 is not retried, 409 is, x-should-retry decides first") {
    std::atomic<int> calls{0};
    int status = 400;
    std::string should_retry;
    local_server s([&](httplib::Server& svr) {
        svr.Post("/v1/completions", [&](const httplib::Request&, httplib::Response& res) {
            ++calls;
            res.status = status;
            if (!should_retry.empty()) res.set_header("x-should-retry", should_retry);
            res.set_content(R"({"error":{"message":"nope","type":"X","code":0}})", "application/json");
        });
    });
    client c(fast_options(s));
    completion_request r;
    r.prompt = "x";
    CHECK_THROWS_AS(c.complete(r), bad_request_error);
    CHECK(calls == 1);
    calls = 0;
    status = 409;
    CHECK_THROWS_AS(c.complete(r), conflict_error);
    CHECK(calls == 3);
    calls = 0;
    status = 408;
    CHECK_THROWS_AS(c.complete(r), api_status_error);
    CHECK(calls == 3);
    calls = 0;
    status = 503;
    should_retry = "false";
    CHECK_THROWS_AS(c.complete(r), internal_server_error);
    CHECK(calls == 1);
    calls = 0;
    status = 400;
    should_retry = "true";
    CHECK_THROWS_AS(c.complete(r), bad_request_error);
    CHECK(calls == 3);
    status = 422;
    should_retry.clear();
    CHECK_THROWS_AS(c.complete(r), unprocessable_entity_error);
    status = 403;
    CHECK_THROWS_AS(c.complete(r), permission_denied_error);
}

TEST_CASE("local server: nobody listening gives api_connection_error after the retries (client.connection)") {
    // A socket bound but not listening: connecting is refused, and no test running alongside
    // can take the port while this one holds it.
    const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(holder >= 0);
    struct close_on_exit {
        int fd;
        ~close_on_exit() { ::close(fd); }
    } hold{holder};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(holder, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    const int port = ntohs(addr.sin_port);
    client_options o;
    o.base_url = "http://127.0.0.1:" + std::to_string(port);
    o.api_key = "";
    o.max_retries = 1;
    o.initial_retry_delay = 20ms;
    std::vector<std::string> log;
    o.log = [&](std::string_view line) { log.emplace_back(line); };
    client c(o);
    CHECK_DSDEPLOY_ERROR(c.models(), errc::client_connection, "GET /v1/models", "could not talk to http://127.0.0.1:");
    CHECK_DSDEPLOY_ERROR(c.models(), errc::client_connection, "GET /v1/models", "after 2 attempts");
    CHECK_THROWS_AS(c.models(), api_connection_error);
    CHECK(log.size() == 3);
    // /health is a probe: it reports instead of throwing.
    const auto h = c.health();
    CHECK_FALSE(h);
    CHECK(h.error == errc::client_connection);
    CHECK(h.status == 0);
}

TEST_CASE("local server: a silent server gives api_timeout_error, the deadline bounds every attempt (client.timeout)") {
    std::atomic<int> calls{0};
    local_server s([&](httplib::Server& svr) {
        svr.Get("/v1/models", [&](const httplib::Request&, httplib::Response& res) {
            ++calls;
            std::this_thread::sleep_for(1500ms);
            res.set_content(fixture("models.json"), "application/json");
        });
    });
    auto o = fast_options(s);
    o.read_timeout = 300ms;
    o.max_retries = 0;
    CHECK_DSDEPLOY_ERROR(client(o).models(), errc::client_timeout, "GET /v1/models", "no answer from http://127.0.0.1:");
    CHECK_THROWS_AS(client(o).models(), api_timeout_error);
    CHECK_THROWS_AS(client(o).models(), api_connection_error);  // as in openai-python
    // A deadline of 0.5 s with a 10 s read timeout and two retries: one attempt, cut at 0.5 s.
    o.read_timeout = 10s;
    o.max_retries = 2;
    o.deadline = 500ms;
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_DSDEPLOY_ERROR(client(o).models(), errc::client_timeout, "GET /v1/models", "the deadline of 0.50 s passed");
    CHECK(seconds_since(t0) < 3.0);  // not 10 s (the read timeout) nor 30 s (three attempts)
}

TEST_CASE("local server: an error object inside a 200 stream keeps the text so far (client.stream)") {
    local_server s([&](httplib::Server& svr) {
        svr.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
            stream_events(res,
                          {chunk_event("Hel"), chunk_event("lo"),
                           "data: {\"error\": {\"message\": \"engine died\", \"type\": \"InternalServerError\", \"param\": null, \"code\": 500}}\n\n",
                           "data: [DONE]\n\n"},
                          stream_end::done_sink);
        });
    });
    client c(fast_options(s));
    std::string seen;
    CHECK_DSDEPLOY_ERROR(c.chat_stream(hello()), errc::client_stream, "POST /v1/chat/completions",
                         "the server reported an error mid-stream: engine died");
    try {
        c.chat_stream(hello(), [&](const chat_chunk& ch) {
            seen += ch.choices.at(0).delta.content.value_or("");
            return true;
        });
        FAIL("no error");
    } catch (const api_stream_error& e) {
        CHECK(e.why() == api_stream_error::reason::server_error);
        CHECK(e.partial_text() == "Hello");
        CHECK(e.partial_text() == seen);
        CHECK(e.chunks_received() == 2);
        CHECK(e.server_error().message == "engine died");
        CHECK(e.server_error().code == 500);
    }
}

TEST_CASE("local server: a connection dropped mid-stream, a stream without [DONE], a silent stream") {
    stream_end end = stream_end::drop;
    bool done_marker = false;
    std::chrono::milliseconds pause = 0ms;
    local_server s([&](httplib::Server& svr) {
        svr.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
            std::vector<std::string> evs = {chunk_event("Hel"), chunk_event("lo")};
            if (done_marker) evs.push_back("data: [DONE]\n\n");
            stream_events(res, evs, end, 0, pause);
        });
    });
    auto o = fast_options(s);
    o.read_timeout = 400ms;
    client c(o);
    auto reason_of = [&]() -> std::optional<api_stream_error::reason> {
        try {
            c.chat_stream(hello());
        } catch (const api_stream_error& e) {
            CHECK(e.partial_text() == "Hello");
            return e.why();
        }
        return std::nullopt;
    };
    CHECK(reason_of() == api_stream_error::reason::disconnected);
    CHECK_DSDEPLOY_ERROR(c.chat_stream(hello()), errc::client_stream, "POST /v1/chat/completions",
                         "the connection broke mid-stream after 2 chunk(s)");
    end = stream_end::done_sink;
    CHECK(reason_of() == api_stream_error::reason::truncated);
    CHECK_DSDEPLOY_ERROR(c.chat_stream(hello()), errc::client_stream, "POST /v1/chat/completions",
                         "the stream ended without data: [DONE] after 2 chunk(s)");
    pause = 1500ms;  // longer than the read timeout, before [DONE]
    CHECK(reason_of() == api_stream_error::reason::timeout);
    CHECK_DSDEPLOY_ERROR(c.chat_stream(hello()), errc::client_stream, "POST /v1/chat/completions",
                         "no data within the read timeout after 2 chunk(s)");
    // After [DONE] the answer is complete: the client stops reading and does not wait.
    done_marker = true;
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(c.chat_stream(hello()).text() == "Hello");
    CHECK(seconds_since(t0) < 1.0);
    // A deadline that ends mid-stream.
    auto od = o;
    od.read_timeout = 10s;
    od.deadline = 700ms;
    done_marker = false;
    CHECK_DSDEPLOY_ERROR(client(od).chat_stream(hello()), errc::client_stream, "POST /v1/chat/completions",
                         "the deadline of 0.70 s passed mid-stream after 2 chunk(s)");
    pause = 0ms;
}

TEST_CASE("local server: a stream is retried before it starts, never after") {
    std::atomic<int> calls{0};
    local_server s([&](httplib::Server& svr) {
        svr.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
            if (calls++ == 0) {
                res.status = 503;
                res.set_content(R"({"error":{"message":"warming up","type":"X","code":503}})", "application/json");
                return;
            }
            stream_events(res, {chunk_event("partial")}, stream_end::drop);
        });
    });
    client c(fast_options(s));
    CHECK_THROWS_AS(c.chat_stream(hello()), api_stream_error);
    CHECK(calls == 2);  // the 503 was retried; the broken stream was not
    calls = 1;          // now every request streams and drops
    CHECK_THROWS_AS(c.chat_stream(hello()), api_stream_error);
    CHECK(calls == 2);
}

TEST_CASE("local server: a non-2xx answer to a stream request is an error document, not SSE") {
    local_server s([&](httplib::Server& svr) {
        svr.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
            res.status = 400;
            res.set_content(fixture("error-400-max-tokens.json"), "application/json");
        });
    });
    client c(fast_options(s));
    try {
        c.chat_stream(hello());
        FAIL("no error");
    } catch (const bad_request_error& e) {
        CHECK(e.status() == 400);
        CHECK_THAT(e.message(), Catch::Matchers::Contains("maximum context length is 1024 tokens"));
    }
}

TEST_CASE("local server: a stream request answered with plain JSON says so") {
    local_server s([&](httplib::Server& svr) {
        svr.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
            res.set_content(fixture("chat.json"), "application/json");
        });
    });
    client c(fast_options(s));
    CHECK_DSDEPLOY_ERROR(c.chat_stream(hello()), errc::client_stream, "POST /v1/chat/completions",
                         "the answer was application/json, not an event stream");
}

TEST_CASE("local server: keep-alive comments, CRLF and 3-byte writes over a real socket") {
    local_server s([&](httplib::Server& svr) {
        svr.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
            auto crlf = [](std::string e) {
                std::string out;
                for (char ch : e) out += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
                return out;
            };
            stream_events(res,
                          {": keep-alive\r\n\r\n", crlf(chunk_event("caf\xC3\xA9")), ":\r\n", crlf(chunk_event(" \xE2\x9C\x93")),
                           "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\r\n\r\n",
                           "data: [DONE]\r\n\r\n"},
                          stream_end::done_sink, 3);
        });
    });
    client c(fast_options(s));
    std::size_t seen = 0;
    const auto done = c.chat_stream(hello(), [&](const chat_chunk&) { return ++seen > 0; });
    CHECK(done.text() == "caf\xC3\xA9 \xE2\x9C\x93");
    CHECK(seen == 3);
    REQUIRE(done.usage);
    CHECK(done.usage->total_tokens == 5);
    REQUIRE(done.stream);
    CHECK(done.stream->chunks == 3);
    CHECK(done.stream->text_chunks == 2);
    CHECK(done.stream->time_to_first_token <= done.stream->total);
}

TEST_CASE("local server: the caller cancels a stream and keeps what arrived") {
    std::atomic<bool> writer_saw_close{false};
    local_server s([&](httplib::Server& svr) {
        svr.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
            res.set_chunked_content_provider("text/event-stream", [&](std::size_t, httplib::DataSink& sink) {
                for (int i = 0; i < 200; ++i) {
                    const auto e = chunk_event("t");
                    if (!sink.write(e.data(), e.size())) {
                        writer_saw_close = true;
                        return false;
                    }
                    std::this_thread::sleep_for(10ms);
                }
                sink.done();
                return true;
            });
        });
    });
    client c(fast_options(s));
    int n = 0;
    const auto t0 = std::chrono::steady_clock::now();
    const auto got = c.chat_stream(hello(), [&](const chat_chunk&) { return ++n < 3; });
    CHECK(seconds_since(t0) < 1.5);  // not the 2 s the whole stream would take
    CHECK(got.text() == "ttt");
    s.stop();  // waits for the handler: it must have noticed the client left
    CHECK(writer_saw_close);
}

TEST_CASE("local server: the API key never appears in errors or log lines") {
    const std::string key = "sk-dsdeploy-secret-4f9a2c";
    local_server s([&](httplib::Server& svr) {
        // A careless gateway that echoes the Authorization header everywhere.
        svr.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
            const auto auth = req.get_header_value("Authorization");
            const std::string mode = req.get_header_value("X-Test-Mode");
            if (mode == "401") {
                res.status = 401;
                res.set_content("{\"error\":{\"message\":\"invalid key: " + auth + "\",\"type\":\"auth\",\"param\":\"" + auth +
                                    "\",\"code\":401}}",
                                "application/json");
            } else if (mode == "503") {
                res.status = 503;
                res.set_content("overloaded while serving " + auth, "text/plain");
            } else if (mode == "200") {
                res.set_content("<html>welcome, " + auth + "</html>", "text/html");
            } else {
                stream_events(res, {chunk_event("x"), "data: {\"error\":{\"message\":\"bad " + auth + "\",\"code\":500}}\n\n"},
                              stream_end::done_sink);
            }
        });
    });
    std::vector<std::string> texts;
    auto o = fast_options(s);
    o.api_key = key;
    o.log = [&](std::string_view line) { texts.emplace_back(line); };
    for (const std::string mode : {"401", "503", "200", "stream"}) {
        o.default_headers = {{"X-Test-Mode", mode}};
        client c(o);
        try {
            if (mode == "stream") c.chat_stream(hello());
            else c.chat(hello());
            FAIL("no error");
        } catch (const api_status_error& e) {
            texts.emplace_back(e.what());
            texts.push_back(e.message());
            texts.push_back(e.body());
            texts.push_back(e.param().dump());
        } catch (const api_stream_error& e) {
            texts.emplace_back(e.what());
            texts.push_back(e.server_error().message);
        } catch (const api_decode_error& e) {
            CHECK_THAT(e.what(), Catch::Matchers::Contains("not JSON: \"<html>welcome, Bearer ***</html>\""));
            texts.emplace_back(e.what());
        }
    }
    REQUIRE(texts.size() >= 9);
    for (const auto& t : texts) {
        CHECK(t.find(key) == std::string::npos);
    }
    CHECK_THAT(texts[0], Catch::Matchers::Contains("invalid key: Bearer ***"));
}

#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
TEST_CASE("local server: HTTPS with certificate verification on by default") {
    // A self-signed certificate for 127.0.0.1, made here with the openssl tool.
    const std::string dir = std::string(DSDEPLOY_BINARY_DIR) + "/tls-test";
    const std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
    const std::string make = "mkdir -p '" + dir + "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout '" + key +
                             "' -out '" + cert + "' -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null";
    if (std::system(make.c_str()) != 0) FAIL("could not make a test certificate: is the openssl tool installed?");
    basic_local_server<httplib::SSLServer> s(
        [&](httplib::SSLServer& svr) {
            svr.Get("/v1/models", [&](const httplib::Request&, httplib::Response& res) {
                res.set_content(fixture("models.json"), "application/json");
            });
        },
        cert.c_str(), key.c_str());
    REQUIRE(s.svr.is_valid());
    client_options o;
    o.base_url = "https://127.0.0.1:" + std::to_string(s.port()) + "/v1";
    o.api_key = "";
    o.initial_retry_delay = 10ms;
    // Unknown issuer: refused, and not retried (it will not get better).
    std::vector<std::string> log;
    o.log = [&](std::string_view l) { log.emplace_back(l); };
    CHECK_DSDEPLOY_ERROR(client(o).models(), errc::client_connection, "GET /v1/models", "certificate verification failed");
    CHECK(log.empty());
    // Trusting that certificate, or (for a test server) not verifying, works.
    o.ca_cert_path = cert;
    CHECK(client(o).models().data.at(0).owned_by == "vllm");
    o.ca_cert_path.clear();
    o.verify_tls = false;
    CHECK(client(o).models().data.size() == 1);
}
#endif

// A bracketed IPv6 host with hex letters (fd00::1, ::ffff:127.0.0.1): cpp-httplib 0.11.4's
// universal Client parsed such an origin as the host "[fd00" and never connected, so `up`
// waited for /health of an IPv6 head until its timeout. The server listens on "::" (dual
// stack); the client is given the IPv4-mapped form of 127.0.0.1, the one hex-letter IPv6
// address every host with IPv6 reaches without extra addresses.
TEST_CASE("local server: an IPv6 base URL with hex letters reaches the server (models and health)") {
    httplib::Server svr;
    svr.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"object":"list","data":[{"id":"v6-model","object":"model"}]})", "application/json");
    });
    svr.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
    int port = 0;
    for (int p = port_lo; p <= port_hi && port == 0; ++p)
        if (svr.bind_to_port("::", p)) port = p;
    if (port == 0) {
        WARN("cannot listen on [::] here (IPv6 disabled?): the IPv6 client test did not run");
        return;
    }
    std::thread t([&] { svr.listen_after_bind(); });
    for (int i = 0; i < 200 && !svr.is_running(); ++i) std::this_thread::sleep_for(5ms);
    client_options o;
    o.base_url = "http://[::ffff:127.0.0.1]:" + std::to_string(port) + "/v1";
    o.api_key = "";
    o.max_retries = 0;
    client c(o);
    CHECK(c.url().host == "::ffff:127.0.0.1");
    const auto h = c.health();
    CHECK(h.ok);
    CHECK(h.status == 200);
    const auto models = c.models();
    REQUIRE(models.data.size() == 1);
    CHECK(models.data.front().id == "v6-model");
    svr.stop();
    t.join();
}
