// SPDX-License-Identifier: Apache-2.0
// The inventory: one description of a deployment (nodes, network, model, serving options,
// runtime, ports, API security) from which everything else is derived; and its file formats,
// commented TOML for people and JSON for machines.
#pragma once

#include <dsdeploy/cluster.hpp>
#include <dsdeploy/config.hpp>
#include <dsdeploy/model.hpp>
#include <dsdeploy/network.hpp>
#include <dsdeploy/plan.hpp>

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

// Data parallelism across nodes with the mp launcher (vLLM's data_parallel_deployment guide):
// internal: one API server on the head balances over every DP rank, the other nodes run
// headless; hybrid (--data-parallel-hybrid-lb): every node serves its own DP ranks at its own
// address, behind the operator's load balancer.
enum class dp_load_balancing { internal, hybrid };
std::string_view to_string(dp_load_balancing b);
std::optional<dp_load_balancing> parse_dp_load_balancing(std::string_view s);

struct serving_options {
    engine_kind engine = engine_kind::vllm;
    std::string model = "deepseek-ai/DeepSeek-V3";  // catalog id or local directory, for planning
    std::string model_path;        // the weights on every node's disk (same path everywhere)
    std::string served_model_name; // empty: the model's name

    std::optional<int> tensor_parallel_size;  // unset: chosen by the planner
    std::optional<int> pipeline_parallel_size;
    std::optional<int> data_parallel_size;
    bool enable_expert_parallel = false;
    dp_load_balancing data_parallel_lb = dp_load_balancing::internal;  // DP across nodes (launcher mp)
    int api_server_count = 0;              // --api-server-count on each API node; 0: vLLM's default
    int num_redundant_experts = 0;         // EPLB: extra expert replicas per MoE layer (needs expert parallelism)
    int attention_data_parallel_size = 1;  // SGLang DP attention: attention groups inside the TP group (tp a multiple of it)
    bool allow_cross_node_tp = false;
    std::vector<int> pp_layer_partition;

    double gpu_memory_utilization = 0.9;   // vLLM: the fraction of each GPU it may use
    double mem_fraction_static = 0;        // SGLang: the fraction for weights + KV cache; 0: SGLang's default for the GPU
    int max_model_len = 0;                 // 0: the model's context length
    std::optional<dtype> kv_cache_dtype;   // unset: "auto"
    double headroom_gib = 2.0;

    std::vector<std::string> extra_args;   // more `vllm serve` arguments, checked against the target vLLM version
    env_list env;                          // more environment for Ray and vLLM on every node (e.g. VLLM_CPU_KVCACHE_SPACE)
};

// Where the commands run: containers from one image (docker compose), or processes from a
// Python environment on each host (clusters without Docker; also CPU-only test clusters).
enum class runtime_kind { docker, process };
std::string_view to_string(runtime_kind k);
std::optional<runtime_kind> parse_runtime_kind(std::string_view s);

// How the nodes form one vLLM instance: a Ray cluster (`ray start` on every node, one
// `vllm serve --distributed-executor-backend ray` on the head), or vLLM's own multi-node
// mode without Ray (`vllm serve --nnodes N --node-rank i ...` on every node; vLLM >= 0.11.1).
// automatic ("auto", the default): what upstream recommends for runtime.vllm_version, decided by
// effective_launcher below.
enum class launcher_kind { ray, mp, automatic };
std::string_view to_string(launcher_kind k);
std::optional<launcher_kind> parse_launcher_kind(std::string_view s);

// docker: the container's resource limits (soft = hard; -1 = unlimited). The defaults are what
// NCCL over RDMA wants (pinned memory without a cap, many sockets and files, a large stack);
// hosts whose own limits are lower (a sandbox, a locked-down kernel) set what they allow.
struct ulimit_options {
    std::int64_t memlock = -1;
    std::int64_t nofile = 65536;
    std::int64_t stack = 67108864;
};

