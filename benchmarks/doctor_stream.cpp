// SPDX-License-Identifier: Apache-2.0
// dsdeploy doctor's streaming read of a large log (issue 15, item 3): MB/s and peak memory.
//
//   doctor_stream generate FILE [--bytes N] [--ips K] [--fixtures DIR] [--only-ips]
//   doctor_stream read FILE [--chunk BYTES]
//
// `generate` writes a log of about N bytes (default 1 GiB) made of the real vLLM, NCCL and Ray
// lines in DIR (default tests/fixtures: vllm/*.log, nccl/*.log, gpu/nccl-*.log), cycled, with a
// Ray worker prefix "(RayWorkerWrapper pid=P, ip=X)" on every fourth line and a placement request
// pinned to "node:X" on every 50th, X running through K distinct addresses (default 40,000); a
// third of the lines are coloured (ANSI SGR), one in ten ends with CRLF and one in 50 with a bare
// CR. --only-ips writes only the placement-request lines (the "40,000 distinct IPs in 10 MB"
// case). `read` runs what `dsdeploy doctor --vllm-log FILE` runs: log_reader (NCCL, vLLM and
// failure-line parsers) with vLLM's memory lines beside it, then diagnose() over the digest, and
// prints bytes, seconds, MB/s (10^6 bytes per wall second), CPU seconds, the peak resident set
// (getrusage ru_maxrss) and the findings. BENCHMARKS.md has the figures and the command.
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/vllm_memory_log.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

std::string ip_of(std::uint64_t i) {
    return "10." + std::to_string((i >> 16) & 0xff) + "." + std::to_string((i >> 8) & 0xff) + "." + std::to_string(i & 0xff);
}

std::vector<std::string> fixture_lines(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    std::vector<std::filesystem::path> files;
    for (const char* sub : {"vllm", "nccl", "gpu"}) {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(dir / sub, ec))
            if (e.path().extension() == ".log") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        std::string l;
        while (std::getline(in, l)) {
            while (!l.empty() && (l.back() == '\r' || l.back() == '\n')) l.pop_back();
            if (!l.empty()) out.push_back(l);
        }
    }
    return out;
}

int generate(const std::string& file, std::uint64_t bytes, std::uint64_t ips, const std::filesystem::path& fixtures, bool only_ips) {
    const auto pool = fixture_lines(fixtures);
    if (pool.empty() && !only_ips) {
        std::cerr << "no fixture lines under " << fixtures << " (give --fixtures DIR)\n";
        return 2;
    }
    std::ofstream out(file, std::ios::binary);
    if (!out) {
        std::cerr << "cannot write " << file << "\n";
        return 2;
    }
    std::string buf;
    buf.reserve(1 << 20);
    std::uint64_t written = 0, n = 0, ip = 0;
    while (written < bytes) {
        std::string line;
        const bool request = only_ips || n % 50 == 49;
        if (request) {
            line = "(autoscaler +" + std::to_string(n % 3600) + "s) Error: No available node types can fulfill resource request {'GPU': 1.0, "
                   "'node:" + ip_of(ip++ % ips) + "': 0.001}. Add suitable node types to this cluster to resolve this issue.";
        } else {
            line = pool[n % pool.size()];
            if (n % 4 == 0) line = "(RayWorkerWrapper pid=" + std::to_string(1000 + n % 50000) + ", ip=" + ip_of(ip++ % ips) + ") " + line;
            if (n % 3 == 0) line = "\x1b[36m" + line + "\x1b[0m";
        }
        line += n % 10 == 3 ? "\r\n" : n % 50 == 7 ? "\r" : "\n";
        buf += line;
        written += line.size();
        ++n;
        if (buf.size() >= (1 << 20)) {
            out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
            buf.clear();
        }
    }
    out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    out.close();
    std::cout << "wrote " << file << ": " << written << " bytes, " << n << " lines, " << std::min(ip, ips) << " distinct IPs\n";
    return out ? 0 : 1;
}

int read(const std::string& file, std::size_t chunk) {
    using clock = std::chrono::steady_clock;
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    const auto t0 = clock::now();
    dsdeploy::log_reader reader("vllm_log");
    dsdeploy::vllm_memory_log_parser memory;
    reader.on_line([&memory](std::size_t n, std::string_view l) { memory.line(n, l); });
    reader.feed_file(file, chunk);
    dsdeploy::evidence ev;
    ev.nodes.emplace_back();
    ev.nodes.back().name = "node-a";
    ev.nodes.back().streamed.push_back(reader.finish());
    const auto logged = memory.finish();
    const auto findings = dsdeploy::diagnose(ev);
    const std::string text = dsdeploy::to_text(findings);
    const double secs = std::chrono::duration<double>(clock::now() - t0).count();
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    auto cpu = [](const rusage& r) {
        return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
    };
    const auto& g = ev.nodes.back().streamed.back();
    std::printf("bytes %llu, lines %llu, %.2f s wall, %.2f s CPU, %.1f MB/s, peak RSS %.1f MiB\n", static_cast<unsigned long long>(g.bytes),
                static_cast<unsigned long long>(g.lines), secs, cpu(after) - cpu(before), static_cast<double>(g.bytes) / 1e6 / secs,
                static_cast<double>(after.ru_maxrss) / 1024.0);
    std::printf("recognised lines: nccl %zu, vllm %zu, events %zu; requested node IPs kept %zu (+%zu more); worker IPs %zu; memory figures %s; "
                "%zu finding(s)\n",
                g.nccl_lines, g.vllm_lines, g.event_lines, g.vllm.requested_node_ips.size(), g.vllm.requested_node_ips_not_kept,
                g.vllm.ray_worker_ips.size(), logged.recognised ? "yes" : "no", findings.size());
    for (const auto& f : findings) std::printf("  %s %s\n", std::string(dsdeploy::to_string(f.level)).c_str(), f.id.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: doctor_stream generate FILE [--bytes N] [--ips K] [--fixtures DIR] [--only-ips]\n"
                     "       doctor_stream read FILE [--chunk BYTES]\n";
        return 2;
    }
    const std::string mode = argv[1], file = argv[2];
    std::uint64_t bytes = std::uint64_t{1} << 30, ips = 40000;
    std::size_t chunk = std::size_t{1} << 20;
    std::filesystem::path fixtures = "tests/fixtures";
    bool only_ips = false;
    for (int i = 3; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--bytes") bytes = std::strtoull(next().c_str(), nullptr, 10);
        else if (a == "--ips") ips = std::max<std::uint64_t>(1, std::strtoull(next().c_str(), nullptr, 10));
        else if (a == "--chunk") chunk = std::max<std::size_t>(1, std::strtoull(next().c_str(), nullptr, 10));
        else if (a == "--fixtures") fixtures = next();
        else if (a == "--only-ips") only_ips = true;
        else {
            std::cerr << "unknown option " << a << "\n";
            return 2;
        }
    }
    try {
        if (mode == "generate") return generate(file, bytes, ips, fixtures, only_ips);
        if (mode == "read") return read(file, chunk);
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 3;
    }
    std::cerr << "mode is generate or read\n";
    return 2;
}
