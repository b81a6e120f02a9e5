// SPDX-License-Identifier: Apache-2.0
// The definitions of openai_errors.hpp: included by it in header-only mode, compiled once by
// src/openai_errors.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/openai_errors.hpp>

#include <dsdeploy/detail/text.hpp>

DSDEPLOY_NAMESPACE_BEGIN
namespace openai {

DSDEPLOY_INLINE server_error_info parse_error_body(std::string_view body) {
    server_error_info info;
    const auto j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
    auto shorten = [](std::string_view s) {
        s = dsdeploy::detail::trim(s);
        std::string out(s.substr(0, 500));
        if (s.size() > 500) out += "...";
        return out;
    };
    auto from_object = [&](const nlohmann::json& e) {
        if (auto it = e.find("message"); it != e.end()) info.message = it->is_string() ? it->get<std::string>() : it->dump();
        if (auto it = e.find("type"); it != e.end() && it->is_string()) info.type = it->get<std::string>();
        if (auto it = e.find("param"); it != e.end()) info.param = *it;
        if (auto it = e.find("code"); it != e.end()) info.code = *it;
    };
    if (j.is_discarded() || !j.is_object()) {
        info.message = shorten(body);
        return info;
    }
    if (auto it = j.find("error"); it != j.end()) {
        if (it->is_object()) from_object(*it);            // vLLM >= 0.10.1, OpenAI
        else if (it->is_string()) info.message = it->get<std::string>();  // vLLM's --api-key middleware
        else info.message = shorten(it->dump());
    } else if (j.contains("message")) {
        from_object(j);  // vLLM <= 0.10.0: {"object": "error", "message": ..., "type": ..., "code": 400}
    } else if (auto d = j.find("detail"); d != j.end()) {
        info.message = d->is_string() ? d->get<std::string>() : shorten(d->dump());  // FastAPI
    } else {
        info.message = shorten(body);
    }
    return info;
}

namespace detail {
template <class E>
[[noreturn]] void throw_as(std::string& route, int status, server_error_info& info, std::string& body,
                           std::string& request_id, std::string& detail) {
    throw E(std::move(route), status, std::move(info), std::move(body), std::move(request_id), std::move(detail));
}
}  // namespace detail

DSDEPLOY_INLINE void throw_status_error(std::string route, int status, std::string body, std::string request_id) {
    server_error_info info = parse_error_body(body);
    std::string detail = "HTTP " + std::to_string(status);
    if (!info.type.empty()) detail += " (" + info.type + ")";
    detail += info.message.empty() ? std::string(": the server gave no reason") : ": " + info.message;
    if (!request_id.empty()) detail += " [request id " + request_id + "]";
    using detail::throw_as;
    switch (status) {
        case 400: throw_as<bad_request_error>(route, status, info, body, request_id, detail);
        case 401: throw_as<authentication_error>(route, status, info, body, request_id, detail);
        case 403: throw_as<permission_denied_error>(route, status, info, body, request_id, detail);
        case 404: throw_as<not_found_error>(route, status, info, body, request_id, detail);
        case 409: throw_as<conflict_error>(route, status, info, body, request_id, detail);
        case 422: throw_as<unprocessable_entity_error>(route, status, info, body, request_id, detail);
        case 429: throw_as<rate_limit_error>(route, status, info, body, request_id, detail);
        default:
            if (status >= 500) throw_as<internal_server_error>(route, status, info, body, request_id, detail);
            throw_as<api_status_error>(route, status, info, body, request_id, detail);
    }
}

DSDEPLOY_INLINE std::string_view to_string(api_stream_error::reason r) {
    switch (r) {
        case api_stream_error::reason::truncated: return "truncated";
        case api_stream_error::reason::disconnected: return "disconnected";
        case api_stream_error::reason::timeout: return "timeout";
        case api_stream_error::reason::server_error: return "server_error";
    }
    return "unknown";
}

}  // namespace openai
DSDEPLOY_NAMESPACE_END
