// SPDX-License-Identifier: Apache-2.0
// The NCCL rule set (an NCCL_DEBUG=INFO log): nccl.socket_interface_missing,
// nccl.ib_fallback_to_socket, nccl.ib_completion_error, shm.too_small (segment creation),
// nccl.wrong_interface, nccl.failure. It keeps the node's NCCL report for the RoCE rule and the
// transport that carries its traffic for the across-node fabric rule.
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

DSDEPLOY_INLINE void nccl_rules(finder& f, const expectations& ex, cluster_facts& c, node_facts& n) {
    const node_evidence& node = n.node;
    const std::string& nn = node.name;
    const bool want_rdma = c.want_rdma;
    auto& ver = n.versions;
    auto& nccl = n.nccl;
    auto& nccl_nets = c.nccl_nets;
    if (node.nccl_log) {
        auto r = parse_nccl_log(*node.nccl_log);
        if (!r.versions.empty()) ver.emplace("nccl", r.versions.front());
        bool specific = false;
        if (r.no_socket_interface) {
            auto it = r.env.find("NCCL_SOCKET_IFNAME");
            const std::string iface = it == r.env.end() ? std::string() : it->second;
            f.add("nccl.socket_interface_missing", severity::error, nn, "nccl_log",
                  iface.empty() ? std::string("NCCL found no usable network interface for its bootstrap")
                                : "NCCL_SOCKET_IFNAME=" + iface + " matches no interface on this node, so NCCL cannot start",
                  r.no_socket_interface->text, fix_interface);
            specific = true;
        }
        auto disabled = r.env.find("NCCL_IB_DISABLE");
        const bool ib_disabled = disabled != r.env.end() && disabled->second == "1";
        // "Using network Socket" is printed even by single-node runs, whose traffic goes over P2P/SHM;
        // it matters when the ranks span nodes (or the node count is not in the log), or when a
        // channel actually goes "via NET/Socket".
        bool multi_node = false, node_count_known = false;
        for (const auto& p : r.processes)
            if (p.nnodes) node_count_known = true, multi_node = multi_node || *p.nnodes > 1;
        const bool socket_carries = std::any_of(r.transports.begin(), r.transports.end(),
                                                [](const std::string& t) { return detail::starts_with(t, "NET/Socket"); }) ||
                                    (r.socket_network && (multi_node || !node_count_known));
        if ((r.ib_requested() || want_rdma) && socket_carries && r.socket_network && !r.ib_network) {
            std::string why;
            if (ib_disabled) why = "NCCL_IB_DISABLE=1 turned InfiniBand off";
            else if (r.ib_no_device) why = "NET/IB found no device";
            else if (r.ib_plugin_failed) why = "the IB transport failed to initialise";
            std::string asked = r.ib_requested() ? "InfiniBand/RoCE was asked for (" +
                                                       (r.env.count("NCCL_IB_HCA") ? "NCCL_IB_HCA=" + r.env["NCCL_IB_HCA"] : std::string("NCCL_IB_DISABLE=0")) + ")"
                                                 : fabric_name(*ex.fabric_kind) + " was planned";
            f.add("nccl.ib_fallback_to_socket", severity::error, nn, "nccl_log",
                  asked + " but NCCL used the Socket (TCP) transport" + (why.empty() ? std::string() : ": " + why) +
                      (r.ib_no_device && !ib_disabled ? " (" + r.ib_no_device->text + ")" : std::string()),
                  r.socket_network->text,
                  ib_disabled ? std::string("Remove NCCL_IB_DISABLE=1 (or set it to 0) where `ray start` and `vllm serve` run. ") + fix_ib_fallback
                              : std::string(fix_ib_fallback));
            specific = true;
        }
        if (r.ib_network) nccl_nets.emplace_back(nn, *r.ib_network);
        else if (socket_carries && r.socket_network) nccl_nets.emplace_back(nn, *r.socket_network);
        if (r.ib_completion_error) {
            f.add("nccl.ib_completion_error", severity::error, nn, "nccl_log",
                  "an RDMA transfer failed (work completion error): the NICs cannot talk over RDMA", r.ib_completion_error->text,
                  "On RoCE set NCCL_IB_GID_INDEX to the RoCE v2 GID (`show_gids`) and make sure the switches carry RoCE v2; on "
                  "InfiniBand check the links (`ibstat`); test with `ib_write_bw` between the nodes. NCCL_IB_TIMEOUT=22 lengthens "
                  "the retry window.");
            specific = true;
        }
        if (r.shm_error) {
            f.add("shm.too_small", severity::error, nn, "nccl_log", "NCCL could not create its shared-memory segment in /dev/shm",
                  r.shm_error->text, fix_shm);
            specific = true;
        }
        if (!ex.interface.empty() && r.interface_line) {
            const std::string want = ex.interface.front() == '=' ? ex.interface.substr(1) : ex.interface;
            std::vector<std::string> names;
            for (const auto& p : r.processes)
                for (const auto& i : p.socket_interfaces) add_unique(names, i.substr(0, i.find(':')));
            if (!names.empty() && std::find(names.begin(), names.end(), want) == names.end())
                f.add("nccl.wrong_interface", severity::warning, nn, "nccl_log",
                      "NCCL uses " + detail::join(names, ", ") + ", not the planned interface " + want, r.interface_line->text,
                      fix_interface);
        }
        if (!specific && (!r.errors.empty() || !r.warnings.empty()))
            f.add("nccl.failure", severity::error, nn, "nccl_log", "NCCL reported a failure",
                  !r.errors.empty() ? r.errors.front().text : r.warnings.front().text,
                  "The NCCL WARN line names the call that failed. Run with NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET on every node "
                  "and compare the interface, the transport and the NCCL version across nodes.");
        nccl = std::move(r);
    }
}

}  // namespace diag
}  // namespace detail

DSDEPLOY_NAMESPACE_END
