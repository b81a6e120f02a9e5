// SPDX-License-Identifier: Apache-2.0
// The performance model, ported from scripts/dev/perf_model_fit.py (formulas: docs/performance-model.md
// section 2). tests/perf_test.cpp checks that both agree within 1% on every calibration row.
#pragma once

#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/perf.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE std::string_view to_string(provenance p) {
    switch (p) {
        case provenance::datasheet: return "datasheet";
        case provenance::calibrated: return "calibrated";
        case provenance::extrapolated: return "extrapolated";
    }
    return "extrapolated";
}

// --- data ----------------------------------------------------------------------------------------

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

// --- inputs ----------------------------------------------------------------------------------------

DSDEPLOY_INLINE perf_network perf_network_for(const network_profile& p, double link_gbit_per_gpu) {
    perf_network n;
    n.kind = p.kind;
    n.gbytes_per_gpu = link_gbit_per_gpu > 0 ? link_gbit_per_gpu / 8.0 : 0;
    return n;
}

DSDEPLOY_INLINE workload parse_workload(std::string_view spec, const std::string& field) {
    workload w;
    bool have_load = false;
    auto bad = [&](const std::string& why) {
        raise(errc::plan_value, field,
              "\"" + std::string(spec) + "\": " + why + "; use e.g. in=4096,out=1024,concurrency=16 (or rate=2, or burst=500)");
    };
    std::string_view rest = spec;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view item = detail::trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (item.empty()) continue;
        const auto eq = item.find('=');
        if (eq == std::string_view::npos) bad("\"" + std::string(item) + "\" is not key=value");
        const std::string key = detail::to_lower(detail::trim(item.substr(0, eq)));
        const std::string val(detail::trim(item.substr(eq + 1)));
        if (key == "sharegpt") {
            w.sharegpt = val == "1" || val == "true" || val == "yes";
            continue;
        }
        double v = 0;
        try {
            std::size_t used = 0;
            v = std::stod(val, &used);
            if (used != val.size()) throw std::invalid_argument(val);
        } catch (const std::exception&) {
            bad(key + "=" + val + " is not a number");
        }
        if (!(v > 0) || !std::isfinite(v)) bad(key + " must be positive");
        if (key == "in" || key == "input" || key == "input_len") w.input_len = v;
        else if (key == "out" || key == "output" || key == "output_len") w.output_len = v;
        else if (key == "concurrency" || key == "c") { w.load = load_kind::closed; w.concurrency = v; have_load = true; }
        else if (key == "rate" || key == "request_rate") { w.load = load_kind::open; w.request_rate = v; have_load = true; }
        else if (key == "burst" || key == "prompts" || key == "num_prompts") {
            if (!have_load) w.load = load_kind::burst;
            w.num_prompts = v;
            have_load = true;
        } else bad("unknown key \"" + key + "\" (in, out, concurrency, rate, burst, sharegpt)");
    }
    return w;
}

DSDEPLOY_INLINE std::string to_string(const workload& w) {
    std::string load;
    switch (w.load) {
        case load_kind::closed: load = fmt::format("concurrency={:g}", w.concurrency); break;
        case load_kind::burst: load = fmt::format("burst={:g}", w.num_prompts); break;
        case load_kind::open: load = fmt::format("rate={:g}/s", w.request_rate); break;
    }
    return fmt::format("in={:g},out={:g},{}{}", w.input_len, w.output_len, load, w.sharegpt ? ",sharegpt" : "");
}

// --- the model -------------------------------------------------------------------------------------

