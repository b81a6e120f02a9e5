// SPDX-License-Identifier: Apache-2.0
// A typed client for OpenAI-compatible servers, with vLLM's extras: chat completions,
// completions, models, embeddings; streaming over server-sent events; vLLM's server-root
// routes (/health, /version, /metrics, /tokenize, /detokenize); retries with backoff;
// timeouts and an overall deadline; an exception hierarchy in the style of openai-python.
//
//     dsdeploy::openai::client c("http://127.0.0.1:8000/v1");
//     dsdeploy::openai::chat_request req;
//     req.messages = {{"user", "Hello"}};
//     auto done = c.chat_stream(req, [](const dsdeploy::openai::chat_chunk& ch) {
//         for (auto& choice : ch.choices) std::cout << choice.delta.content.value_or("");
//         return true;  // false cancels the request
//     });
//
// The client is generic over its HTTP transport (openai_transport.hpp); `client` uses
// cpp-httplib. The client knows nothing of clusters or bundles. This header holds the client
// and includes the openai rooms, so it is all a user needs:
//
//   openai_types.hpp      requests and responses (chat, completions, models, embeddings, tokenize)
//   openai_codec.hpp      their JSON form: encode, decode<T>, the nlohmann conversions
//   openai_errors.hpp     the exception hierarchy (api_error and its subclasses)
//   openai_metrics.hpp    vLLM's /metrics parsed (parse_metrics, server_metrics)
//   openai_transport.hpp  the transport seam, base_url, httplib_transport
//   openai.hpp            client_options, basic_client<Transport>, client
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/error.hpp>
#include <dsdeploy/openai_codec.hpp>
#include <dsdeploy/openai_errors.hpp>
#include <dsdeploy/openai_metrics.hpp>
#include <dsdeploy/openai_transport.hpp>
#include <dsdeploy/openai_types.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace openai {

struct client_options {
    // Empty: $OPENAI_BASE_URL, else http://127.0.0.1:8000/v1.
    std::string base_url;
    // nullopt: read from the environment variable named by api_key_env (a missing or empty
    // variable means no key). An empty string: no key. Sent as "Authorization: Bearer <key>".
    std::optional<std::string> api_key;
    std::string api_key_env = "OPENAI_API_KEY";

    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds read_timeout{600000};  // idle time between bytes, not a total
    std::chrono::milliseconds write_timeout{600000};
    // Overall limit for one call: every attempt, the waits between them and the whole stream.
    std::optional<std::chrono::milliseconds> deadline;

    // Retries on connection errors, timeouts, HTTP 408, 409, 429 and >= 500 (a server's
    // x-should-retry header decides first), never once a stream has delivered a byte. The wait
    // is min(initial * 2^n, max) times a random factor in [0.75, 1], or the server's
    // retry-after-ms / Retry-After (seconds or HTTP date) when it is at most max_retry_after.
    int max_retries = 2;
    std::chrono::milliseconds initial_retry_delay{500};
    std::chrono::milliseconds max_retry_delay{8000};
    std::chrono::milliseconds max_retry_after{60000};

    bool verify_tls = true;
    std::string ca_cert_path;
    header_list default_headers;       // added to every request
    bool legacy_guided_decoding = false;  // vLLM < 0.11: guided_* instead of structured_outputs

    // Receives one line per notable event (retries and their reasons). Never sees the key.
    std::function<void(std::string_view)> log;
};

// A probe's answer: /health does not throw for the failures a probe exists to detect.
struct probe_result {
    bool ok = false;
    int status = 0;                  // HTTP status, 0 when there was no answer
    std::optional<errc> error;       // client_connection, client_timeout or client_status
    std::string message;
    explicit operator bool() const noexcept { return ok; }
};

namespace detail {
// Rethrows a decode error with the key replaced by "***" (a server may echo it).
[[noreturn]] void rethrow_scrubbed(const api_decode_error& e, const std::string& key);

// The client's machinery, written once for every transport: a call goes through these
// functions with the transport erased to two std::functions.
struct erased_transport {
    std::function<http_response(const http_request&)> send;
    std::function<http_response(const http_request&, const stream_sink&)> send_stream;
};

struct client_state {
    openai::base_url url;
    std::string api_key;  // resolved; "" = none
    client_options options;
};

client_state make_client_state(const client_options& options);
transport_config make_transport_config(const client_state& s);

// One JSON call with retries; returns the body of a 2xx answer.
std::string call(const client_state& s, const erased_transport& t, std::string_view method, const std::string& path,
                 const std::string& body);
// One streamed call with retries before the first byte; feeds each data event to on_event.
// `partial` tells what arrived so far, for the api_stream_error of a failed stream.
void call_stream(const client_state& s, const erased_transport& t, const std::string& path, const std::string& body,
                 const std::function<bool(std::string_view data)>& on_event,
                 const std::function<api_stream_error::partial()>& partial, bool& done_seen);

chat_completion chat_stream(const client_state& s, const erased_transport& t, const chat_request& r,
                            const std::function<bool(const chat_chunk&)>& on_chunk);
completion complete_stream(const client_state& s, const erased_transport& t, const completion_request& r,
                           const std::function<bool(const completion&)>& on_chunk);
probe_result health(const client_state& s, const erased_transport& t);
}  // namespace detail

template <class Transport>
class basic_client {
    static_assert(is_transport_v<Transport>,
                  "Transport must provide http_response send(const http_request&) and "
                  "http_response send(const http_request&, const stream_sink&) (see openai_transport.hpp)");

public:
    using transport_type = Transport;

