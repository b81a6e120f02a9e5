// SPDX-License-Identifier: Apache-2.0
// Diagnostics: parsers for the output of the tools a multi-node bring-up depends on
// (nvidia-smi, ray status, NCCL and vLLM logs; ibv_devinfo and sysfs come from network.hpp),
// and findings with stable ids, the evidence line and the fix.
//
// Every parser takes any text (another version's layout, a truncated paste, binary noise) and
// never throws; what it does not recognise it ignores. Only reading files and validating
// expectations throw, and only dsdeploy::error.
#pragma once

#include <dsdeploy/cluster.hpp>
#include <dsdeploy/config.hpp>
#include <dsdeploy/error.hpp>
#include <dsdeploy/network.hpp>

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

// One line of a log: its 1-based number in the input and its text (terminal colour codes
// removed, cut to 400 characters).
struct log_line {
    std::size_t number = 0;
    std::string text;
};

// --- nvidia-smi ----------------------------------------------------------------------------

struct gpu_device {
    int index = -1;
    std::string name;     // "NVIDIA H200"
    std::string uuid;     // "GPU-e42a..."
    std::string bus_id;   // "00000000:00:06.0"
    std::optional<std::int64_t> memory_total_mib, memory_used_mib, memory_free_mib;
    std::optional<int> utilization_percent;
    std::string line;     // the line that carries the memory figures (or the GPU's line)
};

enum class nvidia_smi_format { unknown, table, list, csv };

struct nvidia_smi_report {
    nvidia_smi_format format = nvidia_smi_format::unknown;
    std::vector<gpu_device> gpus;
    std::string driver_version;  // "580.159.04"
    std::string cuda_version;    // "13.0"
    bool tool_missing = false;   // the shell said nvidia-smi is not installed
    std::optional<log_line> failure;  // "NVIDIA-SMI has failed ...", "No devices were found"
};

// Reads the default table, `-L`, or `--query-gpu ... --format=csv` with or without header and
// units. A CSV without header is read by position as index, name, memory.total, memory.used,
// memory.free (the columns in that order are the common query); fields that do not fit are skipped.
nvidia_smi_report parse_nvidia_smi(std::string_view text);

// `nvidia-smi topo -m`: the link between every pair of devices ("X", "NV18", "PIX", "SYS"...).
struct gpu_topology {
    std::vector<std::string> devices;             // column order: "GPU0".."GPU7", "NIC0"...
    std::vector<std::vector<std::string>> links;  // links[i][j] between devices[i] and devices[j]
    std::map<std::string, std::string> nics;      // "NIC0" -> "mlx5_0" (the NIC legend)

    int gpu_count() const;
    // The link between two devices by name; empty when unknown.
    std::string link(std::string_view a, std::string_view b) const;
};
gpu_topology parse_nvidia_smi_topo(std::string_view text);

// --- ray status / ray list nodes -------------------------------------------------------------

struct ray_resource {
    std::string name;   // "CPU", "GPU", "memory", "accelerator_type:P100"
    double used = 0;    // bytes for memory-like resources, else the count Ray prints
    double total = 0;
};

struct ray_node_group {
    int count = 1;
    std::string name;  // "node_<id>" (Ray >= 2.x) or a node type ("ray.worker.default")
    std::string line;
};

struct ray_node_usage {
    std::string name;  // as printed after "Node:" (an id, or an IP in older versions)
    std::string ip;    // set when the name (or its label) is an IP address
    std::vector<ray_resource> resources;
};

struct ray_status {
    bool recognised = false;     // the text is `ray status` output
    std::string layout;          // "usage" (old "Usage:"/"Demands:") or "total_usage"
    std::vector<ray_node_group> active;    // "Active:" (or "Healthy:") nodes
    std::vector<ray_node_group> idle;      // "Idle:" nodes (Ray >= 2.8)
    std::vector<log_line> pending_nodes;   // "Pending:" entries
    std::vector<log_line> recent_failures; // "Recent failures:" entries
    std::vector<ray_resource> resources;   // cluster totals
    std::optional<log_line> usage_header;  // the "Usage:"/"Total Usage:" line
    std::vector<log_line> resource_lines;  // one per resource, same order as `resources`
    std::vector<log_line> pending_demands; // demands other than "(no resource demands)"
    std::vector<ray_node_usage> nodes;     // `ray status -v` per-node sections
    std::optional<log_line> connection_error;  // no cluster could be reached

    // Nodes in Active plus Idle (each entry counts its number).
    int node_count() const;
    const ray_resource* resource(std::string_view name) const;
};
ray_status parse_ray_status(std::string_view text);

