// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/inventory.hpp>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE inventory default_inventory() {
    inventory inv;
    inv.name = "deepseek-v3-2x8-l20";
    node head;
    head.name = "node1";
    head.address = "10.0.0.1";
    head.role = node_role::head;
    head.gpu_type = "L20";
    head.gpu_count = 8;
    node worker = head;
    worker.name = "node2";
    worker.address = "10.0.0.2";
    worker.role = node_role::worker;
    inv.cluster.nodes = {head, worker};

    inv.network.kind = fabric::infiniband;
    inv.network.interface = "bond0";
    inv.network.hcas = {"mlx5_0", "mlx5_3"};

    inv.serving.model = "deepseek-ai/DeepSeek-V3";
    inv.serving.model_path = "/data/models/DeepSeek-V3";
    inv.serving.served_model_name = "deepseek-v3";
    inv.serving.tensor_parallel_size = 8;
    inv.serving.pipeline_parallel_size = 2;
    inv.serving.gpu_memory_utilization = 0.8;
    inv.serving.max_model_len = 65536;
    return inv;
}

DSDEPLOY_INLINE plan_options to_plan_options(const serving_options& s) {
    plan_options o;
    o.gpu_memory_utilization = s.gpu_memory_utilization;
    o.max_model_len = s.max_model_len;
    o.kv_cache_dtype = s.kv_cache_dtype;
    o.headroom_gib = s.headroom_gib;
    o.allow_cross_node_tp = s.allow_cross_node_tp;
    o.pp_layer_partition = s.pp_layer_partition;
    if (s.tensor_parallel_size || s.pipeline_parallel_size || s.data_parallel_size || s.enable_expert_parallel) {
        parallelism p;
        p.tp = s.tensor_parallel_size.value_or(1);
        p.pp = s.pipeline_parallel_size.value_or(1);
        p.dp = s.data_parallel_size.value_or(1);
        p.ep = s.enable_expert_parallel;
        o.parallel = p;
    }
    return o;
}

DSDEPLOY_INLINE plan plan_for(const inventory& inv) {
    validate(inv.cluster);
    validate(inv.network);
    const model_spec m = resolve_model(inv.serving.model, "serving.model");
    plan_options o = to_plan_options(inv.serving);
    // Only some sizes given: let the planner fill the rest from the cluster.
    if (o.parallel && !(inv.serving.tensor_parallel_size && inv.serving.pipeline_parallel_size)) {
        const parallelism chosen = choose_parallelism(inv.cluster, m);
        if (!inv.serving.tensor_parallel_size) o.parallel->tp = chosen.tp;
        if (!inv.serving.pipeline_parallel_size) o.parallel->pp = inv.cluster.total_gpus() > 0
                                                                       ? std::max(1, inv.cluster.total_gpus() / (o.parallel->tp * o.parallel->dp))
                                                                       : chosen.pp;
    }
    return make_plan(inv.cluster, m, o);
}

DSDEPLOY_NAMESPACE_END
