// SPDX-License-Identifier: Apache-2.0
// Implementation of diagnose_ray.hpp: the `ray status` and `ray list nodes` parsers.
#pragma once

#include <dsdeploy/detail/diagnose_text.hpp>
#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/diagnose_ray.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
namespace diag {

// "0.0/2.0 GPU", "0B/14.85GiB memory", "0.00/341.044 GiB memory", "8.0/144.0 CPU (8.0 used of ...)".
inline std::optional<ray_resource> parse_ray_resource(std::string_view line) {
    auto t = tokens(line);
    if (t.size() < 2) return std::nullopt;
    auto slash = t[0].find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    std::string_view unit;
    std::size_t name_at = 1;
    if (is_unit(t[1])) {
        if (t.size() < 3) return std::nullopt;
        unit = t[1];
        name_at = 2;
    }
    auto used = parse_quantity(t[0].substr(0, slash), unit);
    auto total = parse_quantity(t[0].substr(slash + 1), unit);
    if (!used || !total) return std::nullopt;
    return ray_resource{std::string(t[name_at]), *used, *total};
}

}  // namespace diag
}  // namespace detail

DSDEPLOY_INLINE int ray_status::node_count() const {
    long long n = 0;
    for (const auto& g : active) n += g.count;
    for (const auto& g : idle) n += g.count;
    return static_cast<int>(std::min<long long>(n, 1000000));
}

DSDEPLOY_INLINE const ray_resource* ray_status::resource(std::string_view name) const {
    for (const auto& r : resources)
        if (r.name == name) return &r;
    return nullptr;
}

DSDEPLOY_INLINE ray_status parse_ray_status(std::string_view text) {
    namespace d = detail::diag;
    ray_status s;
    enum class sec { none, active, idle, pending, failures, usage, request_resources, demands, node, node_usage, node_other };
    sec where = sec::none;
    const auto lines = d::clean_lines(text);
    for (std::size_t n = 0; n < lines.size(); ++n) {
        const std::string_view line = detail::trim(lines[n]);
        if (line.empty()) continue;
        if (d::has(line, "Could not find any running Ray instance") || d::has(line, "Timed out while waiting for GCS") ||
            d::has(line, "Failed to connect to GCS") || detail::starts_with(line, "ConnectionError:") || d::has(line, "No cluster status"))
            s.connection_error = d::make_line(n + 1, line);
        if (d::has(line, "Autoscaler status") || line == "Node status") {
            s.recognised = true;
            where = sec::none;
            continue;
        }
        if (line == "Active:" || line == "Healthy:") {
            s.recognised = true;
            where = sec::active;
            continue;
        }
        if (line == "Idle:") {
            where = sec::idle;
            continue;
        }
        if (line == "Pending:") {
            where = sec::pending;
            continue;
        }
        if (line == "Recent failures:") {
            where = sec::failures;
            continue;
        }
        if (line == "Resources") {
            where = sec::none;
            continue;
        }
        if (line == "Usage:" || line == "Total Usage:") {
            if (where == sec::node || where == sec::node_usage || where == sec::node_other) {
                where = sec::node_usage;
                continue;
            }
            s.recognised = true;
            s.layout = line == "Usage:" ? "usage" : "total_usage";
            s.usage_header = d::make_line(n + 1, line);
            where = sec::usage;
            continue;
        }
        if (line == "From request_resources:") {
            where = sec::request_resources;
            continue;
        }
        if (line == "Demands:" || line == "Total Demands:" || line == "Pending Demands:") {
            where = sec::demands;
            continue;
        }
        if (detail::starts_with(line, "Node: ")) {
            ray_node_usage u;
            auto rest = detail::trim(line.substr(6));
            auto t = d::tokens(rest);
            if (!t.empty()) u.name = std::string(t[0]);
            std::string label;
            if (auto open = rest.find('('); open != std::string_view::npos) {
                auto close = rest.find(')', open);
                label = std::string(rest.substr(open + 1, close == std::string_view::npos ? std::string_view::npos : close - open - 1));
            }
            if (is_ip_address(u.name)) u.ip = u.name;
            else if (is_ip_address(label)) u.ip = label;
            s.nodes.push_back(std::move(u));
            where = sec::node;
            continue;
        }
        if (line == "Activity:" || line == "Is Idle:") {
            if (where == sec::node || where == sec::node_usage || where == sec::node_other) where = sec::node_other;
            continue;
        }
        if (detail::starts_with(line, "----") || detail::starts_with(line, "=====")) continue;
        switch (where) {
            case sec::active:
            case sec::idle: {
                if (line.front() == '(') break;  // "(no idle nodes)"
                auto t = d::tokens(line);
                ray_node_group g;
                g.line = d::clean_text(line);
                if (t.size() >= 2) {
                    if (auto c = detail::parse_int(t[0])) {
                        g.count = *c;
                        g.name = std::string(t[1]);
                    } else {
                        g.name = std::string(line);
                    }
                } else {
                    g.name = std::string(line);
                }
                (where == sec::active ? s.active : s.idle).push_back(std::move(g));
                break;
            }
            case sec::pending:
                if (line.front() != '(') s.pending_nodes.push_back(d::make_line(n + 1, line));
                break;
            case sec::failures:
                if (line.front() != '(') s.recent_failures.push_back(d::make_line(n + 1, line));
                break;
            case sec::usage:
                if (auto r = d::parse_ray_resource(line)) {
                    s.resources.push_back(*r);
                    s.resource_lines.push_back(d::make_line(n + 1, line));
                }
                break;
            case sec::demands:
                if (line.front() != '(') s.pending_demands.push_back(d::make_line(n + 1, line));
                break;
            case sec::node_usage:
                if (auto r = d::parse_ray_resource(line); r && !s.nodes.empty()) s.nodes.back().resources.push_back(*r);
                break;
            default: break;
        }
    }
    return s;
}

