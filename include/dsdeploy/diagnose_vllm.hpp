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
#include <unordered_set>
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
    std::vector<std::string> requested_node_ips;     // node:<ip> in resource requests and placement groups (the first 256)
    std::size_t requested_node_ips_not_kept = 0;     // distinct ones beyond those (counted up to 65536)
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
    std::vector<std::string> ray_worker_ips;         // ip= of "(RayWorkerWrapper pid=N, ip=X)" prefixes (the first 1024)
    std::optional<log_line> started;                 // the API server is up
    std::optional<log_line> engine_failed;
};
vllm_report parse_vllm_log(std::string_view text);

// The same parser line by line, for a log of any size (doctor streams its files through it): give
// it each line with its 1-based number, colour codes removed (log_reader in diagnose.hpp does
// both), then take the report. Its state is bounded whatever the input (a request line held until
// the next, capped lists, hash sets for the IPs). parse_vllm_log(text) is this over the lines of `text`.
class vllm_log_parser {
public:
    static constexpr std::size_t max_requested_ips = 256, max_more_ips = 65536, max_worker_ips = 1024;

    void line(std::size_t number, std::string_view text);
    std::size_t recognised_lines() const { return recognised_lines_; }  // lines that made the text a vLLM log (so far)
    void end_input();  // reads a held-back request line now (no line follows it)
    vllm_report finish();                                                // the report; the parser starts afresh

private:
    void process(std::size_t number, std::string_view text);
    void requests(const std::string_view* next);
    void collect_requested_ips(std::string_view s);

    vllm_report r_;
    std::size_t deferred_number_ = 0;  // a request line, read when the next line comes (it may continue there)
    std::string deferred_;
    std::optional<std::int64_t> gpu_blocks_;
    std::optional<log_line> blocks_line_;
    std::int64_t block_size_ = 16;
    std::size_t graph_done_ = 0, graph_trace_ = 0;  // line numbers (1-based; 0: none)
    std::unordered_set<std::string> requested_ips_, more_ips_, worker_ips_;
    std::size_t recognised_lines_ = 0;
};

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/diagnose_vllm_inl.hpp>
#endif
