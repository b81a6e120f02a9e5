// SPDX-License-Identifier: Apache-2.0
// The bring-up (orchestrate.hpp's up): the runner that goes step by step (preflight, copy, start
// the head, wait for it, reach it from the workers, start the workers, wait for the Ray cluster,
// serve, health, smoke) and fills the up_report, and that report as text and JSON.
#pragma once

#include <dsdeploy/detail/process.hpp>
#include <dsdeploy/detail/shell.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/impl/orchestrate_inl.hpp>
#include <dsdeploy/netcheck.hpp>
#include <dsdeploy/openai.hpp>
#include <dsdeploy/orchestrate.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
namespace orch {

// The bring-up, with its report being filled as it goes.
class runner {
public:
    runner(const deployment& d, const executor_fn& ex, const up_options& o) : d_(d), ex_(ex), o_(o) {}

    up_report run();

private:
    const deployment& d_;
    const executor_fn& ex_;
    const up_options& o_;
    up_report rep_;
    std::mutex m_;

    const std::string& name(std::size_t i) const { return d_.inv.cluster.nodes.at(i).name; }

    void say(const std::string& line) {
        if (o_.progress) {
            std::lock_guard<std::mutex> lock(m_);
            o_.progress(line);
        }
    }

    command_result exec(std::size_t i, std::vector<std::string> argv, std::chrono::milliseconds timeout, std::string input = {}) {
        command_spec c;
        c.argv = std::move(argv);
        c.timeout = timeout;
        c.input = std::move(input);
        return ex_(d_.target(i), c);
    }

    void record(step s, const std::string& node, bool ok, double secs, std::string detail,
                std::map<std::string, std::string> facts = {}) {
        std::lock_guard<std::mutex> lock(m_);
        rep_.steps.push_back({s, node, ok, secs, std::move(detail), std::move(facts)});
    }

    // The node's log (ray.log / vllm.log) tail, best effort.
    std::string log_tail(std::size_t i, const std::string& log) {
        std::vector<std::string> cmd = docker(d_) ? std::vector<std::string>{"tail", "-n", "40", "ray/dsdeploy-vllm.log"}
                                                  : std::vector<std::string>{"tail", "-n", "40", "logs/" + log + ".log"};
        const auto r = exec(i, in_dir(d_.node_dir(i), cmd), milliseconds(20000));
        return r.ok() ? r.out : std::string();
    }

    void fail(step s, std::size_t i, const command_result* r, std::string what, const std::string& log = {}) {
        step_failure f;
        f.step = s;
        f.node = name(i);
        f.field = "nodes[" + std::to_string(i) + "]";
        if (r) {
            f.exit_code = r->exit_code;
            f.timed_out = r->timed_out;
            f.output_tail = tail_lines(combined(*r), 30);
            if (r->unreachable) f.code = errc::orchestrate_ssh;
            else if (r->timed_out) f.code = errc::orchestrate_timeout;
        }
        if ((!r || !r->unreachable) && !log.empty()) f.log_tail = log_tail(i, log);
        f.message = "step " + std::string(to_string(s)) + " failed on " + f.node + ": " + what;
        if (r) f.message += " (" + describe_exit(*r) + ")";
        node_evidence ev = evidence_from_output(f.node, f.output_tail + "\n" + f.log_tail);
        evidence all;
        all.nodes.push_back(std::move(ev));
        f.findings = diagnose(all, expectations_for(d_.inv.cluster, d_.inv.network));
        // Keep the findings the text supports, not the cluster-wide "missing" ones.
        f.findings.erase(std::remove_if(f.findings.begin(), f.findings.end(), [](const finding& x) { return x.evidence.empty(); }),
                         f.findings.end());
        say("FAILED " + f.message);
        rep_.failure = std::move(f);
    }

    void fail_timeout(step s, std::size_t i, std::string what, const std::string& log = {}) {
        fail(s, i, nullptr, std::move(what), log);
        rep_.failure->timed_out = true;
        rep_.failure->code = errc::orchestrate_timeout;
    }

    std::vector<std::size_t> all_nodes() const {
        std::vector<std::size_t> v(d_.inv.cluster.nodes.size());
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = i;
        return v;
    }
    std::vector<std::size_t> workers() const {
        std::vector<std::size_t> v;
        for (std::size_t i = 0; i < d_.inv.cluster.nodes.size(); ++i)
            if (i != d_.head()) v.push_back(i);
        return v;
    }

