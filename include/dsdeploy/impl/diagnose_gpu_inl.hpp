// SPDX-License-Identifier: Apache-2.0
// Implementation of diagnose_gpu.hpp: the nvidia-smi and nvidia-smi topo -m parsers.
#pragma once

#include <dsdeploy/detail/diagnose_text.hpp>
#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/diagnose_gpu.hpp>

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

inline std::optional<std::int64_t> mib_value(std::string_view s) {
    s = trim(s);
    if (starts_with(s, "[")) return std::nullopt;  // "[N/A]", "[Not Supported]"
    auto num = take_while(s, [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
    if (num.empty()) return std::nullopt;
    auto rest = trim(s.substr(num.size()));
    if (!rest.empty() && rest != "MiB") return std::nullopt;
    return parse_count(num);
}

inline std::optional<int> percent_value(std::string_view s) {
    s = trim(s);
    auto num = take_while(s, [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
    auto rest = trim(s.substr(num.size()));
    if (num.empty() || (!rest.empty() && rest != "%")) return std::nullopt;
    return small_int(parse_count(num));
}

inline std::vector<std::string_view> split_trim(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    for (auto f : split(s, sep)) out.push_back(trim(f));
    return out;
}

}  // namespace diag
}  // namespace detail

DSDEPLOY_INLINE nvidia_smi_report parse_nvidia_smi(std::string_view text) {
    namespace d = detail::diag;
    nvidia_smi_report r;
    const auto lines = d::clean_lines(text);
    std::vector<std::string> header;  // CSV columns, lower case, units removed
    bool in_processes = false;
    for (std::size_t n = 0; n < lines.size(); ++n) {
        const std::string_view raw = lines[n];
        const std::string_view line = detail::trim(raw);
        if (line.empty()) continue;
        if (d::has(line, "nvidia-smi") && (d::has(line, "command not found") || d::has(line, "No such file or directory") ||
                                           d::has(line, "not found")))
            r.tool_missing = true;
        if (!r.failure && (d::has(line, "NVIDIA-SMI has failed") || d::has(line, "No devices were found") ||
                           d::has(line, "Failed to initialize NVML") || d::has(line, "couldn't communicate with the NVIDIA driver")))
            r.failure = d::make_line(n + 1, line);
        if (auto v = d::after(line, "Driver Version:"); !v.empty()) {
            auto t = d::tokens(v);
            if (!t.empty()) r.driver_version = std::string(t[0]);
        }
        if (auto v = d::after(line, "CUDA Version:"); !v.empty()) {
            auto t = d::tokens(v);
            if (!t.empty()) r.cuda_version = std::string(t[0]);
        }
        // nvidia-smi -L: "GPU 0: NVIDIA H200 (UUID: GPU-...)"
        if (detail::starts_with(line, "GPU ") && d::has(line, "(UUID:")) {
            auto colon = line.find(':');
            auto idx = detail::parse_int(line.substr(4, colon == std::string_view::npos ? 0 : colon - 4));
            auto uuid_at = line.find("(UUID:");
            if (idx && colon < uuid_at) {
                gpu_device g;
                g.index = *idx;
                g.name = std::string(detail::trim(line.substr(colon + 1, uuid_at - colon - 1)));
                auto u = detail::trim(line.substr(uuid_at + 6));
                g.uuid = std::string(detail::trim(u.substr(0, u.find(')'))));
                g.line = d::clean_text(line);
                r.gpus.push_back(std::move(g));
                if (r.format == nvidia_smi_format::unknown) r.format = nvidia_smi_format::list;
            }
            continue;
        }
        // the default table
        if (line.front() == '|' || line.front() == '+') {
            if (d::has(line, "Processes:")) in_processes = true;
            if (in_processes || line.front() == '+') continue;
            auto cells = d::split_trim(line, '|');
            // cells[0] is empty (before the first '|')
            if (cells.size() < 4) continue;
            auto first = d::tokens(cells[1]);
            auto bus = d::tokens(cells[2]);
            if (!first.empty() && !bus.empty() && bus[0].size() >= 7 && d::has(bus[0], ":") && d::has(bus[0], ".")) {
                if (auto idx = detail::parse_int(first[0])) {
                    gpu_device g;
                    g.index = *idx;
                    std::size_t end = first.size();
                    if (end > 1 && (first[end - 1] == "On" || first[end - 1] == "Off")) --end;
                    std::vector<std::string> name;
                    for (std::size_t i = 1; i < end; ++i) name.emplace_back(first[i]);
                    g.name = detail::join(name, " ");
                    g.bus_id = std::string(bus[0]);
                    g.line = d::clean_text(line);
                    r.gpus.push_back(std::move(g));
                    r.format = nvidia_smi_format::table;
                }
                continue;
            }
            // the second row of a GPU: "| N/A 33C P0 79W / 700W | 0MiB / 143771MiB | 0% Default |"
            auto slash = cells[2].find('/');
            if (!r.gpus.empty() && r.format == nvidia_smi_format::table && slash != std::string_view::npos &&
                d::has(cells[2], "MiB") && !r.gpus.back().memory_total_mib) {
                auto& g = r.gpus.back();
                g.memory_used_mib = d::mib_value(cells[2].substr(0, slash));
                g.memory_total_mib = d::mib_value(cells[2].substr(slash + 1));
                if (g.memory_used_mib && g.memory_total_mib && *g.memory_used_mib <= *g.memory_total_mib)
                    g.memory_free_mib = *g.memory_total_mib - *g.memory_used_mib;
                auto util = d::tokens(cells[3]);
                if (!util.empty()) g.utilization_percent = d::percent_value(util[0]);
                g.line = d::clean_text(line);
            }
            continue;
        }
        // CSV (--query-gpu ... --format=csv[,noheader][,nounits])
        if (!d::has(line, ",")) continue;
        auto fields = d::split_trim(line, ',');
        const bool is_header = std::any_of(fields.begin(), fields.end(), [](std::string_view f) {
            return detail::starts_with(f, "memory.") || f == "index" || f == "name" || f == "uuid" || detail::starts_with(f, "pci.") ||
                   f == "driver_version";
        });
        if (is_header) {
            header.clear();
            for (auto f : fields) header.push_back(std::string(detail::trim(f.substr(0, f.find('[')))));
            continue;
        }
        gpu_device g;
        bool any = false;
        if (!header.empty()) {
            for (std::size_t i = 0; i < fields.size() && i < header.size(); ++i) {
                const auto& h = header[i];
                const auto f = fields[i];
                if (h == "index") {
                    if (auto v = detail::parse_int(f)) g.index = *v, any = true;
                } else if (h == "name") g.name = std::string(f), any = true;
                else if (h == "uuid") g.uuid = std::string(f), any = true;
                else if (h == "pci.bus_id") g.bus_id = std::string(f);
                else if (h == "memory.total") g.memory_total_mib = d::mib_value(f);
                else if (h == "memory.used") g.memory_used_mib = d::mib_value(f);
                else if (h == "memory.free") g.memory_free_mib = d::mib_value(f);
                else if (h == "utilization.gpu") g.utilization_percent = d::percent_value(f);
                else if (h == "driver_version" && !f.empty()) r.driver_version = std::string(f);
            }
        } else if (fields.size() >= 2) {
            // no header: index, name, memory.total, memory.used, memory.free
            auto idx = detail::parse_int(fields[0]);
            if (!idx || fields[1].empty() || d::parse_number(fields[1])) continue;
            g.index = *idx;
            g.name = std::string(fields[1]);
            any = true;
            if (fields.size() > 2) g.memory_total_mib = d::mib_value(fields[2]);
            if (fields.size() > 3) g.memory_used_mib = d::mib_value(fields[3]);
            if (fields.size() > 4) g.memory_free_mib = d::mib_value(fields[4]);
        }
        if (!any) continue;
        g.line = d::clean_text(line);
        r.gpus.push_back(std::move(g));
        if (r.format == nvidia_smi_format::unknown) r.format = nvidia_smi_format::csv;
    }
    return r;
}

namespace detail {
namespace diag {
inline bool is_topo_device(std::string_view t) {
    auto digits_after = [&](std::string_view prefix) {
        if (!starts_with(t, prefix) || t.size() == prefix.size()) return false;
        return std::all_of(t.begin() + static_cast<std::ptrdiff_t>(prefix.size()), t.end(),
                           [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
    };
    if (digits_after("GPU") || digits_after("NIC")) return true;
    // older drivers name NICs by device: "mlx5_0"
    auto us = t.find('_');
    return starts_with(t, "mlx") && us != std::string_view::npos && us + 1 < t.size() &&
           std::all_of(t.begin() + static_cast<std::ptrdiff_t>(us + 1), t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}
}  // namespace diag
}  // namespace detail

DSDEPLOY_INLINE int gpu_topology::gpu_count() const {
    return static_cast<int>(std::count_if(devices.begin(), devices.end(), [](const std::string& d) { return detail::starts_with(d, "GPU"); }));
}

DSDEPLOY_INLINE std::string gpu_topology::link(std::string_view a, std::string_view b) const {
    auto ia = std::find(devices.begin(), devices.end(), a);
    auto ib = std::find(devices.begin(), devices.end(), b);
    if (ia == devices.end() || ib == devices.end()) return {};
    auto i = static_cast<std::size_t>(ia - devices.begin());
    auto j = static_cast<std::size_t>(ib - devices.begin());
    if (i >= links.size() || j >= links[i].size()) return {};
    return links[i][j];
}

DSDEPLOY_INLINE gpu_topology parse_nvidia_smi_topo(std::string_view text) {
    namespace d = detail::diag;
    gpu_topology topo;
    bool in_nic_legend = false;
    bool rows_started = false;
    for (const auto& l : d::clean_lines(text)) {
        const std::string_view line = detail::trim(l);
        if (line.empty()) continue;
        if (d::has(line, "NIC Legend")) {
            in_nic_legend = true;
            continue;
        }
        auto t = d::tokens(line);
        if (in_nic_legend) {
            // "NIC0: mlx5_0"
            if (t.size() >= 2 && detail::ends_with(t[0], ":") && d::is_topo_device(t[0].substr(0, t[0].size() - 1)))
                topo.nics[std::string(t[0].substr(0, t[0].size() - 1))] = std::string(t[1]);
            continue;
        }
        if (t.empty() || !d::is_topo_device(t[0])) continue;
        const bool header = t.size() == 1 || d::is_topo_device(t[1]) || t[1] == "CPU";
        if (header && !rows_started) {
            topo.devices.clear();
            for (auto tok : t) {
                if (!d::is_topo_device(tok)) break;
                topo.devices.emplace_back(tok);
            }
            topo.links.assign(topo.devices.size(), std::vector<std::string>(topo.devices.size()));
            continue;
        }
        if (header) continue;
        auto it = std::find(topo.devices.begin(), topo.devices.end(), t[0]);
        if (it == topo.devices.end()) continue;
        rows_started = true;
        auto row = static_cast<std::size_t>(it - topo.devices.begin());
        for (std::size_t c = 0; c < topo.devices.size() && c + 1 < t.size(); ++c) topo.links[row][c] = std::string(t[c + 1]);
    }
    return topo;
}

DSDEPLOY_NAMESPACE_END
