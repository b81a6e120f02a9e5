// SPDX-License-Identifier: Apache-2.0
// The bring-up: runs a rendered bundle's scripts on every node, in order, over an executor
// (local processes, or OpenSSH with the user's own ssh binary and config): preflight, copy,
// Ray head, the workers (after checking they can reach the head's port), the cluster's node
// and GPU count, vllm serve, /health, one smoke request. A failing step stops the bring-up and
// says which step, on which node, the command's exit status, its output and log tail, and
// what diagnose() makes of them; nothing found before is lost. Also status, down and logs. The
// executors are in executor.hpp and ssh_executor.hpp; what the CLI records about a deployment
// (state.json) is in deployment_state.hpp. The definitions: impl/orchestrate_up_inl.hpp (the
// bring-up), impl/orchestrate_status_down_logs_inl.hpp, impl/orchestrate_scripts_inl.hpp (the shell
// snippets and argv sent to the nodes) and impl/orchestrate_inl.hpp (what they share).
#pragma once

#include <dsdeploy/bundle.hpp>
#include <dsdeploy/config.hpp>
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/error.hpp>
#include <dsdeploy/executor.hpp>
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/ssh_executor.hpp>
#include <dsdeploy/vllm_memory_log.hpp>

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

// The bring-up's steps, in order. `--until` accepts preflight, copy, cluster, serve, smoke.
enum class step {
    preflight,      // every node: runtime/env versions, GPUs, model config.json, interface, ports, /dev/shm
    copy,           // every node: its bundle folder, as a tar stream over stdin
    netcheck,       // every node at once: one all-reduce across every planned rank (dsdeploy/netcheck.hpp)
    start_head,     // the head's start.sh (Ray head; with launcher mp: vLLM rank 0)
    wait_head,      // the head's Ray GCS port (mp: vLLM's master port) accepts connections
    reach_head,     // from every worker: a 5 s TCP connect to that port
    start_workers,  // every worker's start.sh
    wait_cluster,   // `ray status` on the head shows N nodes and G GPUs (CPUs on CPU-only nodes)
    serve,          // the head's serve.sh (launcher ray)
    health,         // GET /health answers 200 (vLLM's processes checked at every poll)
    smoke,          // one chat request through the client
};
std::string_view to_string(step s);
// "cluster" means wait_cluster; "serve" means health (serving and answering). Others by name.
std::optional<step> parse_until(std::string_view s);

// Where a deployment lives: the inventory, its rendered bundle, the folder on the nodes.
struct deployment {
    inventory inv;
    dsdeploy::bundle bundle;            // as rendered (the files, the launch plan)
    std::string api_key;                // for the smoke request and /metrics (never printed)
    std::string remote_dir;             // on every node; "~/..." is the remote user's home
    std::string bundle_dir;             // the bundle written locally (copy reads the node folders here)
    // The SSH target of node i: nodes[i].ssh, else its address.
    std::string target(std::size_t i) const;
    // remote_dir + "/" + the node's name.
    std::string node_dir(std::size_t i) const;
    std::size_t head() const { return bundle.launch.head; }
};

// "~/.dsdeploy/<name>".
std::string default_remote_dir(const inventory& inv);

struct up_options {
    step until = step::smoke;
    std::chrono::seconds script_timeout{300};    // start.sh, serve.sh, stop.sh
    std::chrono::seconds head_port_timeout{180}; // wait_head (mp: the master port, longer when loading)
    std::chrono::seconds reach_timeout{5};       // reach_head, per worker
    std::chrono::seconds cluster_timeout{600};   // wait_cluster
    std::chrono::seconds health_timeout{3600};   // health
    std::chrono::milliseconds poll_interval{5000};
    std::chrono::seconds progress_interval{15};  // at least one progress line this often while waiting
    std::uint64_t min_shm_bytes = std::uint64_t{1} << 30;  // /dev/shm below this: error with GPUs, warning without
    bool check_ports = true;
    // The netcheck step (deployments of two nodes or more): the network proven before anything
    // loads. netcheck_min_link_fraction: see netcheck_options::min_link_fraction.
    bool netcheck = true;
    std::chrono::seconds netcheck_join_timeout{60};
    double netcheck_min_link_fraction = 0.25;
    std::function<void(const std::string&)> progress;  // one line per event; never sees the API key
};

// What one step did on one node.
struct step_record {
    dsdeploy::step step = step::preflight;
    std::string node;                // empty: the whole cluster
    bool ok = true;
    double seconds = 0;
    std::string detail;              // one line for people
    std::map<std::string, std::string> facts;  // preflight's findings, ray counts, ...
};

struct step_failure {
    dsdeploy::step step = step::preflight;
    std::string node;                // where; empty when the whole cluster (e.g. an incomplete Ray cluster)
    std::string field;               // "nodes[1]"
    errc code = errc::orchestrate_step;  // orchestrate_ssh (unreachable), orchestrate_timeout, orchestrate_step
    int exit_code = -1;              // the command's, when a command failed
    bool timed_out = false;
    std::string message;             // "step reach-head failed on h2: ..."
    std::string output_tail;         // the command's last lines (stdout + stderr)
    std::string log_tail;            // the node's log (ray.log / vllm.log), when read
    std::vector<finding> findings;   // diagnose() on the output and log
};

