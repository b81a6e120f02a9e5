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
// The client is generic over its HTTP transport (see "The transport seam" below); `client`
// uses cpp-httplib. The client knows nothing of clusters or bundles.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/error.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

// The cpp-httplib transport (the default). Set to 0 to use the client with your own transport
// only, without including <httplib.h>.
#ifndef DSDEPLOY_ENABLE_HTTPLIB
#define DSDEPLOY_ENABLE_HTTPLIB 1
#endif

DSDEPLOY_NAMESPACE_BEGIN
namespace openai {

using seconds_d = std::chrono::duration<double>;

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

// A function call requested by the model. In stream deltas, `index` says which call a fragment
// belongs to and `arguments` arrives in pieces; the accumulated message has whole calls.
struct tool_call {
    int index = 0;
    std::string id;
    std::string type = "function";
    std::string name;
    std::string arguments;  // JSON text, as the model wrote it
};

struct chat_message {
    std::string role;                    // "system", "user", "assistant", "tool"
    std::optional<std::string> content;  // null for tool-call-only or reasoning-only answers
    // The model's reasoning (DeepSeek-R1 with --reasoning-parser deepseek_r1). vLLM up to 0.11.0
    // calls it "reasoning_content", later versions "reasoning"; both are read, "reasoning" wins.
    // It is never sent back in requests (the R1 chat template drops it anyway).
    std::optional<std::string> reasoning;
    std::vector<tool_call> tool_calls;
    std::string name;          // optional participant name
    std::string tool_call_id;  // for role "tool"
    nlohmann::json extra = nlohmann::json::object();  // unknown fields (responses) / merged last (requests)

    chat_message() = default;
    chat_message(std::string role_, std::string content_) : role(std::move(role_)), content(std::move(content_)) {}
};

// vLLM's structured outputs: at most one constraint. Sent as the `structured_outputs` object
// (vLLM 0.11 and later) or, with client_options::legacy_guided_decoding, as the `guided_*`
// fields that vLLM up to 0.11 reads (and 0.12 silently ignores).
struct structured_outputs {
    std::optional<nlohmann::json> json_schema;     // "json": a JSON schema the output must match
    std::optional<std::string> regex;              // the output matches this regular expression
    std::optional<std::vector<std::string>> choice;// the output is exactly one of these
    std::optional<std::string> grammar;            // an EBNF/Lark grammar
    bool json_object = false;                      // any JSON object
    std::optional<std::string> whitespace_pattern;

