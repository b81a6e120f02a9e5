// SPDX-License-Identifier: Apache-2.0
// The versions rule set: every node's versions (declared, and read from nvidia-smi, NCCL and vLLM
// output by the other rule sets) collected per key, then version.skew for a key that differs
// between nodes (an error for vllm, ray, python, torch and the image).
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

DSDEPLOY_INLINE void collect_versions(cluster_facts& c, const node_facts& n) {
    const std::string& nn = n.node.name;
    for (auto& kv : n.versions)
        if (!kv.second.empty()) c.versions[kv.first].emplace_back(nn, kv.second);
}

DSDEPLOY_INLINE void version_rules(finder& f, cluster_facts& c) {
    const auto& versions = c.versions;
    for (const auto& [key, list] : versions) {
        std::set<std::string> distinct;
        for (const auto& p : list) distinct.insert(p.second);
        if (distinct.size() < 2) continue;
        std::vector<std::string> parts;
        for (const auto& p : list) parts.push_back(p.first + ": " + p.second);
        const bool hard = key == "vllm" || key == "ray" || key == "python" || key == "torch" || key == "image";
        f.add("version.skew", hard ? severity::error : severity::warning, "", "versions", key + " differs between nodes",
              key + " " + detail::join(parts, "; "),
              "Run the same container image (or the same package versions) on every node; Ray needs the same Ray and Python version on "
              "all nodes, and vLLM workers must match the driver.");
    }
}

}  // namespace diag
}  // namespace detail

DSDEPLOY_NAMESPACE_END
