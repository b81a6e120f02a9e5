// SPDX-License-Identifier: Apache-2.0
// A deployment after (or during) its bring-up (orchestrate.hpp): status (what runs on each node,
// the Ray cluster, the API's health and metrics) and its text and JSON, down (each node's
// stop.sh) and logs (each node's last log lines).
#pragma once

#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/impl/orchestrate_inl.hpp>
#include <dsdeploy/openai.hpp>
#include <dsdeploy/orchestrate.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE bool cluster_status::any_unreachable() const {
    return std::any_of(nodes.begin(), nodes.end(), [](const node_status& n) { return !n.reachable; });
}

DSDEPLOY_INLINE int cluster_status::exit_code() const {
    if (any_unreachable()) return 3;
    return problems.empty() ? 0 : 1;
}

DSDEPLOY_INLINE cluster_status status(const deployment& d, const executor_fn& ex, const status_options& o) {
    using namespace detail::orch;
    cluster_status s;
    const std::size_t n = d.inv.cluster.nodes.size(), h = d.head();
    std::vector<std::size_t> all(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = i;
    const auto timeout = std::chrono::duration_cast<milliseconds>(o.timeout);
    auto results = parallel(all, [&](std::size_t i) {
        command_spec c;
        c.argv = status_argv(d, i);
        c.timeout = timeout;
        return ex(d.target(i), c);
    });
    const bool want_vllm = o.until >= step::serve;
    for (std::size_t i = 0; i < n; ++i) {
        node_status ns;
        ns.name = d.inv.cluster.nodes[i].name;
        const auto& r = results[i];
        if (!r.ok()) {
            ns.reachable = !r.unreachable && r.started;
            ns.error = describe_exit(r) + ": " + last_line(combined(r));
            ns.problems.push_back(r.unreachable ? "cannot be reached over SSH: " + last_line(r.err) : "status check failed: " + ns.error);
        } else {
            const auto kv = parse_kv(r.out);
            ns.deployed = kv.values.count("deployed") && kv.values.at("deployed") == "yes";
            for (const auto& line : kv.procs) {
                const auto w = split_ws(line);
                if (w.size() == 3) ns.processes.push_back({w[0], w[1], w[2] == "alive"});
            }
            if (!ns.deployed) ns.problems.push_back("nothing deployed in " + d.node_dir(i));
            else {
                std::vector<std::string> expected;
                if (docker(d)) expected.push_back(service_of(d, i));
                else if (ray(d)) expected.push_back("ray");
                if (want_vllm && ((ray(d) && i == h) || !ray(d))) expected.push_back("vllm");
                for (const auto& e : expected) {
                    auto it = std::find_if(ns.processes.begin(), ns.processes.end(), [&](const process_state& p) { return p.name == e; });
                    if (it == ns.processes.end()) ns.problems.push_back(e + " is not running (never started)");
                    else if (!it->alive) ns.problems.push_back(e + " is not running (pid " + it->pid + " is gone)");
                }
            }
        }
        for (const auto& p : ns.problems) s.problems.push_back(ns.name + ": " + p);
        s.nodes.push_back(std::move(ns));
    }
    if (ray(d) && s.nodes[h].reachable) {
        s.ray_checked = true;
        command_spec c;
        c.argv = ray_status_argv(d);
        c.timeout = timeout;
        const auto r = ex(d.target(h), c);
        const auto st = parse_ray_status(r.out + "\n" + r.err);
        if (st.recognised && !st.connection_error) {
            for (const auto& g : st.active) s.ray_nodes += g.count;
            for (const auto& g : st.idle) s.ray_nodes += g.count;
            for (const auto& res : st.resources) {
                if (res.name == "GPU") s.ray_gpus = res.total;
                if (res.name == "CPU") s.ray_cpus = res.total;
            }
            if (s.ray_nodes < static_cast<int>(n))
                s.problems.push_back("ray: " + std::to_string(s.ray_nodes) + " of " + std::to_string(n) + " nodes in the cluster");
            if (s.ray_gpus < d.bundle.launch.expected_gpus)
                s.problems.push_back("ray: " + fixed1(s.ray_gpus) + " of " + std::to_string(d.bundle.launch.expected_gpus) + " GPUs");
        } else {
            s.ray_error = r.unreachable ? "unreachable" : describe_exit(r) + ": " + last_line(combined(r));
            s.problems.push_back("ray: no cluster answers at " + d.bundle.launch.ray_address + " (" + s.ray_error + ")");
        }
    }
    // The head's vLLM log: its memory lines beside the plan (issue 17 item 4). Best effort.
    if (want_vllm && s.nodes[h].reachable && s.nodes[h].deployed) {
        s.memory_checked = true;
        command_spec c;
        c.argv = memory_lines_argv(d, h);
        c.timeout = timeout;
        const auto r = ex(d.target(h), c);
        if (!r.ok()) {
            s.memory_error = describe_exit(r) + ": " + last_line(combined(r));
        } else {
            auto m = parse_vllm_memory_log(r.out);
            if (!m.recognised) {
                s.memory_error = "no memory lines in the head's vLLM log yet";
            } else {
                if (d.bundle.plan.memory_checked) s.vllm_memory_vs_plan = reconcile_vllm_memory(m, d.bundle.plan);
                s.vllm_memory = std::move(m);
            }
        }
    }
#if DSDEPLOY_ENABLE_HTTPLIB
    if (want_vllm) {
        s.health_checked = true;
        openai::client_options co;
        co.base_url = d.bundle.launch.api_url + "/v1";
        co.api_key = d.api_key;
        co.connect_timeout = milliseconds(3000);
        co.read_timeout = milliseconds(10000);
        co.max_retries = 0;
        try {
            openai::client c(co);
            const auto p = c.health();
            s.healthy = p.ok;
            if (!p.ok) {
                s.health_error = p.message;
                s.problems.push_back("api: " + d.bundle.launch.api_url + "/health: " + p.message);
            } else {
                const auto m = c.metrics();
                auto put = [&](const char* k, const std::optional<double>& v) {
                    if (v) s.metrics[k] = *v;
                };
                put("requests_running", m.requests_running);
                put("requests_waiting", m.requests_waiting);
                put("kv_cache_usage", m.kv_cache_usage);
                put("prompt_tokens", m.prompt_tokens);
                put("generation_tokens", m.generation_tokens);
                put("requests_finished", m.requests_finished);
            }
        } catch (const error& e) {
            if (s.healthy) s.health_error = std::string("metrics: ") + e.what();
            else {
                s.health_error = e.what();
                s.problems.push_back("api: " + s.health_error);
            }
        }
    }
#endif
    return s;
}

DSDEPLOY_INLINE std::string to_text(const cluster_status& s) {
    using namespace detail::orch;
    std::string out;
    for (const auto& n : s.nodes) {
        out += n.name + ": ";
        if (!n.reachable) out += "UNREACHABLE (" + n.error + ")";
        else if (!n.deployed) out += "not deployed";
        else {
            std::string procs;
            for (const auto& p : n.processes) procs += (procs.empty() ? "" : ", ") + p.name + " " + (p.alive ? "up" : "DOWN") + " (pid " + p.pid + ")";
            out += procs.empty() ? "no processes" : procs;
        }
        out += "\n";
    }
    if (s.ray_checked) {
        if (s.ray_error.empty())
            out += "ray: " + std::to_string(s.ray_nodes) + " nodes, " + fixed1(s.ray_gpus) + " GPUs, " + fixed1(s.ray_cpus) + " CPUs\n";
        else out += "ray: " + s.ray_error + "\n";
    }
    if (s.health_checked) {
        out += std::string("api: ") + (s.healthy ? "healthy" : "NOT healthy: " + s.health_error) + "\n";
        if (!s.metrics.empty()) {
            out += "metrics:";
            for (const auto& [k, v] : s.metrics) out += " " + k + "=" + (k == "kv_cache_usage" ? fixed1(v * 100) + "%" : fixed1(v));
            out += "\n";
        }
    }
    if (s.memory_checked) {
        if (s.vllm_memory_vs_plan) out += to_text(*s.vllm_memory_vs_plan);
        else if (s.vllm_memory) out += to_text(*s.vllm_memory);
        else out += "vLLM memory: " + s.memory_error + "\n";
        if (s.vllm_memory_vs_plan && s.vllm_memory_vs_plan->differs)
            out += "  (vllm.memory_differs_from_plan: `dsdeploy doctor --vllm-log` with the whole log says what to change)\n";
    }
    if (s.problems.empty()) out += "everything is up\n";
    else {
        out += "down:\n";
        for (const auto& p : s.problems) out += "  - " + p + "\n";
    }
    return out;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const cluster_status& s) {
    j = nlohmann::json::object();
    j["exit_code"] = s.exit_code();
    j["nodes"] = nlohmann::json::array();
    for (const auto& n : s.nodes) {
        nlohmann::json nj = {{"name", n.name}, {"reachable", n.reachable}, {"deployed", n.deployed}, {"problems", n.problems}, {"error", n.error}};
        nj["processes"] = nlohmann::json::array();
        for (const auto& p : n.processes) nj["processes"].push_back({{"name", p.name}, {"pid", p.pid}, {"alive", p.alive}});
        j["nodes"].push_back(nj);
    }
    if (s.ray_checked)
        j["ray"] = {{"nodes", s.ray_nodes}, {"gpus", s.ray_gpus}, {"cpus", s.ray_cpus}, {"error", s.ray_error}};
    else j["ray"] = nullptr;
    if (s.health_checked) j["api"] = {{"healthy", s.healthy}, {"error", s.health_error}, {"metrics", s.metrics}};
    else j["api"] = nullptr;
    if (s.memory_checked)
        j["vllm_memory"] = {{"logged", s.vllm_memory ? nlohmann::json(*s.vllm_memory) : nlohmann::json(nullptr)},
                            {"plan", s.vllm_memory_vs_plan ? nlohmann::json(*s.vllm_memory_vs_plan) : nlohmann::json(nullptr)},
                            {"error", s.memory_error}};
    else j["vllm_memory"] = nullptr;
    j["problems"] = s.problems;
}

DSDEPLOY_INLINE std::vector<node_result> down(const deployment& d, const executor_fn& ex, std::chrono::seconds timeout) {
    using namespace detail::orch;
    const std::size_t n = d.inv.cluster.nodes.size();
    std::vector<std::size_t> all(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = i;
    return parallel(all, [&](std::size_t i) {
        command_spec c;
        c.argv = script_argv(d, i, "stop.sh");
        c.timeout = std::chrono::duration_cast<milliseconds>(timeout);
        const auto r = ex(d.target(i), c);
        node_result nr;
        nr.node = d.inv.cluster.nodes[i].name;
        nr.unreachable = r.unreachable;
        nr.exit_code = r.exit_code;
        nr.ok = r.ok() || (r.started && !r.timed_out && r.exit_code == missing_dir_exit);
        nr.output = r.exit_code == missing_dir_exit ? "nothing deployed in " + d.node_dir(i) + ": nothing to stop" : tail_lines(combined(r), 20);
        if (!r.ok() && r.exit_code != missing_dir_exit) nr.output += (nr.output.empty() ? "" : "\n") + describe_exit(r);
        return nr;
    });
}

DSDEPLOY_INLINE std::vector<node_result> logs(const deployment& d, const executor_fn& ex, int lines, const std::string& only_node) {
    using namespace detail::orch;
    std::vector<std::size_t> nodes;
    for (std::size_t i = 0; i < d.inv.cluster.nodes.size(); ++i)
        if (only_node.empty() || d.inv.cluster.nodes[i].name == only_node) nodes.push_back(i);
    if (nodes.empty()) raise(errc::orchestrate_step, "--node", "no node is called \"" + only_node + "\"");
    return parallel(nodes, [&](std::size_t i) {
        command_spec c;
        c.argv = logs_argv(d, i, std::max(1, lines));
        c.timeout = milliseconds(60000);
        const auto r = ex(d.target(i), c);
        node_result nr;
        nr.node = d.inv.cluster.nodes[i].name;
        nr.unreachable = r.unreachable;
        nr.exit_code = r.exit_code;
        nr.ok = r.ok();
        nr.output = r.ok() ? r.out : combined(r) + describe_exit(r);
        return nr;
    });
}

DSDEPLOY_NAMESPACE_END
