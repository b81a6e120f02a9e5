// SPDX-License-Identifier: Apache-2.0
// Prove the network before loading the weights (issue 15): on every node, inside the deployment's
// runtime (its Python environment, or its compose service with `docker compose run`) and with
// exactly the environment vLLM gets (the launch plan's VLLM_HOST_IP, NCCL_*/GLOO_* interface and
// fabric variables, serving.env), one all-reduce across all planned ranks -- one process per GPU
// with NCCL on GPU nodes, one Gloo process per node on CPU-only nodes -- and per node and rank:
// the transport (NCCL's network and transports from its NCCL_DEBUG=INFO lines; Gloo over TCP),
// the algorithm and bus bandwidth per message size (nccl-tests' definitions: algbw = bytes /
// time, busbw = algbw * 2(n-1)/n for all-reduce), the latency of a 4-byte all-reduce, and a
// verdict against the inventory's fabric and the link rate the node reports in sysfs. Failures are
// findings (ids in docs/findings.md): the node unreachable, the wrong interface, a rank that never
// joined, a failed collective, NCCL over TCP where the fabric is InfiniBand/RoCE, bandwidth below
// a fraction of the link.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/executor.hpp>
#include <dsdeploy/inventory.hpp>

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

struct deployment;  // dsdeploy/orchestrate.hpp (whose `up` runs netcheck as a step)

struct netcheck_options {
    std::vector<std::uint64_t> sizes = {4, 1u << 20, 16u << 20, 64u << 20};  // bytes per all-reduce
    int iterations = 5;                         // timed all-reduces per size (after `warmup`)
    int warmup = 2;
    std::chrono::seconds join_timeout{60};      // torch.distributed's timeout: a rank that never joins
    int port = 0;                               // the rendezvous on the head; 0: ports.master
    // netcheck.low_bandwidth when the bus bandwidth of the largest size is below this fraction of
    // the slowest link rate the nodes report (sysfs speed). nccl-tests reach 0.8-0.95 of the
    // link on a healthy InfiniBand fabric; a TCP fallback on a 100-400 Gb/s link gets a few %.
    double min_link_fraction = 0.25;
    std::function<void(const std::string&)> progress;  // one line per event, for people
};

struct netcheck_size {
    std::uint64_t bytes = 0;
    double time_us = 0;      // mean over the timed iterations
    double algbw_gbs = 0;    // GB/s (1e9 bytes), nccl-tests' algbw
    double busbw_gbs = 0;    // algbw * 2(n-1)/n
};

struct netcheck_rank {
    int rank = -1;
    int local_rank = 0;
    bool joined = false;     // init_process_group returned (the rendezvous and, for Gloo, every pair)
    bool done = false;
    double join_s = 0;
    std::vector<netcheck_size> sizes;
    std::string error_stage;  // "join", "all_reduce 1048576 bytes", "verify ...", "finish"
    std::string error;
};

struct netcheck_node {
    std::string name;
    std::string address;                 // the inventory's
    std::string interface;               // the interface vLLM is told to use (GLOO/NCCL_SOCKET_IFNAME)
    int planned_ranks = 0;
    std::string backend;                 // "gloo" or "nccl"
    bool reached = false;                // the command ran (SSH answered)
    bool timed_out = false;
    int exit_code = -1;
    bool interface_exists = false;
    std::optional<int> link_mbps;        // /sys/class/net/<interface>/speed, when the node reports one
    std::map<std::string, std::vector<std::string>> addresses;  // every interface's addresses, as `ip` lists them
    std::string hostname;
    std::string transport;               // "Gloo over TCP (eth0)", "NCCL NET/IB/0/GDRDMA", "NCCL NET/Socket/0"
    std::vector<netcheck_rank> ranks;
    std::string stderr_tail;             // the last lines of the worker's stderr (NCCL's INFO lines, tracebacks)
};

struct netcheck_report {
    std::string backend;
    int world = 0;
    std::string master;                  // "10.0.0.1:29501"
    std::vector<netcheck_node> nodes;
    std::vector<finding> findings;
    double seconds = 0;
    // The slowest rank's bus bandwidth at the largest size, when every rank measured it.
    std::optional<double> min_busbw_gbs() const;
    // exit_ok, or 1 when a finding is an error (a node that could not be reached: 3).
    int exit_code() const;
};

// The worker program (Python, run with the runtime's interpreter): prints one JSON object per line.
const std::string& netcheck_worker_program();

// The command that runs the worker on node `i`: the process runtime's interpreter under `env`
// with the node's launch environment, or the node's compose service (`docker compose run --rm
// --no-deps -T --entrypoint python3`). Every value is one argv word; nothing is parsed by a shell
// except the fixed docker wrapper, which takes its values as positional parameters.
command_spec netcheck_command(const deployment& d, std::size_t i, const netcheck_options& o);

// Reads one node's worker output (JSON lines; anything else is ignored) into `node`.
void parse_netcheck_output(std::string_view out, netcheck_node& node);

// The verdict: findings for one finished run.
std::vector<finding> judge_netcheck(const inventory& inv, const netcheck_report& r, const netcheck_options& o);

// Runs the worker on every node at once through `ex` and judges the result.
netcheck_report run_netcheck(const deployment& d, const executor_fn& ex, const netcheck_options& o = {});

std::string to_text(const netcheck_report& r);
void to_json(nlohmann::json& j, const netcheck_report& r);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/netcheck_worker_inl.hpp>
#include <dsdeploy/impl/netcheck_inl.hpp>
#endif