namespace detail {

struct perf_params {
    double eta_bw_hopper, eta_bw_ampere, eta_bw_gddr, eta_moe_bw, w4_moe_bw, eta_f_dense, eta_f_moe;
    double t_layer_us, t_step_ms, t_step_v0_ms, a_inter_us, t_ttft0_ms, sharegpt_tail;
    double a_nvlink_us, a_pcie_us, eta_link;
};

inline const perf_params& perf_fitted() {
    static const perf_params p = {
        perf_factor_value("eta_bw_hopper"), perf_factor_value("eta_bw_ampere"), perf_factor_value("eta_bw_gddr"),
        perf_factor_value("eta_moe_bw"),    perf_factor_value("w4_moe_bw"),     perf_factor_value("eta_f_dense"),
        perf_factor_value("eta_f_moe"),     perf_factor_value("t_layer_us"),    perf_factor_value("t_step_ms"),
        perf_factor_value("t_step_v0_ms"),  perf_factor_value("a_inter_us"),    perf_factor_value("t_ttft0_ms"),
        perf_factor_value("sharegpt_tail"), perf_factor_value("a_nvlink_us"),   perf_factor_value("a_pcie_us"),
        perf_factor_value("eta_link"),
    };
    return p;
}

// The model's shape in the prototype's terms (parameters, not bytes).
struct perf_dims {
    int L = 0, h = 0, vocab = 0;
    bool moe = false, mla = false;
    int nq = 0, nkv = 0, hd = 0;
    double attn = 0;      // attention parameters per layer
    double mlp = 0;       // dense FFN parameters per dense layer
    int n_dense = 0;      // layers with a dense FFN
    int E = 0, k = 0;     // routed experts, chosen per token
    double expert = 0;    // parameters per expert
    double shared = 0;    // shared experts (in expert units)
    double kv_elems = 0;  // MLA latent per token per layer
    double repl = 0;      // per layer, replicated on every TP rank (MLA q_a, kv_a, router)
};

inline perf_dims perf_dims_of(const model_spec& m) {
    perf_dims d;
    d.L = m.num_layers;
    d.h = m.hidden_size;
    d.vocab = m.vocab_size;
    d.moe = m.is_moe();
    d.mla = m.is_mla();
    d.nq = m.num_attention_heads;
    d.nkv = m.num_kv_heads;
    d.hd = m.head_dim;
    const double h = m.hidden_size, nq = m.num_attention_heads;
    if (d.mla) {
        const double qk = m.qk_nope_head_dim + m.qk_rope_head_dim;
        const double q = m.q_lora_rank > 0 ? h * m.q_lora_rank + double(m.q_lora_rank) * nq * qk : h * nq * qk;
        d.attn = q + h * (m.kv_lora_rank + m.qk_rope_head_dim) + double(m.kv_lora_rank) * nq * (m.qk_nope_head_dim + m.v_head_dim) +
                 nq * m.v_head_dim * h;
        d.kv_elems = m.kv_lora_rank + m.qk_rope_head_dim;
        d.repl = h * m.q_lora_rank + h * (m.kv_lora_rank + m.qk_rope_head_dim) + h * m.num_experts;
    } else {
        d.attn = h * nq * m.head_dim * 2 + 2 * h * double(m.num_kv_heads) * m.head_dim;
    }
    d.mlp = 3 * h * m.intermediate_size;
    d.n_dense = d.moe ? m.first_dense_layers : m.num_layers;
    d.E = m.num_experts;
    d.k = m.experts_per_token;
    d.expert = 3 * h * m.moe_intermediate_size;
    d.shared = m.shared_expert_intermediate_size > 0 && m.moe_intermediate_size > 0
                   ? double(m.shared_expert_intermediate_size) / m.moe_intermediate_size
                   : m.num_shared_experts;
    return d;
}

// Bytes per parameter: attention/dense/shared, routed experts, embedding and head.
struct perf_wbytes {
    double dense = 2, expert = 2, emb = 2;
};
inline perf_wbytes perf_weight_bytes(const model_spec& m) {
    switch (m.weights.type) {
        case dtype::fp8:
        case dtype::int8: return {1, 1, 2};
        case dtype::int4: return {2, 0.53, 2};  // AWQ MoE checkpoints: experts 4-bit g128, the rest 16-bit
        default: return {2, 2, 2};
    }
}

struct perf_ctx {
    perf_dims d;
    perf_wbytes wb;
    bool fp8_weights = false;
    double bw = 0;         // B/s, datasheet
    double f_lin = 0;      // FLOP/s for linear layers
    double f_bf16 = 0;     // FLOP/s for attention
    double eta_bw = 0;
    int tp = 1, pp = 1, gpn = 1, nodes = 1;
    bool nvlink = false;
    double link_bw = 0;    // B/s per direction inside a node
    double fabric_bw = 0;  // B/s per GPU between nodes
    double kv_tok_layer = 0;
    // DP + EP (not in the prototype; extrapolated): routed experts sharded over tp x dp GPUs, each
    // GPU serving the tokens of all dp replicas, two all-to-alls per MoE layer.
    int ep_dp = 1;          // dp when expert parallelism is on, else 1
    bool ep_cross = false;  // the EP group spans nodes
    std::vector<std::pair<int, int>> stages;  // (layers, dense layers)
    const perf_params* P = nullptr;
};

inline double distinct_frac(const perf_dims& d, double tokens) {
    if (!d.moe || d.E <= 0) return 0.0;
    return 1.0 - std::pow(1.0 - double(d.k) / d.E, std::max(tokens, 0.0));
}

inline double allreduce_time(const perf_ctx& c, double nbytes) {
    if (c.tp <= 1) return 0.0;
    double a = 0, bw = 0;
    if (c.tp > c.gpn) {
        a = c.P->a_inter_us * 1e-6;
        bw = c.fabric_bw * c.P->eta_link;
    } else {
        a = (c.nvlink ? c.P->a_nvlink_us : c.P->a_pcie_us) * 1e-6;
        bw = c.link_bw * c.P->eta_link;
    }
    return a + 2.0 * (c.tp - 1) / c.tp * nbytes / bw;
}

// Dispatch + combine of `tokens` tokens' hidden states for one MoE layer under EP (0 without EP).
inline double alltoall_time(const perf_ctx& c, double tokens) {
    if (c.ep_dp <= 1) return 0.0;
    const int shards = c.tp * c.ep_dp;
    const double nb = tokens * c.d.k * c.d.h * 2.0 * (shards - 1) / shards;
    const double a = (c.ep_cross ? c.P->a_inter_us : c.nvlink ? c.P->a_nvlink_us : c.P->a_pcie_us) * 1e-6;
    const double bw = (c.ep_cross ? c.fabric_bw : c.link_bw) * c.P->eta_link;
    return 2 * (a + nb / bw);
}

inline double hop_time(const perf_ctx& c, double tokens) {
    if (c.pp <= 1) return 0.0;
    const double nb = tokens * c.d.h * 2;
    if (c.nodes > 1) return c.P->a_inter_us * 1e-6 + nb / (c.fabric_bw * c.P->eta_link);
    return c.P->a_nvlink_us * 1e-6 + nb / 100e9;
}

struct perf_step_parts {
    double mem = 0, comp = 0, ar = 0, ovh = 0, hop = 0, bound = 0;
};

inline double decode_stage_time(const perf_ctx& c, int n, int n_dense, bool last, double mb, double ctx, perf_step_parts& parts) {
    const perf_dims& d = c.d;
    const perf_params& P = *c.P;
    const int n_moe = n - n_dense;
    const double always = n * d.attn * c.wb.dense + n_dense * d.mlp * c.wb.dense + n_moe * d.shared * d.expert * c.wb.dense;
    const double experts = n_moe * double(d.E) * d.expert * c.wb.expert * distinct_frac(d, mb * c.ep_dp) / c.ep_dp;
    const double head = (last ? 1.0 : 0.0) * double(d.vocab) * d.h * c.wb.emb;
    const double wbytes = (always + head) / c.tp + n * d.repl * c.wb.dense * (1 - 1.0 / c.tp);
    const double kvbytes = mb * ctx * n * c.kv_tok_layer;
    const double bw = c.bw * c.eta_bw;
    const double moe_eff = P.eta_moe_bw * (c.wb.expert < 1.0 ? P.w4_moe_bw : 1.0);
    const double t_mem = (wbytes + kvbytes) / bw + experts / c.tp / (bw * moe_eff);
    const double act_dense = n * d.attn + n_dense * d.mlp + (last ? 1.0 : 0.0) * double(d.vocab) * d.h;
    const double act_moe = n_moe * (d.shared + d.k) * d.expert;
    const double attn_fl = d.mla ? mb * ctx * n * 2 * d.nq * (d.kv_elems + 512) * 2 / c.tp : mb * ctx * n * 4.0 * d.nq * d.hd / c.tp;
    const double t_comp = (2 * act_dense * mb / c.tp) / (c.f_lin * P.eta_f_dense) + (2 * act_moe * mb / c.tp) / (c.f_lin * P.eta_f_moe) +
                          attn_fl / (c.f_bf16 * P.eta_f_dense);
    const double t_ar = n * 2 * allreduce_time(c, mb * d.h * 2) + n_moe * alltoall_time(c, mb);
    const double t_ovh = n * P.t_layer_us * 1e-6;
    parts.mem += t_mem;
    parts.comp += t_comp;
    parts.ar += t_ar;
    parts.ovh += t_ovh;
    parts.bound += std::max(t_mem, t_comp);
    return t_ovh + std::max(t_mem, t_comp) + t_ar;
}

// TPOT without prefill interference: a token's trip through all PP stages.
inline double decode_time(const perf_ctx& c, double b, double ctx, bool v0, perf_step_parts* out = nullptr) {
    const double mb = std::max(1.0, std::ceil(b / c.pp));
    const double t0 = (c.P->t_step_ms + (v0 ? c.P->t_step_v0_ms : 0.0)) * 1e-3;
    perf_step_parts parts;
    parts.ovh = t0;
    double t = t0;
    for (std::size_t i = 0; i < c.stages.size(); ++i)
        t += decode_stage_time(c, c.stages[i].first, c.stages[i].second, i + 1 == c.stages.size(), mb, ctx, parts);
    parts.hop = (c.pp - 1) * hop_time(c, mb);
    t += parts.hop;
    if (out) *out = parts;
    return t;
}

struct perf_prefill_parts {
    double lin = 0, att = 0, ar = 0, hop = 0;
};

// Marginal time to prefill one request of n_tok tokens (all stages in sequence).
inline double prefill_time(const perf_ctx& c, double n_tok, perf_prefill_parts* out = nullptr) {
    const perf_dims& d = c.d;
    const perf_params& P = *c.P;
    const double act_dense = d.L * d.attn + d.n_dense * d.mlp + double(d.vocab) * d.h / std::max(n_tok, 1.0);
    const double act_moe = (d.L - d.n_dense) * (d.shared + d.k) * d.expert;
    const double t_lin = 2 * n_tok / c.tp * (act_dense / (c.f_lin * P.eta_f_dense) + act_moe / (c.f_lin * P.eta_f_moe));
    const double per_pair = d.mla ? 2.0 * d.nq * (192 + 128) : 2.0 * d.nq * d.hd * 2;
    const double t_att = d.L * per_pair * n_tok * n_tok / 2 / c.tp / (c.f_bf16 * P.eta_f_dense);
    const double t_ar = d.L * 2 * allreduce_time(c, n_tok * d.h * 2) + (d.L - d.n_dense) * alltoall_time(c, n_tok);
    const double t_hop = (c.pp - 1) * hop_time(c, n_tok);
    if (out) *out = {t_lin, t_att, t_ar, t_hop};
    return t_lin + t_att + t_ar + t_hop;
}

inline bool version_before(const std::string& version, int major, int minor, bool if_unknown) {
    int a = 0, b = 0;
    if (std::sscanf(version.c_str(), "%d.%d", &a, &b) != 2) return if_unknown;
    return a < major || (a == major && b < minor);
}

inline double engine_max_seqs(const engine_profile& e, const gpu_spec& g, std::string_view family) {
    if (e.name == "tensorrt-llm") return 2048;
    if (e.name == "sglang") return 4096;
    // vLLM V1 (>= 0.8): 1024 on >= 70 GiB GPUs other than A100, else 256; V0: 256.
    if (!version_before(e.version, 0, 8, false) && g.memory_gib >= 70 && family != "ampere") return 1024;
    return 256;
}

inline bool engine_v0(const engine_profile& e) { return e.name == "vllm" && (e.v0 || version_before(e.version, 0, 8, false)); }

inline double default_fabric_gbytes(fabric kind, std::string_view family) {
    switch (kind) {
        case fabric::infiniband: return family == "hopper" ? 50.0 : 25.0;  // IB 400G / 200G per GPU
        case fabric::roce: return family == "hopper" ? 50.0 : 25.0;
        case fabric::tcp: return 4.0;
    }
    return 4.0;
}

inline std::string fmt_ms(double ms) {
    if (ms >= 10000) return fmt::format("{:.0f} s", ms / 1000);
    if (ms >= 1000) return fmt::format("{:.1f} s", ms / 1000);
    if (ms >= 100) return fmt::format("{:.0f} ms", ms);
    if (ms >= 10) return fmt::format("{:.1f} ms", ms);
    return fmt::format("{:.2f} ms", ms);
}

inline std::string fmt_num(double v) {
    if (v >= 100) return fmt::format("{:.0f}", v);
    if (v >= 10) return fmt::format("{:.1f}", v);
    return fmt::format("{:.2f}", v);
}

inline void set_phase(phase_parts& ph, const std::vector<std::pair<std::string, double>>& parts) {
    double total = 0, best = -1;
    for (const auto& [name, v] : parts) {
        total += v;
        if (v > best) {
            best = v;
            ph.bottleneck = name;
        }
    }
    ph.bottleneck_share = total > 0 ? best / total : 0;
}

}  // namespace detail

