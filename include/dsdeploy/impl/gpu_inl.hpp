// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/gpu.hpp>

#include <utility>

DSDEPLOY_NAMESPACE_BEGIN

// Sources: ../shared/reference/model-hw-facts.md §3 (NVIDIA datasheets; dense TFLOPS) and the
// "total capacity of X GiB" that PyTorch prints in out-of-memory messages on each card.
// memory_gib is always PyTorch's figure (torch.cuda.mem_get_info()'s total, what vLLM's
// gpu_memory_utilization multiplies), never nvidia-smi's "Total", which is 0.45-0.85 GiB more on
// these cards; nvidia-smi's MiB is kept in memory_source for comparison.
DSDEPLOY_INLINE const std::vector<gpu_spec>& gpu_catalog() {
    static const std::vector<gpu_spec> catalog = {
        {"L20", 44.53, 48, 864, 8.9, true, false, 32, "PyTorch 'total capacity of 44.53 GiB' (nvidia-smi 46068 MiB)"},
        {"L40S", 44.39, 48, 864, 8.9, true, false, 32, "PyTorch 'total capacity of 44.39 GiB' (nvidia-smi 46068 MiB)"},
        {"A100-40GB", 39.39, 40, 1555, 8.0, false, true, 600, "PyTorch 'total capacity of 39.39 GiB' (nvidia-smi 40960 MiB)"},
        {"A100-80GB", 79.15, 80, 2039, 8.0, false, true, 600, "PyTorch 'total capacity of 79.15 GiB' (nvidia-smi 81920 MiB)"},
        {"A800", 79.15, 80, 2039, 8.0, false, true, 400, "PyTorch 'total capacity of 79.15 GiB' (nvidia-smi 81920 MiB)"},
        {"H100-SXM", 79.11, 80, 3350, 9.0, true, true, 900, "PyTorch 'total capacity of 79.11 GiB' (nvidia-smi 81559 MiB)"},
        {"H100-PCIe", 79.11, 80, 2000, 9.0, true, false, 64, "PyTorch 'total capacity of 79.11 GiB' (nvidia-smi 81559 MiB)"},
        {"H800", 79.11, 80, 3350, 9.0, true, true, 400, "PyTorch 'total capacity of 79.11 GiB' (nvidia-smi 81559 MiB)"},
        {"H20", 94.99, 96, 4000, 9.0, true, true, 900, "PyTorch 'total capacity of 94.99 GiB' (nvidia-smi 97871 MiB)"},
        {"H200", 139.81, 141, 4800, 9.0, true, true, 900,
         "PyTorch 'total capacity of 139.81 GiB' (OOM messages on 8 x H200 in public issue threads) (nvidia-smi 143771 MiB, "
         "fixtures/gpu/nvidia-smi.txt)"},
        // Volta: no BF16 and no FP8 path in vLLM (compute capability 7.0); in the catalog so the
        // planner can say so (quantization_rules()).
        {"V100-32GB", 31.75, 32, 900, 7.0, false, true, 300,
         "PyTorch 'total capacity of 31.75 GiB' (public OOM reports) (nvidia-smi 32510 MiB)"},
    };
    return catalog;
}

namespace detail {
inline std::string normalize_gpu_name(std::string_view name) {
    std::string out;
    for (char c : to_lower(trim(name)))
        if (c != ' ' && c != '_' && c != '-') out += c;
    if (starts_with(out, "nvidia")) out.erase(0, 6);
    return out;
}
}  // namespace detail

DSDEPLOY_INLINE const gpu_spec* find_gpu(std::string_view name) {
    static const std::pair<const char*, const char*> aliases[] = {
        {"h100", "H100-SXM"},        {"h100sxm5", "H100-SXM"},  {"h10080gbhbm3", "H100-SXM"},
        {"h100pcie80gb", "H100-PCIe"}, {"a100", "A100-80GB"},  {"a100sxm480gb", "A100-80GB"},
        {"a10080gbpcie", "A100-80GB"}, {"a100sxm440gb", "A100-40GB"}, {"a100pcie40gb", "A100-40GB"},
        {"a80080gb", "A800"},        {"a800sxm480gb", "A800"}, {"h800sxm", "H800"},
        {"h20196gb", "H20"},         {"h2096gb", "H20"},       {"h200sxm", "H200"},
        {"h200141gb", "H200"},       {"l40s48gb", "L40S"},     {"l2048gb", "L20"},
        {"v100", "V100-32GB"},       {"teslav100sxm232gb", "V100-32GB"}, {"v100sxm232gb", "V100-32GB"},
    };
    const std::string key = detail::normalize_gpu_name(name);
    if (key.empty()) return nullptr;
    for (const auto& g : gpu_catalog())
        if (detail::normalize_gpu_name(g.name) == key) return &g;
    for (const auto& [alias, target] : aliases)
        if (key == alias) return find_gpu(target);
    return nullptr;
}

DSDEPLOY_INLINE const gpu_spec& require_gpu(std::string_view name, const std::string& field) {
    if (const gpu_spec* g = find_gpu(name)) return *g;
    std::vector<std::string> names;
    for (const auto& g : gpu_catalog()) names.push_back(g.name);
    raise(errc::gpu_unknown, field,
          "unknown GPU type \"" + std::string(name) + "\"; use one of " + detail::one_of(names));
}

DSDEPLOY_NAMESPACE_END
