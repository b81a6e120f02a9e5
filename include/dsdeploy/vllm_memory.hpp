// SPDX-License-Identifier: Apache-2.0
// What vLLM's own start-up accounting does with one GPU's memory (issue 17): the budget
// total x gpu_memory_utilization, what the profile run charges to it (weights, non-torch memory
// after the init snapshot, the activation peak, the CUDA-graph estimate where the release
// subtracts it), what the process holds outside it (CUDA context and communicators created
// before the snapshot, CUDA graphs before 0.20), and the KV cache that is left, in blocks.
// Every term carries where it comes from. The reference is docs/memory-model.md; the
// constants are fitted on tests/fixtures/vllm-memory (scripts/dev/memory_model_fit.py).
#pragma once

#include <dsdeploy/config.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

// Which accounting a vLLM release uses (docs/memory-model.md, sections 2 and 3).
enum class vllm_era {
    v0_legacy,       // V0 <= 0.6.4: "Memory profiling results: ... non_torch_memory=..."
    v0_pr10511,      // V0 0.6.5-0.6.6: baseline before the device is set up (context and NCCL count as non-torch)
    v0_post,         // V0 0.7-0.9.0: baseline after NCCL init
    v1,              // V1 0.9.1-0.19.x: memory_profiling from the post-NCCL snapshot, CUDA graphs outside the budget
    v1_cudagraph,    // V1 0.20.0-0.33.x: the CUDA-graph estimate is subtracted from the budget
    v1_extensible,   // 0.34.0 and later: extensible KV cache, graphs measured, margin max(1 GiB, 0.75 x peak)
};
std::string_view to_string(vllm_era e);
// "0.11.0", "v0.20.1", "0.10.1.1", "0.6.5.dev" -> the era; an unparsable string is treated as the
// inventory's default release (0.11.0, era v1).
vllm_era vllm_era_of(std::string_view version);

// One line of the account: a named amount of GiB and where it comes from.
struct memory_term {
    std::string name;      // weights, non_torch, activation, cuda_graphs, headroom, pre_snapshot, ...
    double gib = 0;
    std::string source;    // vLLM file/function/release, or "fitted on fixtures ..."
    bool in_budget = true; // false: held outside total x utilization (must fit in total x (1 - utilization))
};

// One GPU (one rank) as vLLM profiles it.
struct vllm_rank_input {
    double total_gib = 0;              // torch.cuda.mem_get_info()[1]
    double utilization = 0.9;          // --gpu-memory-utilization
    double weights_gib = 0;            // "Model loading took" on this rank
    int tp = 1;
    bool nvlink = false;               // GPU-to-GPU NVLink (custom all-reduce); PCIe otherwise
    bool spans_nodes = false;          // a TP or PP group of this rank crosses nodes
    bool last_stage = true;            // the last PP stage runs the dummy sampler
    int hidden_size = 0;
    double intermediate_local = 0;     // dense: I / tp; MoE: top_k x moe_I / tp (fused-MoE cache)
    int vocab_size = 0;
    int max_num_batched_tokens = 0;    // 0: vLLM's default for the GPU
    int max_num_seqs = 0;              // 0: vLLM's default for the GPU
    std::string gpu_name;              // decides the defaults above ("A100" keeps the small ones)
    bool enforce_eager = false;        // no CUDA graphs
    vllm_era era = vllm_era::v1;
};

struct vllm_rank_memory {
    double requested_gib = 0;          // total x utilization
    double available_kv_gib = 0;       // what vLLM logs as "Available KV cache memory"
    double pre_snapshot_gib = 0;       // context + communicators, outside the budget
    double outside_budget_gib = 0;     // pre_snapshot + CUDA graphs where not estimated
    double slack_gib = 0;              // total x (1 - utilization) - outside_budget (negative: OOM at capture or first large batch)
    int max_num_batched_tokens = 0;    // as resolved
    int max_num_seqs = 0;
    std::vector<memory_term> terms;    // weights, non_torch, activation, cuda_graphs, pre_snapshot (in this order)
};

// vLLM's engine defaults for the OpenAI server (vllm/engine/arg_utils.py _set_default_args, V1):
// 8192 tokens / 1024 sequences on GPUs with >= 70 GiB that are not A100s, else 2048 / 256.
int vllm_default_max_num_batched_tokens(double total_gib, std::string_view gpu_name);
int vllm_default_max_num_seqs(double total_gib, std::string_view gpu_name);

// The per-rank account.
vllm_rank_memory vllm_rank_account(const vllm_rank_input& in);

// The KV tokens one rank holds: floor(available / (block x bytes per token)) x block
// (vllm/v1/core/kv_cache_utils.py get_num_blocks; block 16 on CUDA for standard attention).
std::int64_t vllm_kv_tokens(double available_gib, double kv_bytes_per_token, int block_size = 16);
// "Maximum concurrency for N tokens per request: X" for full-attention models:
// blocks / ceil(max_model_len / block) (get_max_concurrency_for_kv_cache_config).
double vllm_max_concurrency(std::int64_t kv_tokens, int max_model_len, int block_size = 16);

// The model's stated uncertainty for available KV per GPU (docs/memory-model.md section 6:
// leave-one-out over the V1 fixtures, worst 0.86 GiB). No option is offered with less margin.
inline constexpr double vllm_memory_uncertainty_gib = 1.0;

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/vllm_memory_inl.hpp>
#endif
