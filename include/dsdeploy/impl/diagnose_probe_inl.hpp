// SPDX-License-Identifier: Apache-2.0
// Implementation of diagnose.hpp's local probes: the /proc/net/tcp parser, reading a log file,
// and probe_local (ibv_devinfo, sysfs, nvidia-smi, ray status, /dev/shm, TCP listeners).
#pragma once

#include <dsdeploy/detail/diagnose_text.hpp>
#include <dsdeploy/detail/process.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/diagnose.hpp>

#include <arpa/inet.h>
#include <sys/statvfs.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

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
