// SPDX-License-Identifier: Apache-2.0
// Implementation of orchestrate.hpp, shared part: the step names, the deployment's paths, the
// commands `up` would run (plan_commands) and the helpers of the bring-up and of status, down
// and logs. The bring-up itself is impl/orchestrate_up_inl.hpp; status, down and logs are
// impl/orchestrate_status_down_logs_inl.hpp; what runs on a node is impl/orchestrate_scripts_inl.hpp.
#pragma once

#include <dsdeploy/impl/orchestrate_scripts_inl.hpp>
#include <dsdeploy/netcheck.hpp>
#include <dsdeploy/orchestrate.hpp>

#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
namespace orch {

inline double secs_since(clock::time_point t0) {
    return std::chrono::duration<double>(clock::now() - t0).count();
}

inline double ms_to_s(milliseconds m) { return static_cast<double>(m.count()) / 1000.0; }

inline std::string fixed1(double v) {
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(1);
    s << v;
    return s.str();
}

using dsdeploy::detail::tail_lines;  // detail/text.hpp

inline std::string last_line(std::string_view s) { return tail_lines(s, 1); }

inline std::string indent(const std::string& text, const std::string& pad = "    ") {
    std::string out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) out += pad + line + "\n";
    return out;
}

// key=value lines (the remote snippets' output); later keys win, "proc" lines are collected.
struct kv_output {
    std::map<std::string, std::string> values;
    std::vector<std::string> procs;  // "name pid alive|dead"
};
inline kv_output parse_kv(std::string_view text) {
    kv_output r;
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        const std::string key = line.substr(0, eq);
        const std::string value = line.substr(eq + 1);
        if (key == "proc") r.procs.push_back(value);
        else r.values[key] = value;
    }
    return r;
}

// Runs f(i) for every i in `nodes` at once; results in the same order.
template <class F>
auto parallel(const std::vector<std::size_t>& nodes, F f) -> std::vector<decltype(f(std::size_t{}))> {
    using R = decltype(f(std::size_t{}));
    std::vector<R> out(nodes.size());
    std::vector<std::thread> threads;
    threads.reserve(nodes.size());
    for (std::size_t k = 0; k < nodes.size(); ++k) threads.emplace_back([&, k] { out[k] = f(nodes[k]); });
    for (auto& t : threads) t.join();
    return out;
}

inline std::string describe_exit(const command_result& r) {
    if (!r.started) return "could not be run";
    if (r.unreachable) return "ssh exit 255";
    if (r.timed_out) return "timed out after " + fixed1(ms_to_s(r.elapsed)) + " s";
    if (r.exit_code < 0) return "killed by a signal";
    return "exit status " + std::to_string(r.exit_code);
}

inline std::string combined(const command_result& r) {
    std::string s = r.out;
    if (!r.err.empty()) {
        if (!s.empty() && s.back() != '\n') s += '\n';
        s += r.err;
    }
    return s;
}

inline std::vector<std::string> split_ws(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
}

}  // namespace orch
}  // namespace detail

DSDEPLOY_INLINE std::string_view to_string(step s) {
    switch (s) {
        case step::preflight: return "preflight";
        case step::copy: return "copy";
        case step::netcheck: return "netcheck";
        case step::start_head: return "start-head";
        case step::wait_head: return "wait-head";
        case step::reach_head: return "reach-head";
        case step::start_workers: return "start-workers";
        case step::wait_cluster: return "wait-cluster";
        case step::serve: return "serve";
        case step::health: return "health";
        case step::smoke: return "smoke";
    }
    return "?";
}

DSDEPLOY_INLINE std::optional<step> parse_until(std::string_view s) {
    if (s == "preflight") return step::preflight;
    if (s == "copy") return step::copy;
    if (s == "netcheck") return step::netcheck;
    if (s == "cluster") return step::wait_cluster;
    if (s == "serve") return step::health;
    if (s == "smoke") return step::smoke;
    return std::nullopt;
}

DSDEPLOY_INLINE std::string deployment::target(std::size_t i) const {
    const auto& n = inv.cluster.nodes.at(i);
    return n.ssh.empty() ? n.address : n.ssh;
}

DSDEPLOY_INLINE std::string deployment::node_dir(std::size_t i) const {
    std::string r = remote_dir;
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    return r + "/" + inv.cluster.nodes.at(i).name;
}

DSDEPLOY_INLINE std::string default_remote_dir(const inventory& inv) { return "~/.dsdeploy/" + inv.name; }

DSDEPLOY_INLINE int up_report::exit_code() const noexcept {
    if (!failure) return 0;
    return failure->code == errc::orchestrate_ssh ? 3 : 1;
}

DSDEPLOY_INLINE std::vector<planned_command> plan_commands(const deployment& d, const up_options& o) {
    using namespace detail::orch;
    std::vector<planned_command> r;
    const std::size_t n = d.inv.cluster.nodes.size(), h = d.head();
    auto add = [&](step s, std::size_t i, std::vector<std::string> argv) { r.push_back({s, i, std::move(argv)}); };
    for (std::size_t i = 0; i < n; ++i) add(step::preflight, i, preflight_argv(d, i));
    if (o.until == step::preflight) return r;
    for (std::size_t i = 0; i < n; ++i) add(step::copy, i, copy_argv(d));
    if (o.until == step::copy) return r;
    if (o.netcheck && n > 1) {
        netcheck_options no;
        no.join_timeout = o.netcheck_join_timeout;
        for (std::size_t i = 0; i < n; ++i) add(step::netcheck, i, netcheck_command(d, i, no).argv);
    }
    if (o.until == step::netcheck) return r;
    add(step::start_head, h, script_argv(d, h, "start.sh"));
    const auto& head_addr = d.inv.cluster.nodes.at(h).address;
    add(step::wait_head, h, port_check_argv(head_addr, head_port(d), seconds(2)));
    for (std::size_t i = 0; i < n; ++i)
        if (i != h) add(step::reach_head, i, port_check_argv(head_addr, head_port(d), o.reach_timeout));
    for (std::size_t i = 0; i < n; ++i)
        if (i != h) add(step::start_workers, i, script_argv(d, i, "start.sh"));
    if (ray(d)) add(step::wait_cluster, h, ray_status_argv(d));
    if (o.until == step::wait_cluster) return r;
    if (has_file(d, h, "serve.sh")) add(step::serve, h, script_argv(d, h, "serve.sh"));
    return r;
}

DSDEPLOY_NAMESPACE_END
