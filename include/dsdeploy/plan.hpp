// SPDX-License-Identifier: Apache-2.0
// The parallelism plan (TP x PP x DP, EP), its validation, and the per-GPU memory account as
// the target vLLM release does it (vllm_memory.hpp): usable memory x utilization - weights -
// non-torch - activation peak - CUDA graphs (where subtracted) - headroom = KV cache -> blocks
// -> tokens -> concurrent sequences at max-model-len, plus what must fit outside the budget
// (CUDA context, communicators, CUDA graphs before 0.20). When the model does not fit, every
// option that might is computed with its own numbers.
#pragma once

#include <dsdeploy/cluster.hpp>
#include <dsdeploy/config.hpp>
#include <dsdeploy/engine_version.hpp>
#include <dsdeploy/error.hpp>
#include <dsdeploy/gpu.hpp>
#include <dsdeploy/model.hpp>
#include <dsdeploy/vllm_memory.hpp>

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

struct parallelism {
    int tp = 1;          // --tensor-parallel-size
    int pp = 1;          // --pipeline-parallel-size
    int dp = 1;          // --data-parallel-size
    bool ep = false;     // --enable-expert-parallel (EP size = TP x DP)
    int world_size() const { return tp * pp * dp; }
};

struct plan_options {
    double gpu_memory_utilization = 0.9;
    int max_model_len = 0;                 // 0: the model's context length
    std::optional<dtype> kv_cache_dtype;   // nullopt: vLLM's "auto" (the model's dtype)
    double headroom_gib = 2.0;             // per GPU: an explicit extra margin on top of vLLM's own overheads
    bool allow_cross_node_tp = false;      // let one TP group span nodes (slow without NVLink-class links)
    std::optional<parallelism> parallel;   // nullopt: choose automatically
    std::vector<int> pp_layer_partition;   // VLLM_PP_LAYER_PARTITION; empty: vLLM's default split
    std::string vllm_version = "0.11.0";   // decides the memory accounting (runtime.vllm_version)
    engine_kind engine = engine_kind::vllm;  // sglang: SGLang's accounting (sglang_memory.hpp)
    double mem_fraction_static = 0;        // SGLang --mem-fraction-static; 0: SGLang's default for the GPU
    std::string sglang_version;            // runtime.sglang_version
    bool enforce_eager = false;            // --enforce-eager: no CUDA graphs
    int max_num_batched_tokens = 0;        // --max-num-batched-tokens; 0: vLLM's default for the GPU
    int max_num_seqs = 0;                  // --max-num-seqs; 0: vLLM's default for the GPU
    int nodes = 0;                         // nodes the deployment spans; 0: from the cluster (make_plan)
    int num_redundant_experts = 0;         // EPLB replicas per MoE layer (with expert parallelism)
    int attention_dp = 1;                  // SGLang DP attention: each group holds its own requests' KV cache
};

inline constexpr double gib = 1024.0 * 1024.0 * 1024.0;
// The utilization above which a deployment leaves no room for the CUDA context itself.
inline constexpr double max_practical_utilization = 0.98;

struct stage_memory {
    int first_layer = 0;
    int num_layers = 0;
    double weights_gib = 0;          // per GPU of this stage
    double kv_cache_gib = 0;         // budget - weights - headroom (negative: weights do not fit)
    double kv_bytes_per_token = 0;   // per GPU of this stage
    std::int64_t kv_tokens = 0;
    double need_gib = 0;             // in-budget terms + headroom + one max-model-len sequence of KV
    double available_gib = 0;        // what vLLM would log as "Available KV cache memory" (before headroom)
    double outside_budget_gib = 0;   // pre-snapshot memory (+ CUDA graphs where not estimated)
    double slack_gib = 0;            // usable x (1 - utilization) - outside_budget_gib
    std::vector<memory_term> terms;  // weights, non_torch, activation, cuda_graphs, pre_snapshot, headroom
};

