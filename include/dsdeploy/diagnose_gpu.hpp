// SPDX-License-Identifier: Apache-2.0
// GPU evidence for the diagnosis: parsers for `nvidia-smi` (the default table, `-L`, and
// `--query-gpu ... --format=csv`) and `nvidia-smi topo -m` (the link between every pair of
// devices). Like every diagnose parser they take any text and never throw; what they do not
// recognise they ignore. The GPU rule set that judges these reports is
// impl/diagnose_gpu_rules_inl.hpp, run by diagnose() (diagnose.hpp).
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

struct gpu_device {
    int index = -1;
    std::string name;     // "NVIDIA H200"
    std::string uuid;     // "GPU-e42a..."
    std::string bus_id;   // "00000000:00:06.0"
    std::optional<std::int64_t> memory_total_mib, memory_used_mib, memory_free_mib;
    std::optional<int> utilization_percent;
    std::string line;     // the line that carries the memory figures (or the GPU's line)
};

enum class nvidia_smi_format { unknown, table, list, csv };

struct nvidia_smi_report {
    nvidia_smi_format format = nvidia_smi_format::unknown;
    std::vector<gpu_device> gpus;
    std::string driver_version;  // "580.159.04"
    std::string cuda_version;    // "13.0"
    bool tool_missing = false;   // the shell said nvidia-smi is not installed
    std::optional<log_line> failure;  // "NVIDIA-SMI has failed ...", "No devices were found"
};

// Reads the default table, `-L`, or `--query-gpu ... --format=csv` with or without header and
// units. A CSV without header is read by position as index, name, memory.total, memory.used,
// memory.free (the columns in that order are the common query); fields that do not fit are skipped.
nvidia_smi_report parse_nvidia_smi(std::string_view text);

// `nvidia-smi topo -m`: the link between every pair of devices ("X", "NV18", "PIX", "SYS"...).
struct gpu_topology {
    std::vector<std::string> devices;             // column order: "GPU0".."GPU7", "NIC0"...
    std::vector<std::vector<std::string>> links;  // links[i][j] between devices[i] and devices[j]
    std::map<std::string, std::string> nics;      // "NIC0" -> "mlx5_0" (the NIC legend)

    int gpu_count() const;
    // The link between two devices by name; empty when unknown.
    std::string link(std::string_view a, std::string_view b) const;
};
gpu_topology parse_nvidia_smi_topo(std::string_view text);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/diagnose_gpu_inl.hpp>
#endif