DSDEPLOY_INLINE perf_prediction predict_performance(const plan& pl, const perf_network& net, const workload& w, const engine_profile& e) {
    if (!(w.input_len > 0) || !(w.output_len > 0))
        raise(errc::plan_value, "workload", "input and output lengths must be positive token counts");
    const gpu_spec& g = pl.gpu;
    const gpu_datasheet* ds = find_gpu_datasheet(g.name);
    if (g.name.empty() || !ds)
        raise(errc::plan_value, "gpu", "no datasheet figures for GPU \"" + g.name + "\"; the performance model knows " + [] {
                  std::vector<std::string> names;
                  for (const auto& x : gpu_datasheets()) names.emplace_back(x.gpu);
                  return detail::one_of(names);
              }());
    const detail::perf_params& P = detail::perf_fitted();
    detail::perf_ctx c;
    c.P = &P;
    c.d = detail::perf_dims_of(pl.model);
    c.wb = detail::perf_weight_bytes(pl.model);
    c.fp8_weights = pl.model.weights.type == dtype::fp8;
    c.bw = g.bandwidth_gbps * 1e9;
    c.f_bf16 = ds->bf16_tflops * 1e12;
    c.f_lin = c.fp8_weights && ds->fp8_tflops > 0 ? ds->fp8_tflops * 1e12 : c.f_bf16;
    c.eta_bw = ds->family == "ampere" ? P.eta_bw_ampere : ds->family == "gddr" ? P.eta_bw_gddr : P.eta_bw_hopper;
    c.tp = std::max(1, pl.parallel.tp);
    c.pp = std::max(1, pl.parallel.pp);
    c.gpn = std::max(1, pl.gpus_per_node);
    c.nodes = std::max(1, pl.nodes);
    c.nvlink = g.nvlink;
    c.link_bw = (g.nvlink ? g.gpu_link_gbps / 2 : g.gpu_link_gbps) * 1e9;
    c.fabric_bw = (net.gbytes_per_gpu > 0 ? net.gbytes_per_gpu : detail::default_fabric_gbytes(net.kind, ds->family)) * 1e9;
    if (pl.parallel.ep && pl.parallel.dp > 1 && c.d.moe) {
        c.ep_dp = pl.parallel.dp;
        c.ep_cross = c.tp * pl.parallel.dp > c.gpn;
    }
    const dtype kv = pl.memory_checked ? pl.memory.kv_dtype : default_kv_dtype(pl.model);
    c.kv_tok_layer = kv_bytes_per_token(pl.model, kv, 1, c.tp);
    const std::vector<int> parts = pl.layer_partition.empty() ? default_pp_partition(c.d.L, c.pp) : pl.layer_partition;
    int start = 0;
    for (int n : parts) {
        c.stages.emplace_back(n, std::max(0, std::min(c.d.n_dense, start + n) - start));
        start += n;
    }

    perf_prediction out;
    const double i = w.input_len, o = w.output_len;
    const double dp = std::max(1, pl.parallel.dp);
    out.kv_tokens = double(pl.memory.kv_tokens);
    out.engine_max_seqs = detail::engine_max_seqs(e, g, ds->family);
    out.fits = out.kv_tokens >= i + o;
    const double bmax = std::min(out.engine_max_seqs, std::max(1.0, out.kv_tokens / (i + o)));
    const bool v0 = detail::engine_v0(e);
    const double t_pf = detail::prefill_time(c, i);
    const double ctx = i + o / 2;
    const double t0 = P.t_ttft0_ms * 1e-3;
    const double tail = w.sharegpt ? P.sharegpt_tail : 1.0;

    double tpot = 0, ttft = 0, out_tps = 0, B = 1, t_dec = 0;
    auto closed = [&](double cc, double N) {
        B = std::max(1.0, std::min(cc, bmax));
        t_dec = detail::decode_time(c, B, ctx, v0);
        tpot = t_dec + (B - 1) * t_pf / o;
        ttft = t0 + t_pf + 0.5 * t_dec;
        if (N > 0 && N > B) ttft += (B / N) * (B - 1) / 2 * t_pf;
        const double t_req = ttft + (o - 1) * tpot;
        out_tps = B * o / t_req;
        if (cc > bmax) ttft += (cc / bmax - 1) * t_req;
        return t_req;
    };
    switch (w.load) {
        case load_kind::burst: {
            const double n = std::max(1.0, (w.num_prompts > 0 ? w.num_prompts : w.concurrency) / dp);
            B = std::max(1.0, std::min(n, bmax));
            t_dec = detail::decode_time(c, B, ctx, v0);
            double T = n * t_pf + n * o / B * t_dec;
            if (tail > 1.0) T += (tail - 1.0) * o * detail::decode_time(c, std::max(1.0, B / tail), ctx, v0);
            const double k_pf = n <= B ? (B - 1) / 2 : (B - 1) * (n - B) / n + (B - 1) / 2 * B / n;
            tpot = t_dec + k_pf * t_pf / o;
            const double first = (B + 1) / 2 * t_pf;
            ttft = t0 + first * (B / n) + (1 - B / n) * (first + T / 2);
            out_tps = n * o / T;
            out.kv_limited = n > bmax;
            break;
        }
        case load_kind::closed: {
            const double cc = std::max(1.0, w.concurrency / dp);
            closed(cc, w.num_prompts / dp);
            out.kv_limited = cc > bmax;
            break;
        }
        case load_kind::open: {
            // Little's law: in flight = rate x request time; iterate to the fixed point.
            const double rate = w.request_rate / dp;
            double inflight = 1;
            double t_req = closed(inflight, 0);
            for (int it = 0; it < 100; ++it) {
                const double next = std::min(bmax, std::max(1.0, rate * t_req));
                if (std::abs(next - inflight) < 1e-6 * inflight) break;
                inflight = 0.5 * inflight + 0.5 * next;
                t_req = closed(inflight, 0);
            }
            const double served = out_tps;  // at the batch held
            if (rate * o > served * (1 + 1e-9) && inflight >= bmax * (1 - 1e-6)) {
                out.kv_limited = true;
                out.assumptions.push_back(fmt::format(
                    "the arrival rate ({:g} requests/s per replica) exceeds what the batch the KV cache holds serves ({:.2f}/s): the "
                    "queue grows without bound, so TTFT is unbounded; figures are at saturation",
                    rate, served / o));
            } else {
                out_tps = rate * o;
            }
            break;
        }
    }
    out.batch = B;
    out.decode_ms = t_dec * 1e3;
    out.prefill_ms = t_pf * 1e3;

    // Where the time goes, at the batch held.
    detail::perf_step_parts sp;
    detail::decode_time(c, B, ctx, v0, &sp);
    std::string tp_link = c.ep_dp > 1      ? std::string("TP all-reduce + EP all-to-all over ") +
                                               (c.ep_cross ? std::string(to_string(net.kind)) : c.nvlink ? "NVLink" : "PCIe")
                          : c.tp <= 1        ? "TP collectives"
                          : c.tp > c.gpn   ? std::string("TP collectives over the inter-node link (") + std::string(to_string(net.kind)) + ")"
                          : c.nvlink       ? "TP collectives over NVLink"
                                           : "TP collectives over PCIe";
    out.decode.hbm_ms = sp.mem * 1e3;
    out.decode.tensor_ms = sp.comp * 1e3;
    out.decode.tp_collective_ms = sp.ar * 1e3;
    out.decode.pp_handoff_ms = sp.hop * 1e3;
    out.decode.overhead_ms = sp.ovh * 1e3;
    const double mb = std::max(1.0, std::ceil(B / c.pp));
    const double busy = std::min(double(c.pp), std::ceil(B / mb));
    out.decode.bubble_ms = c.pp > 1 && busy < c.pp ? (sp.bound + sp.ar + sp.ovh) * 1e3 * (c.pp - busy) / c.pp : 0;
    detail::set_phase(out.decode, {{sp.mem >= sp.comp ? "HBM bandwidth" : "tensor cores", std::max(sp.mem, sp.comp) * 1e3},
                                   {tp_link, sp.ar * 1e3},
                                   {"per-step overhead", sp.ovh * 1e3},
                                   {"PP hand-offs over the inter-node link", sp.hop * 1e3}});
    if (out.decode.bubble_ms > 0)
        out.decode.bottleneck += fmt::format(" (pipeline bubble: {:g} of {} stages busy at batch {:g})", busy, c.pp, B);
    detail::perf_prefill_parts pp;
    detail::prefill_time(c, i, &pp);
    out.prefill.tensor_ms = (pp.lin + pp.att) * 1e3;
    out.prefill.tp_collective_ms = pp.ar * 1e3;
    out.prefill.pp_handoff_ms = pp.hop * 1e3;
    out.prefill.overhead_ms = P.t_ttft0_ms;
    detail::set_phase(out.prefill, {{"tensor cores", (pp.lin + pp.att) * 1e3},
                                    {tp_link, pp.ar * 1e3},
                                    {"PP hand-offs over the inter-node link", pp.hop * 1e3}});

    // Provenance and ranges.
    const auto rows = calibration_rows_for_gpu(g.name);
    std::vector<std::string> outside;
    if (rows.size() < 2)
        outside.push_back(fmt::format("{} calibration row{} on {}", rows.size(), rows.size() == 1 ? "" : "s", g.name));
    if (c.nodes > 1 && net.kind != fabric::infiniband)
        outside.push_back(fmt::format("the inter-node latency was fitted on InfiniBand, not {}", to_string(net.kind)));
    if (c.tp > c.gpn && !g.nvlink) outside.push_back("no measurement of TP across nodes on PCIe-only GPUs");
    if (w.load == load_kind::open) outside.push_back("no open-loop (request-rate) measurement");
    if (c.ep_dp > 1) outside.push_back("no measurement with DP + expert parallelism (all-to-all modelled, not fitted)");
    if (kv == dtype::fp8) outside.push_back("FP8 KV cache not in the calibration set");
    const bool calibrated = outside.empty();
    const std::string cal_basis =
        calibrated ? fmt::format("fitted on {} calibration rows on {} (and the shared factors' rows); range: leave-one-out errors, 10th-90th percentile",
                                 rows.size(), g.name)
                   : "extrapolated: " + fmt::format("{}", fmt::join(outside, "; ")) + "; range widened x" + fmt::format("{:g}", perf_extrapolation_widening);
    auto make = [&](double v, error_band b, std::string basis) {
        estimate x;
        x.value = v;
        x.source = calibrated ? provenance::calibrated : provenance::extrapolated;
        const double widen = calibrated ? 1.0 : perf_extrapolation_widening;
        x.low = v * b.low / widen;
        x.high = v * b.high * widen;
        x.basis = std::move(basis);
        return x;
    };
    out.tpot_ms = make(tpot * 1e3, perf_band_tpot(), cal_basis);
    out.ttft_ms = make(ttft * 1e3, perf_band_ttft(), cal_basis + "; TTFT has a median error near 50%: do not rank by it alone");
    out.output_tok_s = make(out_tps * dp, perf_band_throughput(), cal_basis);
    out.total_tok_s = make(out_tps * dp * (i + o) / o, perf_band_throughput(), "output tokens/s x (in + out) / out");
    out.requests_s = make(out_tps * dp / o, perf_band_throughput(), "output tokens/s / out");
    out.kv_max_concurrency.value = out.kv_max_concurrency.low = out.kv_max_concurrency.high = std::floor(out.kv_tokens / (i + o)) * dp;
    out.kv_max_concurrency.source = provenance::datasheet;
    out.kv_max_concurrency.basis = fmt::format("the plan's memory account: {:.0f} KV tokens per replica / {:g} tokens per request{}", out.kv_tokens,
                                               i + o, dp > 1 ? fmt::format(" x {:g} replicas", dp) : "");

    out.assumptions.push_back(fmt::format("engine {} {}{}: at most {:g} sequences per replica", e.name, e.version, v0 ? " (V0)" : "",
                                          out.engine_max_seqs));
    out.assumptions.push_back("uniform expert routing (an upper bound on expert bytes); no MTP/speculative decoding, no prefix caching");
    if (pl.model.weights.type == dtype::int4)
        out.assumptions.push_back("4-bit checkpoint modelled as AWQ MoE: routed experts 4-bit (0.53 B/param), the rest 16-bit");
    if (c.fp8_weights && ds->fp8_tflops <= 0)
        out.assumptions.push_back(g.name + " has no FP8 tensor cores: FP8 weights computed as W8A16 at the BF16 rate");
    if (c.nodes > 1)
        out.assumptions.push_back(fmt::format("inter-node link {:g} GB/s per GPU per direction ({}{})", c.fabric_bw / 1e9, to_string(net.kind),
                                              net.gbytes_per_gpu > 0 ? ", as given" : ", default for the fabric and GPU class"));
    if (out.kv_limited)
        out.assumptions.push_back(fmt::format("the KV cache holds {:g} requests of {:g} tokens per replica: the other clients wait for a slot",
                                              std::floor(bmax), i + o));
    return out;
}

