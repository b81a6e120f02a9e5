// SPDX-License-Identifier: Apache-2.0
// Implementation of diagnose_nccl.hpp: the NCCL log parser.
#pragma once

#include <dsdeploy/detail/diagnose_text.hpp>
#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/diagnose_nccl.hpp>

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

DSDEPLOY_INLINE void nccl_log_parser::line(std::size_t number, std::string_view text) {
    namespace d = detail::diag;
    nccl_report& r = r_;
    const std::string_view line = detail::trim(text);
    if (line.empty()) return;
    bool marked = false;
    auto mark = [&r, &marked]() {
        r.recognised = true;
        marked = true;
    };
    auto info_at = line.find("NCCL INFO");
    auto warn_at = line.find("NCCL WARN");
    const auto at = std::min(info_at, warn_at);
    const bool nccl_line = at != std::string_view::npos;
    if (nccl_line) mark();
    // the process: "host:pid:tid [dev]" before "NCCL INFO"
    nccl_process* proc = nullptr;
    if (nccl_line) {
        // the tokens before "NCCL INFO", from the last one back
        const std::string_view pre = line.substr(0, at);
        auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
        auto token_before = [&](std::size_t& end) {
            while (end > 0 && space(pre[end - 1])) --end;
            std::size_t begin = end;
            while (begin > 0 && !space(pre[begin - 1])) --begin;
            const std::string_view tok = pre.substr(begin, end - begin);
            end = begin;
            return tok;
        };
        std::size_t end = pre.size();
        for (std::string_view tok = token_before(end); !tok.empty(); tok = token_before(end)) {
            if (tok.size() < 3 || tok.front() != '[' || tok.back() != ']') continue;
            auto dev = detail::parse_int(tok.substr(1, tok.size() - 2));
            std::size_t peek = end;
            const std::string_view id = token_before(peek);  // "host:pid:tid"
            if (!dev || id.empty()) continue;
            const auto last = id.rfind(':');
            const auto before = last == std::string_view::npos || last == 0 ? std::string_view::npos : id.rfind(':', last - 1);
            if (before == std::string_view::npos || !detail::parse_int(id.substr(last + 1)) || !detail::parse_int(id.substr(before + 1, last - before - 1)))
                continue;
            const std::string_view key = id.substr(0, last);  // "host:pid"
            auto found = proc_index_.find(key);
            if (found == proc_index_.end()) {
                if (r.processes.size() >= 4096) break;
                nccl_process p;
                p.host = std::string(id.substr(0, before));
                p.pid = std::string(id.substr(before + 1, last - before - 1));
                p.device = *dev;
                found = proc_index_.emplace(std::string(key), r.processes.size()).first;
                r.processes.push_back(std::move(p));
            }
            proc = &r.processes[found->second];
            break;
        }
    }
    const std::string_view body = nccl_line ? detail::trim(line.substr(at + 9)) : line;
    if (auto v = d::after(line, "NCCL version "); !v.empty()) {
        auto ver = d::take_while(v, [](char c) { return !std::isspace(static_cast<unsigned char>(c)) && c != ','; });
        if (!ver.empty() && std::isdigit(static_cast<unsigned char>(ver.front()))) {
            d::add_unique(r.versions, std::string(ver), 64);
            if (proc && proc->version.empty()) proc->version = std::string(ver);
            mark();
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
            d::add_unique(r.networks, name, 16);
            if (proc) proc->network = name;
            if (name == "Socket" && !r.socket_network) r.socket_network = d::make_line(number, line);
            if (name != "Socket" && !r.ib_network) r.ib_network = d::make_line(number, line);
        }
    }
    if (d::has(body, "NET/IB : No device found") && !r.ib_no_device) r.ib_no_device = d::make_line(number, line);
    if (d::has(body, "Failed to initialize NET plugin IB") && !r.ib_plugin_failed) r.ib_plugin_failed = d::make_line(number, line);
    if (d::has(body, "NET/Socket : Using") || d::has(body, "Bootstrap : Using") || d::has(body, "Bootstrap: Using")) {
        auto entries = d::bracket_entries(body);
        if (entries.empty()) {  // "Bootstrap : Using enp220s0np0:11.1.128.136<0>"
            auto t = d::tokens(d::after(body, "Using"));
            if (!t.empty()) entries.emplace_back(d::take_while(t[0], [](char c) { return c != '<'; }));
        }
        for (auto& e : entries) {
            if (proc) d::add_unique(proc->socket_interfaces, e, 64);
            if (!r.interface_line) r.interface_line = d::make_line(number, line);
        }
    }
    if (d::has(body, "NET/IB : Using")) {
        auto semi = body.find("; OOB");
        auto devs = d::bracket_entries(body.substr(0, semi));
        if (!devs.empty() && !r.ib_devices_line) r.ib_devices_line = d::make_line(number, line);
        if (proc)
            for (auto& e : devs) d::add_unique(proc->ib_devices, e, 64);
        if (semi != std::string_view::npos) {
            auto oob = d::tokens(body.substr(semi + 5));
            if (!oob.empty() && proc) d::add_unique(proc->socket_interfaces, std::string(d::take_while(oob[0], [](char c) { return c != '<'; })), 64);
            if (!oob.empty() && !r.interface_line) r.interface_line = d::make_line(number, line);
        }
    }
    if (auto v = d::after(body, " via "); !v.empty() && d::has(body, "Channel")) {
        auto t = d::tokens(v);
        if (!t.empty()) {
            std::string tr(t[0]);
            if (r.transports.size() < 64) d::add_unique(r.transports, tr);
            if (detail::starts_with(tr, "NET/Socket") && !r.socket_network) r.socket_network = d::make_line(number, line);
            if (detail::starts_with(tr, "NET/IB") && !r.ib_network) r.ib_network = d::make_line(number, line);
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
    if (auto v = d::after(line, "vLLM is using nccl=="); !v.empty()) {
        auto ver = d::take_while(v, [](char c) { return !std::isspace(static_cast<unsigned char>(c)); });
        if (!ver.empty() && std::isdigit(static_cast<unsigned char>(ver.front()))) d::add_unique(r.versions, std::string(ver), 64);
        r.init_start = d::make_line(number, line);
        mark();
    }
    if (nccl_line && (d::has(body, "Init START") || d::has(body, "ncclCommInitRank"))) r.init_start = d::make_line(number, line);
    if (nccl_line && d::has(body, "Init COMPLETE")) r.init_complete = d::make_line(number, line);
    last_number_ = number;
    last_text_.assign(line.data(), std::min(line.size(), 2 * d::max_line_chars));
    if (d::has(line, "Failed to open libibverbs")) {
        if (!r.ibverbs_missing) r.ibverbs_missing = d::make_line(number, line);
        mark();
    }
    if (r.ibverbs_missing && !r.socket_after_ibverbs && (d::has(body, "NET/Socket : Using") || d::has(body, "Using network Socket"))) {
        r.socket_after_ibverbs = d::make_line(number, line);
        auto entries = d::bracket_entries(body);
        if (!entries.empty())
            r.socket_after_ibverbs_interface =
                std::string(d::take_while(entries.front(), [](char c) { return c != ':' && c != '.' && c != '<'; }));
    }
    if (!r.watchdog && d::has(line, "Watchdog caught collective operation timeout")) {
        r.watchdog = d::make_line(number, line);
        mark();
        r.watchdog_rank = d::small_int(d::count_after(line, "[Rank "));
        r.watchdog_op = std::string(d::take_while(d::after(line, "OpType="), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }));
        r.watchdog_seq = d::count_after(line, "SeqNum=");
        r.watchdog_ran_ms = d::count_after(line, "ran for ");
        if (line.front() == '(' && d::has(line, "ip=")) {
            auto close = line.find(')');
            auto prefix = line.substr(0, close == std::string_view::npos ? line.size() : close);
            auto ip = d::take_while(d::after(prefix, "ip="), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':'; });
            if (is_ip_address(ip)) r.watchdog_ip = std::string(ip);
        }
    }
    if (!r.version_conflict && (d::has(line, "Invalid config blocking attribute value") || d::has(line, "undefined symbol: nccl"))) {
        r.version_conflict = d::make_line(number, line);
        mark();
    }
    if (!r.peer_lost && d::has(line, "remote process exited or there was a network error")) r.peer_lost = d::make_line(number, line);
    if (warn_at != std::string_view::npos && r.warnings.size() < 1000) r.warnings.push_back(d::make_line(number, line));
    if (!r.no_socket_interface && (d::has_nocase(line, "no socket interface found") || d::has_nocase(line, "no usable listening interface") ||
                                   (d::has(line, "ncclSocketInit") && d::has(line, "is neither AF_INET")) ||
                                   d::has(line, "Socket creation failed : Address family not supported")))
        r.no_socket_interface = d::make_line(number, line);
    if (!r.ib_completion_error && d::has(line, "Got completion") && (d::has(line, "error") || d::has(line, "status=")))
        r.ib_completion_error = d::make_line(number, line);
    if (!r.shm_error && (d::has(line, "Error while creating shared memory segment") || d::has(line, "Error while attaching to shared memory segment") ||
                         (d::has(line, "failed to extend /dev/shm")) || (d::has(line, "posix_fallocate") && d::has(line, "No space left"))))
        r.shm_error = d::make_line(number, line);
    if (r.errors.size() < 1000 &&
        (d::has(line, "ncclSystemError") || d::has(line, "ncclInternalError") || d::has(line, "ncclInvalidUsage") ||
         d::has(line, "ncclRemoteError") || d::has(line, "ncclUnhandledCudaError") || d::has(line, "NCCL error") ||
         d::has(line, "unhandled system error"))) {
        r.errors.push_back(d::make_line(number, line));
        mark();
    }
    if (marked) ++recognised_lines_;
}

DSDEPLOY_INLINE nccl_report nccl_log_parser::finish() {
    if (last_number_ > 0) r_.last_line = detail::diag::make_line(last_number_, last_text_);
    nccl_report out = std::move(r_);
    r_ = nccl_report{};
    proc_index_.clear();
    last_number_ = 0;
    last_text_.clear();
    recognised_lines_ = 0;
    return out;
}

DSDEPLOY_INLINE nccl_report parse_nccl_log(std::string_view text) {
    nccl_log_parser p;
    detail::diag::for_each_clean_line(text, [&p](std::size_t n, std::string_view l) { p.line(n, l); });
    return p.finish();
}

DSDEPLOY_NAMESPACE_END
