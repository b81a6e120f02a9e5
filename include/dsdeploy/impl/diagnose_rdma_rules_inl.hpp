// SPDX-License-Identifier: Apache-2.0
// The RDMA rule set: the fabric the plan asked for against the node's ACTIVE ports (ibv_devinfo,
// else sysfs): rdma.missing, fabric.mismatch, rdma.port_down; and, once NCCL's log is read,
// roce.gid_index_unset.
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

DSDEPLOY_INLINE void rdma_rules(finder& f, const expectations& ex, cluster_facts& c, node_facts& n) {
    const node_evidence& node = n.node;
    const std::string& nn = node.name;
    auto& rdma = n.rdma;
    auto& rdma_source = n.rdma_source;
    auto& det = n.det;
    if (node.ibv_devinfo) {
        auto r = parse_ibv_devinfo(*node.ibv_devinfo);
        if (!r.ports.empty() || r.no_devices || r.tool_missing) {
            rdma = std::move(r);
            rdma_source = "ibv_devinfo";
        }
    }
    if (node.sysfs && (!rdma || (rdma->ports.empty() && !node.sysfs->ports.empty()))) {
        rdma = *node.sysfs;
        rdma_source = "sysfs";
    }
    if (rdma) {
        det = detect_profile(*rdma, ex.interface);
        c.detections.push_back(node_detection{nn, *det});
        if (c.want_rdma) {
            const std::string asked = fabric_name(*ex.fabric_kind);
            if (det->profile.kind == fabric::tcp) {
                std::string evline;
                if (rdma_source == "ibv_devinfo") {
                    for (std::string_view needle : {"No IB devices found", "Failed to get IB devices list", "not found", "No such file", "state:"}) {
                        evline = find_line(*node.ibv_devinfo, needle);
                        if (!evline.empty()) break;
                    }
                } else {
                    evline = rdma->ports.empty() ? "/sys/class/infiniband: no RDMA device" : "/sys/class/infiniband: no ACTIVE port";
                }
                f.add("rdma.missing", severity::error, nn, rdma_source,
                      asked + " was planned but this node shows no ACTIVE " + asked + " port (" + detail::join(det->notes, "; ") +
                          "), so NCCL can only use TCP here",
                      evline,
                      "Install rdma-core and the NIC driver, check the link (`ibstat`: State Active, Physical state LinkUp); in containers "
                      "pass `--device /dev/infiniband`. Or plan for TCP (network fabric \"tcp\") and expect lower throughput.");
            } else if (det->profile.kind != *ex.fabric_kind) {
                f.add("fabric.mismatch", severity::warning, nn, rdma_source,
                      asked + " was planned but this node's ACTIVE RDMA ports are " + fabric_name(det->profile.kind) + " (" +
                          detail::join(det->profile.hcas, ", ") + ")",
                      rdma_source == "ibv_devinfo" ? find_line(*node.ibv_devinfo, "link_layer:") : std::string(),
                      "Declare the fabric the nodes have (" + std::string(to_string(det->profile.kind)) +
                          ") in the inventory, or fix the ports' link layer (`mlxconfig ... LINK_TYPE_P1`).");
            }
            std::size_t reported = 0;
            for (const auto& port : rdma->ports) {
                if (port.state == "ACTIVE") continue;
                if (++reported > max_findings_per_id) break;
                std::string evline = rdma_source == "ibv_devinfo" ? find_line(*node.ibv_devinfo, "state:", port.device)
                                                                  : port.device + " port " + std::to_string(port.port) + " state: " + port.state;
                f.add("rdma.port_down", severity::warning, nn, rdma_source,
                      port.device + " port " + std::to_string(port.port) + " is " + (port.state.empty() ? "in an unknown state" : port.state) +
                          ", so NCCL cannot use it",
                      evline,
                      "Bring the port up (cable, switch port; on InfiniBand a running subnet manager: `ibstat` shows State: Active), "
                      "or leave this HCA out of the network's HCAs.");
            }
        }
    }
}

DSDEPLOY_INLINE void roce_gid_rules(finder& f, const expectations& ex, cluster_facts&, node_facts& n) {
    const node_evidence& node = n.node;
    const std::string& nn = node.name;
    const auto& det = n.det;
    const auto& nccl = n.nccl;
    const auto& rdma_source = n.rdma_source;
    bool roce = (det && det->profile.kind == fabric::roce) || (ex.fabric_kind && *ex.fabric_kind == fabric::roce);
    std::string roce_ev, roce_source = det && det->profile.kind == fabric::roce ? rdma_source : "expectations";
    if (nccl)
        for (const auto& p : nccl->processes)
            for (const auto& dev : p.ib_devices)
                if (detail::ends_with(dev, "/RoCE")) {
                    roce = true;
                    roce_ev = text_of(nccl->ib_devices_line);
                    roce_source = "nccl_log";
                }
    if (roce_ev.empty() && det && det->profile.kind == fabric::roce && node.ibv_devinfo)
        roce_ev = find_line(*node.ibv_devinfo, "link_layer:");
    const bool gid_set = ex.gid_index.has_value() || (nccl && nccl->env.count("NCCL_IB_GID_INDEX") > 0);
    if (roce && !gid_set && (det || nccl)) {
        std::optional<int> hint = det ? det->profile.gid_index : std::nullopt;
        f.add("roce.gid_index_unset", severity::warning, nn, roce_source,
              "RoCE is in use but no GID index is set (NCCL_IB_GID_INDEX)", roce_ev,
              "Set the network's gid_index (NCCL_IB_GID_INDEX) to the RoCE v2 entry of the GID table (`show_gids`, or the "
              "`GID[n]: ..., RoCE v2` line of `ibv_devinfo -v`)" +
                  (hint ? "; on this node it is " + std::to_string(*hint) : std::string()) +
                  ". NCCL >= 2.21 picks one itself; older NCCL takes index 0 and then hangs or fails with completion error 12.");
    }
}

}  // namespace diag
}  // namespace detail

DSDEPLOY_NAMESPACE_END
