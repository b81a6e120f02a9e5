// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/error.hpp>

#include <algorithm>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE const std::vector<errc_info>& all_errors() {
    using k = error_kind;
    static const std::vector<errc_info> table = {
        {errc::cluster_empty, "cluster.empty", k::config, "the cluster has no nodes"},
        {errc::cluster_head, "cluster.head", k::config, "not exactly one node has role \"head\""},
        {errc::cluster_name, "cluster.name", k::config, "a node name is empty or has characters other than letters, digits, '.', '_' and '-'"},
        {errc::cluster_duplicate_name, "cluster.duplicate_name", k::config, "two nodes share a name"},
        {errc::cluster_address, "cluster.address", k::config, "a node address is not an IPv4 address, IPv6 address or hostname"},
        {errc::cluster_duplicate_address, "cluster.duplicate_address", k::config, "two nodes share an address"},
        {errc::cluster_gpu_count, "cluster.gpu_count", k::config, "a GPU count is negative, too large, or disagrees with the device ids"},
        {errc::cluster_gpu_ids, "cluster.gpu_ids", k::config, "GPU device ids are negative or repeated"},
        {errc::cluster_ssh, "cluster.ssh", k::config, "an SSH target starts with '-' or contains spaces or control characters"},
        {errc::cluster_interface, "cluster.interface", k::config, "a node's network interface name is not a valid Linux interface name"},
        {errc::gpu_unknown, "gpu.unknown", k::config, "a GPU type is not in the catalog"},
        {errc::gpu_mixed, "gpu.mixed", k::config, "nodes with GPUs have different GPU types or counts, which one vLLM deployment cannot plan for"},
        {errc::network_interface, "network.interface", k::config, "the network profile has no valid socket interface"},
        {errc::network_hca, "network.hca", k::config, "an RDMA profile lists no HCA, or an HCA name is invalid"},
        {errc::network_gid_index, "network.gid_index", k::config, "a RoCE GID index is outside 0..255"},
        {errc::network_ib_timeout, "network.ib_timeout", k::config, "NCCL_IB_TIMEOUT is outside 1..31"},
        {errc::network_env_name, "network.env_name", k::config, "an extra environment variable has an invalid name or value"},
        {errc::network_env_reserved, "network.env_reserved", k::config, "an extra environment variable would override one dsdeploy derives (VLLM_HOST_IP, NCCL_*)"},
        {errc::network_host_ip, "network.host_ip", k::config, "a node address is a hostname where Ray and vLLM need an IP address"},
        {errc::network_sysfs, "network.sysfs", k::environment, "the /sys/class/infiniband tree could not be read"},
        {errc::model_unknown, "model.unknown", k::config, "the model is neither in the catalog nor a directory with config.json"},
        {errc::model_config_unreadable, "model.config_unreadable", k::environment, "config.json (or the safetensors index) could not be read or parsed"},
        {errc::model_config_field, "model.config_field", k::config, "config.json lacks a field the planner needs, or it has the wrong type"},
        {errc::model_unsupported, "model.unsupported", k::config, "the model's weight format cannot be sized"},
        {errc::plan_value, "plan.value", k::config, "a plan setting is out of range (utilization, max-model-len, headroom, parallel sizes)"},
        {errc::plan_world_size, "plan.world_size", k::config, "TP x PP x DP does not equal the GPUs in the cluster"},
        {errc::plan_tp_cross_node, "plan.tp_cross_node", k::config, "tensor parallelism spans nodes without being allowed to"},
        {errc::plan_tp_heads, "plan.tp_heads", k::config, "the attention heads are not divisible by the tensor-parallel size"},
        {errc::plan_pp_layers, "plan.pp_layers", k::config, "the pipeline-parallel size exceeds the number of layers"},
        {errc::plan_pp_partition, "plan.pp_partition", k::config, "a layer partition does not have one positive entry per stage summing to the layers"},
        {errc::plan_fp8_unsupported, "plan.fp8_unsupported", k::config, "FP8 weights on GPUs below compute capability 8.0, where vLLM has no FP8 path (not even weight-only Marlin)"},
        {errc::plan_expert_parallel, "plan.expert_parallel", k::config, "expert parallelism was asked for a model without experts"},
        {errc::inventory_unreadable, "inventory.unreadable", k::environment, "the inventory file could not be read"},
        {errc::inventory_syntax, "inventory.syntax", k::config, "the inventory is not valid TOML or JSON"},
        {errc::inventory_field, "inventory.field", k::config, "an inventory field has the wrong type or value"},
        {errc::inventory_unknown_key, "inventory.unknown_key", k::config, "the inventory has a key dsdeploy does not know (likely a typo)"},
        {errc::inventory_ports, "inventory.ports", k::config, "a port is outside 1..65535, the worker range is empty, or two services on one node want the same port"},
        {errc::launch_flag_unsupported, "launch.flag_unsupported", k::config, "the target vLLM version does not accept a flag the plan or serving.extra_args needs"},
        {errc::launch_version, "launch.version", k::config, "runtime.vllm_version cannot be parsed, or is older than dsdeploy renders for"},
        {errc::bundle_write, "bundle.write", k::environment, "the bundle could not be written"},
        {errc::bundle_exists, "bundle.exists", k::config, "the output folder exists and is neither empty nor a dsdeploy bundle"},
        {errc::client_connection, "client.connection", k::environment, "the server could not be reached"},
        {errc::client_timeout, "client.timeout", k::environment, "a request timed out"},
        {errc::client_status, "client.status", k::environment, "the server answered with an HTTP error status"},
        {errc::client_decode, "client.decode", k::environment, "the server's answer could not be decoded"},
        {errc::client_stream, "client.stream", k::environment, "a stream ended early or carried an error"},
        {errc::client_config, "client.config", k::config, "the client's base URL, key or options are invalid"},
        {errc::bench_config, "bench.config", k::config, "a benchmark option is invalid"},
        {errc::bench_write, "bench.write", k::environment, "benchmark results could not be written"},
        {errc::diagnose_input, "diagnose.input", k::environment, "a diagnostics input file could not be read"},
        {errc::diagnose_expectations, "diagnose.expectations", k::config, "what diagnostics should expect (nodes, GPUs, addresses, ports) is invalid"},
        {errc::orchestrate_step, "orchestrate.step", k::environment, "a bring-up step failed on a node"},
        {errc::orchestrate_ssh, "orchestrate.ssh", k::environment, "a node could not be reached over SSH"},
        {errc::orchestrate_timeout, "orchestrate.timeout", k::environment, "a bring-up wait ran out of time"},
        {errc::cli_usage, "cli.usage", k::config, "the command line is invalid"},
    };
    return table;
}

