// SPDX-License-Identifier: Apache-2.0
// The definitions of openai_transport.hpp: included by it in header-only mode, compiled once by
// src/openai_transport.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/openai_transport.hpp>
#include <dsdeploy/error.hpp>

#include <dsdeploy/detail/text.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>

#if DSDEPLOY_ENABLE_HTTPLIB
#include <httplib.h>
#endif

DSDEPLOY_NAMESPACE_BEGIN
namespace openai {

DSDEPLOY_INLINE std::string_view to_string(transport_error e) {
    switch (e) {
        case transport_error::none: return "none";
        case transport_error::connection: return "connection";
        case transport_error::timeout: return "timeout";
        case transport_error::read: return "read";
        case transport_error::write: return "write";
        case transport_error::tls: return "tls";
        case transport_error::canceled: return "canceled";
        case transport_error::other: return "other";
    }
    return "unknown";
}

DSDEPLOY_INLINE const std::string* find_header(const header_list& headers, std::string_view name) {
    for (const auto& h : headers)
        if (dsdeploy::detail::iequals(h.first, name)) return &h.second;
    return nullptr;
}

DSDEPLOY_INLINE std::string base_url::to_string() const {
    const bool v6 = host.find(':') != std::string::npos;
    return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + api_path;
}

DSDEPLOY_INLINE base_url parse_base_url(std::string_view url) {
    auto bad = [&](const std::string& why) -> base_url {
        raise(errc::client_config, "base_url",
              "\"" + std::string(url) + "\" " + why + "; expected http(s)://host[:port][/path], e.g. http://127.0.0.1:8000/v1");
    };
    base_url out;
    std::string_view rest = dsdeploy::detail::trim(url);
    const auto scheme_end = rest.find("://");
    if (scheme_end == std::string_view::npos) return bad("has no scheme");
    out.scheme = dsdeploy::detail::to_lower(rest.substr(0, scheme_end));
    if (out.scheme != "http" && out.scheme != "https") return bad("has scheme \"" + out.scheme + "\"");
    rest.remove_prefix(scheme_end + 3);
    const auto path_start = rest.find('/');
    std::string_view authority = rest.substr(0, path_start);
    std::string_view path = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
    if (authority.find('@') != std::string_view::npos) return bad("has user information (pass the key as api_key)");
    if (path.find_first_of("?#") != std::string_view::npos) return bad("has a query or fragment");
    if (authority.find_first_of("?#") != std::string_view::npos) return bad("has a query or fragment");
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return bad("has an unclosed IPv6 bracket");
        out.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return bad("has text after the IPv6 address");
            port_text = after.substr(1);
            if (port_text.empty()) return bad("has an empty port");
        }
        if (out.host.empty() || out.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos)
            return bad("has an invalid IPv6 address");
    } else {
        const auto colon = authority.find(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty()) return bad("has an empty port");
        }
        if (out.host.empty()) return bad("has no host");
        for (char c : out.host)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
                return bad("has an invalid host name");
    }
    if (port_text.empty()) {
        out.port = out.scheme == "https" ? 443 : 80;
    } else {
        int p = 0;
        auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
        if (ec != std::errc() || ptr != port_text.data() + port_text.size() || p < 1 || p > 65535)
            return bad("has an invalid port");
        out.port = p;
    }
    std::string p(path);
    while (!p.empty() && p.back() == '/') p.pop_back();
    for (char c : p)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("has spaces or control characters in its path");
    if (dsdeploy::detail::ends_with(p, "/v1")) {
        out.api_path = p;
        out.root_path = p.substr(0, p.size() - 3);
    } else {
        out.root_path = p;
        out.api_path = p + "/v1";
    }
    return out;
}

#if DSDEPLOY_ENABLE_HTTPLIB

DSDEPLOY_INLINE httplib_transport::httplib_transport(transport_config config) : config_(std::move(config)) {}