// --- ranking ---------------------------------------------------------------------------------------

DSDEPLOY_INLINE std::optional<rank_metric> parse_rank_metric(std::string_view s) {
    const std::string k = detail::to_lower(detail::trim(s));
    if (k == "throughput" || k == "tokens" || k == "output") return rank_metric::throughput;
    if (k == "ttft") return rank_metric::ttft;
    if (k == "tpot" || k == "itl") return rank_metric::tpot;
    return std::nullopt;
}

DSDEPLOY_INLINE std::string_view to_string(rank_metric m) {
    switch (m) {
        case rank_metric::throughput: return "throughput";
        case rank_metric::ttft: return "ttft";
        case rank_metric::tpot: return "tpot";
    }
    return "throughput";
}

namespace detail {
inline std::string layout_label(const parallelism& p, bool cross, double util, bool fp8_kv, bool int4) {
    std::string s = fmt::format("TP {} x PP {}", p.tp, p.pp);
    if (p.dp > 1) s += fmt::format(" x DP {}{}", p.dp, p.ep ? " + EP" : "");
    if (cross) s += " (TP across nodes)";
    s += fmt::format(", util {:.2f}", util);
    if (fp8_kv) s += ", FP8 KV";
    if (int4) s += ", 4-bit ckpt";
    return s;
}

inline double metric_value(const perf_prediction& p, rank_metric m) {
    switch (m) {
        case rank_metric::throughput: return p.output_tok_s.value;
        case rank_metric::ttft: return p.ttft_ms.value;
        case rank_metric::tpot: return p.tpot_ms.value;
    }
    return 0;
}

inline bool better(const ranked_layout& a, const ranked_layout& b, rank_metric m) {
    if (a.meets_slo != b.meets_slo) return a.meets_slo;
    const double va = metric_value(a.prediction, m), vb = metric_value(b.prediction, m);
    if (va != vb) return m == rank_metric::throughput ? va > vb : va < vb;
    return a.label < b.label;
}

inline std::string metric_phrase(rank_metric m) {
    switch (m) {
        case rank_metric::throughput: return "output throughput";
        case rank_metric::ttft: return "TTFT";
        case rank_metric::tpot: return "TPOT";
    }
    return "";
}

inline std::string metric_fmt(const perf_prediction& p, rank_metric m) {
    switch (m) {
        case rank_metric::throughput: return fmt::format("{} tok/s", fmt_num(p.output_tok_s.value));
        case rank_metric::ttft: return fmt_ms(p.ttft_ms.value);
        case rank_metric::tpot: return fmt_ms(p.tpot_ms.value);
    }
    return "";
}

inline std::string why_line(const layout_ranking& r) {
    if (r.ranked.empty()) return "";
    const ranked_layout& a = r.ranked[0];
    const perf_prediction& pa = a.prediction;
    std::string s = fmt::format("{} wins on {}: {}", a.label, metric_phrase(r.metric), metric_fmt(pa, r.metric));
    if (r.ranked.size() < 2) return s + "; it is the only layout that fits the workload";
    const ranked_layout& b = r.ranked[1];
    const perf_prediction& pb = b.prediction;
    s += fmt::format(" against {} for {} (next best)", metric_fmt(pb, r.metric), b.label);
    const double ba = std::floor(pa.batch) * a.parallel.dp, bb = std::floor(pb.batch) * b.parallel.dp;
    if (r.metric == rank_metric::ttft)
        s += fmt::format(": its prefill takes {} against {}{}", fmt_ms(pa.prefill_ms), fmt_ms(pb.prefill_ms),
                         pa.kv_limited != pb.kv_limited ? (pa.kv_limited ? ", though its clients queue for KV slots" : ", and no client queues for a KV slot")
                                                        : "");
    else if (r.metric == rank_metric::tpot)
        s += fmt::format(": its decode step takes {} at batch {:g} against {} at batch {:g} ({} binds)", fmt_ms(pa.decode_ms), std::floor(pa.batch),
                         fmt_ms(pb.decode_ms), std::floor(pb.batch), pa.decode.bottleneck);
    else if (ba > bb)
        s += fmt::format(": it decodes {:g} requests at once against {:g}{}, with a {} step against {} ({} binds)", ba, bb,
                         pb.kv_limited ? " (the other's KV cache caps its batch)" : "", fmt_ms(pa.decode_ms), fmt_ms(pb.decode_ms),
                         pa.decode.bottleneck);
    else
        s += fmt::format(": it decodes {:g} requests at once against {:g}{}, but each step takes {} against {} ({} binds)", ba, bb,
                         pa.kv_limited ? " (its KV cache caps the batch)" : "", fmt_ms(pa.decode_ms), fmt_ms(pb.decode_ms), pa.decode.bottleneck);
    const double va = metric_value(pa, r.metric), vb = metric_value(pb, r.metric);
    const error_band band = r.metric == rank_metric::throughput ? perf_band_throughput()
                            : r.metric == rank_metric::ttft     ? perf_band_ttft()
                                                                : perf_band_tpot();
    const double ratio = std::max(va, vb) / std::max(1e-12, std::min(va, vb));
    if (ratio < band.high / band.low) s += fmt::format("; the {:.0f}% lead is inside the model's error range, so measure both", 100 * (ratio - 1));
    if (r.slo_tpot_ms && !a.meets_slo) s += fmt::format("; no layout meets the TPOT SLO of {:g} ms", *r.slo_tpot_ms);
    return s;
}
}  // namespace detail

