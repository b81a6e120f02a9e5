// SPDX-License-Identifier: Apache-2.0
// The definitions of openai.hpp: included by it in header-only mode, compiled once by
// src/openai.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/openai.hpp>

#include <dsdeploy/detail/sse.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/version.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <random>
#include <thread>

DSDEPLOY_NAMESPACE_BEGIN
namespace openai {

namespace detail {

using clock = std::chrono::steady_clock;

inline std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

DSDEPLOY_INLINE client_state make_client_state(const client_options& options) {
    client_state s;
    s.options = options;
    std::string url = options.base_url;
    if (url.empty()) url = env_or_empty("OPENAI_BASE_URL");
    if (url.empty()) url = "http://127.0.0.1:8000/v1";
    s.url = parse_base_url(url);
    s.options.base_url = s.url.to_string();
    if (options.api_key) {
        s.api_key = *options.api_key;
    } else if (!options.api_key_env.empty()) {
        s.api_key = env_or_empty(options.api_key_env.c_str());
    }
    for (char c : s.api_key)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            raise(errc::client_config, "api_key", "contains control characters (a newline from a file?)");
    if (options.max_retries < 0) raise(errc::client_config, "max_retries", "must be 0 or more");
    if (options.connect_timeout.count() <= 0 || options.read_timeout.count() <= 0 || options.write_timeout.count() <= 0)
        raise(errc::client_config, "timeouts", "connect, read and write timeouts must be positive");
    if (options.deadline && options.deadline->count() <= 0) raise(errc::client_config, "deadline", "must be positive");
    s.options.api_key.reset();  // kept once, in s.api_key
    return s;
}

DSDEPLOY_INLINE transport_config make_transport_config(const client_state& s) {
    transport_config c;
    c.scheme = s.url.scheme;
    c.host = s.url.host;
    c.port = s.url.port;
    c.verify_tls = s.options.verify_tls;
    c.ca_cert_path = s.options.ca_cert_path;
    return c;
}

// Replaces every occurrence of the key with "***".
inline std::string scrub(std::string text, const std::string& key) {
    if (key.empty()) return text;
    for (auto pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + 3)) text.replace(pos, key.size(), "***");
    return text;
}

inline server_error_info scrub(server_error_info info, const std::string& key) {
    info.message = scrub(std::move(info.message), key);
    if (!key.empty() && !info.param.is_null()) info.param = nlohmann::json(scrub(info.param.dump(), key));
    return info;
}

DSDEPLOY_INLINE void rethrow_scrubbed(const api_decode_error& e, const std::string& key) {
    throw api_decode_error(e.field(), scrub(e.detail(), key));
}

inline void log_line(const client_state& s, const std::string& line) {
    if (s.options.log) s.options.log(scrub(line, s.api_key));
}

inline std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", s);
    return buf;
}

struct call_clock {
    clock::time_point start = clock::now();
    std::optional<clock::time_point> deadline;

    explicit call_clock(const client_options& o) {
        if (o.deadline) deadline = start + *o.deadline;
    }
    bool expired() const { return deadline && clock::now() >= *deadline; }
    std::chrono::milliseconds clip(std::chrono::milliseconds t) const {
        if (!deadline) return t;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - clock::now());
        if (left.count() < 1) left = std::chrono::milliseconds(1);
        return std::min(t, left);
    }
    bool fits(std::chrono::milliseconds wait) const { return !deadline || clock::now() + wait < *deadline; }
    // Whether the deadline, not the configured timeouts, limited this request's waits.
    bool bounds(const http_request& r, const client_options& o) const {
        return deadline && (r.read_timeout < o.read_timeout || r.connect_timeout < o.connect_timeout);
    }
};

