// SPDX-License-Identifier: Apache-2.0
// The performance model's data: GPU datasheet rates, the calibration rows by GPU, the fitted
// factors and their error bands (scripts/dev/perf_model_fit.py; docs/performance-model.md).
#pragma once

#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/perf.hpp>

#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN


// Dense tensor-core rates (no sparsity). Memory bandwidth, memory and NVLink/PCIe rates are the GPU
// catalog's (impl/gpu_inl.hpp), except for the A40, which is not in the catalog.
DSDEPLOY_INLINE const std::vector<gpu_datasheet>& gpu_datasheets() {
    static const std::vector<gpu_datasheet> table = {
        {"L20", "gddr", 119.5, 239,
         "citsjtu2020/LLM-Prof hardware_spec.md and technical.city's L20 page (model-hw-facts §7): 119.5 BF16 / 239 FP8 dense; "
         "not an NVIDIA datasheet"},
        {"L40S", "gddr", 362, 733, "NVIDIA L40S datasheet: 362.05 BF16 / 733 FP8 dense (1,466 with sparsity)"},
        {"A40", "gddr", 149.7, 0,
         "NVIDIA A40 datasheet: 149.7 BF16 dense, 696 GB/s GDDR6, no FP8; quoted from the vendor datasheet, not in model-hw-facts.md"},
        {"A100-40GB", "ampere", 312, 0, "NVIDIA A100 datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf): 312 BF16 dense, no FP8"},
        {"A100-80GB", "ampere", 312, 0, "NVIDIA A100 datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf): 312 BF16 dense, no FP8"},
        {"A800", "ampere", 312, 0, "the A100's rates (NVIDIA A800 datasheet: same SXM4 compute, NVLink 400 GB/s)"},
        {"H100-SXM", "hopper", 989, 1979, "NVIDIA H100 datasheet, SXM column: 989 BF16 / 1,979 FP8 dense (model-hw-facts §3)"},
        {"H100-PCIe", "hopper", 756, 1513,
         "NVIDIA H100 datasheet, PCIe column: 1,513 BF16 / 3,026 FP8 with sparsity, halved for dense (copy at "
         "archive-lib.hpctech.co.jp/gpuproduct/nvidia-h100.html); not in model-hw-facts.md"},
        {"H800", "hopper", 989, 1979, "the H100 SXM's rates (lmsys.org 2025-09-26 table; LLM-Prof hardware_spec.md: NVLink 400 GB/s)"},
        {"H20", "hopper", 148, 296, "lmsys.org/blog/2025-09-26-sglang-ant-group table; LLM-Prof hardware_spec.md: 148 BF16 / 296 FP8 dense"},
        {"H200", "hopper", 989, 1979, "NVIDIA H200 datasheet: 989 BF16 / 1,979 FP8 dense, 4.8 TB/s (model-hw-facts §3)"},
        {"V100-32GB", "ampere", 125, 0,
         "NVIDIA V100 datasheet (SXM2): 125 FP16 tensor TFLOPS, 900 GB/s HBM2, no BF16 or FP8 (vLLM runs it in FP16); "
         "HBM efficiency borrowed from the Ampere fit (no Volta row): extrapolated"},
    };
    return table;
}

DSDEPLOY_INLINE const gpu_datasheet* find_gpu_datasheet(std::string_view gpu) {
    std::string name(gpu);
    if (const gpu_spec* g = find_gpu(gpu)) name = g->name;
    for (const auto& d : gpu_datasheets())
        if (detail::iequals(d.gpu, name)) return &d;
    return nullptr;
}