DSDEPLOY_INLINE std::vector<ray_node_row> parse_ray_list_nodes(std::string_view text) {
    namespace d = detail::diag;
    std::vector<ray_node_row> rows;
    struct column {
        std::string name;
        std::size_t start;
    };
    std::vector<column> cols;
    auto col_value = [&](std::string_view line, std::string_view name) -> std::string_view {
        for (std::size_t i = 0; i < cols.size(); ++i) {
            if (cols[i].name != name) continue;
            const std::size_t b = cols[i].start;
            const std::size_t e = i + 1 < cols.size() ? cols[i + 1].start : line.size();
            if (b >= line.size()) return {};
            return detail::trim(line.substr(b, e > b ? e - b : 0));
        }
        return {};
    };
    const auto lines = d::clean_lines(text);
    for (std::size_t n = 0; n < lines.size(); ++n) {
        const std::string_view line = lines[n];
        const std::string_view tl = detail::trim(line);
        if (d::has(line, "NODE_ID") && d::has(line, "NODE_IP")) {
            cols.clear();
            std::size_t i = 0;
            while (i < line.size()) {
                while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
                std::size_t j = i;
                while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
                if (j > i) cols.push_back({std::string(line.substr(i, j - i)), i});
                i = j;
            }
            continue;
        }
        // yaml/json-ish: "node_ip: 10.0.0.1", "- node_id: ..."
        auto yaml_value = [&](std::string_view key) -> std::optional<std::string> {
            std::string_view s = tl;
            if (detail::starts_with(s, "- ")) s = detail::trim(s.substr(2));
            s = detail::trim(s);
            if (detail::starts_with(s, "\"")) s.remove_prefix(1);
            if (!detail::starts_with(s, key)) return std::nullopt;
            s.remove_prefix(key.size());
            if (detail::starts_with(s, "\"")) s.remove_prefix(1);
            if (!detail::starts_with(s, ":")) return std::nullopt;
            s = detail::trim(s.substr(1));
            std::string v(s);
            v.erase(std::remove_if(v.begin(), v.end(), [](char c) { return c == '"' || c == ',' || c == '\''; }), v.end());
            return v;
        };
        if (cols.empty()) {
            if (auto v = yaml_value("node_id")) {
                rows.push_back(ray_node_row{*v, "", "", false, std::nullopt, d::clean_text(tl)});
            } else if (auto ip = yaml_value("node_ip")) {
                if (rows.empty() || !rows.back().node_ip.empty()) rows.push_back(ray_node_row{});
                rows.back().node_ip = *ip;
                if (rows.back().line.empty()) rows.back().line = d::clean_text(tl);
            } else if (auto st = yaml_value("state"); st && !rows.empty()) {
                rows.back().state = *st;
            } else if (auto h = yaml_value("is_head_node"); h && !rows.empty()) {
                rows.back().is_head = detail::iequals(*h, "true");
            }
            continue;
        }
        if (tl.empty()) continue;
        const auto id = col_value(line, "NODE_ID");
        const auto res = col_value(line, "RESOURCES_TOTAL");
        if (!id.empty()) {
            ray_node_row r;
            r.node_id = std::string(id);
            r.node_ip = std::string(col_value(line, "NODE_IP"));
            r.state = std::string(col_value(line, "STATE"));
            r.is_head = detail::iequals(col_value(line, "IS_HEAD_NODE"), "True");
            r.line = d::clean_text(tl);
            rows.push_back(std::move(r));
        }
        if (!rows.empty() && detail::starts_with(res, "GPU:")) rows.back().gpus = d::parse_number(res.substr(4));
    }
    // keep rows that name a node
    rows.erase(std::remove_if(rows.begin(), rows.end(), [](const ray_node_row& r) { return r.node_id.empty() && r.node_ip.empty(); }),
               rows.end());
    return rows;
}

DSDEPLOY_NAMESPACE_END
