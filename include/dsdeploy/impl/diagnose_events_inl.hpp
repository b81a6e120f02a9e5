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

DSDEPLOY_INLINE log_events parse_log_events(std::string_view text) {
    namespace d = detail::diag;
    log_events r;
    const auto lines = d::clean_lines(text);
    enum class block { none, cluster, process };
    block in_block = block::none;
    for (std::size_t n = 0; n < lines.size(); ++n) {
        const std::string_view line = detail::trim(lines[n]);
        if (line.empty()) continue;
        auto mark = [&](std::optional<log_line>& slot, std::string_view text_of_line) {
            if (!slot) slot = d::make_line(n + 1, text_of_line);
            r.recognised = true;
        };
        // --- Gloo
        if (d::has(line, "connectFullMesh failed")) {
            const bool first = !r.gloo_connect_full_mesh;
            mark(r.gloo_connect_full_mesh, line);
            if (first || r.gloo_node_ip.empty()) r.gloo_node_ip = d::ray_prefix_ip(line);
        }
        if (d::has(line, "Using the loopback") || d::has(line, "remote=[127.0.0.1]") || d::has(line, "local=[127.0.0.1]")) {
            if (!r.gloo_loopback) r.gloo_loopback = d::make_line(n + 1, line);
        }
        if (auto v = d::after(line, "Unable to find address for: "); !v.empty()) {
            // gloo/transport/tcp/device.cc: on this line or the one before
            const bool gloo = d::has(line, "gloo") || (n > 0 && d::has(lines[n - 1], "gloo"));
            if (gloo) {
                if (!r.gloo_no_interface) r.gloo_interface = std::string(d::take_while(detail::trim(v), [](char c) { return !std::isspace(static_cast<unsigned char>(c)); }));
                mark(r.gloo_no_interface, n > 0 && d::has(lines[n - 1], "device.cc") ? std::string(detail::trim(lines[n - 1])) + " " + std::string(line) : std::string(line));
            }
        }
        // --- Ray: the version check, and connections to the head
        if (d::has(line, "Version mismatch") && (d::has(line, "cluster was started with") || d::has(line, "Ray"))) {
            mark(r.ray_version_mismatch, line);
            if (r.ray_version_block.empty()) r.ray_version_block.push_back(*r.ray_version_mismatch);
            in_block = d::has(line, "cluster was started with") ? block::cluster : block::none;
            continue;
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
            if (r.ray_version_block.size() < 12) r.ray_version_block.push_back(d::make_line(n + 1, line));
            in_block = block::process;
            continue;
        }
        if (in_block != block::none) {
            auto colon = line.find(':');
            auto key = colon == std::string_view::npos ? std::string_view() : detail::trim(line.substr(0, colon));
            if (!key.empty() && key.size() <= 16 && key.find(' ') == std::string_view::npos && colon + 1 < line.size()) {
                auto value = detail::trim(line.substr(colon + 1));
                auto& into = in_block == block::cluster ? r.ray_cluster_versions : r.ray_process_versions;
                if (!value.empty() && into.size() < 16) into[std::string(key)] = d::clean_text(value, 64);
                if (r.ray_version_block.size() < 12) r.ray_version_block.push_back(d::make_line(n + 1, lines[n]));
                continue;
            }
            in_block = block::none;
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
        if (d::has(detail::to_lower(line), "driver/library version mismatch")) mark(r.driver_library_mismatch, line);
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
    return r;
}

DSDEPLOY_NAMESPACE_END
