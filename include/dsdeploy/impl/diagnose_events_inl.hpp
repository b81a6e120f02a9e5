// SPDX-License-Identifier: Apache-2.0
// Implementation of diagnose_events.hpp: failure lines found in any log.
#pragma once

#include <dsdeploy/detail/diagnose_text.hpp>
#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/diagnose_events.hpp>

#include <cctype>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
namespace diag {
// The ip= of a Ray log prefix: "(RayWorkerWrapper pid=1061, ip=10.0.0.2) ...".
inline std::string ray_prefix_ip(std::string_view line) {
    auto open = line.find('(');
    if (open == std::string_view::npos || open > 16) return {};
    auto close = line.find(')', open);
    auto prefix = line.substr(open, close == std::string_view::npos ? std::string_view::npos : close - open);
    auto ip = take_while(after(prefix, "ip="), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':'; });
    return is_ip_address(ip) ? std::string(ip) : std::string();
}
inline bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '/'; }
}  // namespace diag
}  // namespace detail

DSDEPLOY_INLINE void log_events_parser::line(std::size_t number, std::string_view text) {
    const bool was = r_.recognised;
    r_.recognised = false;
    process(number, text);
    if (r_.recognised) ++recognised_lines_;
    r_.recognised = r_.recognised || was;
    prev_.assign(text.data(), std::min<std::size_t>(text.size(), 4096));  // (the previous line is searched for short words)
    has_prev_ = true;
}

