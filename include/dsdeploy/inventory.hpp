// SPDX-License-Identifier: Apache-2.0
// The inventory: one description of a deployment (nodes, network, model, serving options)
// from which everything else is derived.
#pragma once

#include <dsdeploy/cluster.hpp>
#include <dsdeploy/config.hpp>
#include <dsdeploy/model.hpp>
#include <dsdeploy/network.hpp>
#include <dsdeploy/plan.hpp>

#include <optional>
#include <string>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

struct serving_options {
    std::string model = "deepseek-ai/DeepSeek-V3";  // catalog id or local directory, for planning
    std::string model_path;        // the weights on every node's disk (same path everywhere)
    std::string served_model_name; // empty: the model's name

    std::optional<int> tensor_parallel_size;  // unset: chosen by the planner
    std::optional<int> pipeline_parallel_size;
    std::optional<int> data_parallel_size;
    bool enable_expert_parallel = false;
    bool allow_cross_node_tp = false;
    std::vector<int> pp_layer_partition;

    double gpu_memory_utilization = 0.9;
    int max_model_len = 0;                 // 0: the model's context length
    std::optional<dtype> kv_cache_dtype;   // unset: "auto"
    double headroom_gib = 2.0;
};

struct inventory {
    std::string name = "dsdeploy";
    dsdeploy::cluster cluster;
    network_profile network;
    serving_options serving;
};

// DeepSeek-V3 on two servers of 8 x L20 over InfiniBand (mlx5_0, mlx5_3 on bond0),
// TP 8 x PP 2, --gpu-memory-utilization 0.8, --max-model-len 65536: the original write-up.
inventory default_inventory();

plan_options to_plan_options(const serving_options& s);

// Resolves the model and makes the plan; throws config_error for invalid input.
plan plan_for(const inventory& inv);

DSDEPLOY_NAMESPACE_END

#include <dsdeploy/impl/inventory_inl.hpp>