inline http_request make_request(const client_state& s, const call_clock& cc, std::string_view method,
                                 const std::string& path, const std::string& body, bool stream) {
    http_request r;
    r.method = std::string(method);
    r.path = path;
    r.body = body;
    r.headers.emplace_back("User-Agent", "dsdeploy/" DSDEPLOY_VERSION);
    r.headers.emplace_back("Accept", stream ? "text/event-stream" : "application/json");
    if (!body.empty()) r.headers.emplace_back("Content-Type", "application/json");
    if (!s.api_key.empty()) r.headers.emplace_back("Authorization", "Bearer " + s.api_key);
    for (const auto& h : s.options.default_headers) r.headers.push_back(h);
    r.connect_timeout = cc.clip(s.options.connect_timeout);
    r.read_timeout = cc.clip(s.options.read_timeout);
    r.write_timeout = cc.clip(s.options.write_timeout);
    return r;
}

inline bool status_retryable(int status, const header_list& headers) {
    if (const auto* h = find_header(headers, "x-should-retry")) {
        if (*h == "true") return true;
        if (*h == "false") return false;
    }
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

// The server's wish from retry-after-ms or Retry-After (seconds or an HTTP date), if any.
inline std::optional<std::chrono::milliseconds> retry_after(const header_list& headers) {
    auto number = [](const std::string& text, double& v) {
        std::string_view t = dsdeploy::detail::trim(text);
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        return ec == std::errc() && ptr == t.data() + t.size() && std::isfinite(v);
    };
    double v = 0;
    if (const auto* ms = find_header(headers, "retry-after-ms"); ms && number(*ms, v))
        return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(v, 1e12)));
    const auto* ra = find_header(headers, "retry-after");
    if (!ra) return std::nullopt;
    if (number(*ra, v)) return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(v, 1e9) * 1000));
    std::tm tm{};
    const char* end = strptime(ra->c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return std::nullopt;
    const std::time_t when = timegm(&tm);
    const std::time_t now = std::time(nullptr);
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::difftime(when, now) * 1000));
}

inline std::chrono::milliseconds backoff(const client_options& o, int retry, const header_list* headers) {
    if (headers) {
        if (auto wish = retry_after(*headers); wish && wish->count() > 0 && *wish <= o.max_retry_after) return *wish;
    }
    thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_real_distribution<double> jitter(0.75, 1.0);
    const double base = std::min(static_cast<double>(o.initial_retry_delay.count()) * std::pow(2.0, retry),
                                 static_cast<double>(o.max_retry_delay.count()));
    return std::chrono::milliseconds(static_cast<std::int64_t>(base * jitter(rng)));
}

inline bool transport_retryable(transport_error e) {
    return e == transport_error::connection || e == transport_error::timeout || e == transport_error::read ||
           e == transport_error::write || e == transport_error::other;
}

[[noreturn]] inline void throw_transport(const client_state& s, const std::string& route, const http_response& r,
                                         int attempts) {
    std::string what = scrub(r.error_message, s.api_key);
    const std::string where = s.url.scheme + "://" + (s.url.host.find(':') != std::string::npos ? "[" + s.url.host + "]" : s.url.host) +
                              ":" + std::to_string(s.url.port);
    const std::string tries = attempts > 1 ? " after " + std::to_string(attempts) + " attempts" : std::string();
    if (r.error == transport_error::timeout)
        throw api_timeout_error(route, "no answer from " + where + " within the timeout" + tries + " (" + what + ")");
    throw api_connection_error(route, "could not talk to " + where + tries + ": " + std::string(to_string(r.error)) +
                                          " error (" + what + ")");
}

[[noreturn]] inline void throw_deadline(const client_state& s, const std::string& route, int attempts) {
    throw api_timeout_error(route, "the deadline of " +
                                       seconds_text(std::chrono::duration<double>(*s.options.deadline).count()) +
                                       " passed after " + std::to_string(attempts) + " attempt(s)");
}