DSDEPLOY_INLINE layout_ranking rank_layouts(const cluster& c, const model_spec& m, const plan_options& o, const perf_network& net, const workload& w,
                                            rank_metric metric, std::optional<double> slo_tpot_ms, const engine_profile& e) {
    layout_ranking r;
    r.load = w;
    r.metric = metric;
    r.slo_tpot_ms = slo_tpot_ms;
    if (c.nodes.empty() || c.total_gpus() <= 0) {
        r.why = "no GPUs in the cluster: the performance model covers GPUs only";
        return r;
    }
    const node& first = c.nodes.front();
    const gpu_spec& g = require_gpu(first.gpu_type, "nodes[0].gpu_type");
    const int per_node = first.gpus();
    const int devices = c.total_gpus();
    const int nodes = static_cast<int>(c.nodes.size());
    const int len = static_cast<int>(std::ceil(w.input_len + w.output_len));

    std::vector<double> utils = {o.gpu_memory_utilization};
    for (double u : {0.95, max_practical_utilization})
        if (u > o.gpu_memory_utilization + 1e-9) utils.push_back(u);
    const dtype kv_default = o.kv_cache_dtype.value_or(default_kv_dtype(m));
    r.utilizations = fmt::format("{:.2f}", fmt::join(utils, "/"));
    r.kv_dtypes = kv_default == dtype::fp8 ? "FP8" : std::string(to_string(kv_default)) + " and FP8";
    std::vector<std::optional<dtype>> kvs = {o.kv_cache_dtype};
    if (kv_default != dtype::fp8) kvs.push_back(dtype::fp8);
    std::vector<model_spec> models = {m};
    std::string current_label;
    if (m.weights.type != dtype::int4) models.push_back(with_weights(m, weight_format{dtype::int4, 0, 128, "awq"}));

    for (int tp = 1; tp <= devices; ++tp) {
        if (devices % tp != 0 || m.num_attention_heads % tp != 0) continue;
        const bool cross = tp > per_node;
        if (cross ? tp % per_node != 0 : per_node % tp != 0) continue;
        for (int dp = 1; dp <= devices / tp; ++dp) {
            if ((devices / tp) % dp != 0) continue;
            const int pp = devices / tp / dp;
            if (pp > m.num_layers) continue;
            const parallelism par{tp, pp, dp, m.is_moe() && dp > 1};
            for (const model_spec& mm : models)
                for (const auto& kv : kvs)
                    for (double u : utils) {
                        ranked_layout cand;
                        cand.parallel = par;
                        cand.cross_node_tp = cross;
                        cand.options = o;
                        cand.options.parallel = par;
                        cand.options.gpu_memory_utilization = u;
                        cand.options.kv_cache_dtype = kv;
                        cand.options.max_model_len = len;
                        cand.options.allow_cross_node_tp = cross;
                        cand.options.pp_layer_partition.clear();
                        const bool int4 = mm.weights.type == dtype::int4 && m.weights.type != dtype::int4;
                        cand.weights = int4 ? "int4 (4-bit checkpoint, group 128)" : std::string(to_string(mm.weights.type));
                        cand.label = detail::layout_label(par, cross, u, kv && *kv == dtype::fp8 && kv_default != dtype::fp8, int4);
                        if (o.parallel && o.parallel->tp == par.tp && o.parallel->pp == par.pp && o.parallel->dp == par.dp &&
                            u == o.gpu_memory_utilization && kv == o.kv_cache_dtype && !int4)
                            current_label = cand.label;
                        ++r.candidates;
                        try {
                            validate_plan(c, mm, par, cand.options);
                        } catch (const config_error& err) {
                            cand.rejected = err.detail();
                            r.rejected.push_back(std::move(cand));
                            continue;
                        }
                        const std::vector<int> part = default_pp_partition(mm.num_layers, pp);
                        cand.memory = account_memory(mm, g, par, cand.options, part);
                        if (!cand.memory.fits) {
                            cand.rejected = cand.memory.kv_cache_gib <= 0
                                                ? fmt::format("weights ({:.2f} GiB per GPU) and headroom leave no KV cache", cand.memory.weights_gib)
                                                : fmt::format("the KV cache holds {} tokens, less than one {}-token request", cand.memory.kv_tokens, len);
                            r.rejected.push_back(std::move(cand));
                            continue;
                        }
                        plan pl;
                        pl.model = mm;
                        pl.gpu = g;
                        pl.nodes = nodes;
                        pl.gpus_per_node = per_node;
                        pl.parallel = par;
                        pl.options = cand.options;
                        pl.layer_partition = part;
                        pl.memory_checked = true;
                        pl.memory = cand.memory;
                        cand.prediction = predict_performance(pl, net, w, e);
                        cand.meets_slo = !slo_tpot_ms || cand.prediction.tpot_ms.value <= *slo_tpot_ms;
                        // A higher utilization that holds no larger batch adds nothing: keep the lower one.
                        if (!r.ranked.empty()) {
                            const ranked_layout& prev = r.ranked.back();
                            if (prev.parallel.tp == par.tp && prev.parallel.pp == par.pp && prev.parallel.dp == par.dp && prev.weights == cand.weights &&
                                prev.options.kv_cache_dtype == kv && prev.prediction.batch >= cand.prediction.batch) {
                                ++r.duplicates;
                                continue;
                            }
                        }
                        r.ranked.push_back(std::move(cand));
                    }
        }
    }
    std::stable_sort(r.ranked.begin(), r.ranked.end(), [&](const ranked_layout& a, const ranked_layout& b) { return detail::better(a, b, metric); });
    if (!current_label.empty()) {
        for (std::size_t k = 0; k < r.ranked.size() && !r.current; ++k)
            if (r.ranked[k].label == current_label) r.current = r.ranked[k], r.current_rank = k + 1;
        for (std::size_t k = 0; k < r.rejected.size() && !r.current; ++k)
            if (r.rejected[k].label == current_label) r.current = r.rejected[k];
    }
    r.why = r.ranked.empty() ? fmt::format("no layout of the {} {} GPUs holds one {}-token request", devices, g.name, len) : detail::why_line(r);
    return r;
}