DSDEPLOY_INLINE void log_events_parser::process(std::size_t number, std::string_view text) {
    namespace d = detail::diag;
    log_events& r = r_;
    const std::string_view prev = prev_;
    const bool has_prev = has_prev_;
    const std::string_view line = detail::trim(text);
    if (line.empty()) return;
    auto mark = [&](std::optional<log_line>& slot, std::string_view text_of_line) {
        if (!slot) slot = d::make_line(number, text_of_line);
        r.recognised = true;
    };
    // --- Gloo
    if (d::has(line, "connectFullMesh failed")) {
        const bool first = !r.gloo_connect_full_mesh;
        mark(r.gloo_connect_full_mesh, line);
        if (first || r.gloo_node_ip.empty()) r.gloo_node_ip = d::ray_prefix_ip(line);
    }
    if (d::has(line, "Using the loopback") || d::has(line, "remote=[127.0.0.1]") || d::has(line, "local=[127.0.0.1]")) {
        if (!r.gloo_loopback) r.gloo_loopback = d::make_line(number, line);
    }
    if (auto v = d::after(line, "Unable to find address for: "); !v.empty()) {
        // gloo/transport/tcp/device.cc: on this line or the one before
        const bool gloo = d::has(line, "gloo") || (has_prev && d::has(prev, "gloo"));
        if (gloo) {
            if (!r.gloo_no_interface) r.gloo_interface = std::string(d::take_while(detail::trim(v), [](char c) { return !std::isspace(static_cast<unsigned char>(c)); }));
            mark(r.gloo_no_interface, has_prev && d::has(prev, "device.cc") ? std::string(detail::trim(prev)) + " " + std::string(line) : std::string(line));
        }
    }
    // --- Ray: the version check, and connections to the head
    if (d::has(line, "Version mismatch") && (d::has(line, "cluster was started with") || d::has(line, "Ray"))) {
        mark(r.ray_version_mismatch, line);
        if (r.ray_version_block.empty()) r.ray_version_block.push_back(*r.ray_version_mismatch);
        in_block_ = d::has(line, "cluster was started with") ? block_kind::cluster : block_kind::none;
        return;
    }
    if (r.ray_version_mismatch && d::has(line, "This process on node")) {
        auto rest = d::after(line, "This process on node ");
        std::string ip;
        for (char c : rest) {
            if (std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':') ip.push_back(c);
            else if (!ip.empty()) break;
            else if (c != '[') break;  // "[10.0.0.1](http://...)" (a markdown link)
        }
        if (!ip.empty() && ip.back() == ':') ip.pop_back();
        r.ray_process_node = ip;
        if (r.ray_version_block.size() < 12) r.ray_version_block.push_back(d::make_line(number, line));
        in_block_ = block_kind::process;
        return;
    }
    if (in_block_ != block_kind::none) {
        auto colon = line.find(':');
        auto key = colon == std::string_view::npos ? std::string_view() : detail::trim(line.substr(0, colon));
        if (!key.empty() && key.size() <= 16 && key.find(' ') == std::string_view::npos && colon + 1 < line.size()) {
            auto value = detail::trim(line.substr(colon + 1));
            auto& into = in_block_ == block_kind::cluster ? r.ray_cluster_versions : r.ray_process_versions;
            if (!value.empty() && into.size() < 16) into[std::string(key)] = d::clean_text(value, 64);
            if (r.ray_version_block.size() < 12) r.ray_version_block.push_back(d::make_line(number, text));
            return;
        }
        in_block_ = block_kind::none;
    }
    if (d::has(line, "Failed to connect to GCS at address")) mark(r.ray_gcs_unreachable, line);
    if (auto v = d::after(line, "Could not establish connection to redis "); !v.empty()) {
        const bool first = !r.ray_redis_unreachable;
        mark(r.ray_redis_unreachable, line);
        if (first) {
            auto hostport = d::take_while(v, [](char c) { return !std::isspace(static_cast<unsigned char>(c)); });
            auto colon = hostport.rfind(':');
            if (colon != std::string_view::npos) r.ray_redis_port = detail::parse_int(hostport.substr(colon + 1));
        }
    }
    // --- NVIDIA driver and GPU
    if (d::has(line, "NVIDIA driver on your system is too old")) {
        const bool first = !r.driver_too_old;
        mark(r.driver_too_old, line);
        if (first) r.driver_found_cuda = d::small_int(d::count_after(line, "(found version "));
    }
    if (d::has_nocase(line, "driver/library version mismatch")) mark(r.driver_library_mismatch, line);
    if (d::has(line, "GPU has fallen off the bus")) {
        const bool first = !r.xid_fallen_off_bus;
        mark(r.xid_fallen_off_bus, line);
        if (first) r.xid_pci = std::string(d::take_while(d::after(line, "(PCI:"), [](char c) { return c != ')'; }));
    }
    // --- Hugging Face downloads
    if (d::has(line, "Cannot access gated repo") || d::has(line, "access a gated repo") || d::has(line, "GatedRepoError") ||
        (d::has(line, "Access to model ") && d::has(line, "is restricted"))) {
        mark(r.gated_repo, line);
        if (r.gated_model.empty()) {
            if (auto m = d::after(line, "Access to model "); !m.empty())
                r.gated_model = std::string(d::take_while(m, [](char c) { return !std::isspace(static_cast<unsigned char>(c)); }));
            else if (auto u = d::after(line, "huggingface.co/"); !u.empty()) {
                auto parts = detail::split(d::take_while(u, d::is_word_char), '/');
                if (parts.size() >= 2) r.gated_model = std::string(parts[0]) + "/" + std::string(parts[1]);
            }
        }
    }
    if (auto p = d::after(line, "[Errno 13] Permission denied: '"); !p.empty()) {
        auto path = d::take_while(p, [](char c) { return c != '\''; });
        if (d::has(path, "huggingface") || d::has(path, "/hub") || d::has(path, "HF_HOME")) {
            if (!r.cache_not_writable) r.cache_path = d::clean_text(path, 200);
            mark(r.cache_not_writable, line);
        }
    }
}

DSDEPLOY_INLINE log_events log_events_parser::finish() {
    log_events out = std::move(r_);
    *this = log_events_parser{};
    return out;
}

DSDEPLOY_INLINE log_events parse_log_events(std::string_view text) {
    log_events_parser p;
    detail::diag::for_each_clean_line(text, [&p](std::size_t n, std::string_view l) { p.line(n, l); });
    return p.finish();
}

DSDEPLOY_NAMESPACE_END