// A 2xx body that is {"error": ...}: vLLM answers some failures this way (e.g. /v1/embeddings
// on a generative model is HTTP 200 with a 400 error object).
inline void check_error_in_body(const client_state& s, const std::string& route, const std::string& body,
                                const header_list& headers) {
    if (body.empty() || body.front() != '{' || body.find("\"error\"") == std::string::npos) return;
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("error")) return;
    const auto& e = j["error"];
    if (!(e.is_object() || e.is_string())) return;
    int status = 500;
    if (e.is_object() && e.contains("code") && e["code"].is_number_integer()) {
        const auto c = e["code"].get<std::int64_t>();
        if (c >= 400 && c <= 599) status = static_cast<int>(c);
    }
    const auto* rid = find_header(headers, "x-request-id");
    throw_status_error(route, status, scrub(body, s.api_key), rid ? *rid : std::string());
}

DSDEPLOY_INLINE std::string call(const client_state& s, const erased_transport& t, std::string_view method,
                                 const std::string& path, const std::string& body) {
    const std::string route = std::string(method) + " " + path;
    call_clock cc(s.options);
    for (int attempt = 0;; ++attempt) {
        if (cc.expired()) throw_deadline(s, route, attempt);
        const http_request req = make_request(s, cc, method, path, body, false);
        http_response res = t.send(req);
        const bool can_retry = attempt < s.options.max_retries;
        if (res.error != transport_error::none) {
            if (res.error == transport_error::timeout && (cc.expired() || cc.bounds(req, s.options)))
                throw_deadline(s, route, attempt + 1);
            if (can_retry && transport_retryable(res.error)) {
                const auto wait = backoff(s.options, attempt, nullptr);
                if (cc.fits(wait)) {
                    log_line(s, route + ": " + std::string(to_string(res.error)) + " error (" + res.error_message +
                                    "); retry " + std::to_string(attempt + 1) + " of " +
                                    std::to_string(s.options.max_retries) + " in " +
                                    seconds_text(std::chrono::duration<double>(wait).count()));
                    std::this_thread::sleep_for(wait);
                    continue;
                }
            }
            throw_transport(s, route, res, attempt + 1);
        }
        if (res.status >= 200 && res.status < 300) {
            check_error_in_body(s, route, res.body, res.headers);
            return std::move(res.body);
        }
        if (can_retry && status_retryable(res.status, res.headers)) {
            const auto wait = backoff(s.options, attempt, &res.headers);
            if (cc.fits(wait)) {
                log_line(s, route + ": HTTP " + std::to_string(res.status) + "; retry " + std::to_string(attempt + 1) +
                                " of " + std::to_string(s.options.max_retries) + " in " +
                                seconds_text(std::chrono::duration<double>(wait).count()));
                std::this_thread::sleep_for(wait);
                continue;
            }
        }
        const auto* rid = find_header(res.headers, "x-request-id");
        throw_status_error(route, res.status, scrub(std::move(res.body), s.api_key), rid ? *rid : std::string());
    }
}