// --- output ----------------------------------------------------------------------------------------

DSDEPLOY_INLINE std::string to_text(const perf_prediction& p) {
    using detail::fmt_ms;
    using detail::fmt_num;
    std::string s;
    auto line = [&](const char* name, const estimate& e, const std::string& v, const std::string& lo, const std::string& hi) {
        s += fmt::format("  {:<16} {:>12}  [{} - {}]  {}\n", name, v, lo, hi, to_string(e.source));
    };
    line("TTFT", p.ttft_ms, fmt_ms(p.ttft_ms.value), fmt_ms(p.ttft_ms.low), fmt_ms(p.ttft_ms.high));
    line("TPOT / ITL", p.tpot_ms, fmt_ms(p.tpot_ms.value), fmt_ms(p.tpot_ms.low), fmt_ms(p.tpot_ms.high));
    line("output", p.output_tok_s, fmt_num(p.output_tok_s.value) + " tok/s", fmt_num(p.output_tok_s.low), fmt_num(p.output_tok_s.high));
    line("total", p.total_tok_s, fmt_num(p.total_tok_s.value) + " tok/s", fmt_num(p.total_tok_s.low), fmt_num(p.total_tok_s.high));
    line("requests", p.requests_s, fmt::format("{:.3g} req/s", p.requests_s.value), fmt::format("{:.3g}", p.requests_s.low),
         fmt::format("{:.3g}", p.requests_s.high));
    s += fmt::format("  {:<16} {:>12}  {}\n", "KV cache holds", fmt::format("{:g} req", p.kv_max_concurrency.value), p.kv_max_concurrency.basis);
    s += fmt::format("  {:<16} {:>12}  per replica{}\n", "batch decoded", fmt::format("{:g}", std::floor(p.batch)),
                     p.kv_limited ? ": limited by the KV cache, the other clients queue" : "");
    s += fmt::format("  decode step {}: HBM {} | tensor {} | TP {} | PP hand-off {} | overhead {}{} -> {} ({:.0f}%)\n", fmt_ms(p.decode_ms),
                     fmt_ms(p.decode.hbm_ms), fmt_ms(p.decode.tensor_ms), fmt_ms(p.decode.tp_collective_ms), fmt_ms(p.decode.pp_handoff_ms),
                     fmt_ms(p.decode.overhead_ms), p.decode.bubble_ms > 0 ? " | bubble " + fmt_ms(p.decode.bubble_ms) : std::string(),
                     p.decode.bottleneck, 100 * p.decode.bottleneck_share);
    s += fmt::format("  prefill {}: tensor {} | TP {} | PP hand-off {} -> {} ({:.0f}%)\n", fmt_ms(p.prefill_ms), fmt_ms(p.prefill.tensor_ms),
                     fmt_ms(p.prefill.tp_collective_ms), fmt_ms(p.prefill.pp_handoff_ms), p.prefill.bottleneck, 100 * p.prefill.bottleneck_share);
    s += "  provenance: " + p.tpot_ms.basis + "\n";
    for (const auto& a : p.assumptions) s += "  assumes: " + a + "\n";
    return s;
}