    // How many constraints are set (more than one is a client.config error when sent).
    int constraints() const;
};

struct stream_options {
    bool include_usage = true;            // one last chunk with usage and no choices
    bool continuous_usage_stats = false;  // vLLM: running usage on every chunk
};

// Sampling settings shared by chat and text completions. Unset fields are not sent, so the
// server's defaults (the model's generation_config.json in vLLM) apply.
struct sampling_params {
    std::string model;  // empty: not sent (vLLM then uses its only served model)
    std::optional<int> max_tokens;
    std::optional<double> temperature;
    std::optional<double> top_p;
    std::optional<int> n;
    std::vector<std::string> stop;
    std::optional<std::int64_t> seed;
    std::optional<double> presence_penalty;
    std::optional<double> frequency_penalty;
    std::map<std::string, double> logit_bias;  // token id (as text) -> bias
    std::string user;
    // vLLM's sampling extras
    std::optional<int> top_k;                  // -1 or 0: off
    std::optional<double> min_p;
    std::optional<double> repetition_penalty;
    std::optional<int> min_tokens;
    std::optional<bool> ignore_eos;
    std::optional<bool> skip_special_tokens;
    std::optional<structured_outputs> structured;
    std::optional<nlohmann::json> response_format;  // {"type": "json_schema", ...} etc.
    // Anything not modelled, merged into the request last with JSON merge-patch semantics
    // (a null removes a field). E.g. {"priority": 1, "vllm_xargs": {...}}.
    nlohmann::json extra = nlohmann::json::object();
};

struct chat_request : sampling_params {
    std::vector<chat_message> messages;
    std::optional<bool> logprobs;
    std::optional<int> top_logprobs;
    std::optional<int> max_completion_tokens;
    nlohmann::json tools;        // null: not sent; else the OpenAI tools array
    nlohmann::json tool_choice;  // null: not sent
    // vLLM: passed to the Jinja chat template, e.g. {"thinking": false}. null: not sent.
    nlohmann::json chat_template_kwargs;
    std::optional<bool> add_generation_prompt;
    std::optional<bool> continue_final_message;
    std::optional<stream_options> streaming;  // sent as stream_options when streaming
};

struct completion_request : sampling_params {
    nlohmann::json prompt = "";  // a string, a list of strings, token ids or lists of token ids
    std::optional<bool> echo;
    std::optional<int> logprobs;
    std::string suffix;
    std::optional<stream_options> streaming;
};

struct embedding_request {
    std::string model;
    nlohmann::json input = "";  // a string, a list of strings, token ids
    std::string encoding_format;  // "float" (default) or "base64"
    std::optional<int> dimensions;
    nlohmann::json extra = nlohmann::json::object();
};

// POST /tokenize. The chat form (messages non-empty) renders the chat template first.
struct tokenize_request {
    std::string model;
    std::optional<std::string> prompt;
    std::vector<chat_message> messages;
    std::optional<bool> add_special_tokens;
    std::optional<bool> add_generation_prompt;
    bool return_token_strs = false;
    nlohmann::json chat_template_kwargs;  // null: not sent
    nlohmann::json extra = nlohmann::json::object();
};

// ---------------------------------------------------------------------------------------------
// Responses. Each keeps the fields it does not model in `extra` (e.g. vLLM's
// kv_transfer_params, prompt_logprobs, service_tier).
// ---------------------------------------------------------------------------------------------

struct usage {
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    std::int64_t total_tokens = 0;
    std::optional<std::int64_t> cached_tokens;  // prompt_tokens_details.cached_tokens
    nlohmann::json extra = nlohmann::json::object();
};

// Timings of a streamed request, measured by the client from the moment it sent the request.
struct stream_stats {
    seconds_d time_to_first_chunk{0};  // first event of any kind
    seconds_d time_to_first_token{0};  // first chunk with text (content, reasoning or text)
    seconds_d total{0};                // until [DONE]
    std::size_t chunks = 0;            // data events decoded, [DONE] excluded
    std::size_t text_chunks = 0;       // chunks that carried text
};

struct chat_choice {
    int index = 0;
    chat_message message;
    std::string finish_reason;  // "stop", "length", "tool_calls", "abort"; empty when none
    nlohmann::json stop_reason;  // vLLM: the stop string or token id that fired, or null
    nlohmann::json logprobs;
    nlohmann::json extra = nlohmann::json::object();
};

struct chat_completion {
    std::string id;
    std::string object;
    std::int64_t created = 0;
    std::string model;
    std::vector<chat_choice> choices;
    std::optional<openai::usage> usage;
    std::optional<stream_stats> stream;  // set when the completion was assembled from a stream
    nlohmann::json extra = nlohmann::json::object();

    // The first choice's content, or "" (convenience).
    std::string text() const;
};

struct chat_delta {
    std::optional<std::string> role;
    std::optional<std::string> content;
    std::optional<std::string> reasoning;  // "reasoning" or "reasoning_content"
    std::vector<tool_call> tool_calls;
    nlohmann::json extra = nlohmann::json::object();
};

struct chat_chunk_choice {
    int index = 0;
    chat_delta delta;
    std::string finish_reason;  // empty while generating
    nlohmann::json stop_reason;
    nlohmann::json logprobs;
    nlohmann::json extra = nlohmann::json::object();
};

struct chat_chunk {
    std::string id;
    std::string object;
    std::int64_t created = 0;
    std::string model;
    std::vector<chat_chunk_choice> choices;  // empty in the usage chunk
    std::optional<openai::usage> usage;
    nlohmann::json extra = nlohmann::json::object();
};

struct completion_choice {
    int index = 0;
    std::string text;
    std::string finish_reason;
    nlohmann::json stop_reason;
    nlohmann::json logprobs;
    nlohmann::json extra = nlohmann::json::object();
};

// A text completion, and also one chunk of a streamed one (the same shape).
struct completion {
    std::string id;
    std::string object;
    std::int64_t created = 0;
    std::string model;
    std::vector<completion_choice> choices;
    std::optional<openai::usage> usage;
    std::optional<stream_stats> stream;
    nlohmann::json extra = nlohmann::json::object();