DSDEPLOY_INLINE void call_stream(const client_state& s, const erased_transport& t, const std::string& path,
                                 const std::string& body, const std::function<bool(std::string_view data)>& on_event,
                                 const std::function<api_stream_error::partial()>& partial, bool& done_seen) {
    const std::string route = "POST " + path;
    call_clock cc(s.options);
    done_seen = false;
    constexpr std::size_t max_error_body = std::size_t{1} << 20;
    for (int attempt = 0;; ++attempt) {
        if (cc.expired()) throw_deadline(s, route, attempt);
        const http_request req = make_request(s, cc, "POST", path, body, true);
        int status = 0;
        header_list headers;
        std::string error_body;
        bool started = false, stopped_by_caller = false, deadline_hit = false;
        std::exception_ptr failure;
        dsdeploy::detail::sse_parser parser;
        stream_sink sink;
        sink.on_headers = [&](int st, const header_list& h) {
            status = st;
            headers = h;
            started = st >= 200 && st < 300;
            return true;
        };
        sink.on_data = [&](std::string_view bytes) {
            if (!started) {
                if (error_body.size() < max_error_body) error_body.append(bytes.substr(0, max_error_body - error_body.size()));
                return true;
            }
            if (cc.expired()) {
                deadline_hit = true;
                return false;
            }
            try {
                return parser.feed(bytes, [&](const dsdeploy::detail::sse_event& ev) {
                    if (ev.type != "message" && ev.type != "error") return true;
                    if (dsdeploy::detail::starts_with(ev.data, "[DONE]")) {
                        done_seen = true;
                        return false;  // the answer is complete: stop reading (vLLM closes anyway)
                    }
                    if (ev.type == "error" && !dsdeploy::detail::starts_with(dsdeploy::detail::trim(ev.data), "{")) {
                        throw api_stream_error(route, api_stream_error::reason::server_error, partial(),
                                               server_error_info{scrub(ev.data, s.api_key), "", nullptr, nullptr},
                                               "the server reported an error mid-stream: " + scrub(ev.data, s.api_key));
                    }
                    if (!on_event(ev.data)) {
                        stopped_by_caller = true;
                        return false;
                    }
                    return true;
                });
            } catch (...) {
                failure = std::current_exception();
                return false;
            }
        };
        http_response res = t.send_stream(req, sink);
        if (failure) std::rethrow_exception(failure);
        if (stopped_by_caller) return;
        const bool can_retry = attempt < s.options.max_retries;
        if (!started) {
            if (status == 0) {  // no answer at all
                if (res.error == transport_error::none || res.error == transport_error::canceled) {
                    res.error = transport_error::other;
                    res.error_message = "the transport returned no status";
                }
                if (res.error == transport_error::timeout && (cc.expired() || cc.bounds(req, s.options)))
                    throw_deadline(s, route, attempt + 1);
                if (can_retry && transport_retryable(res.error)) {
                    const auto wait = backoff(s.options, attempt, nullptr);
                    if (cc.fits(wait)) {
                        log_line(s, route + ": " + std::string(to_string(res.error)) + " error (" + res.error_message +
                                        "); retry " + std::to_string(attempt + 1) + " of " +
                                        std::to_string(s.options.max_retries) + " in " +
                                        seconds_text(std::chrono::duration<double>(wait).count()));
                        std::this_thread::sleep_for(wait);
                        continue;
                    }
                }
                throw_transport(s, route, res, attempt + 1);
            }
            if (can_retry && status_retryable(status, headers)) {
                const auto wait = backoff(s.options, attempt, &headers);
                if (cc.fits(wait)) {
                    log_line(s, route + ": HTTP " + std::to_string(status) + "; retry " + std::to_string(attempt + 1) +
                                    " of " + std::to_string(s.options.max_retries) + " in " +
                                    seconds_text(std::chrono::duration<double>(wait).count()));
                    std::this_thread::sleep_for(wait);
                    continue;
                }
            }
            const auto* rid = find_header(headers, "x-request-id");
            throw_status_error(route, status, scrub(std::move(error_body), s.api_key), rid ? *rid : std::string());
        }
        // The stream had started: whatever happens now is reported, never retried.
        const bool mid_event = parser.finish();
        if (done_seen) return;
        const auto got = partial();
        const std::string so_far = " after " + std::to_string(got.chunks) + " chunk(s)";
        if (deadline_hit || (res.error == transport_error::timeout && cc.bounds(req, s.options)))
            throw api_stream_error(route, api_stream_error::reason::timeout, got, {},
                                   "the deadline of " +
                                       seconds_text(std::chrono::duration<double>(*s.options.deadline).count()) +
                                       " passed mid-stream" + so_far);
        if (res.error == transport_error::timeout)
            throw api_stream_error(route, api_stream_error::reason::timeout, got, {},
                                   "no data within the read timeout" + so_far + " (" + scrub(res.error_message, s.api_key) + ")");
        if (res.error != transport_error::none)
            throw api_stream_error(route, api_stream_error::reason::disconnected, got, {},
                                   "the connection broke mid-stream" + so_far + ": " + std::string(to_string(res.error)) +
                                       " error (" + scrub(res.error_message, s.api_key) + ")");
        const std::string* ctype = find_header(headers, "content-type");
        std::string hint;
        if (parser.events_dispatched() == 0 && ctype && ctype->find("text/event-stream") == std::string::npos)
            hint = " (the answer was " + *ctype + ", not an event stream: does the server support stream=true?)";
        throw api_stream_error(route, api_stream_error::reason::truncated, got, {},
                               std::string("the stream ended without data: [DONE]") +
                                   (mid_event ? " in the middle of an event" : "") + so_far + hint);
    }
}