DSDEPLOY_INLINE std::string to_text(const layout_ranking& r, std::size_t top) {
    using detail::fmt_ms;
    using detail::fmt_num;
    std::string s = fmt::format("Performance (predicted) for {}, ranked by {}{}\n", to_string(r.load), detail::metric_phrase(r.metric),
                                r.slo_tpot_ms ? fmt::format(" with TPOT <= {:g} ms", *r.slo_tpot_ms) : std::string());
    s += fmt::format("{} of {} candidates fit one {:g}-token request and are ranked (every TP x PP x DP on these GPUs, at utilization {}, "
                     "with {} KV cache, with the checkpoint's weights and a 4-bit checkpoint; {} higher utilizations that hold no larger batch "
                     "left out)\n",
                     r.ranked.size(), r.candidates, r.load.input_len + r.load.output_len, r.utilizations, r.kv_dtypes, r.duplicates);
    if (!r.ranked.empty()) {
        s += fmt::format("  {:>2}  {:<62} {:>6} {:>20} {:>22} {:>18}  {}\n", "#", "layout", "batch", "TPOT [range]", "output tok/s [range]",
                         "TTFT [range]", "decode bound by");
        for (std::size_t k = 0; k < r.ranked.size() && k < top; ++k) {
            const auto& x = r.ranked[k];
            const auto& p = x.prediction;
            s += fmt::format("  {:>2}  {:<62} {:>6} {:>20} {:>22} {:>18}  {}{}{}\n", k + 1, x.label, fmt::format("{:g}", std::floor(p.batch)),
                             fmt::format("{} [{}-{}]", fmt_ms(p.tpot_ms.value), fmt_num(p.tpot_ms.low), fmt_num(p.tpot_ms.high)),
                             fmt::format("{} [{}-{}]", fmt_num(p.output_tok_s.value), fmt_num(p.output_tok_s.low), fmt_num(p.output_tok_s.high)),
                             fmt::format("{} [{}-{}]", fmt_ms(p.ttft_ms.value), fmt_ms(p.ttft_ms.low), fmt_ms(p.ttft_ms.high)),
                             p.decode.bottleneck, x.meets_slo ? "" : "  (misses the SLO)",
                             p.tpot_ms.source == provenance::extrapolated ? "  *" : "");
        }
        if (r.ranked.size() > top) s += fmt::format("  ... and {} more (--json lists all)\n", r.ranked.size() - top);
        s += "Why: " + r.why + "\n";
        if (r.current && r.current_rank == 0)
            s += fmt::format("The plan's layout ({}) does not fit one {:g}-token request: {}\n", r.current->label,
                             r.load.input_len + r.load.output_len, r.current->rejected);
        else if (r.current && r.current_rank > 1)
            s += fmt::format("The plan's layout ({}) ranks #{} of {}:\n{}", r.current->label, r.current_rank, r.ranked.size(),
                             to_text(r.current->prediction));
        s += std::string(r.current_rank == 1 ? "The winner is the plan's layout" : "Winner") + " in detail:\n" + to_text(r.ranked[0].prediction);
        if (r.ranked[0].prediction.tpot_ms.source == provenance::extrapolated) s += "  (* extrapolated: see provenance)\n";
    } else {
        s += "Why: " + r.why + "\n";
    }
    return s;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const estimate& e) {
    j = {{"value", e.value}, {"low", e.low}, {"high", e.high}, {"provenance", to_string(e.source)}, {"basis", e.basis}};
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const perf_prediction& p) {
    auto phase = [](const phase_parts& ph) {
        return nlohmann::json{{"hbm_ms", ph.hbm_ms},
                              {"tensor_ms", ph.tensor_ms},
                              {"tp_collective_ms", ph.tp_collective_ms},
                              {"pp_handoff_ms", ph.pp_handoff_ms},
                              {"overhead_ms", ph.overhead_ms},
                              {"bubble_ms", ph.bubble_ms},
                              {"bottleneck", ph.bottleneck},
                              {"bottleneck_share", ph.bottleneck_share}};
    };
    j = {{"ttft_ms", p.ttft_ms},
         {"tpot_ms", p.tpot_ms},
         {"itl_ms", p.tpot_ms},
         {"output_tok_s", p.output_tok_s},
         {"total_tok_s", p.total_tok_s},
         {"requests_s", p.requests_s},
         {"kv_max_concurrency", p.kv_max_concurrency},
         {"kv_tokens_per_replica", p.kv_tokens},
         {"engine_max_seqs", p.engine_max_seqs},
         {"batch", p.batch},
         {"decode_step_ms", p.decode_ms},
         {"prefill_ms", p.prefill_ms},
         {"kv_limited", p.kv_limited},
         {"fits", p.fits},
         {"decode", phase(p.decode)},
         {"prefill", phase(p.prefill)},
         {"assumptions", p.assumptions}};
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const layout_ranking& r) {
    nlohmann::json ranked = nlohmann::json::array();
    for (std::size_t k = 0; k < r.ranked.size(); ++k) {
        const auto& x = r.ranked[k];
        ranked.push_back({{"rank", k + 1},
                          {"label", x.label},
                          {"tp", x.parallel.tp},
                          {"pp", x.parallel.pp},
                          {"dp", x.parallel.dp},
                          {"expert_parallel", x.parallel.ep},
                          {"cross_node_tp", x.cross_node_tp},
                          {"gpu_memory_utilization", x.options.gpu_memory_utilization},
                          {"kv_cache_dtype", std::string(to_string(x.memory.kv_dtype))},
                          {"weights", x.weights},
                          {"meets_slo", x.meets_slo},
                          {"kv_tokens", x.memory.kv_tokens},
                          {"prediction", x.prediction}});
    }
    j = {{"workload",
          {{"input_len", r.load.input_len},
           {"output_len", r.load.output_len},
           {"load", r.load.load == load_kind::closed ? "closed" : r.load.load == load_kind::burst ? "burst" : "open"},
           {"concurrency", r.load.concurrency},
           {"num_prompts", r.load.num_prompts},
           {"request_rate", r.load.request_rate}}},
         {"rank_by", to_string(r.metric)},
         {"slo_tpot_ms", r.slo_tpot_ms ? nlohmann::json(*r.slo_tpot_ms) : nlohmann::json(nullptr)},
         {"candidates", r.candidates},
         {"duplicates_left_out", r.duplicates},
         {"fitting", r.ranked.size()},
         {"why", r.why},
         {"current_layout", r.current ? nlohmann::json{{"label", r.current->label},
                                                        {"rank", r.current_rank},
                                                        {"fits", r.current_rank > 0},
                                                        {"rejected", r.current->rejected},
                                                        {"prediction", r.current_rank > 0 ? nlohmann::json(r.current->prediction) : nlohmann::json(nullptr)}}
                                      : nlohmann::json(nullptr)},
         {"ranked", ranked}};
}

DSDEPLOY_NAMESPACE_END
