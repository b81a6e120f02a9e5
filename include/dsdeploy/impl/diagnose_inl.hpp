// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/process.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/diagnose.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include <arpa/inet.h>
#include <sys/statvfs.h>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
namespace diag {

constexpr std::size_t max_line_chars = 400;

inline bool has(std::string_view s, std::string_view needle) { return s.find(needle) != std::string_view::npos; }

// Removes terminal escape sequences (ESC [ ... final byte, and two-byte ESC x).
inline std::string strip_ansi(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c != '\x1b') {
            out.push_back(c);
            continue;
        }
        if (i + 1 < s.size() && s[i + 1] == '[') {
            std::size_t j = i + 2;
            while (j < s.size() && !(static_cast<unsigned char>(s[j]) >= 0x40 && static_cast<unsigned char>(s[j]) <= 0x7e)) ++j;
            i = j;  // skip the final byte too
        } else if (i + 1 < s.size()) {
            ++i;
        }
    }
    return out;
}

// Valid UTF-8 without control characters (other than tab, and newline when keep_newlines), cut
// to `max` bytes (then "..." is appended).
inline std::string clean_text(std::string_view s, std::size_t max = max_line_chars, bool keep_newlines = false) {
    std::string out;
    out.reserve(std::min(s.size(), max + 3));
    std::size_t i = 0;
    while (i < s.size()) {
        if (out.size() >= max) {
            out += "...";
            break;
        }
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            const bool keep = c == '\t' || (keep_newlines && c == '\n');
            out.push_back((c < 0x20 && !keep) || c == 0x7f ? '?' : static_cast<char>(c));
            ++i;
            continue;
        }
        std::size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        bool ok = len != 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
        if (ok && len == 2 && c < 0xc2) ok = false;  // overlong
        if (ok && len == 3) {
            const auto c1 = static_cast<unsigned char>(s[i + 1]);
            if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0)) ok = false;  // overlong, surrogates
        }
        if (ok && len == 4) {
            const auto c1 = static_cast<unsigned char>(s[i + 1]);
            if ((c == 0xf0 && c1 < 0x90) || c > 0xf4 || (c == 0xf4 && c1 >= 0x90)) ok = false;
        }
        if (!ok) {
            out.push_back('?');
            ++i;
            continue;
        }
        out.append(s.data() + i, len);
        i += len;
    }
    return out;
}

inline log_line make_line(std::size_t number, std::string_view clean) { return log_line{number, clean_text(trim(clean))}; }

// The input's lines with escape sequences removed.
inline std::vector<std::string> clean_lines(std::string_view text) {
    std::vector<std::string> out;
    for (auto l : split_lines(text)) out.push_back(strip_ansi(l));
    return out;
}

