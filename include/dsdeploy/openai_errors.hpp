// SPDX-License-Identifier: Apache-2.0
// The OpenAI client's errors, in the style of openai-python, and parse_error_body, which reads
// the server's error document. All derive from dsdeploy::environment_error (through api_error)
// and carry the client.* ids; a wrong base URL or option is a config_error with id
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
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/error.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

DSDEPLOY_NAMESPACE_BEGIN
namespace openai {

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

}  // namespace openai
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/openai_errors_inl.hpp>
#endif