    std::string text() const;
};

struct model_info {
    std::string id;
    std::string object;
    std::int64_t created = 0;
    std::string owned_by;
    std::string root;                        // vLLM: the model path
    std::string parent;                      // vLLM: base model of a LoRA adapter
    std::optional<std::int64_t> max_model_len;  // vLLM: the context length served
    nlohmann::json extra = nlohmann::json::object();
};

struct model_list {
    std::vector<model_info> data;
    nlohmann::json extra = nlohmann::json::object();
};

struct embedding {
    int index = 0;
    std::vector<double> values;  // empty when encoding_format was "base64": see `raw`
    nlohmann::json raw;          // the "embedding" value as sent
};

struct embedding_response {
    std::string model;
    std::vector<embedding> data;
    std::optional<openai::usage> usage;
    nlohmann::json extra = nlohmann::json::object();
};

struct tokenize_response {
    std::int64_t count = 0;
    std::int64_t max_model_len = 0;
    std::vector<std::int64_t> tokens;
    std::vector<std::string> token_strs;  // with return_token_strs
    nlohmann::json extra = nlohmann::json::object();
};

// One sample of a Prometheus text exposition.
struct metric_sample {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;
    std::string label(std::string_view key) const;  // "" when absent
};

struct histogram_summary {
    double sum = 0;
    double count = 0;
    double mean() const { return count > 0 ? sum / count : 0; }
};

// GET /metrics, parsed. The named values are vLLM's main gauges and counters, summed over
// every label set (engine, model_name); nullopt when the server did not report them. Old and
// new names are both read (kv_cache_usage_perc / gpu_cache_usage_perc; inter_token_latency /
// time_per_output_token; prefix_cache_* / gpu_prefix_cache_*).
struct server_metrics {
    std::vector<metric_sample> samples;

    std::optional<double> requests_running;    // vllm:num_requests_running
    std::optional<double> requests_waiting;    // vllm:num_requests_waiting
    std::optional<double> kv_cache_usage;      // 0..1
    std::optional<double> prefix_cache_queries;
    std::optional<double> prefix_cache_hits;
    std::optional<double> preemptions;
    std::optional<double> prompt_tokens;       // vllm:prompt_tokens_total
    std::optional<double> generation_tokens;   // vllm:generation_tokens_total
    std::optional<double> requests_finished;   // vllm:request_success_total, all reasons
    std::map<std::string, double> requests_by_finish_reason;  // "stop", "length", "abort"
    std::optional<histogram_summary> time_to_first_token;  // seconds
    std::optional<histogram_summary> inter_token_latency;  // seconds
    std::optional<histogram_summary> e2e_request_latency;  // seconds
    std::optional<histogram_summary> queue_time;           // seconds