struct ray_node_row {
    std::string node_id;
    std::string node_ip;
    std::string state;    // "ALIVE", "DEAD"
    bool is_head = false;
    std::optional<double> gpus;  // GPU in RESOURCES_TOTAL
    std::string line;
};
// `ray list nodes` (table or yaml): one row per node.
std::vector<ray_node_row> parse_ray_list_nodes(std::string_view text);

// --- NCCL ------------------------------------------------------------------------------------

struct nccl_process {
    std::string host;
    std::string pid;
    int device = -1;                     // the [N] after host:pid:tid
    std::optional<int> rank, nranks, nnodes;
    std::string network;                 // "IB" or "Socket" ("Using network X")
    std::vector<std::string> socket_interfaces;  // "eth0:192.0.2.2"
    std::vector<std::string> ib_devices;         // "mlx5_0:1/IB", "mlx5_10:1/RoCE"
    std::string version;
};

struct nccl_report {
    bool recognised = false;
    std::vector<std::string> versions;           // distinct, as printed ("2.28.9+cuda13.0")
    std::map<std::string, std::string> env;      // NCCL_* the log says were set
    std::vector<nccl_process> processes;         // one per host:pid, in order of appearance
    std::vector<std::string> networks;           // distinct: "IB", "Socket"
    std::vector<std::string> transports;         // distinct: "NET/IB/0/GDRDMA", "NET/Socket/0", "P2P/CUMEM"...
    std::optional<log_line> ib_no_device;        // "NET/IB : No device found."
    std::optional<log_line> ib_plugin_failed;    // "Failed to initialize NET plugin IB"
    std::optional<log_line> socket_network;      // first sign the Socket transport carries traffic
    std::optional<log_line> ib_network;          // first sign IB/RoCE carries traffic
    std::optional<log_line> no_socket_interface; // bootstrap found no interface
    std::optional<log_line> interface_line;      // first line naming the socket interface NCCL uses
    std::optional<log_line> ib_devices_line;     // first "NET/IB : Using [0]mlx5_0:1/IB ..." line with devices
    std::optional<log_line> ib_completion_error; // "Got completion ... error/status=N"
    std::optional<log_line> shm_error;           // creating a /dev/shm segment failed
    std::vector<log_line> warnings;              // every "NCCL WARN" line
    std::vector<log_line> errors;                // ncclSystemError, ncclInternalError, "NCCL error" ...

    // The log shows InfiniBand/RoCE was asked for: NCCL_IB_HCA set, or NCCL_IB_DISABLE=0.
    bool ib_requested() const;
};
nccl_report parse_nccl_log(std::string_view text);

// --- vLLM ------------------------------------------------------------------------------------

struct vllm_report {
    bool recognised = false;
    std::string version;           // "0.11.0.post2"
    std::string executor_backend;  // "ray", "mp", "uni", "external_launcher" when the log says
    std::optional<log_line> executor_line;
    std::optional<int> tensor_parallel_size, pipeline_parallel_size;
    std::optional<std::int64_t> max_model_len;
    std::optional<std::int64_t> kv_cache_tokens;     // "GPU KV cache size: N tokens" (V0: blocks x 16)
    std::optional<log_line> kv_cache_line;
    std::optional<double> kv_cache_gib;              // "Available KV cache memory: X GiB"
    std::optional<std::int64_t> concurrency_tokens;  // "Maximum concurrency for N tokens per request: Xx"
    std::optional<double> max_concurrency;
    std::optional<log_line> concurrency_line;
    std::optional<log_line> kv_cache_error;          // one max-model-len request does not fit
    std::optional<std::int64_t> estimated_max_model_len;
    std::vector<log_line> out_of_memory;
    std::vector<log_line> no_node_type;              // "No available node types can fulfill resource request"
    std::vector<std::string> requested_node_ips;     // node:<ip> in resource requests and placement groups
    std::vector<log_line> placement_group_waiting;
    std::optional<log_line> placement_group_timeout;
    std::vector<log_line> not_enough_gpus;
    std::vector<std::string> ray_worker_ips;         // ip= of "(RayWorkerWrapper pid=N, ip=X)" prefixes
    std::optional<log_line> started;                 // the API server is up
    std::optional<log_line> engine_failed;
};
vllm_report parse_vllm_log(std::string_view text);

// --- probe facts -----------------------------------------------------------------------------

struct listening_socket {
    std::string address;  // "0.0.0.0", "127.0.0.1", "::", "::ffff:192.0.2.2"
    int port = 0;
};
// /proc/net/tcp or /proc/net/tcp6: the sockets in LISTEN state.
std::vector<listening_socket> parse_proc_net_tcp(std::string_view text);
bool is_loopback(std::string_view address);