struct memory_account {
    double usable_gib = 0;           // per GPU, as PyTorch sees it
    double utilization = 0;
    double budget_gib = 0;           // usable x utilization
    double headroom_gib = 0;
    int max_model_len = 0;
    dtype kv_dtype = dtype::bf16;
    std::vector<stage_memory> stages;
    std::size_t heaviest_stage = 0;  // the stage with the most weights per GPU
    std::size_t limiting_stage = 0;  // the stage that holds the fewest tokens
    double weights_gib = 0;          // the heaviest stage's weights per GPU
    double kv_cache_gib = 0;         // the limiting stage's KV cache per GPU
    double kv_bytes_per_token = 0;   // the limiting stage's KV bytes per token per GPU
    std::int64_t kv_tokens = 0;      // tokens the KV cache holds (per data-parallel replica)
    double max_concurrency = 0;      // full-length sequences at once, all replicas together
    double total_weights_gib = 0;    // the whole model, once
    double cluster_budget_gib = 0;   // budget summed over the GPUs used
    double need_gib = 0;             // the most any GPU needs for one max-model-len sequence
    std::string vllm_version;        // the release accounted for
    engine_kind engine = engine_kind::vllm;  // sglang: SGLang's account (utilization = --mem-fraction-static of the free memory)
    vllm_era era = vllm_era::v1;
    bool enforce_eager = false;
    int max_num_batched_tokens = 0;  // as resolved
    int max_num_seqs = 0;
    int block_size = 16;             // KV cache block (tokens)
    std::vector<memory_term> terms;  // the limiting stage's terms, each with its source
    double pre_snapshot_gib = 0;     // the limiting stage's
    double outside_budget_gib = 0;
    double slack_gib = 0;            // the smallest over stages: room outside the budget after pre-snapshot memory and graphs
    double margin_gib = 0;           // min(KV left after one max-model-len sequence, slack), over stages
    double uncertainty_gib = vllm_memory_uncertainty_gib;
    bool fits = false;               // one max-model-len sequence fits, the outside-budget memory fits, and
                                     // utilization < 0.99 unless --enforce-eager
    bool confident() const { return fits && margin_gib >= uncertainty_gib; }
};

struct fit_option {
    std::string id;                  // raise_utilization, shorter_context, fp8_kv_cache, ...
    std::string summary;             // one line with the numbers
    std::vector<std::string> vllm_flags;
    std::vector<std::pair<std::string, std::string>> env;
    std::optional<parallelism> parallel;  // set when the option changes the layout
    int nodes = 0;                        // set when the option changes the node count
    bool fits = false;
    memory_account memory;
};

struct plan {
    model_spec model;
    gpu_spec gpu;                    // empty name for a CPU-only cluster
    int nodes = 0;
    int gpus_per_node = 0;
    parallelism parallel;
    plan_options options;            // as given, with max_model_len resolved
    std::vector<int> layer_partition;
    bool memory_checked = false;     // false on CPU-only clusters
    memory_account memory;
    std::vector<fit_option> alternatives;  // computed when the plan does not fit
    std::vector<std::string> reasons;      // why this parallelism
    std::vector<std::string> warnings;

    bool fits() const { return !memory_checked || memory.fits; }
};

// --- GPU x weight format --------------------------------------------------------------------------

// How vLLM runs a checkpoint's weight format on a GPU.
enum class quant_path {
    native,       // the format's own kernels
    weight_only,  // loads and runs, but slower: e.g. FP8 below compute capability 8.9 runs W8A16 through Marlin
    unsupported,  // vLLM refuses the checkpoint on this GPU (the method's get_min_capability())
};

// One row of the compatibility table, read from vLLM's quantization methods
// (vllm/model_executor/layers/quantization/) at the release `source` names.
struct quant_rule {
    std::vector<std::string> methods;  // quantization_config.quant_method values; {""}: not quantized
    std::vector<dtype> weights;        // the stored weight types the row covers
    double min_capability = 0;         // below: vLLM refuses the checkpoint
    double native_capability = 0;      // from here: the format's own kernels; between the two: below_native
    std::string below_native;          // what vLLM runs between min_capability and native_capability
    std::string source;                // file, function and release the numbers come from
};
const std::vector<quant_rule>& quantization_rules();

struct quant_support {
    quant_path path = quant_path::native;
    const quant_rule* rule = nullptr;  // nullptr: the format has no row (nothing is known against it)
    std::string note;                  // weight_only: what runs and why it is slower; unsupported: why
};
// The row for `w` (method and weight type) and what it means on `g`.
quant_support quantization_support(const gpu_spec& g, const weight_format& w);

// TP inside a node, PP across nodes (vLLM's advice); reasons are appended when given.
parallelism choose_parallelism(const cluster& c, const model_spec& m, std::vector<std::string>* reasons = nullptr);

// Throws config_error (plan.*, gpu.*) for a layout that vLLM would reject or that cannot run.
void validate_plan(const cluster& c, const model_spec& m, const parallelism& p, const plan_options& o);

// The per-GPU memory account for a layout; pure arithmetic, no validation.
memory_account account_memory(const model_spec& m, const gpu_spec& g, const parallelism& p, const plan_options& o,
                              const std::vector<int>& layer_partition);

// Validates the cluster, chooses or checks the parallelism, accounts memory and, when the
// model does not fit, computes the alternatives.
plan make_plan(const cluster& c, const model_spec& m, const plan_options& o = {});

// Plain text for people.
std::string to_text(const plan& p);
void to_json(nlohmann::json& j, const plan& p);
void to_json(nlohmann::json& j, const memory_account& m);
void to_json(nlohmann::json& j, const parallelism& p);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/plan_inl.hpp>
#endif
