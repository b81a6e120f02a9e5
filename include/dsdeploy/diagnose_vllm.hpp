// SPDX-License-Identifier: Apache-2.0
// vLLM evidence for the diagnosis: a parser for a vLLM server log (version, executor backend,
// parallel sizes, KV cache figures and errors, out-of-memory (and during CUDA graph capture),
// quantization the GPU cannot run, Ray placement waits and failures, the Ray worker IPs). It takes any text and never throws; the vLLM rule set is
// impl/diagnose_vllm_rules_inl.hpp, run by diagnose() (diagnose.hpp).
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/log_line.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

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
    std::optional<log_line> tp_exceeds_local;        // "Tensor parallel size (N) exceeds available GPUs (M)": Ray's per-node warning
    std::optional<int> local_gpus;                   // M
    std::optional<log_line> cuda_graph_capture;      // "Capturing the model for CUDA graphs", "Capturing cudagraphs"
    std::optional<log_line> cuda_graph_oom;          // an out-of-memory during CUDA graph capture
    std::optional<log_line> quantization_unsupported;  // "... not supported for the current GPU. Min capability: 80 ..."
    std::string quantization_method;
    std::optional<int> min_capability, current_capability;
    std::vector<std::string> ray_worker_ips;         // ip= of "(RayWorkerWrapper pid=N, ip=X)" prefixes
    std::optional<log_line> started;                 // the API server is up
    std::optional<log_line> engine_failed;
};
vllm_report parse_vllm_log(std::string_view text);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/diagnose_vllm_inl.hpp>
#endif
