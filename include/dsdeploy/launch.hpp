// SPDX-License-Identifier: Apache-2.0
// What runs on each node: the `ray start` and `vllm serve` command lines for the target vLLM
// version (which knows which flags exist when), each node's environment, and the per-node
// scripts (start, stop, wait for the cluster, serve, smoke request) for the docker and the
// process runtimes. Knows nothing of the compose document: the docker scripts only call
// `docker compose` on the file the bundle puts beside them. The definitions: impl/launch_inl.hpp
// (versions, flag table, the launch plan's argv) and impl/launch_scripts_inl.hpp (the scripts).
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/engine_version.hpp>
#include <dsdeploy/error.hpp>
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/network.hpp>
#include <dsdeploy/plan.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

// --- the flag table ---------------------------------------------------------------------------

// One option of an engine's command line (`vllm serve`, SGLang's `launch_server`) by release.
struct engine_flag {
    std::string flag;                       // "--tensor-parallel-size"
    std::vector<std::string> aliases;       // "-tp", "--no-..." twins
    std::optional<engine_version> since;    // first release that accepts it; nullopt: in the catalogued
                                            // release, earlier history not catalogued
    std::optional<engine_version> removed;  // first release that rejects it again
    bool deprecated = false;
    std::string note;
};
using vllm_flag = engine_flag;

// Every `vllm serve` option dsdeploy knows: all of the catalogued release, plus later additions.
const std::vector<vllm_flag>& vllm_flag_table();
// Every option of SGLang's server (`python -m sglang.launch_server`, `sglang serve`) in the
// releases detail/sglang_flags.hpp was read from (0.4.10.post2 to 0.5.23).
const std::vector<engine_flag>& sglang_flag_table();

enum class flag_support {
    yes,      // the target accepts it
    no,       // the target rejects it (an error)
    unknown,  // the table cannot tell for this target (a warning)
};

struct flag_check {
    flag_support support = flag_support::yes;
    const engine_flag* flag = nullptr;  // the table row, when the option is in the table
    std::string detail;               // why, for messages
};

// Checks one command-line word (e.g. "--max_num_seqs=8", "-tp", "--compilation-config.level")
// against the target version. Words that are not options ("8", "/models/x") are `yes`.
flag_check check_vllm_flag(std::string_view arg, const engine_version& v);

// Every option name (flags and aliases) the table says `vllm serve` accepts at `v`.
std::vector<std::string> vllm_options_at(const engine_version& v);

// The same for SGLang's server at SGLang release `v` (runtime.sglang_version).
flag_check check_sglang_flag(std::string_view arg, const engine_version& v);
std::vector<std::string> sglang_options_at(const engine_version& v);
engine_version oldest_catalogued_sglang_version();
engine_version newest_catalogued_sglang_version();

// The `ray start` options dsdeploy emits; every one is in Ray 2.48-2.53's option list.
const std::vector<std::string>& ray_start_options_used();

// --- per-node launch ------------------------------------------------------------------------------

struct node_launch {
    std::size_t index = 0;
    std::string name;
    std::string address;
    node_role role = node_role::worker;
    int gpus = 0;                           // 0: CPU-only node
    env_list env;                           // VLLM_HOST_IP, NCCL_*/GLOO_*/TP_*, UCX, serving.env, ...
    std::vector<std::string> ray_start;     // "ray" "start" ... (launcher ray), complete for the docker runtime
    std::vector<std::string> vllm_serve;    // the engine's server: "vllm" "serve" ... (the head with ray; every node with mp),
                                            // or "python3" "-m" "sglang.launch_server" ... (every node, engine sglang)
};

struct launch_plan {
    engine_kind engine = engine_kind::vllm;
    engine_version version;                 // of the engine: runtime.vllm_version, or runtime.sglang_version
    runtime_kind runtime = runtime_kind::docker;
    launcher_kind launcher = launcher_kind::ray;  // ray or mp (runtime.launcher "auto" resolved)
    std::string launcher_why;               // why that launcher (effective_launcher)
    std::size_t head = 0;
    std::string head_address;
    std::string ray_address;                // "10.0.0.1:6379" (what workers pass to --address)
    int head_port = 0;                      // what the other nodes wait for on the head: Ray's GCS, vLLM's
                                            // rendezvous (--master-port) or its DP coordinator (--data-parallel-rpc-port)
    bool hybrid_lb = false;                 // every node serves the API for its own data-parallel ranks
    std::string layout_advice;              // the layout upstream's recipes recommend here, and why (recommended_layout)
    std::string listen_host;                // vllm serve --host: api.host, but "::" for "0.0.0.0" with an IPv6 head
    std::string api_url;                    // "http://10.0.0.1:8000", what clients use
    std::string health_url;                 // the same, from the head itself
    std::string served_model_name;
    std::string model_path;                 // as the runtime sees it (the container path with docker)
    int expected_nodes = 0;                 // the Ray cluster must have this many nodes ...
    int expected_gpus = 0;                  // ... and this many GPUs: TP x PP x DP
    bool api_key = false;                   // vLLM requires VLLM_API_KEY
    std::vector<node_launch> nodes;
    std::vector<std::string> warnings;      // security and version notes for the operator
};

// The layout upstream recommends for this model on this cluster and fabric, and why, in one
// line: TP inside a node x PP across nodes over commodity links (vLLM's distributed-serving rule
// of thumb; vllm-project/recipes' tp_pp "for commodity inter-node links"), DP + EP across nodes
// for MoE models when RDMA carries the all-to-all (recipes' multi_node_dep, vLLM's
// expert_parallel_deployment guide, llm-d's wide-EP guide); it says whether the inventory's
// layout is that one. Advice only: the plan's verdict says whether a layout fits.
std::string recommended_layout(const inventory& inv, const plan& p);

// Validates the inventory, checks every flag against runtime.vllm_version (launch.version,
// launch.flag_unsupported) and derives each node's commands and environment from the plan.
launch_plan make_launch(const inventory& inv, const plan& p);

// The command as one shell line (every word quoted), e.g. for check_cli.mjs or a README.
std::string command_line(const std::vector<std::string>& argv);

struct script {
    std::string name;   // "start.sh"
    std::string text;
};

struct script_options {
    std::string compose_service;   // docker: the service in compose.yaml beside the scripts
    std::string compose_project;   // docker: --project-name
};

// The scripts of node `index`: start.sh and stop.sh everywhere; wait-cluster.sh (Ray), serve.sh
// (Ray) and smoke.sh on the head. Docker scripts drive `docker compose` (v2, or docker-compose
// v1); process scripts run from the Python environment (DSDEPLOY_PYTHON_ENV overrides
// runtime.python_env), keep PID files, logs and Ray's temp dir in the node's folder, and stop only
// processes their own start scripts started (never `ray stop`).
std::vector<script> node_scripts(const inventory& inv, const launch_plan& l, std::size_t index, const script_options& o = {});

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/launch_inl.hpp>
#include <dsdeploy/impl/launch_sglang_inl.hpp>
#include <dsdeploy/impl/launch_scripts_inl.hpp>
#endif