// docker: when `start.sh` fetches the image. never: it must already be on the node (start.sh
// refuses to start without it); missing: pulled when absent (Compose's default); always: pulled
// on every start.
enum class pull_policy { never, missing, always };
std::string_view to_string(pull_policy p);
std::optional<pull_policy> parse_pull_policy(std::string_view s);

struct runtime_options {
    runtime_kind kind = runtime_kind::docker;
    std::string image = "vllm/vllm-openai:v0.11.0";  // docker: the same image on every node
    std::string vllm_version = "0.11.0";             // decides which `vllm serve` flags exist
    std::string sglang_version;                      // serving.engine "sglang": the SGLang in the image/env (required then)
    launcher_kind launcher = launcher_kind::automatic;
    std::string python_env;      // process: prefix holding bin/ray, bin/vllm, bin/python; empty: from PATH
    std::string shm_size = "64g";  // docker: /dev/shm (NCCL needs far more than Docker's 64 MB)
    bool privileged = false;     // docker: privileged container; RDMA otherwise gets IPC_LOCK + /dev/infiniband
    std::string restart = "unless-stopped";  // docker restart policy: no, always, on-failure[:N], unless-stopped
    std::string model_mount;     // docker: the model's path inside the container; empty: serving.model_path
    int num_cpus = 0;            // ray --num-cpus; 0: Ray detects on GPU nodes, the host's CPU count on CPU-only nodes
    pull_policy pull = pull_policy::missing;  // docker: when the image is pulled
    std::vector<std::string> volumes;         // docker: more bind mounts, "HOST:CONTAINER[:ro|:rw]" (absolute paths)
    ulimit_options ulimits;                   // docker: the containers' limits
};

// Every port is pinned, so a firewall can be written and no two services collide.
struct port_options {
    int ray = 6379;                       // Ray GCS on the head; workers join HEAD:ray
    int dashboard = 8265;                 // Ray dashboard and job API (head)
    int ray_client = 10001;               // Ray client server (head)
    int node_manager = 6380;              // raylet, every node
    int object_manager = 6381;            // every node
    int runtime_env_agent = 6382;         // every node
    int dashboard_agent_grpc = 6383;      // every node
    int metrics_export = 6384;            // every node
    int dashboard_agent_listen = 52365;   // every node
    int min_worker = 10002;               // Ray worker processes, every node
    int max_worker = 19999;
    int api = 8000;                       // vLLM's OpenAI API (head)
    int master = 29501;                   // vLLM multi-node rendezvous (launcher "mp", head)
    int dp_rpc = 13345;                   // vLLM data-parallel coordination (launcher "mp" with DP > 1, head)
};

struct api_options {
    std::string host = "0.0.0.0";         // vllm serve --host
    bool auth = true;                     // require an API key (vLLM reads it from VLLM_API_KEY)
    std::string key;                      // empty: key_env at render time, else the bundle's existing key, else generated
    std::string key_env = "DSDEPLOY_API_KEY";
    bool expose_dashboard = false;        // Ray dashboard on 0.0.0.0: its job API runs any code for anyone who reaches it
};

struct inventory {
    std::string name = "dsdeploy";
    dsdeploy::cluster cluster;
    network_profile network;
    serving_options serving;
    runtime_options runtime;
    port_options ports;
    api_options api;
};

// DeepSeek-V3 on two servers of 8 x L20 over InfiniBand (mlx5_0, mlx5_3 on bond0),
// TP 8 x PP 2, --gpu-memory-utilization 0.8, --max-model-len 65536: the original write-up.
inventory default_inventory();

plan_options to_plan_options(const serving_options& s);

// Resolves the model and makes the plan; throws config_error for invalid input.
plan plan_for(const inventory& inv);

// The served model name: serving.served_model_name, else serving.model.
std::string served_model_name(const inventory& inv);
// Where the weights are: serving.model_path, else serving.model when it is a local folder.
std::string model_path(const inventory& inv);