namespace detail {
// The calibration rows of tests/fixtures/perf/measurements.tsv (split = calib), by GPU.
struct perf_gpu_rows {
    std::string_view gpu;
    std::vector<std::string_view> rows;
};
inline const std::vector<perf_gpu_rows>& perf_calibration_by_gpu() {
    static const std::vector<perf_gpu_rows> t = {
        {"L20", {"ds-r1-l20-pp3tp8-c16"}},
        {"H100-SXM",
         {"ds-r1-h100x16-sglang-128-128-c1", "ds-r1-h100x16-sglang-128-1024-c1", "ds-r1-h100x16-sglang-1024-128-c1",
          "ds-r1-h100x16-sglang-2048-128-c1", "ds-r1-h100x16-sglang-4096-128-c1", "ds-r1-h100x16-trtllm-128-128-c1",
          "ds-r1-h100x16-trtllm-128-1024-c1", "ds-r1-h100x16-trtllm-1024-128-c1", "ds-v3awq-h100x8-vllm-c1", "ds-v3awq-h100x8-vllm-c15",
          "qwen3-8b-h100x1-vllm-sharegpt-c4", "qwen3-8b-h100x1-sglang-sharegpt-c4", "qwen3-8b-h100x1-sglang-fp8-sharegpt-c4",
          "qwen3-32b-h100x1-vllm-sharegpt-burst1000", "qwen3-32b-h100x1-trtllm-sharegpt-burst1000", "qwen3-32b-h100x1-vllm-4000-200-burst500",
          "qwen3-32b-h100x1-vllm-32000-100-burst100", "qwen3-235b-h100x8-vllm-bf16-tp8-sharegpt", "qwen3-235b-h100x8-vllm-bf16-tp8-32000-100",
          "qwen2.5-72b-h100x2-128-128-c1", "qwen2.5-72b-h100x2-1024-128-c1", "qwen2.5-72b-h100x2-4096-128-c1",
          "qwen2.5-72b-h100x2-8192-128-c1"}},
        {"H200",
         {"ds-r1-h200x8-vllm-sharegpt-burst1000", "ds-r1-h200x8-sglang-sharegpt-burst1000", "ds-r1-h200x8-trtllm-sharegpt-burst1000",
          "ds-r1-h200x8-vllm-32000-100-burst100", "ds-r1-h200x8-sglang-1k1k-c8", "ds-r1-h200x8-sglang-1k1k-c16",
          "ds-r1-h200x8-sglang-1k1k-c64"}},
        {"A100-80GB", {"qwen3-14b-a100x1-vllm-sharegpt-burst1000", "qwen3-14b-a100x1-vllm-32000-100-burst100"}},
        {"A100-40GB", {"llama-3.1-8b-a100-40g-vllm-c1"}},
        {"A40",
         {"llama-3.1-8b-a40x1-vllm-c50", "deepseek-r1-distill-llama-8b-a40x1-vllm-c50", "qwen2.5-7b-a40x1-vllm-c50",
          "deepseek-r1-distill-qwen-14b-a40x1-vllm-c50"}},
    };
    return t;
}
}  // namespace detail

DSDEPLOY_INLINE std::vector<std::string_view> calibration_rows_for_gpu(std::string_view gpu) {
    std::string name(gpu);
    if (const gpu_spec* g = find_gpu(gpu)) name = g->name;
    for (const auto& e : detail::perf_calibration_by_gpu())
        if (detail::iequals(e.gpu, name)) return e.rows;
    return {};
}

