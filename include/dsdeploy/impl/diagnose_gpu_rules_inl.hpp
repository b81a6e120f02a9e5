// SPDX-License-Identifier: Apache-2.0
// The GPU rule set (nvidia-smi and topo -m): gpu.driver_unavailable (but not the driver/library
// mismatch: diagnose_events_rules_inl.hpp), gpu.too_few,
// gpu.memory_in_use, topo.no_nvlink; the driver and CUDA versions go to the node's versions.
#pragma once

#include <dsdeploy/detail/diagnose_text.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/impl/diagnose_rules_inl.hpp>
#include <dsdeploy/network.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
namespace diag {

DSDEPLOY_INLINE void gpu_rules(finder& f, const expectations&, cluster_facts&, node_facts& n) {
    const node_evidence& node = n.node;
    const std::string& nn = node.name;
    const expected_node* exp = n.exp;
    auto& ver = n.versions;
    if (node.nvidia_smi) {
        auto s = parse_nvidia_smi(*node.nvidia_smi);
        if (!s.driver_version.empty()) ver.emplace("driver", s.driver_version);
        if (!s.cuda_version.empty()) ver.emplace("cuda", s.cuda_version);
        const bool wants_gpus = exp && exp->gpus > 0;
        // "Driver/library version mismatch" is gpu.driver_library_mismatch (the rule set for failure lines in any log)
        const bool mismatch = s.failure && has(detail::to_lower(s.failure->text), "driver/library version mismatch");
        if (mismatch) {
            // reported by event_rules, which reads this output too
        } else if (s.failure || (s.tool_missing && s.gpus.empty() && wants_gpus)) {
            f.add("gpu.driver_unavailable", severity::error, nn, "nvidia_smi",
                  s.failure ? "nvidia-smi cannot reach the GPUs" : "nvidia-smi is not installed on a node that should have GPUs",
                  s.failure ? s.failure->text : find_line(*node.nvidia_smi, "nvidia-smi"),
                  "Install and load the NVIDIA driver on the host (`nvidia-smi` must list the GPUs); in containers use the NVIDIA "
                  "Container Toolkit (`--gpus all`, or a GPU reservation in compose).");
        } else if (wants_gpus && s.format != nvidia_smi_format::unknown && static_cast<int>(s.gpus.size()) < exp->gpus) {
            f.add("gpu.too_few", severity::error, nn, "nvidia_smi",
                  "nvidia-smi lists " + std::to_string(s.gpus.size()) + " GPU(s) but the plan puts " + std::to_string(exp->gpus) + " on this node",
                  s.gpus.empty() ? std::string() : s.gpus.back().line,
                  "Check that every GPU is visible: CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES, the container's GPU reservation, and "
                  "`nvidia-smi` on the host (a GPU that fell off the bus shows as Xid 79 in `dmesg`); or change the node's GPU count.");
        }
        for (const auto& g : s.gpus) {
            if (!g.memory_total_mib || !g.memory_used_mib || *g.memory_total_mib <= 0) continue;
            if (*g.memory_used_mib >= 1024 && *g.memory_used_mib > *g.memory_total_mib / 20)
                f.add("gpu.memory_in_use", severity::warning, nn, "nvidia_smi",
                      "GPU " + std::to_string(g.index) + " already has " + std::to_string(*g.memory_used_mib) + " of " +
                          std::to_string(*g.memory_total_mib) + " MiB in use before serving",
                      g.line,
                      "Stop the processes that hold GPU memory (`nvidia-smi --query-compute-apps=pid,used_memory --format=csv`): "
                      "--gpu-memory-utilization is a share of the whole GPU, so memory held by others comes out of the KV cache or "
                      "makes the start fail.");
        }
    }
    if (node.nvidia_smi_topo) {
        auto t = parse_nvidia_smi_topo(*node.nvidia_smi_topo);
        if (t.gpu_count() >= 2) {
            bool nvlink = false;
            std::string sample;
            for (std::size_t i = 0; i < t.devices.size(); ++i)
                for (std::size_t j = 0; j < t.devices.size(); ++j) {
                    if (i == j || !detail::starts_with(t.devices[i], "GPU") || !detail::starts_with(t.devices[j], "GPU")) continue;
                    const auto& l = t.links[i][j];
                    if (detail::starts_with(l, "NV")) nvlink = true;
                    if (sample.empty() && !l.empty()) sample = t.devices[i] + " - " + t.devices[j] + ": " + l;
                }
            if (!nvlink && !sample.empty())
                f.add("topo.no_nvlink", severity::info, nn, "nvidia_smi_topo",
                      "no NVLink between this node's GPUs: tensor parallelism inside the node goes over PCIe", sample,
                      "Expect lower throughput from tensor parallelism here; a layout with less TP and more PP may serve faster.");
        }
    }
}

}  // namespace diag
}  // namespace detail

DSDEPLOY_NAMESPACE_END