// --- findings --------------------------------------------------------------------------------

enum class severity { error, warning, info };
std::string_view to_string(severity s);

struct finding {
    std::string id;         // stable ("nccl.ib_fallback_to_socket"); the README lists them all
    severity level = severity::error;
    std::string node;       // where the evidence came from; empty when it concerns the cluster
    std::string source;     // "nccl_log", "vllm_log", "ray_status", "ray_list_nodes", "ibv_devinfo",
                            // "sysfs", "nvidia_smi", "nvidia_smi_topo", "probe", "versions", "expectations"
    std::string message;    // what is wrong, with the numbers
    std::string evidence;   // the line(s) that show it, verbatim (colour codes removed)
    std::string fix;        // what to do
};

// What was seen on one node. Every text is optional; absent ones are not judged.
struct node_evidence {
    std::string name;
    std::optional<std::string> ibv_devinfo, nvidia_smi, nvidia_smi_topo, ray_status, ray_list_nodes, nccl_log,
        vllm_log;
    std::optional<rdma_report> sysfs;           // read_sysfs_infiniband()
    std::optional<std::uint64_t> shm_bytes;     // size of /dev/shm
    std::optional<std::vector<listening_socket>> listening;  // TCP listeners; nullopt: not probed
    std::map<std::string, std::string> versions;  // "vllm", "ray", "python", "torch", "nccl", "driver", "cuda", "image"
    std::optional<std::string> vllm_host_ip;    // VLLM_HOST_IP in the node's serving environment
};

struct evidence {
    std::vector<node_evidence> nodes;
};

struct expected_node {
    std::string name;
    std::string address;  // the IP Ray and VLLM_HOST_IP must use
    int gpus = 0;
};

// What the plan asked for. Unset fields are not checked.
struct expectations {
    std::optional<fabric> fabric_kind;
    std::string interface;               // NCCL_SOCKET_IFNAME
    std::optional<int> gid_index;        // NCCL_IB_GID_INDEX (RoCE)
    std::optional<int> nodes;            // default: node_list.size() when given
    std::optional<int> gpus;             // total; default: the sum over node_list
    std::vector<expected_node> node_list;
    std::optional<std::int64_t> max_model_len;
    std::uint64_t min_shm_bytes = std::uint64_t{1} << 30;  // /dev/shm below this is an error
    int dashboard_port = 8265;
};

// Nodes, addresses, GPUs, fabric, interface and GID index from a cluster and its network.
expectations expectations_for(const cluster& c, const network_profile& p);

// Throws config_error diagnose.expectations naming the field.
void validate(const expectations& e);

// Every finding the evidence supports, errors first. Never throws on any evidence; throws
// diagnose.expectations for invalid expectations.
std::vector<finding> diagnose(const evidence& ev, const expectations& ex = {});

bool has_errors(const std::vector<finding>& findings);
std::string to_text(const std::vector<finding>& findings);
void to_json(nlohmann::json& j, const finding& f);

// For a failed bring-up step: puts `output` into every slot whose parser recognises it (a vLLM
// log with NCCL lines fills both vllm_log and nccl_log), so diagnose() can explain the failure.
node_evidence evidence_from_output(std::string node, std::string_view output);

// --- local probes ----------------------------------------------------------------------------

struct probe_options {
    std::string ibv_devinfo = "ibv_devinfo";
    std::string nvidia_smi = "nvidia-smi";
    std::string ray = "ray";             // the ray executable
    std::string ray_address;             // empty: RAY_ADDRESS, else the cluster this machine started, else skip
    std::filesystem::path sysfs_root = "/sys/class/infiniband";
    std::filesystem::path shm = "/dev/shm";
    std::filesystem::path proc_net = "/proc/net";
    std::chrono::seconds timeout{60};    // per command
};

struct probe_result {
    node_evidence evidence;
    std::vector<std::string> unavailable;  // "nvidia-smi: not installed", "ray status: no Ray cluster found"
};

// Runs what exists here: ibv_devinfo, /sys/class/infiniband, nvidia-smi (the table and topo -m),
// ray status and ray --version, /dev/shm's size, the TCP listeners. Never throws.
probe_result probe_local(const std::string& node_name, const probe_options& o = {});

// Reads a whole text file (at most max_bytes); throws environment_error diagnose.input.
std::string read_text_file(const std::filesystem::path& path, std::size_t max_bytes = std::size_t{64} << 20);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/diagnose_inl.hpp>
#endif
