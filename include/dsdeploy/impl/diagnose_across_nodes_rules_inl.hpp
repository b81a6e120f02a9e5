// SPDX-License-Identifier: Apache-2.0
// The rule sets across nodes: fabric.mismatch when the nodes' RDMA hardware differs or NCCL uses
// RDMA on some nodes and TCP on others; ray.node_ip_mismatch when the IPs Ray knows, the node:<ip>
// a driver asked for, VLLM_HOST_IP and the planned addresses disagree.
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

DSDEPLOY_INLINE void fabric_agreement_rules(finder& f, cluster_facts& c) {
    const auto& detections = c.detections;
    const auto& nccl_nets = c.nccl_nets;
    if (detections.size() >= 2)
        for (const auto& w : agree(detections).warnings)
            f.add("fabric.mismatch", severity::warning, "", "ibv_devinfo", "the nodes' RDMA hardware differs", w,
                  "Give every node the same RDMA hardware and link layer, or plan for what all of them share.");
    {
        std::set<bool> kinds;  // true: IB/RoCE
        for (const auto& [node_name, l] : nccl_nets) kinds.insert(!has(l.text, "Socket"));
        if (kinds.size() > 1) {
            std::vector<std::string> lines;
            for (const auto& [node_name, l] : nccl_nets) lines.push_back(node_name + ": " + l.text);
            f.add("fabric.mismatch", severity::warning, "", "nccl_log", "NCCL uses RDMA on some nodes and TCP on others",
                  detail::join(lines, "\n"),
                  "Give every node the same RDMA setup (devices visible, NCCL_IB_HCA, NCCL_IB_DISABLE=0); the slowest node's "
                  "transport sets the pace for all of them.");
        }
    }
}

DSDEPLOY_INLINE void node_ip_rules(finder& f, cluster_facts& c) {
    const auto& expected_ips = c.expected_ips;
    const auto& ray_ips = c.ray_ips;
    const auto& requested_ips = c.requested_ips;
    const auto& host_ips = c.host_ips;
    // the lists in messages are built once and say at most 16 addresses (a log can name thousands)
    auto listed = [](auto begin, auto end, std::size_t total) {
        std::vector<std::string> out;
        for (auto it = begin; it != end && out.size() < 16; ++it) out.push_back(*it);
        if (total > out.size()) out.push_back("... " + std::to_string(total - out.size()) + " more");
        return detail::join(out, ", ");
    };
    std::vector<std::string> ray_ip_list;
    for (const auto& kv : ray_ips) {
        if (ray_ip_list.size() >= 16) break;
        ray_ip_list.push_back(kv.first);
    }
    const std::string known = listed(ray_ip_list.begin(), ray_ip_list.end(), ray_ips.size());
    const std::string planned = listed(expected_ips.begin(), expected_ips.end(), expected_ips.size());
    const std::string id = "ray.node_ip_mismatch";
    if (!expected_ips.empty())
        for (const auto& [ip, where] : ray_ips)
            if (!expected_ips.count(ip)) {
                if (!f.room(id, where.node)) {
                    f.note_more(id, where.node, 1);
                    continue;
                }
                f.add("ray.node_ip_mismatch", severity::error, where.node, where.source,
                      "Ray knows a node by " + ip + ", which is not any planned node address (" + planned + ")", where.line, fix_ip);
            }
    for (const auto& w : requested_ips) {
        const bool unknown_to_ray = !ray_ips.empty() && !ray_ips.count(w.ip);
        const bool unplanned = ray_ips.empty() && !expected_ips.empty() && !expected_ips.count(w.ip);
        if (!unknown_to_ray && !unplanned) continue;
        if (!f.room(id, w.node)) {
            f.note_more(id, w.node, 1);
            continue;
        }
        f.add("ray.node_ip_mismatch", severity::error, w.node, "vllm_log",
              "the request is pinned to node:" + w.ip + " but " +
                  (unknown_to_ray ? "Ray has no node with that IP (Ray's nodes: " + known + ")" : std::string("that is not any planned node address")),
              w.line, fix_ip);
    }
    for (const auto& h : host_ips)
        if (!ray_ips.empty() && !ray_ips.count(h.ip))
            f.add("ray.node_ip_mismatch", severity::error, h.node, "probe",
                  "VLLM_HOST_IP " + h.ip + " is not the IP of any Ray node (" + known + ")", h.line, fix_ip);
}

}  // namespace diag
}  // namespace detail

DSDEPLOY_NAMESPACE_END
