// SPDX-License-Identifier: Apache-2.0
// The OpenAI client's transport seam, the base URL and the default transport (cpp-httplib).
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
#pragma once

#include <dsdeploy/config.hpp>

#include <chrono>
#include <functional>
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
#endif

}  // namespace openai
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/openai_transport_inl.hpp>
#endif