// Fitted by scripts/dev/perf_model_fit.py on the 38 calibration rows (2026-12-03; values copied from
// its --json output, tests/fixtures/perf/prototype-predictions.json "fitted"). The rows listed are those
// each factor acts on; t_layer_us, t_step_ms act on every row.
DSDEPLOY_INLINE const std::vector<perf_factor>& perf_factor_table() {
    static const std::vector<perf_factor> table = {
        {"eta_bw_hopper", 0.7861965920391388, "fraction", provenance::calibrated,
         "GPU family hopper (H100, H200; applied to H20, H800)",
         "achieved fraction of datasheet memory bandwidth in decode",
         {"ds-r1-h100x16-sglang-128-128-c1", "ds-r1-h100x16-sglang-128-1024-c1", "ds-r1-h100x16-sglang-1024-128-c1",
          "ds-r1-h100x16-sglang-2048-128-c1", "ds-r1-h100x16-sglang-4096-128-c1", "ds-r1-h100x16-trtllm-128-128-c1",
          "ds-r1-h100x16-trtllm-128-1024-c1", "ds-r1-h100x16-trtllm-1024-128-c1", "ds-v3awq-h100x8-vllm-c1", "ds-v3awq-h100x8-vllm-c15",
          "ds-r1-h200x8-vllm-sharegpt-burst1000", "ds-r1-h200x8-sglang-sharegpt-burst1000", "ds-r1-h200x8-trtllm-sharegpt-burst1000",
          "ds-r1-h200x8-vllm-32000-100-burst100", "ds-r1-h200x8-sglang-1k1k-c8", "ds-r1-h200x8-sglang-1k1k-c16",
          "ds-r1-h200x8-sglang-1k1k-c64", "qwen3-8b-h100x1-vllm-sharegpt-c4", "qwen3-8b-h100x1-sglang-sharegpt-c4",
          "qwen3-8b-h100x1-sglang-fp8-sharegpt-c4", "qwen3-32b-h100x1-vllm-sharegpt-burst1000",
          "qwen3-32b-h100x1-trtllm-sharegpt-burst1000", "qwen3-32b-h100x1-vllm-4000-200-burst500",
          "qwen3-32b-h100x1-vllm-32000-100-burst100", "qwen3-235b-h100x8-vllm-bf16-tp8-sharegpt",
          "qwen3-235b-h100x8-vllm-bf16-tp8-32000-100", "qwen2.5-72b-h100x2-128-128-c1", "qwen2.5-72b-h100x2-1024-128-c1",
          "qwen2.5-72b-h100x2-4096-128-c1", "qwen2.5-72b-h100x2-8192-128-c1"}},
        {"eta_bw_ampere", 0.7990396603006622, "fraction", provenance::calibrated,
         "GPU family ampere (A100, A800)",
         "achieved fraction of datasheet memory bandwidth in decode",
         {"qwen3-14b-a100x1-vllm-sharegpt-burst1000", "qwen3-14b-a100x1-vllm-32000-100-burst100", "llama-3.1-8b-a100-40g-vllm-c1"}},
        {"eta_bw_gddr", 0.5816652729309044, "fraction", provenance::calibrated,
         "GPU family gddr (A40, L20; applied to L40S)",
         "achieved fraction of datasheet memory bandwidth in decode",
         {"ds-r1-l20-pp3tp8-c16", "llama-3.1-8b-a40x1-vllm-c50", "deepseek-r1-distill-llama-8b-a40x1-vllm-c50",
          "qwen2.5-7b-a40x1-vllm-c50", "deepseek-r1-distill-qwen-14b-a40x1-vllm-c50"}},
        {"eta_moe_bw", 0.6279057315240975, "fraction", provenance::calibrated,
         "MoE models (routed-expert streaming, fused-MoE kernels)",
         "extra factor on routed-expert weight bytes",
         {"ds-r1-l20-pp3tp8-c16", "ds-r1-h100x16-sglang-128-128-c1", "ds-r1-h100x16-sglang-128-1024-c1",
          "ds-r1-h100x16-sglang-1024-128-c1", "ds-r1-h100x16-sglang-2048-128-c1", "ds-r1-h100x16-sglang-4096-128-c1",
          "ds-r1-h100x16-trtllm-128-128-c1", "ds-r1-h100x16-trtllm-128-1024-c1", "ds-r1-h100x16-trtllm-1024-128-c1",
          "ds-v3awq-h100x8-vllm-c1", "ds-v3awq-h100x8-vllm-c15", "ds-r1-h200x8-vllm-sharegpt-burst1000",
          "ds-r1-h200x8-sglang-sharegpt-burst1000", "ds-r1-h200x8-trtllm-sharegpt-burst1000", "ds-r1-h200x8-vllm-32000-100-burst100",
          "ds-r1-h200x8-sglang-1k1k-c8", "ds-r1-h200x8-sglang-1k1k-c16", "ds-r1-h200x8-sglang-1k1k-c64",
          "qwen3-235b-h100x8-vllm-bf16-tp8-sharegpt", "qwen3-235b-h100x8-vllm-bf16-tp8-32000-100"}},
        {"w4_moe_bw", 0.4481971033175752, "fraction", provenance::calibrated,
         "4-bit (AWQ/W4A16) MoE checkpoints",
         "extra factor on routed-expert streaming for 4-bit experts (weak: 2 rows)",
         {"ds-v3awq-h100x8-vllm-c1", "ds-v3awq-h100x8-vllm-c15"}},
        {"eta_f_dense", 0.5055095989033928, "fraction", provenance::calibrated,
         "dense layers, attention, all GPUs",
         "achieved fraction of datasheet dense tensor FLOP/s",
         {"qwen3-8b-h100x1-vllm-sharegpt-c4", "qwen3-8b-h100x1-sglang-sharegpt-c4", "qwen3-8b-h100x1-sglang-fp8-sharegpt-c4",
          "qwen3-32b-h100x1-vllm-sharegpt-burst1000", "qwen3-32b-h100x1-trtllm-sharegpt-burst1000",
          "qwen3-32b-h100x1-vllm-4000-200-burst500", "qwen3-32b-h100x1-vllm-32000-100-burst100",
          "qwen3-14b-a100x1-vllm-sharegpt-burst1000", "qwen3-14b-a100x1-vllm-32000-100-burst100", "llama-3.1-8b-a40x1-vllm-c50",
          "deepseek-r1-distill-llama-8b-a40x1-vllm-c50", "qwen2.5-7b-a40x1-vllm-c50", "deepseek-r1-distill-qwen-14b-a40x1-vllm-c50",
          "qwen2.5-72b-h100x2-128-128-c1", "qwen2.5-72b-h100x2-1024-128-c1", "qwen2.5-72b-h100x2-4096-128-c1",
          "qwen2.5-72b-h100x2-8192-128-c1"}},
        {"eta_f_moe", 0.065758951302348, "fraction", provenance::calibrated,
         "MoE layers (grouped GEMMs), all GPUs",
         "achieved fraction of datasheet dense tensor FLOP/s in MoE layers",
         {"ds-r1-l20-pp3tp8-c16", "ds-r1-h100x16-sglang-128-128-c1", "ds-r1-h100x16-sglang-128-1024-c1",
          "ds-r1-h100x16-sglang-1024-128-c1", "ds-r1-h100x16-sglang-2048-128-c1", "ds-r1-h100x16-sglang-4096-128-c1",
          "ds-r1-h100x16-trtllm-128-128-c1", "ds-r1-h100x16-trtllm-128-1024-c1", "ds-r1-h100x16-trtllm-1024-128-c1",
          "ds-r1-h200x8-vllm-sharegpt-burst1000", "ds-r1-h200x8-sglang-sharegpt-burst1000", "ds-r1-h200x8-trtllm-sharegpt-burst1000",
          "ds-r1-h200x8-vllm-32000-100-burst100", "ds-r1-h200x8-sglang-1k1k-c8", "ds-r1-h200x8-sglang-1k1k-c16",
          "ds-r1-h200x8-sglang-1k1k-c64", "qwen3-235b-h100x8-vllm-bf16-tp8-sharegpt", "qwen3-235b-h100x8-vllm-bf16-tp8-32000-100"}},
        {"t_layer_us", 24.08171852862809, "us", provenance::calibrated,
         "every engine",
         "fixed cost per layer per decode step (launches, norms, rope)",
         {"ds-r1-l20-pp3tp8-c16", "ds-r1-h100x16-sglang-128-128-c1", "ds-r1-h100x16-sglang-128-1024-c1",
          "ds-r1-h100x16-sglang-1024-128-c1", "ds-r1-h100x16-sglang-2048-128-c1", "ds-r1-h100x16-sglang-4096-128-c1",
          "ds-r1-h100x16-trtllm-128-128-c1", "ds-r1-h100x16-trtllm-128-1024-c1", "ds-r1-h100x16-trtllm-1024-128-c1",
          "ds-v3awq-h100x8-vllm-c1", "ds-v3awq-h100x8-vllm-c15", "ds-r1-h200x8-vllm-sharegpt-burst1000",
          "ds-r1-h200x8-sglang-sharegpt-burst1000", "ds-r1-h200x8-trtllm-sharegpt-burst1000", "ds-r1-h200x8-vllm-32000-100-burst100",
          "ds-r1-h200x8-sglang-1k1k-c8", "ds-r1-h200x8-sglang-1k1k-c16", "ds-r1-h200x8-sglang-1k1k-c64",
          "qwen3-8b-h100x1-vllm-sharegpt-c4", "qwen3-8b-h100x1-sglang-sharegpt-c4", "qwen3-8b-h100x1-sglang-fp8-sharegpt-c4",
          "qwen3-32b-h100x1-vllm-sharegpt-burst1000", "qwen3-32b-h100x1-trtllm-sharegpt-burst1000",
          "qwen3-32b-h100x1-vllm-4000-200-burst500", "qwen3-32b-h100x1-vllm-32000-100-burst100",
          "qwen3-235b-h100x8-vllm-bf16-tp8-sharegpt", "qwen3-235b-h100x8-vllm-bf16-tp8-32000-100",
          "qwen3-14b-a100x1-vllm-sharegpt-burst1000", "qwen3-14b-a100x1-vllm-32000-100-burst100", "llama-3.1-8b-a40x1-vllm-c50",
          "deepseek-r1-distill-llama-8b-a40x1-vllm-c50", "qwen2.5-7b-a40x1-vllm-c50", "deepseek-r1-distill-qwen-14b-a40x1-vllm-c50",
          "llama-3.1-8b-a100-40g-vllm-c1", "qwen2.5-72b-h100x2-128-128-c1", "qwen2.5-72b-h100x2-1024-128-c1",
          "qwen2.5-72b-h100x2-4096-128-c1", "qwen2.5-72b-h100x2-8192-128-c1"}},
        {"t_step_ms", 2.504902055939614, "ms", provenance::calibrated,
         "every engine",
         "fixed cost per decode step (scheduler, sampling, detokenise)",
         {"ds-r1-l20-pp3tp8-c16", "ds-r1-h100x16-sglang-128-128-c1", "ds-r1-h100x16-sglang-128-1024-c1",
          "ds-r1-h100x16-sglang-1024-128-c1", "ds-r1-h100x16-sglang-2048-128-c1", "ds-r1-h100x16-sglang-4096-128-c1",
          "ds-r1-h100x16-trtllm-128-128-c1", "ds-r1-h100x16-trtllm-128-1024-c1", "ds-r1-h100x16-trtllm-1024-128-c1",
          "ds-v3awq-h100x8-vllm-c1", "ds-v3awq-h100x8-vllm-c15", "ds-r1-h200x8-vllm-sharegpt-burst1000",
          "ds-r1-h200x8-sglang-sharegpt-burst1000", "ds-r1-h200x8-trtllm-sharegpt-burst1000", "ds-r1-h200x8-vllm-32000-100-burst100",
          "ds-r1-h200x8-sglang-1k1k-c8", "ds-r1-h200x8-sglang-1k1k-c16", "ds-r1-h200x8-sglang-1k1k-c64",
          "qwen3-8b-h100x1-vllm-sharegpt-c4", "qwen3-8b-h100x1-sglang-sharegpt-c4", "qwen3-8b-h100x1-sglang-fp8-sharegpt-c4",
          "qwen3-32b-h100x1-vllm-sharegpt-burst1000", "qwen3-32b-h100x1-trtllm-sharegpt-burst1000",
          "qwen3-32b-h100x1-vllm-4000-200-burst500", "qwen3-32b-h100x1-vllm-32000-100-burst100",
          "qwen3-235b-h100x8-vllm-bf16-tp8-sharegpt", "qwen3-235b-h100x8-vllm-bf16-tp8-32000-100",
          "qwen3-14b-a100x1-vllm-sharegpt-burst1000", "qwen3-14b-a100x1-vllm-32000-100-burst100", "llama-3.1-8b-a40x1-vllm-c50",
          "deepseek-r1-distill-llama-8b-a40x1-vllm-c50", "qwen2.5-7b-a40x1-vllm-c50", "deepseek-r1-distill-qwen-14b-a40x1-vllm-c50",
          "llama-3.1-8b-a100-40g-vllm-c1", "qwen2.5-72b-h100x2-128-128-c1", "qwen2.5-72b-h100x2-1024-128-c1",
          "qwen2.5-72b-h100x2-4096-128-c1", "qwen2.5-72b-h100x2-8192-128-c1"}},
        {"t_step_v0_ms", 12.904815355577382, "ms", provenance::calibrated,
         "vLLM V0 engine",
         "extra per-step host overhead of vLLM V0",
         {"ds-r1-l20-pp3tp8-c16", "ds-v3awq-h100x8-vllm-c1", "ds-v3awq-h100x8-vllm-c15"}},
        {"a_inter_us", 156.71267085188467, "us", provenance::calibrated,
         "inter-node fabric (fitted on InfiniBand)",
         "latency of one collective or hand-off that crosses nodes",
         {"ds-r1-l20-pp3tp8-c16", "ds-r1-h100x16-sglang-128-128-c1", "ds-r1-h100x16-sglang-128-1024-c1",
          "ds-r1-h100x16-sglang-1024-128-c1", "ds-r1-h100x16-sglang-2048-128-c1", "ds-r1-h100x16-sglang-4096-128-c1",
          "ds-r1-h100x16-trtllm-128-128-c1", "ds-r1-h100x16-trtllm-128-1024-c1", "ds-r1-h100x16-trtllm-1024-128-c1"}},
        {"t_ttft0_ms", 48.69480649857917, "ms", provenance::calibrated,
         "every engine",
         "fixed part of TTFT (HTTP, tokenise, schedule, first step)",
         {"ds-r1-l20-pp3tp8-c16", "ds-r1-h100x16-sglang-128-128-c1", "ds-r1-h100x16-sglang-128-1024-c1",
          "ds-r1-h100x16-sglang-1024-128-c1", "ds-r1-h100x16-sglang-2048-128-c1", "ds-r1-h100x16-sglang-4096-128-c1",
          "ds-r1-h100x16-trtllm-128-128-c1", "ds-r1-h100x16-trtllm-128-1024-c1", "ds-r1-h100x16-trtllm-1024-128-c1",
          "ds-r1-h200x8-vllm-sharegpt-burst1000", "ds-r1-h200x8-sglang-sharegpt-burst1000", "ds-r1-h200x8-trtllm-sharegpt-burst1000",
          "ds-r1-h200x8-vllm-32000-100-burst100", "ds-r1-h200x8-sglang-1k1k-c8", "ds-r1-h200x8-sglang-1k1k-c16",
          "ds-r1-h200x8-sglang-1k1k-c64", "qwen3-8b-h100x1-vllm-sharegpt-c4", "qwen3-8b-h100x1-sglang-sharegpt-c4",
          "qwen3-8b-h100x1-sglang-fp8-sharegpt-c4", "qwen3-32b-h100x1-vllm-sharegpt-burst1000",
          "qwen3-32b-h100x1-trtllm-sharegpt-burst1000", "qwen3-32b-h100x1-vllm-4000-200-burst500",
          "qwen3-32b-h100x1-vllm-32000-100-burst100", "qwen3-235b-h100x8-vllm-bf16-tp8-sharegpt",
          "qwen3-235b-h100x8-vllm-bf16-tp8-32000-100", "qwen3-14b-a100x1-vllm-sharegpt-burst1000",
          "qwen3-14b-a100x1-vllm-32000-100-burst100", "llama-3.1-8b-a40x1-vllm-c50", "deepseek-r1-distill-llama-8b-a40x1-vllm-c50",
          "qwen2.5-7b-a40x1-vllm-c50", "deepseek-r1-distill-qwen-14b-a40x1-vllm-c50", "qwen2.5-72b-h100x2-128-128-c1",
          "qwen2.5-72b-h100x2-1024-128-c1", "qwen2.5-72b-h100x2-4096-128-c1", "qwen2.5-72b-h100x2-8192-128-c1"}},
        {"sharegpt_tail", 5.164571646297649, "x", provenance::calibrated,
         "ShareGPT-like length distributions",
         "longest output / mean output in a burst",
         {"ds-r1-h200x8-vllm-sharegpt-burst1000", "ds-r1-h200x8-sglang-sharegpt-burst1000", "ds-r1-h200x8-trtllm-sharegpt-burst1000",
          "qwen3-32b-h100x1-vllm-sharegpt-burst1000", "qwen3-32b-h100x1-trtllm-sharegpt-burst1000",
          "qwen3-235b-h100x8-vllm-bf16-tp8-sharegpt", "qwen3-14b-a100x1-vllm-sharegpt-burst1000"}},
        {"a_nvlink_us", 8.0, "us", provenance::extrapolated,
         "TP all-reduce inside an NVLink node",
         "NCCL all-reduce latency (typical NCCL figure; no row isolates it)", {}},
        {"a_pcie_us", 25.0, "us", provenance::extrapolated,
         "TP all-reduce over PCIe (L20, L40S, A40, H100-PCIe)",
         "NCCL all-reduce latency over PCIe P2P (typical NCCL figure; no row isolates it)", {}},
        {"eta_link", 0.7, "fraction", provenance::extrapolated,
         "NVLink, PCIe and network links",
         "achieved fraction of link bandwidth for collective bus traffic", {}},
    };
    return table;
}

DSDEPLOY_INLINE double perf_factor_value(std::string_view key) {
    for (const auto& f : perf_factor_table())
        if (f.key == key) return f.value;
    throw std::out_of_range("unknown performance factor " + std::string(key));
}

// Leave-one-out measured/predicted ratios, 10th..90th percentile: the reciprocals of the prototype's --json
// "loo_band" = (1/q90, 1/q10) of measured/predicted (its ranges multiply the prediction by that pair, which
// mirrors them; here the measured/predicted quantiles themselves are used).
DSDEPLOY_INLINE error_band perf_band_tpot() { return {0.7419532796561693, 2.063149489035766}; }
DSDEPLOY_INLINE error_band perf_band_throughput() { return {0.6751757393281888, 1.3016334726353838}; }
DSDEPLOY_INLINE error_band perf_band_ttft() { return {0.4278127504924861, 3.057017901030844}; }

DSDEPLOY_NAMESPACE_END
