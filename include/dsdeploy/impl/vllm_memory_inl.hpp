// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/vllm_memory.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
// Constants fitted by scripts/dev/memory_model_fit.py on tests/fixtures/vllm-memory (calibration
// split); docs/memory-model.md section 6 lists the fixtures behind each and its uncertainty.
struct vllm_memory_constants {
    // V1 (0.9.1 and later)
    static constexpr double non_torch_base = 0.1325;     // llmd-h100-* TP 1 DEBUG lines (0.13-0.14)
    static constexpr double non_torch_nvlink = 0.4175;   // llmd-h100-llama33-70b-fp8-tp2 (0.55), qwen3-32b-tp2 (0.54)
    static constexpr double non_torch_pcie = 0.0;        // dl-a100-qwen2-7b-tp2-* (fit -0.09, clamped)
    static constexpr double non_torch_cross = 0.7866;    // dl-a10040-qwen2-7b-tp2-2nodes-u050
    static constexpr double sampler_hi = 9.7133;         // x S x V x 4 B at S >= 1024: llmd-h100-* (5 logs)
    static constexpr double sampler_lo = 4.3161;         // at S = 256: dl-a100-qwen2-7b-tp1-u025, myoceane-a100-gpt-oss-20b
    static constexpr double forward = 1.2799;            // x T x (h + 2 i_local) x 2 B: V0 breakdown logs (pr10511, i10517, i13061, ...)
    static constexpr double graphs_per_tp = 0.50;        // GiB x TP: dl-* "Graph capturing finished ... took 0.50/1.00/1.88 GiB"
    static constexpr double context = 0.61;              // llmd-h100-* total - "Free memory on device ... on startup" at TP 1
    static constexpr double comm_tp2 = 0.93;             // llmd-h100-llama33-70b-fp8-tp2: 79.18 - 77.64 - context
    static constexpr double comm_step = 0.353;           // per rank above 2: issue 17 / PR #10511 (3.58 GiB at TP 2 -> 5.7 at TP 8)
    // V0 (calibration fixtures only)
    static constexpr double v0_beta = 4.7976;            // x S x V x 4 B, added to the forward term
    static constexpr double v0_non_torch_legacy = 0.35;  // i10517-*
    static constexpr double v0_non_torch_10511 = 1.79;   // pr10511-h100-llama3-8b-tp1 (+1.79 with NVLink TP > 1)
    static constexpr double v0_non_torch_post = 0.1633;  // pr14447, i13061, i12529
};

inline bool icontains(std::string_view hay, std::string_view needle) {
    auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                          [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); });
    return it != hay.end();
}
}  // namespace detail

DSDEPLOY_INLINE std::string_view to_string(vllm_era e) {
    switch (e) {
        case vllm_era::v0_legacy: return "v0 (<= 0.6.4)";
        case vllm_era::v0_pr10511: return "v0 (0.6.5-0.6.6)";
        case vllm_era::v0_post: return "v0 (0.7-0.9.0)";
        case vllm_era::v1: return "v1 (0.9.1-0.19: CUDA graphs outside the budget)";
        case vllm_era::v1_cudagraph: return "v1 (0.20-0.33: CUDA-graph estimate subtracted)";
        case vllm_era::v1_extensible: return "v1 (>= 0.34: extensible KV cache)";
    }
    return "v1";
}

DSDEPLOY_INLINE vllm_era vllm_era_of(std::string_view version) {
    if (!version.empty() && (version[0] == 'v' || version[0] == 'V')) version.remove_prefix(1);
    int part[3] = {0, 0, 0};
    std::size_t i = 0;
    for (int k = 0; k < 3; ++k) {
        if (i >= version.size() || !std::isdigit(static_cast<unsigned char>(version[i]))) {
            if (k < 2) return vllm_era::v1;  // unparsable: the inventory's default release, 0.11.0
            break;
        }
        int v = 0;
        // Any digit string (the text is not validated yet): the value saturates instead of overflowing.
        while (i < version.size() && std::isdigit(static_cast<unsigned char>(version[i]))) {
            if (v < 100000) v = v * 10 + (version[i] - '0');
            ++i;
        }
        part[k] = v;
        if (i < version.size() && version[i] == '.') ++i;
        else break;
    }
    const int major = part[0], minor = part[1], patch = part[2];
    if (major > 0 || minor >= 34) return vllm_era::v1_extensible;
    if (minor >= 20) return vllm_era::v1_cudagraph;
    if (minor >= 10 || (minor == 9 && patch >= 1)) return vllm_era::v1;
    if (minor >= 7) return vllm_era::v0_post;
    if (minor == 6 && patch >= 5) return vllm_era::v0_pr10511;
    return vllm_era::v0_legacy;
}