namespace detail {

inline transport_error map_httplib_error(httplib::Error e, bool idle_too_long) {
    switch (e) {
        case httplib::Error::Success: return transport_error::none;
        case httplib::Error::Connection: return transport_error::connection;
        case httplib::Error::ConnectionTimeout: return transport_error::timeout;
        case httplib::Error::Read: return idle_too_long ? transport_error::timeout : transport_error::read;
        case httplib::Error::Write: return transport_error::write;
        case httplib::Error::Canceled: return transport_error::canceled;
        case httplib::Error::SSLConnection:
        case httplib::Error::SSLLoadingCerts:
        case httplib::Error::SSLServerVerification: return transport_error::tls;
        default: return transport_error::other;
    }
}

inline http_response httplib_send(const transport_config& cfg, const http_request& req, const stream_sink* sink) {
    using steady = std::chrono::steady_clock;
    http_response out;
    const bool v6 = cfg.host.find(':') != std::string::npos;
    const std::string origin = cfg.scheme + "://" + (v6 ? "[" + cfg.host + "]" : cfg.host) + ":" + std::to_string(cfg.port);
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
    if (cfg.scheme == "https") {
        out.error = transport_error::tls;
        out.error_message = "this cpp-httplib was built without OpenSSL, so https:// is not available";
        return out;
    }
#endif
    // The client is made from host and port, never from the origin string: the universal
    // Client(scheme_host_port) of cpp-httplib 0.11.4 (Debian 12's libcpp-httplib-dev) matches a
    // bracketed host with \[([\d:]+)\] -- digits and colons only -- so "http://[fd00::1]:8000"
    // fell through to the host "[fd00" and every IPv6 address with a hex letter failed to connect.
    auto send_with = [&](auto& cli) {
        cli.set_connection_timeout(req.connect_timeout);
        cli.set_read_timeout(req.read_timeout);
        cli.set_write_timeout(req.write_timeout);
        cli.set_keep_alive(false);
        cli.set_follow_location(false);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
        cli.enable_server_certificate_verification(cfg.verify_tls);
        if (!cfg.ca_cert_path.empty()) cli.set_ca_cert_path(cfg.ca_cert_path);
#endif
        if (!cli.is_valid()) {
            out.error = transport_error::other;
            out.error_message = "cpp-httplib could not set up a client for " + origin;
            return out;
        }
        httplib::Request r;
        r.method = req.method;
        r.path = req.path;
        r.body = req.body;
        for (const auto& h : req.headers) r.headers.emplace(h.first, h.second);
        auto last_activity = steady::now();
        auto copy_headers = [&](const httplib::Response& resp) {
            out.status = resp.status;
            out.headers.clear();
            for (const auto& h : resp.headers) out.headers.emplace_back(h.first, h.second);
        };
        if (sink) {
            r.response_handler = [&](const httplib::Response& resp) {
                last_activity = steady::now();
                copy_headers(resp);
                return sink->on_headers ? sink->on_headers(out.status, out.headers) : true;
            };
            r.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
                last_activity = steady::now();
                return sink->on_data ? sink->on_data(std::string_view(data, n)) : true;
            };
        }
        httplib::Response res;
        httplib::Error err = httplib::Error::Success;
        const bool ok = cli.send(r, res, err);
        if (!sink) {
            copy_headers(res);
            out.body = std::move(res.body);
        }
        if (!ok || err != httplib::Error::Success) {
            const bool idle = steady::now() - last_activity >= req.read_timeout - std::chrono::milliseconds(20);
            out.error = map_httplib_error(err == httplib::Error::Success ? httplib::Error::Unknown : err, idle);
            out.error_message = httplib::to_string(err);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
            if (err == httplib::Error::SSLServerVerification)
                out.error_message += " (certificate verification failed: set ca_cert_path, or verify_tls = false for a test server)";
#endif
            if (!sink) out.status = 0;
        }
        return out;
    };
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    if (cfg.scheme == "https") {
        httplib::SSLClient cli(cfg.host, cfg.port);
        return send_with(cli);
    }
#endif
    httplib::ClientImpl cli(cfg.host, cfg.port);
    return send_with(cli);
}

}  // namespace detail

DSDEPLOY_INLINE http_response httplib_transport::send(const http_request& req) {
    return detail::httplib_send(config_, req, nullptr);
}

DSDEPLOY_INLINE http_response httplib_transport::send(const http_request& req, const stream_sink& sink) {
    return detail::httplib_send(config_, req, &sink);
}

#endif  // DSDEPLOY_ENABLE_HTTPLIB

}  // namespace openai
DSDEPLOY_NAMESPACE_END