// Validates everything that does not depend on the engine version: the cluster, the network,
// names, paths, ports (range and collisions per node), runtime and API settings. Throws
// config_error (cluster.*, network.*, inventory.*).
void validate(const inventory& inv);

// One service's claim on a port of a node.
struct port_use {
    std::string service;   // "ray GCS", "vLLM API", "ray workers", ...
    std::string field;     // "ports.ray"
    int first = 0;
    int last = 0;          // == first except for ranges
};
// The ports the services on node `index` listen on (Ray's when launcher is ray, vLLM's).
std::vector<port_use> node_ports(const inventory& inv, std::size_t index);

// The launcher the deployment uses (ray or mp, never automatic) and why. runtime.launcher when
// set; for "auto", what upstream recommends for runtime.vllm_version: mp (vLLM's own multi-node
// launcher, `--nnodes/--node-rank/--master-addr`) from 0.11.1, where it first exists (vllm #23691)
// and which upstream's config picks for nnodes > 1 (field-2026-12.md §1); Ray before 0.11.1, and
// with data parallelism (dsdeploy renders DP with Ray only). A vllm_version that cannot be read
// gives Ray (the launch plan then refuses the version itself).
struct launcher_choice {
    launcher_kind kind = launcher_kind::ray;
    bool automatic = false;  // runtime.launcher was "auto"
    std::string why;         // one line for `plan` and bundle.json
};
launcher_choice effective_launcher(const inventory& inv);

namespace detail {
// Data-parallel ranks per node for DP across nodes with the mp launcher: data_parallel_size /
// nodes, each node's GPUs = that x TP, PP 1; throws inventory.field naming what would work.
int dp_local_size(const inventory& inv);
// The checks validate() adds for serving.engine = "sglang".
void validate_sglang(const inventory& inv);
}  // namespace detail

// --- file formats ----------------------------------------------------------------------------

enum class inventory_format { automatic, toml, json };

// Where each field of a parsed inventory came from, so later errors (validation, planning,
// rendering) can name the file and line.
struct source_map {
    std::string file;                         // as given ("inventory.toml"); "<string>" for text
    std::map<std::string, int> lines;         // field path ("nodes[1].address") -> 1-based line

    // "inventory.toml:12: nodes[1].address": the line of the field, or of its closest parent.
    std::string locate(const std::string& field) const;
};

struct loaded_inventory {
    inventory inv;
    source_map source;
};

// Parses TOML or JSON (automatic: JSON when the first non-blank character is '{'). Unknown
// keys are errors (inventory.unknown_key) naming the known keys nearby; wrong types and values
// are inventory.field; syntax errors inventory.syntax; every field is "file:line: path".
// Does not run validate(): call it (or with_source) to get located validation errors.
loaded_inventory parse_inventory(std::string_view text, const std::string& file = "<string>",
                                 inventory_format format = inventory_format::automatic);
// Reads a file (format from the extension: .toml, .json; otherwise from the content) and
// validates it; validation errors name the file and line. Throws inventory.unreadable.
loaded_inventory load_inventory_file(const std::filesystem::path& path);

// Runs `f`; a dsdeploy::error it throws is thrown again with its field located in `source`
// ("inventory.toml:12: nodes[1].address"), same errc and detail.
template <class F>
decltype(auto) with_source(const source_map& source, F&& f) {
    try {
        return f();
    } catch (const error& e) {
        raise(e.code(), source.locate(e.field()), e.detail());
    }
}

// A commented TOML document for `inv` (what `dsdeploy init` writes); parse_inventory reads
// it back to the same inventory. The API key is never written: secrets live in the bundle.
std::string to_toml(const inventory& inv);
void to_json(nlohmann::json& j, const inventory& inv);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/inventory_inl.hpp>
#include <dsdeploy/impl/inventory_read_inl.hpp>
#include <dsdeploy/impl/inventory_write_inl.hpp>
#endif