// Decodes one data event of an OpenAI stream: an in-band {"error": ...} throws.
template <class Chunk>
Chunk decode_event(const client_state& s, const std::string& route, std::string_view data,
                   const std::function<api_stream_error::partial()>& partial) {
    const auto j = nlohmann::json::parse(data.begin(), data.end(), nullptr, false);
    if (j.is_discarded()) {
        std::string shown(data.substr(0, 200));
        throw api_decode_error("stream", "an event's data is not JSON: \"" + scrub(shown, s.api_key) + "\"");
    }
    if (j.is_object() && j.contains("error") && !j.contains("choices")) {
        server_error_info info = scrub(parse_error_body(std::string(data)), s.api_key);
        throw api_stream_error(route, api_stream_error::reason::server_error, partial(), info,
                               "the server reported an error mid-stream: " +
                                   (info.message.empty() ? std::string("(no message)") : info.message));
    }
    return decode<Chunk>(j, "stream chunk");
}

inline seconds_d since(clock::time_point t0) { return std::chrono::duration_cast<seconds_d>(clock::now() - t0); }

DSDEPLOY_INLINE chat_completion chat_stream(const client_state& s, const erased_transport& t, const chat_request& r,
                                            const std::function<bool(const chat_chunk&)>& on_chunk) {
    const std::string path = s.url.api_path + "/chat/completions";
    const std::string route = "POST " + path;
    const std::string body = encode(r, true, {s.options.legacy_guided_decoding}).dump();
    chat_completion out;
    std::map<int, chat_choice> choices;
    stream_stats stats;
    clock::time_point t0 = clock::now();
    bool first = true;
    auto partial = [&]() {
        api_stream_error::partial p;
        p.chunks = stats.chunks;
        if (auto it = choices.find(0); it != choices.end()) {
            p.text = it->second.message.content.value_or("");
            p.reasoning = it->second.message.reasoning.value_or("");
        }
        return p;
    };
    bool done = false;
    call_stream(s, t, path, body, [&](std::string_view data) {
        chat_chunk ch = decode_event<chat_chunk>(s, route, data, partial);
        if (stats.chunks == 0) stats.time_to_first_chunk = since(t0);
        ++stats.chunks;
        if (first) {
            out.id = ch.id;
            out.created = ch.created;
            out.model = ch.model;
            out.object = "chat.completion";
            first = false;
        }
        bool has_text = false;
        for (const auto& c : ch.choices) {
            auto& acc = choices[c.index];
            acc.index = c.index;
            if (c.delta.role) acc.message.role = *c.delta.role;
            if (c.delta.content) {
                acc.message.content = acc.message.content.value_or("") + *c.delta.content;
                has_text |= !c.delta.content->empty();
            }
            if (c.delta.reasoning) {
                acc.message.reasoning = acc.message.reasoning.value_or("") + *c.delta.reasoning;
                has_text |= !c.delta.reasoning->empty();
            }
            for (const auto& tc : c.delta.tool_calls) {
                auto it = std::find_if(acc.message.tool_calls.begin(), acc.message.tool_calls.end(),
                                       [&](const tool_call& x) { return x.index == tc.index; });
                if (it == acc.message.tool_calls.end()) {
                    acc.message.tool_calls.push_back(tc);
                } else {
                    if (!tc.id.empty()) it->id = tc.id;
                    if (it->name.empty()) it->name = tc.name;
                    it->arguments += tc.arguments;
                }
                has_text |= !tc.arguments.empty() || !tc.name.empty();
            }
            if (!c.finish_reason.empty()) acc.finish_reason = c.finish_reason;
            if (!c.stop_reason.is_null()) acc.stop_reason = c.stop_reason;
            if (c.logprobs.is_object() && c.logprobs.contains("content") && c.logprobs["content"].is_array()) {
                if (!acc.logprobs.is_object()) acc.logprobs = {{"content", nlohmann::json::array()}};
                for (const auto& lp : c.logprobs["content"]) acc.logprobs["content"].push_back(lp);
            }
        }
        if (ch.usage) out.usage = ch.usage;
        if (has_text) {
            if (stats.text_chunks == 0) stats.time_to_first_token = since(t0);
            ++stats.text_chunks;
        }
        return on_chunk ? on_chunk(ch) : true;
    }, partial, done);
    for (auto& [index, c] : choices) {
        if (c.message.role.empty()) c.message.role = "assistant";
        out.choices.push_back(std::move(c));
    }
    stats.total = since(t0);
    out.stream = stats;
    return out;
}

