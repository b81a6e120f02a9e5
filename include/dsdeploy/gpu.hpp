// SPDX-License-Identifier: Apache-2.0
// The GPU catalog: the numbers a planner needs about each accelerator.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/error.hpp>

#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

struct gpu_spec {
    std::string name;            // catalog key, e.g. "L20", "H100-SXM"
    double memory_gib = 0;       // total memory as PyTorch/vLLM see it (what utilization multiplies), never nvidia-smi's total
    double nominal_gb = 0;       // the marketing figure, decimal GB
    double bandwidth_gbps = 0;   // memory bandwidth, GB/s
    double compute_capability = 0;
    bool fp8 = false;            // native FP8 (W8A8) tensor cores: compute capability >= 8.9
    bool nvlink = false;         // GPU-to-GPU NVLink inside a server (otherwise PCIe)
    double gpu_link_gbps = 0;    // NVLink bandwidth, or the PCIe bandwidth per direction
    std::string memory_source;   // where memory_gib comes from
};

const std::vector<gpu_spec>& gpu_catalog();

// Case-insensitive; accepts aliases such as "h100" (SXM), "nvidia-l20", "a100-80gb".
// Returns nullptr when unknown.
const gpu_spec* find_gpu(std::string_view name);

// Like find_gpu, but throws config_error gpu.unknown naming `field` and listing the catalog.
const gpu_spec& require_gpu(std::string_view name, const std::string& field);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/gpu_inl.hpp>
#endif