inline std::vector<std::string_view> tokens(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        std::size_t j = i;
        while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

// "2,097,152" or "1478" -> the number; at most 18 digits.
inline std::optional<std::int64_t> parse_count(std::string_view s) {
    s = trim(s);
    std::int64_t v = 0;
    int digits = 0;
    for (char c : s) {
        if (c == ',' || c == '_') continue;
        if (c < '0' || c > '9') return std::nullopt;
        if (++digits > 18) return std::nullopt;
        v = v * 10 + (c - '0');
    }
    if (digits == 0) return std::nullopt;
    return v;
}

// A finite decimal number ("0.82", "2048.00", "-1", "1e3"); nullopt for anything else.
inline std::optional<double> parse_number(std::string_view s) {
    s = trim(s);
    if (s.empty() || s.size() > 40) return std::nullopt;
    for (char c : s)
        if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
            return std::nullopt;
    const std::string copy(s);
    char* end = nullptr;
    const double v = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

// The text after `key`, or empty.
inline std::string_view after(std::string_view s, std::string_view key) {
    auto p = s.find(key);
    if (p == std::string_view::npos) return {};
    return s.substr(p + key.size());
}

// The leading run of characters of `s` accepted by `keep`.
template <class Pred>
inline std::string_view take_while(std::string_view s, Pred keep) {
    std::size_t i = 0;
    while (i < s.size() && keep(s[i])) ++i;
    return s.substr(0, i);
}

inline bool count_char(char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == ','; }
inline bool number_char(char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; }

// The (comma-grouped) integer right after `key`.
inline std::optional<std::int64_t> count_after(std::string_view s, std::string_view key) {
    auto p = s.find(key);
    if (p == std::string_view::npos) return std::nullopt;
    auto rest = s.substr(p + key.size());
    return parse_count(take_while(rest, count_char));
}

inline std::optional<double> number_after(std::string_view s, std::string_view key) {
    auto p = s.find(key);
    if (p == std::string_view::npos) return std::nullopt;
    return parse_number(take_while(s.substr(p + key.size()), number_char));
}

inline std::optional<int> small_int(std::optional<std::int64_t> v) {
    if (!v || *v > 1000000000) return std::nullopt;
    return static_cast<int>(*v);
}

inline void add_unique(std::vector<std::string>& v, std::string s) {
    if (!s.empty() && std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

// Every IP in "node:<ip>" resource names ('node:10.0.0.1': 0.001).
inline void collect_node_ips(std::string_view s, std::vector<std::string>& out) {
    std::size_t p = 0;
    while ((p = s.find("node:", p)) != std::string_view::npos) {
        p += 5;
        auto ip = take_while(s.substr(p), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':'; });
        // "node:10.0.0.1': 0.001" - the IP ends before the quote; IPv6 may run into ':' of the value
        std::string candidate(ip);
        while (!candidate.empty() && candidate.back() == ':') candidate.pop_back();
        if (is_ip_address(candidate)) add_unique(out, candidate);
    }
}

// Bytes in "14.85GiB", "0B", "1013.52MiB", or a plain count ("2.0").
inline std::optional<double> parse_quantity(std::string_view s, std::string_view unit = {}) {
    s = trim(s);
    std::string_view num = take_while(s, number_char);
    if (num.empty()) return std::nullopt;
    auto v = parse_number(num);
    if (!v) return std::nullopt;
    std::string_view u = unit.empty() ? s.substr(num.size()) : unit;
    double m = 1;
    if (u.empty()) m = 1;
    else if (u == "B") m = 1;
    else if (u == "KiB" || u == "KB") m = 1024.0;
    else if (u == "MiB" || u == "MB") m = 1024.0 * 1024;
    else if (u == "GiB" || u == "GB") m = 1024.0 * 1024 * 1024;
    else if (u == "TiB" || u == "TB") m = 1024.0 * 1024 * 1024 * 1024;
    else if (u == "PiB") m = 1024.0 * 1024 * 1024 * 1024 * 1024;
    else return std::nullopt;
    return *v * m;
}

inline bool is_unit(std::string_view u) {
    return u == "B" || u == "KiB" || u == "MiB" || u == "GiB" || u == "TiB" || u == "PiB" || u == "KB" || u == "MB" || u == "GB" ||
           u == "TB";
}

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

inline std::string fmt_number(double v) {
    char buf[64];
    if (std::fabs(v - std::round(v)) < 1e-9 && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
    else std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

inline std::string fmt_bytes(double b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        ++u;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
    return buf;
}

}  // namespace diag
}  // namespace detail

// --- nvidia-smi ----------------------------------------------------------------------------

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

// --- ray status ------------------------------------------------------------------------------

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

// --- NCCL ------------------------------------------------------------------------------------

DSDEPLOY_INLINE bool nccl_report::ib_requested() const {
    auto hca = env.find("NCCL_IB_HCA");
    if (hca != env.end() && !hca->second.empty()) return true;
    auto dis = env.find("NCCL_IB_DISABLE");
    return dis != env.end() && dis->second == "0";
}

namespace detail {
namespace diag {
// "[0]eth0:192.0.2.2<0> [1]..." -> {"eth0:192.0.2.2", ...}; "[0]mlx5_0:1/IB" -> {"mlx5_0:1/IB"}.
inline std::vector<std::string> bracket_entries(std::string_view s) {
    std::vector<std::string> out;
    std::size_t p = 0;
    while ((p = s.find('[', p)) != std::string_view::npos) {
        auto close = s.find(']', p);
        if (close == std::string_view::npos) break;
        auto inside = s.substr(p + 1, close - p - 1);
        p = close + 1;
        if (inside.empty() || !std::all_of(inside.begin(), inside.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }))
            continue;
        auto entry = take_while(s.substr(p), [](char c) { return !std::isspace(static_cast<unsigned char>(c)) && c != '<' && c != ';' && c != '['; });
        if (!entry.empty()) out.emplace_back(entry);
    }
    return out;
}
}  // namespace diag
}  // namespace detail

DSDEPLOY_INLINE nccl_report parse_nccl_log(std::string_view text) {
    namespace d = detail::diag;
    nccl_report r;
    std::map<std::string, std::size_t> proc_index;
    const auto lines = d::clean_lines(text);
    for (std::size_t n = 0; n < lines.size(); ++n) {
        const std::string_view line = detail::trim(lines[n]);
        if (line.empty()) continue;
        auto info_at = line.find("NCCL INFO");
        auto warn_at = line.find("NCCL WARN");
        const auto at = std::min(info_at, warn_at);
        const bool nccl_line = at != std::string_view::npos;
        if (nccl_line) r.recognised = true;
        // the process: "host:pid:tid [dev]" before "NCCL INFO"
        nccl_process* proc = nullptr;
        if (nccl_line) {
            auto t = d::tokens(line.substr(0, at));
            for (std::size_t i = t.size(); i-- > 0;) {
                auto tok = t[i];
                if (tok.size() < 3 || tok.front() != '[' || tok.back() != ']') continue;
                auto dev = detail::parse_int(tok.substr(1, tok.size() - 2));
                if (!dev || i == 0) continue;
                auto parts = detail::split(t[i - 1], ':');
                if (parts.size() < 3 || !detail::parse_int(parts[parts.size() - 1]) || !detail::parse_int(parts[parts.size() - 2])) continue;
                std::string host;
                for (std::size_t k = 0; k + 2 < parts.size(); ++k) host += (k ? ":" : "") + std::string(parts[k]);
                const std::string pid(parts[parts.size() - 2]);
                const std::string key = host + ":" + pid;
                auto found = proc_index.find(key);
                if (found == proc_index.end()) {
                    if (r.processes.size() >= 4096) break;
                    nccl_process p;
                    p.host = host;
                    p.pid = pid;
                    p.device = *dev;
                    proc_index[key] = r.processes.size();
                    r.processes.push_back(std::move(p));
                    found = proc_index.find(key);
                }
                proc = &r.processes[found->second];
                break;
            }
        }
        const std::string_view body = nccl_line ? detail::trim(line.substr(at + 9)) : line;
        if (auto v = d::after(line, "NCCL version "); !v.empty()) {
            auto ver = d::take_while(v, [](char c) { return !std::isspace(static_cast<unsigned char>(c)) && c != ','; });
            if (!ver.empty() && std::isdigit(static_cast<unsigned char>(ver.front()))) {
                d::add_unique(r.versions, std::string(ver));
                if (proc && proc->version.empty()) proc->version = std::string(ver);
                r.recognised = true;
            }
        }
        // "NCCL_SOCKET_IFNAME set by environment to bond0", "NCCL_IB_HCA set to mlx5_0,mlx5_3"
        if (auto p = body.find("NCCL_"); p != std::string_view::npos) {
            auto name = d::take_while(body.substr(p), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
            auto rest = body.substr(p + name.size());
            std::optional<std::string_view> value;
            if (detail::starts_with(rest, " set by environment to ")) value = rest.substr(23);
            else if (detail::starts_with(rest, " set to ")) value = rest.substr(8);
            if (value && r.env.size() < 256) {
                auto v = detail::trim(*value);
                while (!v.empty() && v.back() == '.') v.remove_suffix(1);
                r.env[std::string(name)] = d::clean_text(v);
            }
        }
        if (auto v = d::after(body, "Using network "); !v.empty()) {
            auto net = d::tokens(v);
            if (!net.empty()) {
                std::string name(net[0]);
                d::add_unique(r.networks, name);
                if (proc) proc->network = name;
                if (name == "Socket" && !r.socket_network) r.socket_network = d::make_line(n + 1, line);
                if (name != "Socket" && !r.ib_network) r.ib_network = d::make_line(n + 1, line);
            }
        }
        if (d::has(body, "NET/IB : No device found") && !r.ib_no_device) r.ib_no_device = d::make_line(n + 1, line);
        if (d::has(body, "Failed to initialize NET plugin IB") && !r.ib_plugin_failed) r.ib_plugin_failed = d::make_line(n + 1, line);
        if (d::has(body, "NET/Socket : Using") || d::has(body, "Bootstrap : Using") || d::has(body, "Bootstrap: Using")) {
            auto entries = d::bracket_entries(body);
            if (entries.empty()) {  // "Bootstrap : Using enp220s0np0:11.1.128.136<0>"
                auto t = d::tokens(d::after(body, "Using"));
                if (!t.empty()) entries.emplace_back(d::take_while(t[0], [](char c) { return c != '<'; }));
            }
            for (auto& e : entries) {
                if (proc) d::add_unique(proc->socket_interfaces, e);
                if (!r.interface_line) r.interface_line = d::make_line(n + 1, line);
            }
        }
        if (d::has(body, "NET/IB : Using")) {
            auto semi = body.find("; OOB");
            auto devs = d::bracket_entries(body.substr(0, semi));
            if (!devs.empty() && !r.ib_devices_line) r.ib_devices_line = d::make_line(n + 1, line);
            if (proc)
                for (auto& e : devs) d::add_unique(proc->ib_devices, e);
            if (semi != std::string_view::npos) {
                auto oob = d::tokens(body.substr(semi + 5));
                if (!oob.empty() && proc) d::add_unique(proc->socket_interfaces, std::string(d::take_while(oob[0], [](char c) { return c != '<'; })));
                if (!oob.empty() && !r.interface_line) r.interface_line = d::make_line(n + 1, line);
            }
        }
        if (auto v = d::after(body, " via "); !v.empty() && d::has(body, "Channel")) {
            auto t = d::tokens(v);
            if (!t.empty()) {
                std::string tr(t[0]);
                if (r.transports.size() < 64) d::add_unique(r.transports, tr);
                if (detail::starts_with(tr, "NET/Socket") && !r.socket_network) r.socket_network = d::make_line(n + 1, line);
                if (detail::starts_with(tr, "NET/IB") && !r.ib_network) r.ib_network = d::make_line(n + 1, line);
            }
        }
        if (proc) {
            // "ncclCommInitRankConfig comm 0x.. rank 1 nranks 2 ..." or "comm 0x.. rank 0 nRanks 2 nNodes 2 ..."
            if (d::has(body, " rank ") && (d::has(body, " nranks ") || d::has(body, " nRanks "))) {
                if (!proc->rank) proc->rank = d::small_int(d::count_after(body, " rank "));
                if (!proc->nranks) proc->nranks = d::small_int(d::count_after(body, d::has(body, " nranks ") ? " nranks " : " nRanks "));
            }
            if (auto nn = d::small_int(d::count_after(body, " nNodes "))) proc->nnodes = nn;
        }
        if (warn_at != std::string_view::npos && r.warnings.size() < 1000) r.warnings.push_back(d::make_line(n + 1, line));
        const auto lower = detail::to_lower(line);
        if (!r.no_socket_interface && (d::has(lower, "no socket interface found") || d::has(lower, "no usable listening interface")))
            r.no_socket_interface = d::make_line(n + 1, line);
        if (!r.ib_completion_error && d::has(line, "Got completion") && (d::has(line, "error") || d::has(line, "status=")))
            r.ib_completion_error = d::make_line(n + 1, line);
        if (!r.shm_error && (d::has(line, "Error while creating shared memory segment") || d::has(line, "Error while attaching to shared memory segment") ||
                             (d::has(line, "failed to extend /dev/shm")) || (d::has(line, "posix_fallocate") && d::has(line, "No space left"))))
            r.shm_error = d::make_line(n + 1, line);
        if (r.errors.size() < 1000 &&
            (d::has(line, "ncclSystemError") || d::has(line, "ncclInternalError") || d::has(line, "ncclInvalidUsage") ||
             d::has(line, "ncclRemoteError") || d::has(line, "ncclUnhandledCudaError") || d::has(line, "NCCL error") ||
             d::has(line, "unhandled system error"))) {
            r.errors.push_back(d::make_line(n + 1, line));
            r.recognised = true;
        }
    }
    return r;
}

// --- vLLM ------------------------------------------------------------------------------------

DSDEPLOY_INLINE vllm_report parse_vllm_log(std::string_view text) {
    namespace d = detail::diag;
    vllm_report r;
    std::optional<std::int64_t> gpu_blocks;
    std::optional<log_line> blocks_line;
    std::int64_t block_size = 16;
    const auto lines = d::clean_lines(text);
    auto mark = [&r]() { r.recognised = true; };
    for (std::size_t n = 0; n < lines.size(); ++n) {
        const std::string_view line = detail::trim(lines[n]);
        if (line.empty()) continue;
        if (auto v = d::after(line, "vLLM API server version "); !v.empty()) {
            auto t = d::tokens(v);
            if (!t.empty()) r.version = std::string(t[0]), mark();
        }
        if (auto v = d::after(line, "LLM engine (v"); !v.empty() && r.version.empty()) {
            auto ver = d::take_while(v, [](char c) { return c != ')' && !std::isspace(static_cast<unsigned char>(c)); });
            if (!ver.empty()) r.version = std::string(ver), mark();
        }
        for (std::string_view key : {"'distributed_executor_backend': '", "distributed_executor_backend='", "distributed_executor_backend="}) {
            auto v = d::after(line, key);
            if (v.empty()) continue;
            auto val = d::take_while(v, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
            if (!val.empty() && val != "None") {
                r.executor_backend = std::string(val);
                r.executor_line = d::make_line(n + 1, line);
                mark();
            }
            break;
        }
        if (r.executor_backend.empty() && (d::has(line, "RayWorkerWrapper") || d::has(line, "RayDistributedExecutor"))) {
            r.executor_backend = "ray";
            r.executor_line = d::make_line(n + 1, line);
        }
        if (r.executor_backend.empty() && (d::has(line, "MultiprocExecutor") || d::has(line, "multiproc_executor"))) {
            r.executor_backend = "mp";
            r.executor_line = d::make_line(n + 1, line);
        }
        for (std::string_view key : {"tensor_parallel_size=", "'tensor_parallel_size': "})
            if (auto v = d::small_int(d::count_after(line, key))) r.tensor_parallel_size = v;
        for (std::string_view key : {"pipeline_parallel_size=", "'pipeline_parallel_size': "})
            if (auto v = d::small_int(d::count_after(line, key))) r.pipeline_parallel_size = v;
        if (auto v = d::count_after(line, "Using max model len ")) r.max_model_len = v, mark();
        else if (auto v2 = d::count_after(line, "max_seq_len=")) r.max_model_len = v2;
        else if (auto v3 = d::count_after(line, "'max_model_len': ")) r.max_model_len = v3;
        if (auto v = d::count_after(line, "block_size=")) block_size = std::max<std::int64_t>(1, std::min<std::int64_t>(*v, 1 << 20));
        if (auto v = d::count_after(line, "GPU KV cache size: ")) {
            r.kv_cache_tokens = v;
            r.kv_cache_line = d::make_line(n + 1, line);
            mark();
        }
        if (auto v = d::count_after(line, "# GPU blocks: ")) {
            gpu_blocks = v;
            blocks_line = d::make_line(n + 1, line);
            mark();
        }
        if (auto v = d::number_after(line, "Available KV cache memory: ")) r.kv_cache_gib = v, mark();
        else if (auto v2 = d::number_after(line, "reserved for KV Cache is ")) r.kv_cache_gib = v2, mark();
        else if (auto v3 = d::number_after(line, "kv_cache_size=")) r.kv_cache_gib = v3;
        if (auto v = d::after(line, "Maximum concurrency for "); !v.empty()) {
            auto toks = d::count_after(line, "Maximum concurrency for ");
            auto x = d::number_after(v, "tokens per request: ");
            if (toks && x) {
                r.concurrency_tokens = toks;
                r.max_concurrency = x;
                r.concurrency_line = d::make_line(n + 1, line);
                mark();
            }
        }
        if (!r.kv_cache_error && (d::has(line, "To serve at least one request with the model") ||
                                  d::has(line, "is larger than the maximum number of tokens that can be stored in KV cache") ||
                                  d::has(line, "No available memory for the cache blocks"))) {
            r.kv_cache_error = d::make_line(n + 1, line);
            if (auto e = d::count_after(line, "estimated maximum model length is ")) r.estimated_max_model_len = e;
            else if (auto e2 = d::count_after(line, "that can be stored in KV cache (")) r.estimated_max_model_len = e2;
            mark();
        }
        if (r.out_of_memory.size() < 100 &&
            (d::has(line, "CUDA out of memory") || d::has(line, "OutOfMemoryError") || d::has(line, "CUDA error: out of memory"))) {
            r.out_of_memory.push_back(d::make_line(n + 1, line));
            mark();
        }
        if (d::has(line, "No available node types can fulfill resource request")) {
            if (r.no_node_type.size() < 100) r.no_node_type.push_back(d::make_line(n + 1, line));
            d::collect_node_ips(line, r.requested_node_ips);
            mark();
        }
        if (d::has(line, "Waiting for creating a placement group")) {
            if (r.placement_group_waiting.size() < 100) r.placement_group_waiting.push_back(d::make_line(n + 1, line));
            d::collect_node_ips(line, r.requested_node_ips);
            mark();
        }
        if (d::has(line, "Cannot provide a placement group")) {
            if (!r.placement_group_timeout) r.placement_group_timeout = d::make_line(n + 1, line);
            d::collect_node_ips(line, r.requested_node_ips);
            mark();
        }
        if (r.not_enough_gpus.size() < 100 &&
            (d::has(line, "Current node has no GPU available") || d::has(line, "Ray does not allocate any GPUs on the driver node") ||
             d::has(line, "exceeds the total number of available GPUs") || d::has(line, "cannot be larger than the number of available GPUs") ||
             d::has(line, "max local gpu count") || d::has(line, "must be less than or equal to the number of visible devices") ||
             d::has(line, "exceeds available GPUs"))) {
            r.not_enough_gpus.push_back(d::make_line(n + 1, line));
            mark();
        }
        // "(RayWorkerWrapper pid=1463574, ip=192.168.10.60) ..."
        if (line.front() == '(' && d::has(line, "ip=")) {
            auto close = line.find(')');
            auto prefix = line.substr(0, close == std::string_view::npos ? line.size() : close);
            auto ip = d::take_while(d::after(prefix, "ip="), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':'; });
            if (is_ip_address(ip) && r.ray_worker_ips.size() < 1024) d::add_unique(r.ray_worker_ips, std::string(ip));
        }
        if (!r.started && (d::has(line, "Application startup complete") || d::has(line, "Starting vLLM API server"))) {
            r.started = d::make_line(n + 1, line);
            mark();
        }
        if (!r.engine_failed && (d::has(line, "Engine core initialization failed") || d::has(line, "EngineCore failed to start"))) {
            r.engine_failed = d::make_line(n + 1, line);
            mark();
        }
    }
    if (!r.kv_cache_tokens && gpu_blocks && *gpu_blocks < (std::int64_t{1} << 40)) {
        r.kv_cache_tokens = *gpu_blocks * block_size;
        r.kv_cache_line = blocks_line;
    }
    return r;
}

// --- /proc/net/tcp -------------------------------------------------------------------------

DSDEPLOY_INLINE std::vector<listening_socket> parse_proc_net_tcp(std::string_view text) {
    namespace d = detail::diag;
    std::vector<listening_socket> out;
    auto hex = [](std::string_view s) -> std::optional<std::uint32_t> {
        if (s.empty() || s.size() > 8) return std::nullopt;
        std::uint32_t v = 0;
        for (char c : s) {
            int x;
            if (c >= '0' && c <= '9') x = c - '0';
            else if (c >= 'a' && c <= 'f') x = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') x = c - 'A' + 10;
            else return std::nullopt;
            v = (v << 4) | static_cast<std::uint32_t>(x);
        }
        return v;
    };
    for (auto raw : detail::split_lines(text)) {
        auto t = d::tokens(raw);
        if (t.size() < 4 || t[3] != "0A") continue;  // 0A: TCP_LISTEN
        auto colon = t[1].rfind(':');
        if (colon == std::string_view::npos) continue;
        auto addr = t[1].substr(0, colon);
        auto port = hex(t[1].substr(colon + 1));
        if (!port || *port > 65535) continue;
        char buf[INET6_ADDRSTRLEN] = {};
        if (addr.size() == 8) {
            auto a = hex(addr);
            if (!a) continue;
            in_addr in{};
            in.s_addr = *a;  // the kernel prints the address in host byte order of a network-order value
            if (!::inet_ntop(AF_INET, &in, buf, sizeof buf)) continue;
        } else if (addr.size() == 32) {
            in6_addr in6{};
            bool ok = true;
            for (int w = 0; w < 4 && ok; ++w) {
                auto word = hex(addr.substr(static_cast<std::size_t>(w) * 8, 8));
                if (!word) {
                    ok = false;
                    break;
                }
                std::memcpy(&in6.s6_addr[w * 4], &*word, 4);
            }
            if (!ok || !::inet_ntop(AF_INET6, &in6, buf, sizeof buf)) continue;
        } else {
            continue;
        }
        out.push_back(listening_socket{buf, static_cast<int>(*port)});
    }
    return out;
}

DSDEPLOY_INLINE bool is_loopback(std::string_view a) {
    return detail::starts_with(a, "127.") || a == "::1" || detail::starts_with(a, "::ffff:127.") || a == "localhost";
}

// --- findings --------------------------------------------------------------------------------

DSDEPLOY_INLINE std::string_view to_string(severity s) {
    switch (s) {
        case severity::error: return "error";
        case severity::warning: return "warning";
        case severity::info: return "info";
    }
    return "error";
}

DSDEPLOY_INLINE expectations expectations_for(const cluster& c, const network_profile& p) {
    expectations e;
    e.fabric_kind = p.kind;
    e.interface = p.interface;
    e.gid_index = p.gid_index;
    e.nodes = static_cast<int>(c.nodes.size());
    int gpus = 0;
    for (const auto& n : c.nodes) {
        e.node_list.push_back(expected_node{n.name, n.address, n.gpus()});
        gpus += std::max(0, n.gpus());
    }
    e.gpus = gpus;
    return e;
}

DSDEPLOY_INLINE void validate(const expectations& e) {
    if (e.nodes && *e.nodes < 0)
        raise(errc::diagnose_expectations, "expectations.nodes", std::to_string(*e.nodes) + " nodes; expect 0 or more (e.g. 2)");
    if (e.gpus && *e.gpus < 0)
        raise(errc::diagnose_expectations, "expectations.gpus", std::to_string(*e.gpus) + " GPUs; expect 0 or more (e.g. 16)");
    if (e.max_model_len && *e.max_model_len <= 0)
        raise(errc::diagnose_expectations, "expectations.max_model_len",
              std::to_string(*e.max_model_len) + " tokens; expect a positive context length (e.g. 65536)");
    if (e.gid_index && (*e.gid_index < 0 || *e.gid_index > 255))
        raise(errc::diagnose_expectations, "expectations.gid_index", std::to_string(*e.gid_index) + " is not a GID index; use 0..255");
    if (e.dashboard_port < 1 || e.dashboard_port > 65535)
        raise(errc::diagnose_expectations, "expectations.dashboard_port",
              std::to_string(e.dashboard_port) + " is not a TCP port; use 1..65535 (Ray's default is 8265)");
    if (!e.interface.empty() && !detail::is_valid_interface_name(e.interface.front() == '=' ? e.interface.substr(1) : e.interface))
        raise(errc::diagnose_expectations, "expectations.interface",
              "\"" + e.interface + "\" is not a Linux interface name; use 1-15 characters without '/', ':' or spaces (e.g. \"bond0\")");
    std::set<std::string> names;
    for (std::size_t i = 0; i < e.node_list.size(); ++i) {
        const auto& n = e.node_list[i];
        const std::string f = "expectations.node_list[" + std::to_string(i) + "]";
        if (n.name.empty()) raise(errc::diagnose_expectations, f + ".name", "a node needs a name (the one its evidence carries, e.g. \"gpu-a\")");
        if (!names.insert(n.name).second) raise(errc::diagnose_expectations, f + ".name", "\"" + n.name + "\" is listed twice; node names must be unique");
        if (!n.address.empty() && classify_address(n.address) == address_kind::invalid)
            raise(errc::diagnose_expectations, f + ".address", "\"" + n.address + "\" is not an IP address or hostname (e.g. \"10.0.0.2\")");
        if (n.gpus < 0) raise(errc::diagnose_expectations, f + ".gpus", std::to_string(n.gpus) + " GPUs; expect 0 or more");
    }
}

namespace detail {
namespace diag {

constexpr std::size_t max_findings_per_id = 32;  // per node: a log with a thousand failed ports says it enough

struct finder {
    std::vector<finding> out;
    std::set<std::string> seen;
    std::map<std::string, std::size_t> per_id;
    void add(std::string id, severity level, std::string node, std::string source, std::string message, std::string evidence, std::string fix) {
        std::string key = id + '\x1f' + node + '\x1f' + evidence + '\x1f' + (evidence.empty() ? message : std::string());
        if (seen.count(key)) return;
        if (++per_id[id + '\x1f' + node] > max_findings_per_id) return;
        seen.insert(std::move(key));
        // values taken from the input (names, versions, addresses) reach messages too: keep them valid UTF-8
        out.push_back(finding{std::move(id), level, clean_text(node, 200), std::move(source), clean_text(message, 2000),
                              clean_text(evidence, 4000, true), clean_text(fix, 2000)});
    }
};

inline std::string text_of(const std::optional<log_line>& l) { return l ? l->text : std::string(); }

// The verbatim line of `text` that contains `needle` (and, when given, follows a line with `after`).
inline std::string find_line(std::string_view text, std::string_view needle, std::string_view after_needle = {}) {
    bool armed = after_needle.empty();
    for (const auto& l : clean_lines(text)) {
        if (!armed) {
            if (has(l, after_needle)) armed = true;
            continue;
        }
        if (has(l, needle)) return clean_text(trim(l));
    }
    return {};
}

inline std::string join_lines(const std::vector<log_line>& lines, std::size_t max = 8) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < lines.size() && i < max; ++i) parts.push_back(lines[i].text);
    if (lines.size() > max) parts.push_back("... (" + std::to_string(lines.size() - max) + " more)");
    return join(parts, "\n");
}

inline std::string fabric_name(fabric f) {
    switch (f) {
        case fabric::infiniband: return "InfiniBand";
        case fabric::roce: return "RoCE";
        case fabric::tcp: return "TCP";
    }
    return "TCP";
}

inline const char* fix_ib_fallback =
    "Make the RDMA devices visible where NCCL runs: in Docker add `--device /dev/infiniband` (or run privileged), `--cap-add IPC_LOCK` "
    "and `--ulimit memlock=-1`; check that `ibv_devinfo` inside the container lists the HCAs as PORT_ACTIVE, that NCCL_IB_HCA names "
    "them and NCCL_IB_DISABLE is 0; then confirm `NET/IB` (not `NET/Socket`) in an NCCL_DEBUG=INFO log.";
inline const char* fix_interface =
    "Set NCCL_SOCKET_IFNAME (with GLOO_SOCKET_IFNAME and TP_SOCKET_IFNAME) to the interface that holds the node's cluster address "
    "(`ip -br addr`), with a leading '=' for an exact match, on every node and in the environment of `ray start` so Ray workers "
    "inherit it.";
inline const char* fix_ip =
    "Use one IP per node everywhere: VLLM_HOST_IP, `ray start --node-ip-address` and the inventory's node address must all be the "
    "address of that node's cluster-network NIC; check NODE_IP in `ray list nodes`.";
inline const char* fix_kv =
    "Lower --max-model-len, or raise --gpu-memory-utilization, use --kv-cache-dtype fp8, or add GPUs (more pipeline stages); "
    "`dsdeploy plan` shows the per-GPU budget.";
inline const char* fix_shm =
    "Give the container a larger /dev/shm: `--shm-size 10.24g` (as vLLM's run_cluster.sh does) or `--ipc host`; in Kubernetes "
    "mount an emptyDir with medium: Memory at /dev/shm.";

}  // namespace diag
}  // namespace detail

DSDEPLOY_INLINE std::vector<finding> diagnose(const evidence& ev, const expectations& ex) {
    namespace d = detail::diag;
    validate(ex);
    d::finder f;
    const int want_nodes = ex.nodes ? *ex.nodes : static_cast<int>(ex.node_list.size());
    int want_gpus = 0;
    if (ex.gpus) want_gpus = *ex.gpus;
    else
        for (const auto& n : ex.node_list) want_gpus += n.gpus;
    std::set<std::string> expected_ips;
    for (const auto& n : ex.node_list)
        if (is_ip_address(n.address)) expected_ips.insert(n.address);
    const bool want_rdma = ex.fabric_kind && *ex.fabric_kind != fabric::tcp;

    std::map<std::string, std::vector<std::pair<std::string, std::string>>> versions;  // key -> (node, value)
    std::vector<node_detection> detections;
    struct seen_ip {
        std::string node, source, line;
    };
    std::map<std::string, seen_ip> ray_ips;  // IPs Ray knows its nodes by
    struct wanted_ip {
        std::string ip, node, line;
    };
    std::vector<wanted_ip> requested_ips;  // node:<ip> a driver asked for
    std::vector<wanted_ip> host_ips;       // VLLM_HOST_IP per node
    std::vector<std::pair<std::string, log_line>> nccl_nets;  // (node, the line showing its inter-node transport)

    for (const auto& node : ev.nodes) {
        const std::string& nn = node.name;
        const expected_node* exp = nullptr;
        for (const auto& e : ex.node_list)
            if (e.name == nn) exp = &e;
        std::map<std::string, std::string> ver = node.versions;

        // RDMA devices ------------------------------------------------------------------------
        std::optional<rdma_report> rdma;
        std::string rdma_source;
        if (node.ibv_devinfo) {
            auto r = parse_ibv_devinfo(*node.ibv_devinfo);
            if (!r.ports.empty() || r.no_devices || r.tool_missing) {
                rdma = std::move(r);
                rdma_source = "ibv_devinfo";
            }
        }
        if (node.sysfs && (!rdma || (rdma->ports.empty() && !node.sysfs->ports.empty()))) {
            rdma = *node.sysfs;
            rdma_source = "sysfs";
        }
        std::optional<detection> det;
        if (rdma) {
            det = detect_profile(*rdma, ex.interface);
            detections.push_back(node_detection{nn, *det});
            if (want_rdma) {
                const std::string asked = d::fabric_name(*ex.fabric_kind);
                if (det->profile.kind == fabric::tcp) {
                    std::string evline;
                    if (rdma_source == "ibv_devinfo") {
                        for (std::string_view needle : {"No IB devices found", "Failed to get IB devices list", "not found", "No such file", "state:"}) {
                            evline = d::find_line(*node.ibv_devinfo, needle);
                            if (!evline.empty()) break;
                        }
                    } else {
                        evline = rdma->ports.empty() ? "/sys/class/infiniband: no RDMA device" : "/sys/class/infiniband: no ACTIVE port";
                    }
                    f.add("rdma.missing", severity::error, nn, rdma_source,
                          asked + " was planned but this node shows no ACTIVE " + asked + " port (" + detail::join(det->notes, "; ") +
                              "), so NCCL can only use TCP here",
                          evline,
                          "Install rdma-core and the NIC driver, check the link (`ibstat`: State Active, Physical state LinkUp); in containers "
                          "pass `--device /dev/infiniband`. Or plan for TCP (network fabric \"tcp\") and expect lower throughput.");
                } else if (det->profile.kind != *ex.fabric_kind) {
                    f.add("fabric.mismatch", severity::warning, nn, rdma_source,
                          asked + " was planned but this node's ACTIVE RDMA ports are " + d::fabric_name(det->profile.kind) + " (" +
                              detail::join(det->profile.hcas, ", ") + ")",
                          rdma_source == "ibv_devinfo" ? d::find_line(*node.ibv_devinfo, "link_layer:") : std::string(),
                          "Declare the fabric the nodes have (" + std::string(to_string(det->profile.kind)) +
                              ") in the inventory, or fix the ports' link layer (`mlxconfig ... LINK_TYPE_P1`).");
                }
                std::size_t reported = 0;
                for (const auto& port : rdma->ports) {
                    if (port.state == "ACTIVE") continue;
                    if (++reported > d::max_findings_per_id) break;
                    std::string evline = rdma_source == "ibv_devinfo" ? d::find_line(*node.ibv_devinfo, "state:", port.device)
                                                                      : port.device + " port " + std::to_string(port.port) + " state: " + port.state;
                    f.add("rdma.port_down", severity::warning, nn, rdma_source,
                          port.device + " port " + std::to_string(port.port) + " is " + (port.state.empty() ? "in an unknown state" : port.state) +
                              ", so NCCL cannot use it",
                          evline,
                          "Bring the port up (cable, switch port; on InfiniBand a running subnet manager: `ibstat` shows State: Active), "
                          "or leave this HCA out of the network's HCAs.");
                }
            }
        }

        // GPUs ---------------------------------------------------------------------------------
        if (node.nvidia_smi) {
            auto s = parse_nvidia_smi(*node.nvidia_smi);
            if (!s.driver_version.empty()) ver.emplace("driver", s.driver_version);
            if (!s.cuda_version.empty()) ver.emplace("cuda", s.cuda_version);
            const bool wants_gpus = exp && exp->gpus > 0;
            if (s.failure || (s.tool_missing && s.gpus.empty() && wants_gpus)) {
                f.add("gpu.driver_unavailable", severity::error, nn, "nvidia_smi",
                      s.failure ? "nvidia-smi cannot reach the GPUs" : "nvidia-smi is not installed on a node that should have GPUs",
                      s.failure ? s.failure->text : d::find_line(*node.nvidia_smi, "nvidia-smi"),
                      "Install and load the NVIDIA driver on the host (`nvidia-smi` must list the GPUs); in containers use the NVIDIA "
                      "Container Toolkit (`--gpus all`, or a GPU reservation in compose).");
            } else if (wants_gpus && s.format != nvidia_smi_format::unknown && static_cast<int>(s.gpus.size()) < exp->gpus) {
                f.add("gpu.too_few", severity::error, nn, "nvidia_smi",
                      "nvidia-smi lists " + std::to_string(s.gpus.size()) + " GPU(s) but the plan puts " + std::to_string(exp->gpus) + " on this node",
                      s.gpus.empty() ? std::string() : s.gpus.back().line,
                      "Check that every GPU is visible: CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES, the container's GPU reservation, and "
                      "`nvidia-smi` on the host (a GPU that fell off the bus shows as Xid 79 in `dmesg`); or change the node's GPU count.");
            }
            for (const auto& g : s.gpus) {
                if (!g.memory_total_mib || !g.memory_used_mib || *g.memory_total_mib <= 0) continue;
                if (*g.memory_used_mib >= 1024 && *g.memory_used_mib > *g.memory_total_mib / 20)
                    f.add("gpu.memory_in_use", severity::warning, nn, "nvidia_smi",
                          "GPU " + std::to_string(g.index) + " already has " + std::to_string(*g.memory_used_mib) + " of " +
                              std::to_string(*g.memory_total_mib) + " MiB in use before serving",
                          g.line,
                          "Stop the processes that hold GPU memory (`nvidia-smi --query-compute-apps=pid,used_memory --format=csv`): "
                          "--gpu-memory-utilization is a share of the whole GPU, so memory held by others comes out of the KV cache or "
                          "makes the start fail.");
            }
        }
        if (node.nvidia_smi_topo) {
            auto t = parse_nvidia_smi_topo(*node.nvidia_smi_topo);
            if (t.gpu_count() >= 2) {
                bool nvlink = false;
                std::string sample;
                for (std::size_t i = 0; i < t.devices.size(); ++i)
                    for (std::size_t j = 0; j < t.devices.size(); ++j) {
                        if (i == j || !detail::starts_with(t.devices[i], "GPU") || !detail::starts_with(t.devices[j], "GPU")) continue;
                        const auto& l = t.links[i][j];
                        if (detail::starts_with(l, "NV")) nvlink = true;
                        if (sample.empty() && !l.empty()) sample = t.devices[i] + " - " + t.devices[j] + ": " + l;
                    }
                if (!nvlink && !sample.empty())
                    f.add("topo.no_nvlink", severity::info, nn, "nvidia_smi_topo",
                          "no NVLink between this node's GPUs: tensor parallelism inside the node goes over PCIe", sample,
                          "Expect lower throughput from tensor parallelism here; a layout with less TP and more PP may serve faster.");
            }
        }

        // Ray --------------------------------------------------------------------------------
        auto check_counts = [&](int count, double gpus, bool has_gpu_figure, const std::string& source, const std::string& nodes_ev,
                                const std::string& gpus_ev) {
            if (want_nodes > 0 && count < want_nodes)
                f.add("ray.too_few_nodes", severity::error, nn, source,
                      "Ray has " + std::to_string(count) + " node(s); the plan needs " + std::to_string(want_nodes), nodes_ev,
                      "Run `ray start --address <head-ip>:<port>` on the missing nodes and check they stay up (`ray list nodes`): a "
                      "worker that cannot reach the head's GCS port, or whose --node-ip-address is not reachable, never joins.");
            if (want_gpus > 0 && gpus + 1e-9 < want_gpus && (has_gpu_figure || count > 0))
                f.add("ray.too_few_gpus", severity::error, nn, source,
                      "Ray sees " + d::fmt_number(gpus) + " GPU(s); the plan needs " + std::to_string(want_gpus), gpus_ev,
                      "Start Ray where the GPUs are visible on every node (Docker: `--gpus all`), let Ray detect them (give --num-gpus "
                      "only to limit them), and wait until `ray status` shows the plan's GPU total before `vllm serve`.");
        };
        if (node.ray_status) {
            auto s = parse_ray_status(*node.ray_status);
            if (s.connection_error && !s.recognised) {
                f.add("ray.unreachable", severity::error, nn, "ray_status", "`ray status` got no status from a Ray cluster", s.connection_error->text,
                      "Start the Ray head (`ray start --head --port 6379`) or point to it (`ray status --address <head-ip>:6379`, "
                      "RAY_ADDRESS), and open the GCS port between the nodes.");
            } else if (s.recognised) {
                std::vector<log_line> active;
                for (const auto& g : s.active) active.push_back(log_line{0, g.line});
                for (const auto& g : s.idle) active.push_back(log_line{0, g.line});
                const ray_resource* gpu = s.resource("GPU");
                std::string gpu_ev;
                if (gpu) {
                    gpu_ev = s.resource_lines[static_cast<std::size_t>(gpu - s.resources.data())].text;
                } else {
                    std::vector<log_line> block;
                    if (s.usage_header) block.push_back(*s.usage_header);
                    block.insert(block.end(), s.resource_lines.begin(), s.resource_lines.end());
                    gpu_ev = d::join_lines(block, 6);
                }
                check_counts(s.node_count(), gpu ? gpu->total : 0.0, gpu != nullptr || s.usage_header.has_value(), "ray_status",
                             active.empty() ? std::string("Active: (no nodes)") : d::join_lines(active), gpu_ev);
                if (!s.pending_demands.empty())
                    f.add("ray.pending_demands", severity::warning, nn, "ray_status",
                          std::to_string(s.pending_demands.size()) + " resource demand(s) wait for resources the cluster does not have",
                          d::join_lines(s.pending_demands, 4),
                          "Compare the demand with the totals above: vLLM asks for one GPU per worker (TP x PP), and a bundle pinned to "
                          "`node:<ip>` needs a Ray node with exactly that IP (VLLM_HOST_IP).");
                for (const auto& l : s.recent_failures)
                    f.add("ray.node_failed", severity::warning, nn, "ray_status", "Ray reports a failed node", l.text,
                          "Read the raylet log on that node (/tmp/ray/session_latest/logs/raylet.out) and start `ray start` there again.");
                for (const auto& u : s.nodes)
                    if (!u.ip.empty()) ray_ips.emplace(u.ip, seen_ip{nn, "ray_status", "Node: " + u.name});
                std::vector<std::string> demand_ips;
                for (const auto& l : s.pending_demands) {
                    std::vector<std::string> ips;
                    d::collect_node_ips(l.text, ips);
                    for (auto& ip : ips) requested_ips.push_back(wanted_ip{ip, nn, l.text});
                }
            }
        }
        if (node.ray_list_nodes) {
            auto rows = parse_ray_list_nodes(*node.ray_list_nodes);
            int alive = 0;
            double gpus = 0;
            bool any_gpu = false;
            std::vector<log_line> lines;
            for (const auto& r : rows) {
                if (r.state == "DEAD") {
                    f.add("ray.node_failed", severity::warning, nn, "ray_list_nodes", "Ray lists node " + r.node_ip + " as DEAD", r.line,
                          "Read the raylet log on that node (/tmp/ray/session_latest/logs/raylet.out) and start `ray start` there again.");
                    continue;
                }
                ++alive;
                lines.push_back(log_line{0, r.line});
                if (r.gpus) gpus += *r.gpus, any_gpu = true;
                if (is_ip_address(r.node_ip)) ray_ips.emplace(r.node_ip, seen_ip{nn, "ray_list_nodes", r.line});
            }
            if (!node.ray_status && !rows.empty())
                check_counts(alive, gpus, any_gpu || alive > 0, "ray_list_nodes", d::join_lines(lines), d::join_lines(lines));
        }

        // NCCL -------------------------------------------------------------------------------
        std::optional<nccl_report> nccl;
        if (node.nccl_log) {
            auto r = parse_nccl_log(*node.nccl_log);
            if (!r.versions.empty()) ver.emplace("nccl", r.versions.front());
            bool specific = false;
            if (r.no_socket_interface) {
                auto it = r.env.find("NCCL_SOCKET_IFNAME");
                const std::string iface = it == r.env.end() ? std::string() : it->second;
                f.add("nccl.socket_interface_missing", severity::error, nn, "nccl_log",
                      iface.empty() ? std::string("NCCL found no usable network interface for its bootstrap")
                                    : "NCCL_SOCKET_IFNAME=" + iface + " matches no interface on this node, so NCCL cannot start",
                      r.no_socket_interface->text, d::fix_interface);
                specific = true;
            }
            auto disabled = r.env.find("NCCL_IB_DISABLE");
            const bool ib_disabled = disabled != r.env.end() && disabled->second == "1";
            // "Using network Socket" is printed even by single-node runs, whose traffic goes over P2P/SHM;
            // it matters when the ranks span nodes (or the node count is not in the log), or when a
            // channel actually goes "via NET/Socket".
            bool multi_node = false, node_count_known = false;
            for (const auto& p : r.processes)
                if (p.nnodes) node_count_known = true, multi_node = multi_node || *p.nnodes > 1;
            const bool socket_carries = std::any_of(r.transports.begin(), r.transports.end(),
                                                    [](const std::string& t) { return detail::starts_with(t, "NET/Socket"); }) ||
                                        (r.socket_network && (multi_node || !node_count_known));
            if ((r.ib_requested() || want_rdma) && socket_carries && r.socket_network && !r.ib_network) {
                std::string why;
                if (ib_disabled) why = "NCCL_IB_DISABLE=1 turned InfiniBand off";
                else if (r.ib_no_device) why = "NET/IB found no device";
                else if (r.ib_plugin_failed) why = "the IB transport failed to initialise";
                std::string asked = r.ib_requested() ? "InfiniBand/RoCE was asked for (" +
                                                           (r.env.count("NCCL_IB_HCA") ? "NCCL_IB_HCA=" + r.env["NCCL_IB_HCA"] : std::string("NCCL_IB_DISABLE=0")) + ")"
                                                     : d::fabric_name(*ex.fabric_kind) + " was planned";
                f.add("nccl.ib_fallback_to_socket", severity::error, nn, "nccl_log",
                      asked + " but NCCL used the Socket (TCP) transport" + (why.empty() ? std::string() : ": " + why) +
                          (r.ib_no_device && !ib_disabled ? " (" + r.ib_no_device->text + ")" : std::string()),
                      r.socket_network->text,
                      ib_disabled ? std::string("Remove NCCL_IB_DISABLE=1 (or set it to 0) where `ray start` and `vllm serve` run. ") + d::fix_ib_fallback
                                  : std::string(d::fix_ib_fallback));
                specific = true;
            }
            if (r.ib_network) nccl_nets.emplace_back(nn, *r.ib_network);
            else if (socket_carries && r.socket_network) nccl_nets.emplace_back(nn, *r.socket_network);
            if (r.ib_completion_error) {
                f.add("nccl.ib_completion_error", severity::error, nn, "nccl_log",
                      "an RDMA transfer failed (work completion error): the NICs cannot talk over RDMA", r.ib_completion_error->text,
                      "On RoCE set NCCL_IB_GID_INDEX to the RoCE v2 GID (`show_gids`) and make sure the switches carry RoCE v2; on "
                      "InfiniBand check the links (`ibstat`); test with `ib_write_bw` between the nodes. NCCL_IB_TIMEOUT=22 lengthens "
                      "the retry window.");
                specific = true;
            }
            if (r.shm_error) {
                f.add("shm.too_small", severity::error, nn, "nccl_log", "NCCL could not create its shared-memory segment in /dev/shm",
                      r.shm_error->text, d::fix_shm);
                specific = true;
            }
            if (!ex.interface.empty() && r.interface_line) {
                const std::string want = ex.interface.front() == '=' ? ex.interface.substr(1) : ex.interface;
                std::vector<std::string> names;
                for (const auto& p : r.processes)
                    for (const auto& i : p.socket_interfaces) d::add_unique(names, i.substr(0, i.find(':')));
                if (!names.empty() && std::find(names.begin(), names.end(), want) == names.end())
                    f.add("nccl.wrong_interface", severity::warning, nn, "nccl_log",
                          "NCCL uses " + detail::join(names, ", ") + ", not the planned interface " + want, r.interface_line->text,
                          d::fix_interface);
            }
            if (!specific && (!r.errors.empty() || !r.warnings.empty()))
                f.add("nccl.failure", severity::error, nn, "nccl_log", "NCCL reported a failure",
                      !r.errors.empty() ? r.errors.front().text : r.warnings.front().text,
                      "The NCCL WARN line names the call that failed. Run with NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET on every node "
                      "and compare the interface, the transport and the NCCL version across nodes.");
            nccl = std::move(r);
        }

        // RoCE GID index ---------------------------------------------------------------------
        {
            bool roce = (det && det->profile.kind == fabric::roce) || (ex.fabric_kind && *ex.fabric_kind == fabric::roce);
            std::string roce_ev, roce_source = det && det->profile.kind == fabric::roce ? rdma_source : "expectations";
            if (nccl)
                for (const auto& p : nccl->processes)
                    for (const auto& dev : p.ib_devices)
                        if (detail::ends_with(dev, "/RoCE")) {
                            roce = true;
                            roce_ev = d::text_of(nccl->ib_devices_line);
                            roce_source = "nccl_log";
                        }
            if (roce_ev.empty() && det && det->profile.kind == fabric::roce && node.ibv_devinfo)
                roce_ev = d::find_line(*node.ibv_devinfo, "link_layer:");
            const bool gid_set = ex.gid_index.has_value() || (nccl && nccl->env.count("NCCL_IB_GID_INDEX") > 0);
            if (roce && !gid_set && (det || nccl)) {
                std::optional<int> hint = det ? det->profile.gid_index : std::nullopt;
                f.add("roce.gid_index_unset", severity::warning, nn, roce_source,
                      "RoCE is in use but no GID index is set (NCCL_IB_GID_INDEX)", roce_ev,
                      "Set the network's gid_index (NCCL_IB_GID_INDEX) to the RoCE v2 entry of the GID table (`show_gids`, or the "
                      "`GID[n]: ..., RoCE v2` line of `ibv_devinfo -v`)" +
                          (hint ? "; on this node it is " + std::to_string(*hint) : std::string()) +
                          ". NCCL >= 2.21 picks one itself; older NCCL takes index 0 and then hangs or fails with completion error 12.");
            }
        }

        // vLLM -------------------------------------------------------------------------------
        if (node.vllm_log) {
            auto v = parse_vllm_log(*node.vllm_log);
            if (!v.version.empty()) ver.emplace("vllm", v.version);
            bool specific = false;
            if (!v.out_of_memory.empty()) {
                f.add("vllm.out_of_memory", severity::error, nn, "vllm_log", "a GPU ran out of memory", v.out_of_memory.front().text,
                      "Run `dsdeploy plan` for this layout: lower --max-model-len or --max-num-seqs, add pipeline stages (more GPUs), "
                      "use an FP8 KV cache or a quantized checkpoint, and free GPU memory held by other processes; lower "
                      "--gpu-memory-utilization when the OOM happens outside vLLM's budget (CUDA graphs, NCCL buffers).");
                specific = true;
            }
            const std::optional<std::int64_t> need = ex.max_model_len ? ex.max_model_len : v.max_model_len;
            const std::string estimated =
                v.estimated_max_model_len ? " Based on the available memory, at most " + std::to_string(*v.estimated_max_model_len) + " tokens fit." : std::string();
            if (v.kv_cache_error) {
                f.add("vllm.kv_cache_too_small", severity::error, nn, "vllm_log",
                      "the KV cache cannot hold one request of --max-model-len tokens, so vLLM refused to start." + estimated,
                      v.kv_cache_error->text, d::fix_kv);
                specific = true;
            } else if (v.kv_cache_tokens && need && *v.kv_cache_tokens < *need) {
                f.add("vllm.kv_cache_too_small", severity::error, nn, "vllm_log",
                      "the KV cache holds " + std::to_string(*v.kv_cache_tokens) + " tokens, fewer than one request of " + std::to_string(*need) +
                          " tokens needs",
                      d::text_of(v.kv_cache_line), d::fix_kv);
                specific = true;
            } else if (v.max_concurrency && *v.max_concurrency < 1.0) {
                f.add("vllm.kv_cache_too_small", severity::error, nn, "vllm_log",
                      "maximum concurrency " + d::fmt_number(*v.max_concurrency) + "x: the KV cache cannot hold one full-length request",
                      d::text_of(v.concurrency_line), d::fix_kv);
                specific = true;
            }
            if (!v.no_node_type.empty()) {
                std::vector<std::string> ips;
                for (const auto& l : v.no_node_type) d::collect_node_ips(l.text, ips);
                f.add("vllm.no_node_type_fulfils", severity::error, nn, "vllm_log",
                      "Ray cannot place a request from vLLM on any node" +
                          (ips.empty() ? std::string() : " (it is pinned to node:" + detail::join(ips, ", node:") + ")"),
                      v.no_node_type.front().text,
                      std::string("Usually the driver's IP is not the IP Ray registered for its node (multi-NIC hosts). ") + d::fix_ip +
                          " Also check that `ray status` shows the GPUs TP x PP needs.");
                specific = true;
            }
            if (v.placement_group_timeout) {
                f.add("vllm.placement_group_timeout", severity::error, nn, "vllm_log",
                      "vLLM gave up waiting for Ray to reserve one GPU per worker", v.placement_group_timeout->text,
                      std::string("Check that `ray status` shows the GPU total TP x PP needs and that every `node:<ip>` in the request is a "
                                  "Ray node's IP. ") +
                          d::fix_ip);
                specific = true;
            } else if (!v.placement_group_waiting.empty()) {
                f.add("vllm.placement_group_waiting", severity::warning, nn, "vllm_log",
                      "vLLM is waiting for Ray to reserve one GPU per worker", v.placement_group_waiting.back().text,
                      std::string("Check that `ray status` shows the GPU total TP x PP needs and that every `node:<ip>` in the request is a "
                                  "Ray node's IP. ") +
                          d::fix_ip);
            }
            if (!v.not_enough_gpus.empty()) {
                f.add("vllm.not_enough_gpus", severity::error, nn, "vllm_log", "vLLM found fewer GPUs than TP x PP needs where it runs",
                      v.not_enough_gpus.front().text,
                      "Run `vllm serve` on a GPU node that belongs to the Ray cluster, with `--distributed-executor-backend ray` when TP x "
                      "PP is larger than one node's GPUs (required from vLLM 0.11.1 on); check that `ray status` shows the GPU total.");
                specific = true;
            }
            if (want_nodes > 1 && !v.executor_backend.empty() && v.executor_backend != "ray")
                f.add("vllm.executor_not_ray", severity::warning, nn, "vllm_log",
                      "the plan spans " + std::to_string(want_nodes) + " nodes but vLLM runs the \"" + v.executor_backend + "\" executor",
                      d::text_of(v.executor_line), "Add `--distributed-executor-backend ray` to `vllm serve` for multi-node serving over Ray.");
            if (v.engine_failed && !specific)
                f.add("vllm.engine_failed", severity::error, nn, "vllm_log", "the vLLM engine stopped during start-up", v.engine_failed->text,
                      "The lines before this one in the log give the cause; run `dsdeploy doctor` with the NCCL and Ray outputs of every "
                      "node as well.");
            for (const auto& ip : v.requested_node_ips) {
                std::string line;
                for (const auto* group : {&v.no_node_type, &v.placement_group_waiting})
                    for (const auto& l : *group)
                        if (line.empty() && d::has(l.text, "node:" + ip)) line = l.text;
                if (line.empty() && v.placement_group_timeout) line = v.placement_group_timeout->text;
                requested_ips.push_back(wanted_ip{ip, nn, line});
            }
            for (const auto& ip : v.ray_worker_ips) ray_ips.emplace(ip, seen_ip{nn, "vllm_log", "(RayWorkerWrapper ..., ip=" + ip + ")"});
        }

        // probe facts --------------------------------------------------------------------------
        if (node.shm_bytes && *node.shm_bytes < ex.min_shm_bytes)
            f.add("shm.too_small", severity::error, nn, "probe",
                  "/dev/shm holds " + d::fmt_bytes(static_cast<double>(*node.shm_bytes)) + "; NCCL needs at least " +
                      d::fmt_bytes(static_cast<double>(ex.min_shm_bytes)) + " for its shared-memory transport",
                  "/dev/shm: " + std::to_string(*node.shm_bytes) + " bytes", d::fix_shm);
        if (node.listening)
            for (const auto& s : *node.listening)
                if (s.port == ex.dashboard_port && !is_loopback(s.address))
                    f.add("ray.dashboard_exposed", severity::warning, nn, "probe",
                          "the Ray dashboard (port " + std::to_string(s.port) + ") listens on " + s.address +
                              ", reachable from other hosts; it accepts jobs (arbitrary code) without authentication",
                          "LISTEN " + s.address + ":" + std::to_string(s.port),
                          "Bind it to localhost (`ray start --dashboard-host 127.0.0.1`, Ray's default) and reach it through an SSH tunnel "
                          "(`ssh -L 8265:127.0.0.1:8265 <head>`), or firewall the port.");
        if (node.vllm_host_ip) {
            host_ips.push_back(wanted_ip{*node.vllm_host_ip, nn, "VLLM_HOST_IP=" + *node.vllm_host_ip});
            if (exp && !exp->address.empty() && exp->address != *node.vllm_host_ip)
                f.add("ray.node_ip_mismatch", severity::error, nn, "probe",
                      "VLLM_HOST_IP is " + *node.vllm_host_ip + " but the plan gives this node the address " + exp->address,
                      "VLLM_HOST_IP=" + *node.vllm_host_ip, d::fix_ip);
        }
        for (auto& kv : ver)
            if (!kv.second.empty()) versions[kv.first].emplace_back(nn, kv.second);
    }

    // across nodes -----------------------------------------------------------------------------
    if (detections.size() >= 2)
        for (const auto& w : agree(detections).warnings)
            f.add("fabric.mismatch", severity::warning, "", "ibv_devinfo", "the nodes' RDMA hardware differs", w,
                  "Give every node the same RDMA hardware and link layer, or plan for what all of them share.");
    {
        std::set<bool> kinds;  // true: IB/RoCE
        for (const auto& [node_name, l] : nccl_nets) kinds.insert(!d::has(l.text, "Socket"));
        if (kinds.size() > 1) {
            std::vector<std::string> lines;
            for (const auto& [node_name, l] : nccl_nets) lines.push_back(node_name + ": " + l.text);
            f.add("fabric.mismatch", severity::warning, "", "nccl_log", "NCCL uses RDMA on some nodes and TCP on others",
                  detail::join(lines, "\n"),
                  "Give every node the same RDMA setup (devices visible, NCCL_IB_HCA, NCCL_IB_DISABLE=0); the slowest node's "
                  "transport sets the pace for all of them.");
        }
    }
    for (const auto& [key, list] : versions) {
        std::set<std::string> distinct;
        for (const auto& p : list) distinct.insert(p.second);
        if (distinct.size() < 2) continue;
        std::vector<std::string> parts;
        for (const auto& p : list) parts.push_back(p.first + ": " + p.second);
        const bool hard = key == "vllm" || key == "ray" || key == "python" || key == "torch" || key == "image";
        f.add("version.skew", hard ? severity::error : severity::warning, "", "versions", key + " differs between nodes",
              key + " " + detail::join(parts, "; "),
              "Run the same container image (or the same package versions) on every node; Ray needs the same Ray and Python version on "
              "all nodes, and vLLM workers must match the driver.");
    }
    if (!expected_ips.empty())
        for (const auto& [ip, where] : ray_ips)
            if (!expected_ips.count(ip))
                f.add("ray.node_ip_mismatch", severity::error, where.node, where.source,
                      "Ray knows a node by " + ip + ", which is not any planned node address (" +
                          detail::join(std::vector<std::string>(expected_ips.begin(), expected_ips.end()), ", ") + ")",
                      where.line, d::fix_ip);
    for (const auto& w : requested_ips) {
        const bool unknown_to_ray = !ray_ips.empty() && !ray_ips.count(w.ip);
        const bool unplanned = ray_ips.empty() && !expected_ips.empty() && !expected_ips.count(w.ip);
        if (!unknown_to_ray && !unplanned) continue;
        std::vector<std::string> known;
        for (const auto& kv : ray_ips) known.push_back(kv.first);
        f.add("ray.node_ip_mismatch", severity::error, w.node, "vllm_log",
              "the request is pinned to node:" + w.ip + " but " +
                  (unknown_to_ray ? "Ray has no node with that IP (Ray's nodes: " + detail::join(known, ", ") + ")"
                                  : std::string("that is not any planned node address")),
              w.line, d::fix_ip);
    }
    for (const auto& h : host_ips)
        if (!ray_ips.empty() && !ray_ips.count(h.ip)) {
            std::vector<std::string> known;
            for (const auto& kv : ray_ips) known.push_back(kv.first);
            f.add("ray.node_ip_mismatch", severity::error, h.node, "probe",
                  "VLLM_HOST_IP " + h.ip + " is not the IP of any Ray node (" + detail::join(known, ", ") + ")", h.line, d::fix_ip);
        }

    std::stable_sort(f.out.begin(), f.out.end(), [](const finding& a, const finding& b) { return a.level < b.level; });
    return f.out;
}

DSDEPLOY_INLINE bool has_errors(const std::vector<finding>& findings) {
    return std::any_of(findings.begin(), findings.end(), [](const finding& x) { return x.level == severity::error; });
}

DSDEPLOY_INLINE std::string to_text(const std::vector<finding>& findings) {
    if (findings.empty()) return "No findings.\n";
    std::string out;
    for (const auto& x : findings) {
        std::string level(to_string(x.level));
        for (auto& c : level) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        out += level + "  " + x.id;
        if (!x.node.empty() || !x.source.empty()) out += "  [" + (x.node.empty() ? std::string("cluster") : x.node) + (x.source.empty() ? "" : ", " + x.source) + "]";
        out += "\n  " + x.message + "\n";
        if (!x.evidence.empty()) {
            bool first = true;
            for (auto l : detail::split_lines(x.evidence)) {
                out += first ? "  evidence: " : "            ";
                out.append(l.data(), l.size());
                out += "\n";
                first = false;
            }
        }
        out += "  fix:      " + x.fix + "\n\n";
    }
    return out;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const finding& f) {
    j = nlohmann::json{{"id", f.id},           {"severity", to_string(f.level)}, {"node", f.node}, {"source", f.source},
                       {"message", f.message}, {"evidence", f.evidence},         {"fix", f.fix}};
}

DSDEPLOY_INLINE node_evidence evidence_from_output(std::string node, std::string_view output) {
    node_evidence e;
    e.name = std::move(node);
    if (parse_nccl_log(output).recognised) e.nccl_log = std::string(output);
    if (parse_vllm_log(output).recognised) e.vllm_log = std::string(output);
    auto rs = parse_ray_status(output);
    if (rs.recognised || rs.connection_error) e.ray_status = std::string(output);
    if (!parse_ray_list_nodes(output).empty()) e.ray_list_nodes = std::string(output);
    auto smi = parse_nvidia_smi(output);
    if (!smi.gpus.empty() || smi.failure) e.nvidia_smi = std::string(output);
    auto ibv = parse_ibv_devinfo(output);
    if (!ibv.ports.empty() || ibv.no_devices) e.ibv_devinfo = std::string(output);
    return e;
}

// --- files and probes ------------------------------------------------------------------------

DSDEPLOY_INLINE std::string read_text_file(const std::filesystem::path& path, std::size_t max_bytes) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        raise(errc::diagnose_input, path.string(), "is a folder; give the file that holds the tool's output or log");
    std::ifstream in(path, std::ios::binary);
    if (!in) raise(errc::diagnose_input, path.string(), "cannot be opened for reading; check the path and its permissions");
    std::string out;
    char buf[65536];
    while (in) {
        in.read(buf, sizeof buf);
        const auto got = static_cast<std::size_t>(in.gcount());
        if (out.size() + got > max_bytes)
            raise(errc::diagnose_input, path.string(),
                  "is larger than " + std::to_string(max_bytes >> 20) + " MiB; give the relevant part of the log (e.g. `tail -n 100000`)");
        out.append(buf, got);
    }
    if (in.bad()) raise(errc::diagnose_input, path.string(), "could not be read to the end");
    return out;
}