DSDEPLOY_INLINE completion complete_stream(const client_state& s, const erased_transport& t, const completion_request& r,
                                           const std::function<bool(const completion&)>& on_chunk) {
    const std::string path = s.url.api_path + "/completions";
    const std::string route = "POST " + path;
    const std::string body = encode(r, true, {s.options.legacy_guided_decoding}).dump();
    completion out;
    std::map<int, completion_choice> choices;
    stream_stats stats;
    clock::time_point t0 = clock::now();
    auto partial = [&]() {
        api_stream_error::partial p;
        p.chunks = stats.chunks;
        if (auto it = choices.find(0); it != choices.end()) p.text = it->second.text;
        return p;
    };
    bool done = false;
    call_stream(s, t, path, body, [&](std::string_view data) {
        completion ch = decode_event<completion>(s, route, data, partial);
        if (stats.chunks == 0) {
            stats.time_to_first_chunk = since(t0);
            out.id = ch.id;
            out.created = ch.created;
            out.model = ch.model;
            out.object = ch.object;
        }
        ++stats.chunks;
        bool has_text = false;
        for (const auto& c : ch.choices) {
            auto& acc = choices[c.index];
            acc.index = c.index;
            acc.text += c.text;
            has_text |= !c.text.empty();
            if (!c.finish_reason.empty()) acc.finish_reason = c.finish_reason;
            if (!c.stop_reason.is_null()) acc.stop_reason = c.stop_reason;
        }
        if (ch.usage) out.usage = ch.usage;
        if (has_text) {
            if (stats.text_chunks == 0) stats.time_to_first_token = since(t0);
            ++stats.text_chunks;
        }
        return on_chunk ? on_chunk(ch) : true;
    }, partial, done);
    for (auto& [index, c] : choices) out.choices.push_back(std::move(c));
    stats.total = since(t0);
    out.stream = stats;
    return out;
}

DSDEPLOY_INLINE probe_result health(const client_state& s, const erased_transport& t) {
    call_clock cc(s.options);
    const std::string path = s.url.root_path + "/health";
    http_request req = make_request(s, cc, "GET", path, {}, false);
    req.read_timeout = std::min(req.read_timeout, std::chrono::milliseconds(30000));  // a probe, not a generation
    http_response res = t.send(req);
    probe_result p;
    p.status = res.status;
    if (res.error != transport_error::none) {
        p.error = res.error == transport_error::timeout ? errc::client_timeout : errc::client_connection;
        p.message = std::string(to_string(res.error)) + " error: " + scrub(res.error_message, s.api_key);
        return p;
    }
    p.ok = res.status == 200;
    if (!p.ok) {
        p.error = errc::client_status;
        p.message = "HTTP " + std::to_string(res.status) + ": " + scrub(parse_error_body(res.body).message, s.api_key);
    }
    return p;
}

}  // namespace detail

}  // namespace openai
DSDEPLOY_NAMESPACE_END