    bool preflight();
    bool copy();
    bool netcheck();
    bool start_script(step s, const std::vector<std::size_t>& nodes, const std::string& script, const std::string& log);
    bool wait_head();
    bool reach_head();
    bool wait_cluster();
    bool health();
    bool smoke();
    std::optional<std::string> dead_process(std::size_t i, const std::string& proc, std::string* last_line_out);
};

inline bool runner::preflight() {
    const auto t0 = clock::now();
    say("preflight: checking " + std::to_string(d_.inv.cluster.nodes.size()) + " nodes");
    const auto nodes = all_nodes();
    auto results = parallel(nodes, [&](std::size_t i) { return exec(i, preflight_argv(d_, i), milliseconds(60000)); });
    std::vector<kv_output> facts(nodes.size());
    // Unreachable or broken first: nothing else can be judged there.
    for (std::size_t k = 0; k < nodes.size(); ++k) {
        const auto& r = results[k];
        if (!r.ok()) {
            record(step::preflight, name(nodes[k]), false, secs_since(t0), describe_exit(r));
            fail(step::preflight, nodes[k], &r, r.unreachable ? "the node cannot be reached over SSH: " + last_line(r.err)
                                                              : "the checks could not run");
            return false;
        }
        facts[k] = parse_kv(r.out);
    }
    std::vector<std::vector<std::string>> problems(nodes.size()), warnings(nodes.size());
    auto same_everywhere = [&](const std::string& key, const std::string& what) {
        std::map<std::string, std::vector<std::string>> by_value;
        for (std::size_t k = 0; k < nodes.size(); ++k) {
            auto it = facts[k].values.find(key);
            if (it != facts[k].values.end() && !it->second.empty() && it->second != "missing")
                by_value[it->second].push_back(name(nodes[k]));
        }
        if (by_value.size() <= 1) return;
        std::string text;
        for (const auto& [v, ns] : by_value) text += (text.empty() ? "" : "; ") + v.substr(0, 24) + " on " + detail::join(ns, ", ");
        for (std::size_t k = 0; k < nodes.size(); ++k) problems[k].push_back(what + " differs between the nodes: " + text);
    };
    for (std::size_t k = 0; k < nodes.size(); ++k) {
        const std::size_t i = nodes[k];
        const auto& n = d_.inv.cluster.nodes[i];
        const auto& v = facts[k].values;
        auto get = [&](const std::string& key) -> std::string {
            auto it = v.find(key);
            return it == v.end() ? std::string() : it->second;
        };
        auto& p = problems[k];
        if (!docker(d_)) {
            const std::string env = get("python_env");
            if (env.rfind("missing:", 0) == 0)
                p.push_back("no Python environment (" + env.substr(8) + "): set runtime.python_env to the prefix holding bin/ray and bin/vllm");
            else {
                if (get("versions") == "failed") p.push_back("the Python environment " + env + " cannot report its packages");
                if (ray(d_) && get("ray").empty()) p.push_back("ray is not installed in " + env);
                if (d_.inv.serving.engine == engine_kind::sglang) {
                    const std::string have = get("sglang");
                    if (have.empty()) p.push_back("sglang is not installed in " + env);
                    else if (!(parse_engine_version(have, "sglang") == parse_engine_version(d_.inv.runtime.sglang_version, "runtime.sglang_version")))
                        p.push_back("SGLang " + have + " is installed in " + env + ", but runtime.sglang_version is " +
                                    d_.inv.runtime.sglang_version + " (the flags were checked against that release); set it to " + have);
                } else if (get("vllm").empty()) {
                    p.push_back("vllm is not installed in " + env);
                }
            }
        } else {
            const std::string engine = get("engine");
            if (engine == "missing") p.push_back("docker is not installed");
            else if (engine.rfind("unreachable:", 0) == 0) p.push_back("the Docker engine does not answer: " + engine.substr(12));
            else {
                if (get("compose") == "missing") p.push_back("neither `docker compose` (v2) nor `docker-compose` (1.x) is installed");
                if (get("image_id").empty()) {
                    if (d_.inv.runtime.pull == pull_policy::never)
                        p.push_back("the image " + d_.inv.runtime.image + " is not on this node and runtime.pull is \"never\" (docker load or docker pull it)");
                    else
                        warnings[k].push_back("the image " + d_.inv.runtime.image + " is not on this node yet; start.sh pulls it (runtime.pull = \"" +
                                              std::string(to_string(d_.inv.runtime.pull)) + "\")");
                }
            }
        }
        if (n.gpu_count > 0) {
            const std::string g = get("gpus");
            if (g == "missing") p.push_back("nvidia-smi is not installed, but the inventory declares " + std::to_string(n.gpu_count) + " GPUs");
            else if (std::atoi(g.c_str()) < n.gpu_count)
                p.push_back("nvidia-smi lists " + (g.empty() ? std::string("0") : g) + " GPUs, the inventory declares " +
                            std::to_string(n.gpu_count));
        }
        if (get("model_config") == "missing") p.push_back("no config.json in the model folder " + model_path(d_.inv));
        const std::string iface = node_interface(d_.inv.network, n);
        if (!iface.empty()) {
            const std::string addrs = get("iface_addrs");
            if (addrs == "missing") p.push_back("the interface " + iface + " does not exist");
            else if (is_ip_address(n.address)) {
                bool found = false;
                for (const auto& a : split_ws(addrs))
                    if (a.substr(0, a.find('/')) == n.address) found = true;
                if (!found) p.push_back("the interface " + iface + " does not hold " + n.address + " (it has: " + (addrs.empty() ? "none" : addrs) + ")");
            }
        }
        const std::string running = get("running");
        if (o_.check_ports && running.empty()) {
            std::set<int> listening;
            for (const auto& w : split_ws(get("listening"))) listening.insert(std::atoi(w.c_str()));
            for (const auto& u : node_ports(d_.inv, i))
                for (int port : listening)
                    if (port >= u.first && port <= u.last)
                        p.push_back("port " + std::to_string(port) + " (" + u.service + ", " + u.field + ") is already in use");
        } else if (!running.empty()) {
            warnings[k].push_back("already running: " + running + " (ports not checked; start.sh will leave them as they are)");
        }
        const std::string shm = get("shm_kb");
        if (!docker(d_) && !shm.empty()) {
            const std::uint64_t bytes = std::strtoull(shm.c_str(), nullptr, 10) * 1024;
            if (bytes < o_.min_shm_bytes) {
                const std::string text = "/dev/shm is " + std::to_string(bytes >> 20) + " MiB, below " +
                                         std::to_string(o_.min_shm_bytes >> 20) + " MiB (NCCL and vLLM need shared memory)";
                (n.gpu_count > 0 ? p : warnings[k]).push_back(text);
            }
        }
    }
    if (docker(d_)) same_everywhere("image_id", "the image ID");
    else {
        same_everywhere("ray", "the Ray version");
        same_everywhere("vllm", "the vLLM version");
    }
    same_everywhere("model_config", "the model's config.json");
    std::optional<std::size_t> first_bad;
    for (std::size_t k = 0; k < nodes.size(); ++k) {
        const auto& v = facts[k].values;
        std::string detail;
        for (const char* key : {"ray", "vllm", "image_id", "gpus", "model_config", "shm_kb", "running"}) {
            auto it = v.find(key);
            if (it != v.end() && !it->second.empty()) detail += std::string(detail.empty() ? "" : ", ") + key + " " + it->second.substr(0, 16);
        }
        for (const auto& w : warnings[k]) {
            detail += "; warning: " + w;
            say("preflight: " + name(nodes[k]) + ": warning: " + w);
        }
        for (const auto& pr : problems[k]) detail += "; " + pr;
        record(step::preflight, name(nodes[k]), problems[k].empty(), secs_since(t0), detail, v);
        if (!problems[k].empty() && !first_bad) first_bad = k;
    }
    if (first_bad) {
        std::string what;
        for (std::size_t k = 0; k < nodes.size(); ++k)
            for (const auto& pr : problems[k]) what += "\n  " + name(nodes[k]) + ": " + pr;
        fail(step::preflight, nodes[*first_bad], nullptr, "the node is not ready:" + what);
        return false;
    }
    say("preflight: ok (" + fixed1(secs_since(t0)) + " s)");
    return true;
}

inline bool runner::copy() {
    const auto t0 = clock::now();
    const auto nodes = all_nodes();
    std::vector<std::string> tars(nodes.size());
    for (std::size_t k = 0; k < nodes.size(); ++k) {
        auto t = tar_node(d_, nodes[k]);
        if (!t.started || t.exit_code != 0) {
            command_result r;
            r.started = t.started;
            r.exit_code = t.exit_code;
            r.err = t.err;
            fail(step::copy, nodes[k], &r, "cannot pack the node's folder from " + d_.bundle_dir);
            return false;
        }
        tars[k] = std::move(t.out);
    }
    auto results = parallel(nodes, [&](std::size_t i) {
        std::size_t k = 0;
        while (nodes[k] != i) ++k;
        return exec(i, copy_argv(d_), milliseconds(120000), tars[k]);
    });
    for (std::size_t k = 0; k < nodes.size(); ++k) {
        const auto& r = results[k];
        record(step::copy, name(nodes[k]), r.ok(), ms_to_s(r.elapsed),
               r.ok() ? std::to_string(tars[k].size()) + " bytes to " + d_.node_dir(nodes[k]) : describe_exit(r));
        if (!r.ok()) {
            fail(step::copy, nodes[k], &r,
                 r.unreachable ? "the node cannot be reached over SSH: " + last_line(r.err) : "cannot unpack the bundle in " + d_.remote_dir);
            return false;
        }
    }
    say("copy: the bundle is in " + d_.remote_dir + " on every node (" + fixed1(secs_since(t0)) + " s)");
    return true;
}

inline bool runner::start_script(step s, const std::vector<std::size_t>& nodes, const std::string& script, const std::string& log) {
    const auto t0 = clock::now();
    std::string names;
    for (auto i : nodes) {
        say(std::string(to_string(s)) + ": " + name(i) + ": ./" + script);
        names += (names.empty() ? "" : ", ") + name(i);
    }
    // A progress line at least every progress_interval while the scripts run.
    std::mutex tick_m;
    std::condition_variable tick_cv;
    bool finished = false;
    std::thread ticker([&] {
        std::unique_lock<std::mutex> lock(tick_m);
        while (!tick_cv.wait_for(lock, o_.progress_interval, [&] { return finished; }))
            say(std::string(to_string(s)) + ": " + fixed1(secs_since(t0)) + " s, ./" + script + " still running on " + names);
    });
    auto results = parallel(nodes, [&](std::size_t i) {
        return exec(i, script_argv(d_, i, script), std::chrono::duration_cast<milliseconds>(o_.script_timeout));
    });
    {
        std::lock_guard<std::mutex> lock(tick_m);
        finished = true;
    }
    tick_cv.notify_all();
    ticker.join();
    bool ok = true;
    for (std::size_t k = 0; k < nodes.size(); ++k) {
        const auto& r = results[k];
        record(s, name(nodes[k]), r.ok(), ms_to_s(r.elapsed), r.ok() ? last_line(r.out) : describe_exit(r));
        if (!r.ok() && ok) {
            ok = false;
            fail(s, nodes[k], &r, r.unreachable ? "the node cannot be reached over SSH: " + last_line(r.err) : script + " failed", log);
        }
    }
    if (ok) say(std::string(to_string(s)) + ": done (" + fixed1(secs_since(t0)) + " s)");
    return ok;
}

inline bool runner::wait_head() {
    const auto t0 = clock::now();
    const std::size_t h = d_.head();
    const auto& addr = d_.inv.cluster.nodes[h].address;
    const int port = head_port(d_);
    const auto limit = ray(d_) ? o_.head_port_timeout : std::max(o_.head_port_timeout, seconds(600));
    auto last_progress = t0;
    say("wait-head: waiting for " + dsdeploy::detail::host_port(addr, port) + " on " + name(h));
    while (true) {
        const auto r = exec(h, port_check_argv(addr, port, seconds(2)), milliseconds(15000));
        if (r.ok()) break;
        if (r.unreachable) {
            fail(step::wait_head, h, &r, "the node cannot be reached over SSH: " + last_line(r.err));
            return false;
        }
        std::string last;
        if (auto dead = dead_process(h, ray(d_) ? "ray" : "vllm", &last)) {
            fail(step::wait_head, h, nullptr, *dead, ray(d_) ? "ray" : "vllm");
            return false;
        }
        if (clock::now() - t0 > limit) {
            fail_timeout(step::wait_head, h,
                         dsdeploy::detail::host_port(addr, port) + " did not accept connections within " + std::to_string(limit.count()) + " s",
                         ray(d_) ? "ray" : "vllm");
            return false;
        }
        if (clock::now() - last_progress >= o_.progress_interval) {
            last_progress = clock::now();
            say("wait-head: " + fixed1(secs_since(t0)) + " s, " + dsdeploy::detail::host_port(addr, port) + " not open yet" +
                (last.empty() ? "" : "; " + name(h) + ": " + last));
        }
        std::this_thread::sleep_for(std::min<milliseconds>(o_.poll_interval, milliseconds(2000)));
    }
    record(step::wait_head, name(h), true, secs_since(t0), dsdeploy::detail::host_port(addr, port) + " accepts connections");
    say("wait-head: " + dsdeploy::detail::host_port(addr, port) + " is open (" + fixed1(secs_since(t0)) + " s)");
    return true;
}

inline bool runner::reach_head() {
    const auto ws = workers();
    if (ws.empty()) return true;
    const std::size_t h = d_.head();
    const auto& addr = d_.inv.cluster.nodes[h].address;
    const int port = head_port(d_);
    auto results = parallel(ws, [&](std::size_t i) {
        return exec(i, port_check_argv(addr, port, o_.reach_timeout),
                    std::chrono::duration_cast<milliseconds>(o_.reach_timeout + seconds(15)));
    });
    for (std::size_t k = 0; k < ws.size(); ++k) {
        const auto& r = results[k];
        const std::string target = dsdeploy::detail::host_port(addr, port);
        record(step::reach_head, name(ws[k]), r.ok(), ms_to_s(r.elapsed), r.ok() ? "reaches " + target : describe_exit(r));
        if (r.ok()) continue;
        if (r.unreachable) {
            fail(step::reach_head, ws[k], &r, "the node cannot be reached over SSH: " + last_line(r.err));
        } else {
            std::string why = r.exit_code == 124 ? "no answer within " + std::to_string(o_.reach_timeout.count()) +
                                                       " s (a firewall dropping the port?)"
                                                 : "refused or no route: " + last_line(r.err);
            fail(step::reach_head, ws[k], &r, name(ws[k]) + " cannot reach the head " + name(h) + " at " + target + ": " + why +
                                                  "; open the port between the nodes (ray start would hang ~12 min)");
            if (r.exit_code == 124) rep_.failure->code = errc::orchestrate_step;
        }
        return false;
    }
    say("reach-head: every worker reaches " + dsdeploy::detail::host_port(addr, port));
    return true;
}

// nullopt when `proc` on node i is alive (or not tracked); else what is wrong. Also gives the
// last line of that process's log.
inline std::optional<std::string> runner::dead_process(std::size_t i, const std::string& proc, std::string* last_line_out) {
    const auto r = exec(i, status_argv(d_, i), milliseconds(30000));
    if (!r.ok()) return std::nullopt;  // a status hiccup is not a verdict
    const auto kv = parse_kv(r.out);
    if (last_line_out) {
        auto it = kv.values.find("last_" + proc);
        if (it != kv.values.end()) *last_line_out = it->second;
    }
    for (const auto& line : kv.procs) {
        const auto w = split_ws(line);
        if (w.size() == 3 && w[0] == proc && w[2] == "dead")
            return proc + " (pid " + w[1] + ") is no longer running on " + name(i);
    }
    return std::nullopt;
}

inline bool runner::wait_cluster() {
    const auto t0 = clock::now();
    const std::size_t h = d_.head();
    const int want_nodes = static_cast<int>(d_.inv.cluster.nodes.size());
    const int want_gpus = d_.bundle.launch.expected_gpus;
    double want_cpus = 0;
    if (want_gpus == 0 && d_.inv.runtime.num_cpus > 0) want_cpus = static_cast<double>(d_.inv.runtime.num_cpus) * want_nodes;
    auto last_progress = t0;
    std::string last_seen = "no answer yet";
    say("wait-cluster: waiting for " + std::to_string(want_nodes) + " nodes and " + std::to_string(want_gpus) + " GPUs" +
        (want_cpus > 0 ? " (" + fixed1(want_cpus) + " CPUs)" : ""));
    while (true) {
        const auto r = exec(h, ray_status_argv(d_), milliseconds(60000));
        if (r.unreachable) {
            fail(step::wait_cluster, h, &r, "the node cannot be reached over SSH: " + last_line(r.err));
            return false;
        }
        const auto st = parse_ray_status(r.out + "\n" + r.err);
        if (st.recognised) {
            int nodes = 0;
            for (const auto& g : st.active) nodes += g.count;
            for (const auto& g : st.idle) nodes += g.count;
            double gpus = 0, cpus = 0;
            for (const auto& res : st.resources) {
                if (res.name == "GPU") gpus = res.total;
                if (res.name == "CPU") cpus = res.total;
            }
            rep_.cluster_nodes = nodes;
            rep_.cluster_gpus = gpus;
            rep_.cluster_cpus = cpus;
            last_seen = std::to_string(nodes) + "/" + std::to_string(want_nodes) + " nodes, " + fixed1(gpus) + "/" +
                        std::to_string(want_gpus) + " GPUs, " + fixed1(cpus) + " CPUs";
            if (nodes >= want_nodes && gpus >= want_gpus && cpus >= want_cpus) {
                record(step::wait_cluster, "", true, secs_since(t0), last_seen,
                       {{"nodes", std::to_string(nodes)}, {"gpus", fixed1(gpus)}, {"cpus", fixed1(cpus)}});
                say("wait-cluster: " + last_seen + " (" + fixed1(secs_since(t0)) + " s)");
                return true;
            }
        } else if (!r.ok()) {
            last_seen = "ray status: " + describe_exit(r) + ": " + last_line(combined(r));
        }
        // A node whose Ray died will not join: fail now, naming it.
        if (!docker(d_))
            for (auto i : all_nodes()) {
                if (auto dead = dead_process(i, "ray", nullptr)) {
                    record(step::wait_cluster, name(i), false, secs_since(t0), *dead);
                    fail(step::wait_cluster, i, nullptr, *dead + "; seen: " + last_seen, "ray");
                    return false;
                }
            }
        if (clock::now() - t0 > o_.cluster_timeout) {
            record(step::wait_cluster, "", false, secs_since(t0), last_seen);
            fail_timeout(step::wait_cluster, h,
                         "the Ray cluster did not reach " + std::to_string(want_nodes) + " nodes and " + std::to_string(want_gpus) +
                             " GPUs within " + std::to_string(o_.cluster_timeout.count()) + " s; last seen: " + last_seen,
                         "ray");
            rep_.failure->output_tail = tail_lines(combined(r), 30);
            return false;
        }
        if (clock::now() - last_progress >= o_.progress_interval) {
            last_progress = clock::now();
            say("wait-cluster: " + fixed1(secs_since(t0)) + " s, " + last_seen);
        }
        std::this_thread::sleep_for(o_.poll_interval);
    }
}

inline bool runner::health() {
#if DSDEPLOY_ENABLE_HTTPLIB
    const auto t0 = clock::now();
    const std::size_t h = d_.head();
    openai::client_options co;
    co.base_url = d_.bundle.launch.api_url + "/v1";
    co.api_key = d_.api_key;
    co.connect_timeout = milliseconds(3000);
    co.read_timeout = milliseconds(10000);
    co.max_retries = 0;
    openai::client c(co);
    // Where vLLM runs: the head (launcher ray), every node (mp).
    std::vector<std::size_t> vllm_nodes = ray(d_) ? std::vector<std::size_t>{h} : all_nodes();
    auto last_progress = t0;
    say("health: waiting for " + d_.bundle.launch.api_url + "/health (limit " + std::to_string(o_.health_timeout.count()) + " s)");
    while (true) {
        const auto p = c.health();
        if (p.ok) {
            record(step::health, name(h), true, secs_since(t0), d_.bundle.launch.api_url + "/health answers 200");
            say("health: " + d_.bundle.launch.api_url + "/health answers 200 after " + fixed1(secs_since(t0)) + " s");
            return true;
        }
        std::string last;
        for (auto i : vllm_nodes) {
            std::string line;
            if (auto dead = dead_process(i, "vllm", &line)) {
                record(step::health, name(i), false, secs_since(t0), *dead);
                fail(step::health, i, nullptr, *dead + " (vLLM died while loading; /health: " + p.message + ")", "vllm");
                return false;
            }
            if (i == h) last = line;
        }
        if (clock::now() - t0 > o_.health_timeout) {
            record(step::health, name(h), false, secs_since(t0), p.message);
            fail_timeout(step::health, h,
                         d_.bundle.launch.api_url + "/health did not answer within " + std::to_string(o_.health_timeout.count()) +
                             " s (--health-timeout); last: " + p.message,
                         "vllm");
            return false;
        }
        if (clock::now() - last_progress >= o_.progress_interval) {
            last_progress = clock::now();
            say("health: " + fixed1(secs_since(t0)) + " s, not ready yet" + (last.empty() ? "" : "; " + name(h) + " vllm.log: " + last));
        }
        std::this_thread::sleep_for(o_.poll_interval);
    }
#else
    fail(step::health, d_.head(), nullptr, "dsdeploy was built without an HTTP client (DSDEPLOY_ENABLE_HTTPLIB=0)");
    return false;
#endif
}

inline bool runner::smoke() {
#if DSDEPLOY_ENABLE_HTTPLIB
    const auto t0 = clock::now();
    openai::client_options co;
    co.base_url = d_.bundle.launch.api_url + "/v1";
    co.api_key = d_.api_key;
    co.max_retries = 1;
    co.deadline = milliseconds(600000);
    try {
        openai::client c(co);
        openai::chat_request req;
        req.model = d_.bundle.launch.served_model_name;
        req.messages = {{"user", "Reply with one word: ready?"}};
        req.max_tokens = 8;
        req.temperature = 0;
        const auto answer = c.chat(req);
        rep_.smoke_reply = answer.text();
        record(step::smoke, name(d_.head()), true, secs_since(t0), "reply: " + rep_.smoke_reply);
        say("smoke: one chat request answered in " + fixed1(secs_since(t0)) + " s");
        return true;
    } catch (const error& e) {
        record(step::smoke, name(d_.head()), false, secs_since(t0), e.what());
        fail(step::smoke, d_.head(), nullptr, std::string("the chat request failed: ") + e.what(), "vllm");
        return false;
    }
#else
    fail(step::smoke, d_.head(), nullptr, "dsdeploy was built without an HTTP client (DSDEPLOY_ENABLE_HTTPLIB=0)");
    return false;
#endif
}

// Two nodes or more: one all-reduce across every planned rank before anything starts. A finding
// with severity error fails the step on its node (the cluster's first node when it names none),
// with every netcheck finding attached.
inline bool runner::netcheck() {
    if (!o_.netcheck || d_.inv.cluster.nodes.size() < 2) return true;
    netcheck_options no;
    no.join_timeout = o_.netcheck_join_timeout;
    no.min_link_fraction = o_.netcheck_min_link_fraction;
    no.progress = [this](const std::string& line) { say(line); };
    const netcheck_report r = run_netcheck(d_, ex_, no);
    const auto bw = r.min_busbw_gbs();
    for (const auto& n : r.nodes) {
        bool ok = n.reached;
        for (const auto& f : r.findings)
            if (f.level == severity::error && (f.node == n.name || f.node.empty())) ok = false;
        std::map<std::string, std::string> facts = {{"transport", n.transport}, {"interface", n.interface}};
        if (n.link_mbps) facts["link_mbps"] = std::to_string(*n.link_mbps);
        if (bw) facts["min_busbw_gbs"] = fmt::format("{:.4g}", *bw);
        record(step::netcheck, n.name, ok, r.seconds,
               n.transport + (bw ? fmt::format(", bus bandwidth {:.3g} GB/s", *bw) : std::string()), std::move(facts));
    }
    if (r.exit_code() == 0) {
        say("netcheck: " + std::to_string(r.world) + " ranks joined" + (bw ? fmt::format(", bus bandwidth {:.3g} GB/s", *bw) : std::string()) +
            " (" + fixed1(r.seconds) + " s)");
        return true;
    }
    const finding* first = nullptr;
    for (const auto& f : r.findings)
        if (f.level == severity::error) {
            first = &f;
            break;
        }
    std::size_t at = 0;
    for (std::size_t i = 0; first && i < d_.inv.cluster.nodes.size(); ++i)
        if (d_.inv.cluster.nodes[i].name == first->node) at = i;
    step_failure f;
    f.step = step::netcheck;
    f.node = name(at);
    f.field = "nodes[" + std::to_string(at) + "]";
    if (r.exit_code() == 3) f.code = errc::orchestrate_ssh;
    f.message = "step netcheck failed on " + f.node + ": " + (first ? first->message : std::string("the collective did not complete"));
    for (const auto& n : r.nodes)
        if (n.name == f.node) f.output_tail = tail_lines(n.stderr_tail, 30);
    f.findings = r.findings;
    say("FAILED " + f.message);
    rep_.failure = std::move(f);
    return false;
}

inline up_report runner::run() {
    const auto t0 = clock::now();
    rep_.api_url = d_.bundle.launch.api_url + "/v1";
    rep_.model = d_.bundle.launch.served_model_name;
    const std::size_t h = d_.head();
    auto done = [&](step s) {
        rep_.reached = s;
        return o_.until == s;
    };
    auto finish = [&] {
        rep_.seconds = secs_since(t0);
        return rep_;
    };
    const bool ray_head = ray(d_);
    if (!preflight() || done(step::preflight)) return finish();
    if (!copy() || done(step::copy)) return finish();
    if (!netcheck() || done(step::netcheck)) return finish();
    if (!start_script(step::start_head, {h}, "start.sh", ray_head ? "ray" : "vllm")) return finish();
    rep_.reached = step::start_head;
    if (!wait_head()) return finish();
    rep_.reached = step::wait_head;
    if (!reach_head()) return finish();
    rep_.reached = step::reach_head;
    if (!workers().empty() && !start_script(step::start_workers, workers(), "start.sh", ray_head ? "ray" : "vllm")) return finish();
    rep_.reached = step::start_workers;
    if (ray_head) {
        if (!wait_cluster()) return finish();
    }
    if (done(step::wait_cluster)) return finish();
    if (has_file(d_, h, "serve.sh")) {
        if (!start_script(step::serve, {h}, "serve.sh", "vllm")) return finish();
        rep_.reached = step::serve;
    }
    if (!health() || done(step::health)) return finish();
    if (!smoke()) return finish();
    rep_.reached = step::smoke;
    return finish();
}

}  // namespace orch
}  // namespace detail