    // Resolves the base URL and key (options, then environment) and builds the transport from
    // them. Throws client.config for an invalid base URL.
    explicit basic_client(client_options options = {})
        : state_(detail::make_client_state(options)), transport_(detail::make_transport_config(state_)) {}
    basic_client(client_options options, Transport transport)
        : state_(detail::make_client_state(options)), transport_(std::move(transport)) {}
    // The default options with this base URL (the key from $OPENAI_API_KEY).
    explicit basic_client(std::string base_url) : basic_client(options_for(std::move(base_url))) {}

    // POST /v1/chat/completions.
    chat_completion chat(const chat_request& r) {
        return decode_body<chat_completion>(
            call("POST", state_.url.api_path + "/chat/completions", encode(r, false, enc()).dump()), "chat completion");
    }
    // Streams the answer: on_chunk sees every chunk as it arrives (return false to cancel, which
    // throws nothing and returns what arrived). Returns the completion assembled from the
    // chunks, with usage (include_usage is on unless r.streaming says otherwise) and timings.
    chat_completion chat_stream(const chat_request& r, const std::function<bool(const chat_chunk&)>& on_chunk = {}) {
        return detail::chat_stream(state_, erased(), r, on_chunk);
    }

    // POST /v1/completions.
    completion complete(const completion_request& r) {
        return decode_body<completion>(call("POST", state_.url.api_path + "/completions", encode(r, false, enc()).dump()),
                                       "completion");
    }
    completion complete_stream(const completion_request& r, const std::function<bool(const completion&)>& on_chunk = {}) {
        return detail::complete_stream(state_, erased(), r, on_chunk);
    }

    // GET /v1/models.
    model_list models() { return decode_body<model_list>(call("GET", state_.url.api_path + "/models", {}), "model list"); }

    // POST /v1/embeddings (embedding models only).
    embedding_response embeddings(const embedding_request& r) {
        return decode_body<embedding_response>(call("POST", state_.url.api_path + "/embeddings", encode(r).dump()),
                                               "embeddings");
    }

    // vLLM's server-root routes.
    tokenize_response tokenize(const tokenize_request& r) {
        return decode_body<tokenize_response>(call("POST", state_.url.root_path + "/tokenize", encode(r).dump()),
                                              "tokenize");
    }
    std::string detokenize(const std::vector<std::int64_t>& tokens, const std::string& model = {});
    probe_result health() { return detail::health(state_, erased()); }
    std::string version();
    std::string metrics_text() { return call("GET", state_.url.root_path + "/metrics", {}); }
    server_metrics metrics() { return parse_metrics(metrics_text()); }

    // Any other route, relative to the server root (e.g. "/v1/responses", "/load"); the body is
    // sent as JSON unless null. Retries and errors as for the typed calls.
    nlohmann::json request(std::string_view method, const std::string& path, const nlohmann::json& body = nullptr) {
        const std::string text = call(method, state_.url.root_path + path, body.is_null() ? std::string() : body.dump());
        return text.empty() ? nlohmann::json() : decode_body<nlohmann::json>(text, path);
    }

    const openai::base_url& url() const noexcept { return state_.url; }
    bool has_api_key() const noexcept { return !state_.api_key.empty(); }
    const client_options& options() const noexcept { return state_.options; }
    Transport& transport() noexcept { return transport_; }

private:
    static client_options options_for(std::string base_url) {
        client_options o;
        o.base_url = std::move(base_url);
        return o;
    }
    request_encoding enc() const { return {state_.options.legacy_guided_decoding}; }
    detail::erased_transport erased() {
        return {[this](const http_request& q) { return transport_.send(q); },
                [this](const http_request& q, const stream_sink& k) { return transport_.send(q, k); }};
    }
    std::string call(std::string_view method, const std::string& path, const std::string& body) {
        return detail::call(state_, erased(), method, path, body);
    }
    template <class T>
    T decode_body(const std::string& body, std::string_view what) const {
        try {
            return decode<T>(std::string_view(body), what);
        } catch (const api_decode_error& e) {
            detail::rethrow_scrubbed(e, state_.api_key);
        }
    }

    detail::client_state state_;
    Transport transport_;
};

template <class Transport>
std::string basic_client<Transport>::detokenize(const std::vector<std::int64_t>& tokens, const std::string& model) {
    nlohmann::json body = {{"tokens", tokens}};
    if (!model.empty()) body["model"] = model;
    const auto j = decode_body<nlohmann::json>(call("POST", state_.url.root_path + "/detokenize", body.dump()), "detokenize");
    if (!j.is_object() || !j.contains("prompt") || !j["prompt"].is_string())
        throw api_decode_error("prompt", "the /detokenize answer has no string \"prompt\"");
    return j["prompt"].template get<std::string>();
}

template <class Transport>
std::string basic_client<Transport>::version() {
    const auto j = decode_body<nlohmann::json>(call("GET", state_.url.root_path + "/version", {}), "version");
    if (!j.is_object() || !j.contains("version") || !j["version"].is_string())
        throw api_decode_error("version", "the /version answer has no string \"version\"");
    return j["version"].template get<std::string>();
}

#if DSDEPLOY_ENABLE_HTTPLIB
using client = basic_client<httplib_transport>;
#endif

}  // namespace openai
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/openai_inl.hpp>
#endif