DSDEPLOY_INLINE int vllm_default_max_num_batched_tokens(double total_gib, std::string_view gpu_name) {
    return total_gib >= 70 && !detail::icontains(gpu_name, "a100") ? 8192 : 2048;
}

DSDEPLOY_INLINE int vllm_default_max_num_seqs(double total_gib, std::string_view gpu_name) {
    return total_gib >= 70 && !detail::icontains(gpu_name, "a100") ? 1024 : 256;
}

DSDEPLOY_INLINE std::int64_t vllm_kv_tokens(double available_gib, double kv_bytes_per_token, int block_size) {
    if (!(available_gib > 0) || !(kv_bytes_per_token > 0) || block_size < 1) return 0;
    const double blocks = std::floor(available_gib * 1024.0 * 1024.0 * 1024.0 / (kv_bytes_per_token * block_size));
    return static_cast<std::int64_t>(blocks) * block_size;
}

DSDEPLOY_INLINE double vllm_max_concurrency(std::int64_t kv_tokens, int max_model_len, int block_size) {
    if (max_model_len <= 0 || block_size < 1) return 0;
    // Whole blocks: vLLM's block manager hands out no partial block, so the division truncates on purpose.
    const double blocks = double(kv_tokens / block_size);  // NOLINT(bugprone-integer-division)
    const double per_request = std::ceil(double(max_model_len) / block_size);
    return blocks / per_request;
}