    // Sum of every sample called `name` (exact exposition name); nullopt when there is none.
    std::optional<double> total(std::string_view name) const;
};

// Parses a Prometheus text exposition. Lines that are not samples are skipped; a body with
// lines but no sample at all throws client.decode (it was not a metrics page).
server_metrics parse_metrics(std::string_view text);

// ---------------------------------------------------------------------------------------------
// JSON conversions (nlohmann ADL). Decoding throws client.decode (never nlohmann's exceptions)
// naming the field, e.g. "choices[0].message.content".
// ---------------------------------------------------------------------------------------------

void to_json(nlohmann::json& j, const tool_call& v);
void to_json(nlohmann::json& j, const chat_message& v);
void from_json(const nlohmann::json& j, chat_message& v);
void to_json(nlohmann::json& j, const usage& v);
void from_json(const nlohmann::json& j, usage& v);
void from_json(const nlohmann::json& j, chat_completion& v);
void from_json(const nlohmann::json& j, chat_chunk& v);
void from_json(const nlohmann::json& j, completion& v);
void from_json(const nlohmann::json& j, model_info& v);
void from_json(const nlohmann::json& j, model_list& v);
void from_json(const nlohmann::json& j, embedding_response& v);
void from_json(const nlohmann::json& j, tokenize_response& v);

struct request_encoding {
    bool legacy_guided_decoding = false;  // guided_* fields instead of structured_outputs
};
// The request bodies as sent (stream flag included); throws client.config for invalid requests.
nlohmann::json encode(const chat_request& r, bool stream = false, request_encoding enc = {});
nlohmann::json encode(const completion_request& r, bool stream = false, request_encoding enc = {});
nlohmann::json encode(const embedding_request& r);
nlohmann::json encode(const tokenize_request& r);


// ---------------------------------------------------------------------------------------------
// Errors, in the style of openai-python. All derive from dsdeploy::environment_error (through
// api_error) and carry the client.* ids; a wrong base URL or option is a config_error with id
// client.config. Messages never contain the API key: the client replaces it with "***".
//
//   api_error
//    ├─ api_connection_error        client.connection  the server could not be reached
//    │   └─ api_timeout_error       client.timeout     connect/read timeout or the deadline
//    ├─ api_status_error            client.status      HTTP >= 400 (status(), message(), body())
//    │   ├─ bad_request_error 400   ├─ conflict_error 409
//    │   ├─ authentication_error 401├─ unprocessable_entity_error 422
//    │   ├─ permission_denied_error 403 ├─ rate_limit_error 429
//    │   ├─ not_found_error 404     └─ internal_server_error >= 500
//    ├─ api_decode_error            client.decode      the answer was not what the API promises
//    └─ api_stream_error            client.stream      a stream was cut, timed out or carried an
//                                                       error; keeps what arrived before
// ---------------------------------------------------------------------------------------------

class api_error : public environment_error {
public:
    using environment_error::environment_error;
};

class api_connection_error : public api_error {
public:
    api_connection_error(std::string route, std::string detail)
        : api_error(errc::client_connection, std::move(route), std::move(detail)) {}

protected:
    api_connection_error(errc code, std::string route, std::string detail)
        : api_error(code, std::move(route), std::move(detail)) {}
};

class api_timeout_error : public api_connection_error {
public:
    api_timeout_error(std::string route, std::string detail)
        : api_connection_error(errc::client_timeout, std::move(route), std::move(detail)) {}
};

// The server's error document, read from any of vLLM's layouts: nested {"error": {...}}
// (0.10.1+), flat {"object": "error", "message": ...} (up to 0.10.0), {"error": "Unauthorized"}
// (the --api-key middleware), FastAPI's {"detail": ...}, or a body that is not JSON.
struct server_error_info {
    std::string message;
    std::string type;
    nlohmann::json param;
    nlohmann::json code;  // vLLM sends the HTTP status as an int; OpenAI a string
};
server_error_info parse_error_body(std::string_view body);

class api_status_error : public api_error {
public:
    api_status_error(std::string route, int status, server_error_info info, std::string body, std::string request_id,
                     std::string detail)
        : api_error(errc::client_status, std::move(route), std::move(detail)),
          status_(status),
          info_(std::move(info)),
          body_(std::move(body)),
          request_id_(std::move(request_id)) {}