struct up_report {
    std::vector<step_record> steps;  // everything done, in order, failures included
    std::optional<step_failure> failure;
    dsdeploy::step reached = step::preflight;  // the last step completed
    std::string api_url;             // "http://10.0.0.1:8000/v1"
    std::string model;
    std::string smoke_reply;
    int cluster_nodes = 0;
    double cluster_gpus = 0, cluster_cpus = 0;
    double seconds = 0;
    bool ok() const noexcept { return !failure; }
    // 0 done, 1 a step failed, 3 a node could not be reached.
    int exit_code() const noexcept;
};

// The commands each step runs on each node, in order: for reading and testing (docker and
// process runtimes, ray and mp launchers).
struct planned_command {
    dsdeploy::step step = step::preflight;
    std::size_t node = 0;
    std::vector<std::string> argv;
};
std::vector<planned_command> plan_commands(const deployment& d, const up_options& o = {});

// Brings the deployment up to o.until. Never throws for a failing step: the report says
// what happened (throw_if_failed turns it into an error). Throws config_error for an invalid
// deployment (no nodes, a hostile target).
up_report up(const deployment& d, const executor_fn& ex, const up_options& o = {});
template <class Executor>
up_report up(const deployment& d, Executor& ex, const up_options& o = {}) {
    return up(d, erase_executor(ex), o);
}

// Throws the failure as orchestrate.step / orchestrate.ssh / orchestrate.timeout, field
// "nodes[i]", with the step, node, exit status and diagnosis in the message.
void throw_if_failed(const up_report& r);

// People's text for a report: the steps, then the failure (step, node, exit status, output
// and log tail, findings) or the endpoint and next steps.
std::string to_text(const up_report& r);
void to_json(nlohmann::json& j, const up_report& r);
void to_json(nlohmann::json& j, const step_failure& f);

// Status, down and logs of a deployment that is up.

struct process_state {
    std::string name;    // "ray", "vllm" (the PID file's name); docker: the compose service
    std::string pid;
    bool alive = false;
};

struct node_status {
    std::string name;
    bool reachable = true;
    bool deployed = true;            // the node folder exists
    std::vector<process_state> processes;
    std::vector<std::string> problems;  // "vllm is not running", ...
    std::string error;               // ssh's message when unreachable
};

struct status_options {
    step until = step::smoke;        // what up was asked to bring up (vLLM not expected before serve)
    std::chrono::seconds timeout{60};
};

struct cluster_status {
    std::vector<node_status> nodes;
    bool ray_checked = false;
    int ray_nodes = 0;
    double ray_gpus = 0, ray_cpus = 0;
    std::string ray_error;
    bool health_checked = false;
    bool healthy = false;
    std::string health_error;
    std::map<std::string, double> metrics;  // requests_running, requests_waiting, kv_cache_usage, prompt_tokens, generation_tokens
    // The head's vLLM log, read for its memory lines (vllm_memory_log.hpp) and set beside the plan
    // (d.bundle.plan); informational: it does not change the exit code.
    bool memory_checked = false;
    std::optional<vllm_memory_log> vllm_memory;                  // when the log has memory lines
    std::optional<vllm_memory_reconciliation> vllm_memory_vs_plan;
    std::string memory_error;                                     // why the log could not be read
    std::vector<std::string> problems;      // everything down, "node: what"
    bool any_unreachable() const;
    // 0 everything up, 1 something down, 3 nodes unreachable.
    int exit_code() const;
};

cluster_status status(const deployment& d, const executor_fn& ex, const status_options& o = {});
template <class Executor>
cluster_status status(const deployment& d, Executor& ex, const status_options& o = {}) {
    return status(d, erase_executor(ex), o);
}
std::string to_text(const cluster_status& s);
void to_json(nlohmann::json& j, const cluster_status& s);

struct node_result {
    std::string node;
    bool ok = false;
    bool unreachable = false;
    int exit_code = -1;
    std::string output;
};

// stop.sh on every node at once (a node without the folder: nothing to stop). Safe twice.
std::vector<node_result> down(const deployment& d, const executor_fn& ex, std::chrono::seconds timeout = std::chrono::seconds(180));
template <class Executor>
std::vector<node_result> down(const deployment& d, Executor& ex, std::chrono::seconds timeout = std::chrono::seconds(180)) {
    return down(d, erase_executor(ex), timeout);
}

// The last `lines` lines of each node's logs (process: logs/*.log; docker: compose logs and
// the vLLM log); `only_node` empty: every node.
std::vector<node_result> logs(const deployment& d, const executor_fn& ex, int lines = 50, const std::string& only_node = {});
template <class Executor>
std::vector<node_result> logs(const deployment& d, Executor& ex, int lines = 50, const std::string& only_node = {}) {
    return logs(d, erase_executor(ex), lines, only_node);
}

namespace detail::orch {
// The argv that asks node i what runs of the deployment, and the one that prints its last
// `lines` log lines (runtime-specific; tests check them without an executor).
std::vector<std::string> status_argv(const deployment& d, std::size_t i);
std::vector<std::string> logs_argv(const deployment& d, std::size_t i, int lines);
// The memory lines of node i's vLLM log (process: logs/vllm.log; docker: ray/dsdeploy-vllm.log,
// else the service's compose logs), each with the line after it (a terminal may have cut it).
std::vector<std::string> memory_lines_argv(const deployment& d, std::size_t i);
}  // namespace detail::orch

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/orchestrate_inl.hpp>
#include <dsdeploy/impl/orchestrate_status_down_logs_inl.hpp>
#include <dsdeploy/impl/orchestrate_up_inl.hpp>
#endif