DSDEPLOY_INLINE vllm_rank_memory vllm_rank_account(const vllm_rank_input& in) {
    using K = detail::vllm_memory_constants;
    constexpr double gib_bytes = 1024.0 * 1024.0 * 1024.0;
    vllm_rank_memory out;
    out.max_num_batched_tokens = in.max_num_batched_tokens > 0 ? in.max_num_batched_tokens
                                                               : vllm_default_max_num_batched_tokens(in.total_gib, in.gpu_name);
    out.max_num_seqs = in.max_num_seqs > 0 ? in.max_num_seqs : vllm_default_max_num_seqs(in.total_gib, in.gpu_name);
    out.requested_gib = in.total_gib * in.utilization;
    const double T = out.max_num_batched_tokens;
    const double S = std::min<double>(out.max_num_seqs, T);  // the dummy run spreads T over min(S, T) requests
    const double forward_gib = T * (in.hidden_size + 2.0 * in.intermediate_local) * 2.0 / gib_bytes;
    const double sampler_gib = in.last_stage ? S * in.vocab_size * 4.0 / gib_bytes : 0.0;
    const bool v0 = in.era == vllm_era::v0_legacy || in.era == vllm_era::v0_pr10511 || in.era == vllm_era::v0_post;

    // weights
    out.terms.push_back({"weights", in.weights_gib,
                         "this rank's share of the checkpoint (dsdeploy stage_weight_bytes); vLLM logs it as 'Model loading took' "
                         "(gpu_model_runner.py load_model)",
                         true});
    // non-torch memory that appears after the init snapshot
    double non_torch = 0;
    std::string nt_source;
    if (in.era == vllm_era::v0_legacy) {
        non_torch = K::v0_non_torch_legacy;
        nt_source = "V0 <= 0.6.4 worker.py; fitted on fixtures i10517-*";
    } else if (in.era == vllm_era::v0_pr10511) {
        non_torch = K::v0_non_torch_10511 + (in.tp > 1 && in.nvlink ? K::v0_non_torch_10511 : 0.0);
        nt_source = "V0 0.6.5 worker.py (snapshot before the device: context and NCCL included); fitted on fixtures pr10511-*";
    } else if (in.era == vllm_era::v0_post) {
        non_torch = K::v0_non_torch_post;
        nt_source = "V0 0.7-0.9.0 worker.py; fitted on fixtures pr14447, i13061, i12529";
    } else {
        non_torch = K::non_torch_base;
        nt_source = "growth since the init snapshot (vllm/utils mem_utils memory_profiling, 0.11-0.21): cuBLAS/attention workspaces; "
                    "fitted on fixtures llmd-h100-* (0.13 at TP 1)";
        if (in.tp > 1 && in.nvlink) {
            non_torch += K::non_torch_nvlink;
            nt_source += fmt::format(" + {:.2f} NVLink TP > 1 (llmd-*-tp2)", K::non_torch_nvlink);
        } else if (in.tp > 1) {
            non_torch += K::non_torch_pcie;
            nt_source += " + 0 PCIe TP > 1 (dl-a100-qwen2-7b-tp2-*)";
        }
        if (in.spans_nodes) {
            non_torch += K::non_torch_cross;
            nt_source += fmt::format(" + {:.2f} group across nodes (dl-a10040-qwen2-7b-tp2-2nodes-u050)", K::non_torch_cross);
        }
    }
    out.terms.push_back({"non_torch", non_torch, nt_source, true});

    // activation peak of the profile run
    double activation = 0;
    std::string act_source;
    if (v0) {
        activation = K::forward * forward_gib + K::v0_beta * sampler_gib;
        act_source = "V0 profile_run: forward + sampler; fitted on the V0 breakdown fixtures";
    } else {
        const double t = std::clamp((S - 256.0) / (1024.0 - 256.0), 0.0, 1.0);
        const double ks = K::sampler_lo + (K::sampler_hi - K::sampler_lo) * t;
        const double fwd = K::forward * forward_gib, smp = ks * sampler_gib;
        activation = std::max(fwd, smp);
        act_source = fmt::format("torch peak of profile_run (gpu_model_runner.py _dummy_run({}) then _dummy_sampler_run over {} requests): "
                                 "max(forward {:.2f}, sampler {:.2f} = {:.2f} x S x V x 4 B); fitted on fixtures llmd-h100-*, dl-a100-*",
                                 out.max_num_batched_tokens, static_cast<int>(S), fwd, smp, ks);
    }
    out.terms.push_back({"activation", activation, act_source, true});

    // CUDA graphs
    const double graphs = in.enforce_eager ? 0.0 : K::graphs_per_tp * in.tp;
    const bool graphs_in_budget = in.era == vllm_era::v1_cudagraph || in.era == vllm_era::v1_extensible;
    std::string cg_source;
    if (in.enforce_eager)
        cg_source = "none with --enforce-eager (cudagraph_mode NONE)";
    else if (in.era == vllm_era::v1_cudagraph)
        cg_source = "estimated and subtracted by default from 0.20.0 (gpu_worker.py determine_available_memory, "
                    "VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1); size fitted on fixtures dl-* (0.50 GiB x TP)";
    else if (in.era == vllm_era::v1_extensible)
        cg_source = "measured after capture, before the KV cache is committed (0.34 extensible_kv_cache.py); size fitted on fixtures dl-*";
    else
        cg_source = "captured after the KV cache is allocated, outside the budget (gpu_worker.py compile_or_warm_up_model, <= 0.19); "
                    "size fitted on fixtures dl-* ('Graph capturing finished ... took 0.50/1.00/1.88 GiB' at TP 1/2/4)";
    out.terms.push_back({"cuda_graphs", graphs, cg_source, graphs_in_budget});

    // memory held before the init snapshot
    double pre = K::context;
    std::string pre_source = "CUDA context before the init snapshot (gpu_worker.py init_device): fitted on fixtures llmd-h100-* "
                             "(total - 'Free memory on device ... on startup')";
    if (in.tp > 1) {
        const double comm = K::comm_tp2 + K::comm_step * (in.tp - 2);
        pre += comm;
        pre_source += fmt::format(" + {:.2f} NCCL/custom all-reduce buffers of TP {} (init_worker_distributed_environment; TP 2 fitted on "
                                  "llmd-h100-llama33-70b-fp8-tp2, growth per rank from issue 17's PR #10511 figures)",
                                  comm, in.tp);
    }
    const bool pre_in_budget = in.era == vllm_era::v0_pr10511;  // that release counted it as non-torch
    if (!pre_in_budget) out.terms.push_back({"pre_snapshot", pre, pre_source, false});

    // available KV memory and what must fit outside the budget
    const double in_budget = in.weights_gib + non_torch + activation + (graphs_in_budget ? graphs : 0.0);
    out.pre_snapshot_gib = pre_in_budget ? 0.0 : pre;
    out.outside_budget_gib = out.pre_snapshot_gib + (graphs_in_budget ? 0.0 : graphs);
    if (in.era == vllm_era::v1_extensible) {
        // measure_kv_cache_bytes: min(requested - non_kv_used, free_now - margin) - transient peak; free_now is a device
        // measurement, so the pre-snapshot memory is charged implicitly.
        const double margin = std::max(1.0, 0.75 * activation);
        const double used = in.weights_gib + non_torch + graphs;
        const double a = out.requested_gib - used;
        const double b = in.total_gib - pre - used - margin;
        out.available_kv_gib = std::min(a, b) - activation;
        out.terms.push_back({"kv_margin", margin,
                             "kept free on the device: max(1 GiB, 0.75 x transient peak) (0.34 extensible_kv_cache.py measure_kv_cache_bytes)",
                             false});
        out.outside_budget_gib = 0;
        out.slack_gib = b - std::min(a, b);
    } else {
        out.available_kv_gib = out.requested_gib - in_budget;
        out.slack_gib = in.total_gib * (1.0 - in.utilization) - out.outside_budget_gib;
    }
    return out;
}

DSDEPLOY_NAMESPACE_END