DSDEPLOY_INLINE const errc_info& info(errc code) {
    const auto& table = all_errors();
    auto it = std::find_if(table.begin(), table.end(), [code](const errc_info& e) { return e.code == code; });
    if (it == table.end()) {
        static const errc_info unknown{code, "unknown", error_kind::environment, "unknown error"};
        return unknown;
    }
    return *it;
}

DSDEPLOY_INLINE std::string_view to_id(errc code) { return info(code).id; }

namespace detail {
DSDEPLOY_INLINE std::string format_error(errc code, const std::string& field, const std::string& detail) {
    std::string out = "[dsdeploy.";
    out += to_id(code);
    out += "] ";
    if (!field.empty()) {
        out += field;
        out += ": ";
    }
    out += detail;
    return out;
}
}  // namespace detail

DSDEPLOY_INLINE error::error(errc code, std::string field, std::string detail)
    : std::runtime_error(detail::format_error(code, field, detail)),
      code_(code),
      field_(std::move(field)),
      detail_(std::move(detail)) {}

DSDEPLOY_INLINE void raise(errc code, std::string field, std::string detail) {
    if (info(code).kind == error_kind::config) throw config_error(code, std::move(field), std::move(detail));
    throw environment_error(code, std::move(field), std::move(detail));
}

DSDEPLOY_NAMESPACE_END