DSDEPLOY_INLINE up_report up(const deployment& d, const executor_fn& ex, const up_options& o) {
    if (d.inv.cluster.nodes.empty()) raise(errc::orchestrate_step, "nodes", "the deployment has no nodes");
    if (d.remote_dir.empty()) raise(errc::orchestrate_step, "remote_dir", "no folder on the nodes was given");
    for (std::size_t i = 0; i < d.inv.cluster.nodes.size(); ++i) (void)ssh_argv({}, {}, d.target(i), {"true"});
    detail::orch::runner r(d, ex, o);
    return r.run();
}

DSDEPLOY_INLINE void throw_if_failed(const up_report& r) {
    if (!r.failure) return;
    const auto& f = *r.failure;
    std::string text = f.message;
    if (!f.output_tail.empty()) text += "\noutput:\n" + detail::orch::indent(f.output_tail);
    for (const auto& x : f.findings) text += "\ndiagnosis: [" + x.id + "] " + x.message;
    raise(f.code, f.field, text);
}

DSDEPLOY_INLINE std::string to_text(const up_report& r) {
    using namespace detail::orch;
    std::string out;
    for (const auto& s : r.steps) {
        out += std::string(s.ok ? "  ok    " : "  FAIL  ") + std::string(to_string(s.step));
        if (!s.node.empty()) out += " " + s.node;
        out += " (" + fixed1(s.seconds) + " s)";
        if (!s.detail.empty()) out += ": " + s.detail;
        out += "\n";
    }
    if (r.failure) {
        const auto& f = *r.failure;
        out += "\n" + f.message + "\n";
        if (f.exit_code >= 0) out += "exit status: " + std::to_string(f.exit_code) + "\n";
        if (!f.output_tail.empty()) out += "output (last lines):\n" + indent(f.output_tail);
        if (!f.log_tail.empty()) out += "log on " + f.node + " (last lines):\n" + indent(f.log_tail);
        for (const auto& x : f.findings) {
            out += "diagnosis [" + x.id + "]: " + x.message + "\n";
            if (!x.fix.empty()) out += "  fix: " + x.fix + "\n";
        }
        return out;
    }
    out += "\nReached: " + std::string(to_string(r.reached)) + " in " + fixed1(r.seconds) + " s.\n";
    if (r.cluster_nodes > 0)
        out += "Ray cluster: " + std::to_string(r.cluster_nodes) + " nodes, " + fixed1(r.cluster_gpus) + " GPUs, " + fixed1(r.cluster_cpus) +
               " CPUs.\n";
    if (r.reached == step::smoke) {
        out += "Endpoint: " + r.api_url + " (model \"" + r.model + "\")\n";
        out += "Smoke reply: " + r.smoke_reply + "\n";
        out += "Next: dsdeploy chat --base-url " + r.api_url + ", dsdeploy status, dsdeploy logs, dsdeploy down.\n";
    } else {
        out += "Next: dsdeploy status; dsdeploy up again to continue; dsdeploy down to stop.\n";
    }
    return out;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const step_failure& f) {
    j = {{"step", to_string(f.step)}, {"node", f.node},          {"field", f.field},
         {"error", to_id(f.code)},    {"exit_code", f.exit_code}, {"timed_out", f.timed_out},
         {"message", f.message},      {"output_tail", f.output_tail}, {"log_tail", f.log_tail}};
    j["findings"] = nlohmann::json::array();
    for (const auto& x : f.findings) {
        nlohmann::json fj;
        to_json(fj, x);
        j["findings"].push_back(fj);
    }
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const up_report& r) {
    j = nlohmann::json::object();
    j["ok"] = r.ok();
    j["exit_code"] = r.exit_code();
    j["reached"] = to_string(r.reached);
    j["api_url"] = r.api_url;
    j["model"] = r.model;
    j["seconds"] = r.seconds;
    j["cluster"] = {{"nodes", r.cluster_nodes}, {"gpus", r.cluster_gpus}, {"cpus", r.cluster_cpus}};
    if (!r.smoke_reply.empty()) j["smoke_reply"] = r.smoke_reply;
    j["steps"] = nlohmann::json::array();
    for (const auto& s : r.steps)
        j["steps"].push_back({{"step", to_string(s.step)}, {"node", s.node}, {"ok", s.ok}, {"seconds", s.seconds}, {"detail", s.detail},
                              {"facts", s.facts}});
    if (r.failure) {
        nlohmann::json f;
        to_json(f, *r.failure);
        j["failure"] = f;
    } else {
        j["failure"] = nullptr;
    }
}

DSDEPLOY_NAMESPACE_END
