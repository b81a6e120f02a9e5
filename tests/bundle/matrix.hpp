// SPDX-License-Identifier: Apache-2.0
// The inventories the bundle tests render: 1, 2, 3 and 8 nodes x InfiniBand, RoCE, TCP x the
// docker and process runtimes, plus the mp launcher, a CPU-only cluster, GPU subsets, privileged,
// an exposed dashboard without API key, extra serve arguments, and hostile values.
#pragma once

#include <dsdeploy/dsdeploy.hpp>

#include <fmt/format.h>

#include <string>
#include <vector>

namespace dsdeploy_test {

struct matrix_case {
    std::string id;
    dsdeploy::inventory inv;
};

inline dsdeploy::inventory cluster_inventory(int nodes, dsdeploy::fabric f, dsdeploy::runtime_kind r) {
    using namespace dsdeploy;
    inventory inv = default_inventory();
    inv.name = fmt::format("m{}-{}-{}", nodes, to_string(f), to_string(r));
    inv.cluster.nodes.clear();
    for (int i = 0; i < nodes; ++i) {
        node n;
        n.name = fmt::format("node{}", i + 1);
        n.address = fmt::format("10.0.{}.{}", i / 200, i % 200 + 1);
        n.role = i == 0 ? node_role::head : node_role::worker;
        n.gpu_type = "L20";
        n.gpu_count = 8;
        inv.cluster.nodes.push_back(n);
    }
    inv.network = network_profile{};
    inv.network.kind = f;
    if (f == fabric::infiniband) {
        inv.network.interface = "bond0";
        inv.network.hcas = {"mlx5_0", "mlx5_3"};
    } else if (f == fabric::roce) {
        inv.network.interface = "ens1f0";
        inv.network.hcas = {"mlx5_2"};
        inv.network.gid_index = 3;
    } else {
        inv.network.interface = "eth0";
    }
    inv.serving.tensor_parallel_size = 8;
    inv.serving.pipeline_parallel_size = nodes;
    inv.runtime.kind = r;
    if (r == runtime_kind::process) inv.runtime.python_env = "/opt/vllm-env";
    return inv;
}

inline std::vector<matrix_case> matrix_cases() {
    using namespace dsdeploy;
    std::vector<matrix_case> out;
    for (int n : {1, 2, 3, 8})
        for (fabric f : {fabric::infiniband, fabric::roce, fabric::tcp})
            for (runtime_kind r : {runtime_kind::docker, runtime_kind::process}) {
                inventory inv = cluster_inventory(n, f, r);
                out.push_back({inv.name, inv});
            }
    for (runtime_kind r : {runtime_kind::docker, runtime_kind::process}) {
        inventory inv = cluster_inventory(2, fabric::infiniband, r);
        inv.name = fmt::format("mp-{}", to_string(r));
        inv.runtime.launcher = launcher_kind::mp;
        inv.runtime.vllm_version = "0.12.0";
        inv.runtime.image = "vllm/vllm-openai:v0.12.0";
        out.push_back({inv.name, inv});
    }
    {
        inventory inv = cluster_inventory(2, fabric::tcp, runtime_kind::process);
        inv.name = "cpu-process";
        for (auto& nd : inv.cluster.nodes) {
            nd.gpu_type.clear();
            nd.gpu_count = 0;
        }
        inv.serving.model = "meta-llama/Llama-3.1-70B-Instruct";
        inv.serving.model_path = "/data/models/Llama-3.1-70B-Instruct";
        inv.serving.served_model_name = "llama";
        inv.serving.tensor_parallel_size.reset();
        inv.serving.pipeline_parallel_size.reset();
        inv.serving.max_model_len = 1024;
        inv.serving.extra_args = {"--load-format", "dummy", "--dtype", "bfloat16"};
        inv.serving.env = {{"VLLM_CPU_KVCACHE_SPACE", "1"}};
        out.push_back({inv.name, inv});
    }
    {
        inventory inv = cluster_inventory(2, fabric::roce, runtime_kind::docker);
        inv.name = "subset-privileged";
        for (auto& nd : inv.cluster.nodes) {
            nd.gpu_count = 0;
            nd.gpu_ids = {2, 3, 4, 5};
        }
        inv.serving.model = "meta-llama/Llama-3.1-70B-Instruct";
        inv.serving.model_path = "/data/models/llama";
        inv.serving.tensor_parallel_size = 4;
        inv.serving.pipeline_parallel_size = 2;
        inv.runtime.privileged = true;
        inv.runtime.model_mount = "/models/llama";
        out.push_back({inv.name, inv});
    }
    {
        inventory inv = cluster_inventory(3, fabric::infiniband, runtime_kind::process);
        inv.name = "open-extras";
        for (auto& nd : inv.cluster.nodes) nd.gpu_ids = {0, 1, 2, 3, 4, 5, 6, 7};
        inv.api.expose_dashboard = true;
        inv.api.auth = false;
        inv.serving.extra_args = {"--enforce-eager", "--max-num-seqs", "16", "--trust_remote_code"};
        inv.serving.env = {{"VLLM_USE_RAY_COMPILED_DAG_CHANNEL_TYPE", "shm"}};
        inv.serving.pp_layer_partition = {21, 20, 20};
        inv.network.extra_env = {{"NCCL_IB_QPS_PER_CONNECTION", "2"}};
        inv.network.nccl_debug = true;
        out.push_back({inv.name, inv});
    }
    // SGLang (issue 14 item 4): every node runs sglang.launch_server; the head's key comes from .env.
    for (runtime_kind r : {runtime_kind::docker, runtime_kind::process}) {
        inventory inv = cluster_inventory(2, fabric::infiniband, r);
        inv.name = fmt::format("sglang-{}", to_string(r));
        inv.serving.engine = engine_kind::sglang;
        inv.runtime.sglang_version = "0.5.23";
        inv.runtime.image = "lmsysorg/sglang:v0.5.23";
        inv.serving.mem_fraction_static = 0.85;
        out.push_back({inv.name, inv});
    }
    // SGLang's DeepSeek recipe: TP 16 across the two nodes, DP attention in the TP group, EP.
    for (const char* version : {"0.5.19", "0.5.23"}) {
        inventory inv = cluster_inventory(2, fabric::infiniband, runtime_kind::process);
        inv.name = fmt::format("sglang-dp-attention-{}", version);
        inv.serving.engine = engine_kind::sglang;
        inv.runtime.sglang_version = version;
        inv.serving.tensor_parallel_size = 16;
        inv.serving.pipeline_parallel_size = 1;
        inv.serving.allow_cross_node_tp = true;
        inv.serving.attention_data_parallel_size = 16;
        inv.serving.enable_expert_parallel = true;
        out.push_back({inv.name, inv});
    }
    {
        inventory inv = cluster_inventory(3, fabric::roce, runtime_kind::process);
        inv.name = "sglang-ep-open";
        inv.serving.engine = engine_kind::sglang;
        inv.runtime.sglang_version = "0.5.19";
        inv.serving.model = "meta-llama/Llama-3.1-70B-Instruct";
        inv.serving.model_path = "/data/models/llama";
        inv.serving.tensor_parallel_size = 8;
        inv.serving.pipeline_parallel_size = 3;
        inv.api.auth = false;
        inv.serving.extra_args = {"--trust-remote-code", "--dist-timeout", "3600", "--chunked-prefill-size=4096"};
        out.push_back({inv.name, inv});
    }
    return out;
}

// Values an attacker might smuggle into an inventory: every one must arrive as data.
inline const char* hostile_text() { return "x'; touch PWNED_q; echo '$(touch PWNED_d)`touch PWNED_b`;touch PWNED_s \"q\" a b"; }

inline dsdeploy::inventory hostile_inventory(dsdeploy::runtime_kind r, const std::string& python_env) {
    using namespace dsdeploy;
    inventory inv = cluster_inventory(2, fabric::tcp, r);
    inv.name = fmt::format("hostile-{}", to_string(r));
    inv.serving.served_model_name = std::string("name ") + hostile_text();
    inv.serving.model_path = std::string("/models/$(touch PWNED_p)/`touch PWNED_t`/") + hostile_text() + "\nline2";
    inv.serving.extra_args = {"--chat-template", std::string("tmpl ") + hostile_text(), "--dtype", "$(touch PWNED_e)"};
    inv.serving.env = {{"HOSTILE_VALUE", std::string("v ") + hostile_text()}};
    inv.network.extra_env = {{"NCCL_HOSTILE", "${IFS}$(touch PWNED_n);`touch PWNED_m`"}};
    // Not hostile: make_launch refuses anything but an image reference (launch_test.cpp).
    inv.runtime.image = "registry.example:5000/vllm/vllm-openai:v0.11.0";
    inv.runtime.python_env = python_env;
    inv.runtime.model_mount = "/m/$HOME/${PATH}";
    return inv;
}

}  // namespace dsdeploy_test
