// SPDX-License-Identifier: Apache-2.0
// The engine flags dsdeploy derives from the inventory, each with the field it comes from:
// serving.extra_args may not set them (validate), and an error about one names that field
// (make_launch). Not part of the stable API.
#pragma once

#include <dsdeploy/config.hpp>

#include <string>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {

// `vllm serve`.
inline const std::vector<std::pair<std::string, std::string>>& derived_vllm_flags() {
    static const std::vector<std::pair<std::string, std::string>> flags = {
        {"--model", "serving.model_path (the model is given positionally to vllm serve)"},
        {"--served-model-name", "serving.served_model_name"},
        {"--tensor-parallel-size", "serving.tensor_parallel_size"},
        {"-tp", "serving.tensor_parallel_size"},
        {"--pipeline-parallel-size", "serving.pipeline_parallel_size"},
        {"-pp", "serving.pipeline_parallel_size"},
        {"--data-parallel-size", "serving.data_parallel_size"},
        {"-dp", "serving.data_parallel_size"},
        {"--enable-expert-parallel", "serving.enable_expert_parallel"},
        {"--no-enable-expert-parallel", "serving.enable_expert_parallel"},
        {"-ep", "serving.enable_expert_parallel"},
        {"--data-parallel-size-local", "the nodes' GPUs (serving.data_parallel_size over the nodes)"},
        {"--data-parallel-address", "the head's address"},
        {"--data-parallel-rpc-port", "ports.dp_rpc"},
        {"--data-parallel-start-rank", "the node order"},
        {"--data-parallel-hybrid-lb", "serving.data_parallel_lb"},
        {"--api-server-count", "serving.api_server_count"},
        {"--enable-eplb", "serving.num_redundant_experts"},
        {"--eplb-config", "serving.num_redundant_experts"},
        {"--num-redundant-experts", "serving.num_redundant_experts"},
        {"--distributed-executor-backend", "runtime.launcher"},
        {"--gpu-memory-utilization", "serving.gpu_memory_utilization"},
        {"--max-model-len", "serving.max_model_len"},
        {"--kv-cache-dtype", "serving.kv_cache_dtype"},
        {"--host", "api.host"},
        {"--port", "ports.api"},
        {"--api-key", "api.key (vLLM reads it from VLLM_API_KEY, so it never shows in a process list)"},
        {"--headless", "the node roles"},
        {"--nnodes", "the nodes"},
        {"--node-rank", "the node order"},
        {"--master-addr", "the head's address"},
        {"--master-port", "ports.master"},
    };
    return flags;
}

// The SGLang server flags dsdeploy derives from the inventory; extra_args may not set them.
inline const std::vector<std::pair<std::string, std::string>>& derived_sglang_flags() {
    static const std::vector<std::pair<std::string, std::string>> flags = {
        {"--model-path", "serving.model_path"},
        {"--model", "serving.model_path"},
        {"--served-model-name", "serving.served_model_name"},
        {"--tp-size", "serving.tensor_parallel_size"},
        {"--tensor-parallel-size", "serving.tensor_parallel_size"},
        {"--tp", "serving.tensor_parallel_size"},
        {"--pp-size", "serving.pipeline_parallel_size"},
        {"--pipeline-parallel-size", "serving.pipeline_parallel_size"},
        {"--dp-size", "serving.data_parallel_size"},
        {"--data-parallel-size", "serving.data_parallel_size"},
        {"--dp", "serving.data_parallel_size"},
        {"--attn-dp-size", "serving.attention_data_parallel_size"},
        {"--attention-data-parallel-size", "serving.attention_data_parallel_size"},
        {"--enable-dp-attention", "serving.attention_data_parallel_size"},
        {"--ep-size", "serving.enable_expert_parallel"},
        {"--expert-parallel-size", "serving.enable_expert_parallel"},
        {"--ep", "serving.enable_expert_parallel"},
        {"--enable-eplb", "serving.num_redundant_experts"},
        {"--ep-num-redundant-experts", "serving.num_redundant_experts"},
        {"--mem-fraction-static", "serving.mem_fraction_static"},
        {"--context-length", "serving.max_model_len"},
        {"--kv-cache-dtype", "serving.kv_cache_dtype"},
        {"--host", "api.host"},
        {"--port", "ports.api"},
        {"--api-key", "api.key"},
        {"--nnodes", "the nodes"},
        {"--node-rank", "the node order"},
        {"--dist-init-addr", "the head's address and ports.master"},
        {"--nccl-init-addr", "the head's address and ports.master"},
    };
    return flags;
}

}  // namespace detail
DSDEPLOY_NAMESPACE_END