    int status() const noexcept { return status_; }
    const std::string& message() const noexcept { return info_.message; }  // the server's words
    const std::string& type() const noexcept { return info_.type; }
    const nlohmann::json& param() const noexcept { return info_.param; }
    const nlohmann::json& error_code() const noexcept { return info_.code; }
    const std::string& body() const noexcept { return body_; }
    const std::string& request_id() const noexcept { return request_id_; }  // x-request-id

private:
    int status_;
    server_error_info info_;
    std::string body_;
    std::string request_id_;
};

#define DSDEPLOY_OPENAI_STATUS_ERROR(name)          \
    class name : public api_status_error {          \
    public:                                         \
        using api_status_error::api_status_error;   \
    };
DSDEPLOY_OPENAI_STATUS_ERROR(bad_request_error)           // 400
DSDEPLOY_OPENAI_STATUS_ERROR(authentication_error)        // 401
DSDEPLOY_OPENAI_STATUS_ERROR(permission_denied_error)     // 403
DSDEPLOY_OPENAI_STATUS_ERROR(not_found_error)             // 404
DSDEPLOY_OPENAI_STATUS_ERROR(conflict_error)              // 409
DSDEPLOY_OPENAI_STATUS_ERROR(unprocessable_entity_error)  // 422
DSDEPLOY_OPENAI_STATUS_ERROR(rate_limit_error)            // 429
DSDEPLOY_OPENAI_STATUS_ERROR(internal_server_error)       // >= 500
#undef DSDEPLOY_OPENAI_STATUS_ERROR

// Throws the api_status_error subclass for `status` (plain api_status_error for other codes).
[[noreturn]] void throw_status_error(std::string route, int status, std::string body, std::string request_id);

class api_decode_error : public api_error {
public:
    api_decode_error(std::string field, std::string detail)
        : api_error(errc::client_decode, std::move(field), std::move(detail)) {}
};

class api_stream_error : public api_error {
public:
    enum class reason {
        truncated,     // the body ended without data: [DONE]
        disconnected,  // the connection broke mid-stream (server killed, network)
        timeout,       // no byte within the read timeout, or the deadline passed
        server_error,  // the server sent {"error": ...} inside the 200 stream
    };
    struct partial {
        std::string text;       // content (chat) or text (completions) of choice 0 so far
        std::string reasoning;  // reasoning of choice 0 so far
        std::size_t chunks = 0; // chunks decoded before the failure
    };
    api_stream_error(std::string route, reason why, partial received, server_error_info server, std::string detail)
        : api_error(errc::client_stream, std::move(route), std::move(detail)),
          why_(why),
          received_(std::move(received)),
          server_(std::move(server)) {}