DSDEPLOY_INLINE probe_result probe_local(const std::string& node_name, const probe_options& o) {
    namespace d = detail::diag;
    probe_result r;
    r.evidence.name = node_name;
    const auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(o.timeout);
    auto run = [&](const std::vector<std::string>& argv, const std::string& what) -> std::optional<std::string> {
        auto c = detail::run_process(argv, "", limit, std::chrono::milliseconds(500), std::size_t{16} << 20);
        if (!c.started) {
            r.unavailable.push_back(what + ": " + argv.front() + " is not installed");
            return std::nullopt;
        }
        if (c.timed_out) {
            r.unavailable.push_back(what + ": no answer within " + std::to_string(o.timeout.count()) + " s");
            return std::nullopt;
        }
        return c.err.empty() ? c.out : c.out + (c.out.empty() || c.out.back() == '\n' ? "" : "\n") + c.err;
    };
    if (auto out = run({o.ibv_devinfo}, "ibv_devinfo")) r.evidence.ibv_devinfo = *out;
    try {
        r.evidence.sysfs = read_sysfs_infiniband(o.sysfs_root);
    } catch (const error& e) {
        r.unavailable.push_back(std::string("sysfs: ") + e.what());
    }
    if (auto out = run({o.nvidia_smi}, "nvidia-smi")) {
        r.evidence.nvidia_smi = *out;
        if (auto topo = run({o.nvidia_smi, "topo", "-m"}, "nvidia-smi topo -m")) r.evidence.nvidia_smi_topo = *topo;
    }
    std::string address = o.ray_address;
    if (address.empty())
        if (const char* env = std::getenv("RAY_ADDRESS")) address = env;
    if (address.empty()) {
        std::ifstream current("/tmp/ray/ray_current_cluster");
        std::string line;
        if (current && std::getline(current, line)) address = std::string(detail::trim(line));
    }
    if (address.empty()) {
        r.unavailable.push_back("ray status: no Ray cluster known here (give --ray-address or set RAY_ADDRESS)");
    } else if (auto out = run({o.ray, "status", "--address", address}, "ray status")) {
        r.evidence.ray_status = *out;
        if (auto v = run({o.ray, "--version"}, "ray --version")) {
            auto ver = d::tokens(d::after(*v, "version"));
            if (!ver.empty()) r.evidence.versions["ray"] = std::string(ver.front());
        }
    }
    struct statvfs st {};
    if (::statvfs(o.shm.c_str(), &st) == 0)
        r.evidence.shm_bytes = static_cast<std::uint64_t>(st.f_blocks) * static_cast<std::uint64_t>(st.f_frsize);
    else
        r.unavailable.push_back("shm: cannot stat " + o.shm.string());
    std::vector<listening_socket> listening;
    bool any_table = false;
    for (const char* name : {"tcp", "tcp6"}) {
        std::ifstream in(o.proc_net / name);
        if (!in) continue;
        std::ostringstream ss;
        ss << in.rdbuf();
        any_table = true;
        auto part = parse_proc_net_tcp(ss.str());
        listening.insert(listening.end(), part.begin(), part.end());
    }
    if (any_table) r.evidence.listening = std::move(listening);
    else r.unavailable.push_back("listening sockets: cannot read " + (o.proc_net / "tcp").string());
    return r;
}

DSDEPLOY_NAMESPACE_END