    reason why() const noexcept { return why_; }
    const std::string& partial_text() const noexcept { return received_.text; }
    const std::string& partial_reasoning() const noexcept { return received_.reasoning; }
    std::size_t chunks_received() const noexcept { return received_.chunks; }
    const server_error_info& server_error() const noexcept { return server_; }  // for server_error

private:
    reason why_;
    partial received_;
    server_error_info server_;
};
std::string_view to_string(api_stream_error::reason r);

// Decodes a JSON document into T with the rules above; `what` names it in errors.
// Parses text as JSON first (client.decode when it is not JSON).
template <class T>
T decode(const nlohmann::json& j, std::string_view what) {
    try {
        return j.template get<T>();
    } catch (const api_decode_error& e) {
        throw api_decode_error(e.field(), "in the " + std::string(what) + ": " + e.detail());
    } catch (const nlohmann::json::exception& e) {
        throw api_decode_error(std::string(what), std::string("could not be decoded: ") + e.what());
    }
}

template <class T>
T decode(std::string_view body, std::string_view what) {
    auto j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
    if (j.is_discarded()) {
        std::string shown(body.substr(0, 200));
        throw api_decode_error(std::string(what), "the answer is not JSON: \"" + shown + (body.size() > 200 ? "...\"" : "\""));
    }
    return decode<T>(j, what);
}
template <class T>
T decode(const std::string& body, std::string_view what) {
    return decode<T>(std::string_view(body), what);
}
template <class T>
T decode(const char* body, std::string_view what) {
    return decode<T>(std::string_view(body), what);
}

// ---------------------------------------------------------------------------------------------
// The transport seam
//
// A transport moves one HTTP request and never throws for network failures: it reports them
// in http_response::error. A type T is a transport when it provides
//
//     http_response T::send(const http_request& req);
//         Sends req and returns the status, headers and whole body.
//     http_response T::send(const http_request& req, const stream_sink& sink);
//         Sends req; calls sink.on_headers(status, headers) once when they arrive, then
//         sink.on_data(bytes) for each piece of the body in order. Either returning false
//         aborts the transfer (error = canceled). The returned body stays empty.
//
// and, to be built by basic_client from options, a constructor T(const transport_config&).
// req.read_timeout is the longest silence between two received bytes, not a total; the
// transport must be safe to use from several threads at once or be one per thread.
// ---------------------------------------------------------------------------------------------

using header_list = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive header lookup; nullptr when absent.
const std::string* find_header(const header_list& headers, std::string_view name);

struct http_request {
    std::string method;       // "GET" or "POST"
    std::string path;         // absolute, e.g. "/v1/chat/completions"
    header_list headers;      // Authorization, Accept, Content-Type, User-Agent
    std::string body;
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds read_timeout{600000};
    std::chrono::milliseconds write_timeout{600000};
};

enum class transport_error { none, connection, timeout, read, write, tls, canceled, other };
std::string_view to_string(transport_error e);

struct http_response {
    int status = 0;  // 0 when no response arrived
    header_list headers;
    std::string body;
    transport_error error = transport_error::none;
    std::string error_message;  // the transport's own words
};

struct stream_sink {
    std::function<bool(int status, const header_list& headers)> on_headers;
    std::function<bool(std::string_view bytes)> on_data;
};

// Where and how to connect; basic_client derives it from client_options.
struct transport_config {
    std::string scheme = "http";  // "http" or "https"
    std::string host = "127.0.0.1";
    int port = 8000;
    bool verify_tls = true;
    std::string ca_cert_path;     // PEM bundle; empty: the system's
};

// Detection of the transport concept, for a readable static_assert.
template <class T, class = void>
struct is_transport : std::false_type {};
template <class T>
struct is_transport<T, std::void_t<decltype(std::declval<T&>().send(std::declval<const http_request&>())),
                                   decltype(std::declval<T&>().send(std::declval<const http_request&>(),
                                                                    std::declval<const stream_sink&>()))>>
    : std::bool_constant<std::is_same_v<decltype(std::declval<T&>().send(std::declval<const http_request&>())),
                                        http_response> &&
                         std::is_same_v<decltype(std::declval<T&>().send(std::declval<const http_request&>(),
                                                                         std::declval<const stream_sink&>())),
                                        http_response>> {};
template <class T>
inline constexpr bool is_transport_v = is_transport<T>::value;

// ---------------------------------------------------------------------------------------------
// Base URL
// ---------------------------------------------------------------------------------------------

// An OpenAI base URL split into the server root (for vLLM's /health, /metrics, /tokenize, ...)
// and the API prefix. "http://h:8000" and "http://h:8000/v1" both give root "" and api "/v1";
// "https://gw/proxy/v1" gives root "/proxy" and api "/proxy/v1".
struct base_url {
    std::string scheme;  // "http" or "https"
    std::string host;    // without brackets for IPv6
    int port = 0;
    std::string root_path;  // "" or "/prefix"
    std::string api_path;   // root_path + "/v1" unless the URL named another API prefix

    std::string to_string() const;  // scheme://host:port + api_path
};

// Throws client.config for anything but http(s)://host[:port][/path] (no query, no user info).
base_url parse_base_url(std::string_view url);

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

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
                  "http_response send(const http_request&, const stream_sink&) (see openai.hpp)");

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
// The default transport: cpp-httplib (Debian's build has OpenSSL, so https:// works, with
// certificate verification on by default). A new connection per request, so one instance can
// be used from several threads.
class httplib_transport {
public:
    explicit httplib_transport(transport_config config);
    http_response send(const http_request& req);
    http_response send(const http_request& req, const stream_sink& sink);
    const transport_config& config() const noexcept { return config_; }

private:
    transport_config config_;
};

using client = basic_client<httplib_transport>;
#endif

}  // namespace openai
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/openai_inl.hpp>
#endif
