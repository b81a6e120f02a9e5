// SPDX-License-Identifier: Apache-2.0
// The NCCL rule set (NCCL lines wherever they are: an NCCL_DEBUG=INFO log, a vLLM log, any other
// log): nccl.socket_interface_missing, nccl.ib_fallback_to_socket, nccl.ib_completion_error,
// shm.too_small (segment creation), nccl.version_mismatch, nccl.watchdog_timeout,
// nccl.ibverbs_missing, nccl.wrong_interface (also a broken peer connection), nccl.init_hang,
// nccl.p2p_hang, nccl.failure. It keeps the node's NCCL report for the RoCE rule and the
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

// "2.21.5+cuda12.4" and "2.21.5" are one library.
inline std::vector<std::string> distinct_nccl_versions(const std::vector<std::string>& versions) {
    std::vector<std::string> out;
    for (const auto& v : versions) add_unique(out, v.substr(0, v.find('+')));
    return out;
}

// `more` (a later part of the node's logs) into `into`: what was first stays, what was last is
// replaced, lists are joined (within the parser's caps), processes by host:pid.
inline void merge_nccl(nccl_report& into, const nccl_report& more) {
    into.recognised = into.recognised || more.recognised;
    for (const auto& v : more.versions) add_unique(into.versions, v, 64);
    for (const auto& [k, v] : more.env)
        if (into.env.size() < 256 || into.env.count(k)) into.env[k] = v;
    for (const auto& p : more.processes) {
        auto same = std::find_if(into.processes.begin(), into.processes.end(), [&](const nccl_process& q) { return q.host == p.host && q.pid == p.pid; });
        if (same == into.processes.end()) {
            if (into.processes.size() < 4096) into.processes.push_back(p);
            continue;
        }
        if (same->network.empty() || !p.network.empty()) same->network = p.network.empty() ? same->network : p.network;
        if (!same->rank) same->rank = p.rank;
        if (!same->nranks) same->nranks = p.nranks;
        if (p.nnodes) same->nnodes = p.nnodes;
        if (same->version.empty()) same->version = p.version;
        for (const auto& x : p.socket_interfaces) add_unique(same->socket_interfaces, x, 64);
        for (const auto& x : p.ib_devices) add_unique(same->ib_devices, x, 64);
    }
    for (const auto& x : more.networks) add_unique(into.networks, x, 16);
    for (const auto& x : more.transports) add_unique(into.transports, x, 64);
    auto first = [](std::optional<log_line>& a, const std::optional<log_line>& b) {
        if (!a) a = b;
    };
    auto last = [](std::optional<log_line>& a, const std::optional<log_line>& b) {
        if (b) a = b;
    };
    first(into.ib_no_device, more.ib_no_device);
    first(into.ib_plugin_failed, more.ib_plugin_failed);
    first(into.socket_network, more.socket_network);
    first(into.ib_network, more.ib_network);
    first(into.no_socket_interface, more.no_socket_interface);
    first(into.interface_line, more.interface_line);
    first(into.ib_devices_line, more.ib_devices_line);
    first(into.ib_completion_error, more.ib_completion_error);
    first(into.shm_error, more.shm_error);
    if (!into.ibverbs_missing) into.ibverbs_missing = more.ibverbs_missing;
    if (!into.socket_after_ibverbs && more.socket_after_ibverbs) {
        into.socket_after_ibverbs = more.socket_after_ibverbs;
        into.socket_after_ibverbs_interface = more.socket_after_ibverbs_interface;
    }
    if (!into.watchdog && more.watchdog) {
        into.watchdog = more.watchdog;
        into.watchdog_rank = more.watchdog_rank;
        into.watchdog_op = more.watchdog_op;
        into.watchdog_ip = more.watchdog_ip;
        into.watchdog_seq = more.watchdog_seq;
        into.watchdog_ran_ms = more.watchdog_ran_ms;
    }
    first(into.version_conflict, more.version_conflict);
    first(into.peer_lost, more.peer_lost);
    last(into.init_start, more.init_start);
    last(into.init_complete, more.init_complete);
    last(into.last_line, more.last_line);
    for (const auto& l : more.warnings)
        if (into.warnings.size() < 1000) into.warnings.push_back(l);
    for (const auto& l : more.errors)
        if (into.errors.size() < 1000) into.errors.push_back(l);
}

DSDEPLOY_INLINE void nccl_rules(finder& f, const expectations& ex, cluster_facts& c, node_facts& n) {
    const node_evidence& node = n.node;
    const std::string& nn = node.name;
    const bool want_rdma = c.want_rdma;
    auto& ver = n.versions;
    auto& nccl = n.nccl;
    auto& nccl_nets = c.nccl_nets;
    // NCCL lines wherever they are: an NCCL log, a vLLM log (Ray workers print theirs there), any other log
    std::string text, src;
    {
        std::vector<const std::string*> seen;  // the same output filed in several slots is read once
        const std::pair<const char*, const std::optional<std::string>*> slots[] = {
            {"nccl_log", &node.nccl_log}, {"vllm_log", &node.vllm_log}, {"log", &node.log}};
        for (const auto& [name, slot] : slots) {
            const std::optional<std::string>* given = slot;  // (a lambda may not capture a structured binding in C++17)
            if (!*given || std::any_of(seen.begin(), seen.end(), [&](const std::string* t) { return *t == **given; })) continue;
            seen.push_back(&**slot);
            if (std::string_view(name) != "nccl_log" && !parse_nccl_log(**slot).recognised) continue;
            if (src.empty()) src = name;
            if (!text.empty()) text += "\n";
            text += **slot;
        }
    }
    // and the logs read as streams: their reports are merged as if their texts followed
    std::optional<nccl_report> merged;
    if (!src.empty()) merged = parse_nccl_log(text);
    for (const auto& g : node.streamed) {
        if (g.source != "nccl_log" && !g.nccl.recognised) continue;
        const std::string name = g.source == "output" ? (g.vllm.recognised ? "vllm_log" : g.events.recognised ? "log" : "nccl_log") : g.source;
        if (src.empty()) src = name;
        if (!merged) merged = g.nccl;
        else merge_nccl(*merged, g.nccl);
    }
    if (merged) {
        auto& r = *merged;
        if (!r.versions.empty()) ver.emplace("nccl", r.versions.front());
        bool specific = false;
        if (r.no_socket_interface) {
            auto it = r.env.find("NCCL_SOCKET_IFNAME");
            const std::string iface = it == r.env.end() ? std::string() : it->second;
            f.add("nccl.socket_interface_missing", severity::error, nn, src,
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
            f.add("nccl.ib_fallback_to_socket", severity::error, nn, src,
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
            f.add("nccl.ib_completion_error", severity::error, nn, src,
                  "an RDMA transfer failed (work completion error): the NICs cannot talk over RDMA", r.ib_completion_error->text,
                  "On RoCE set NCCL_IB_GID_INDEX to the RoCE v2 GID (`show_gids`) and make sure the switches carry RoCE v2; on "
                  "InfiniBand check the links (`ibstat`); test with `ib_write_bw` between the nodes. NCCL_IB_TIMEOUT=22 lengthens "
                  "the retry window.");
            specific = true;
        }
        if (r.shm_error) {
            f.add("shm.too_small", severity::error, nn, src, "NCCL could not create its shared-memory segment in /dev/shm",
                  r.shm_error->text, fix_shm);
            specific = true;
        }
        if (r.version_conflict || distinct_nccl_versions(r.versions).size() > 1) {
            const auto vs = distinct_nccl_versions(r.versions);
            f.add("nccl.version_mismatch", severity::error, nn, src,
                  "two NCCL libraries are in play" + (vs.empty() ? std::string() : " (" + detail::join(vs, ", ") + ")") +
                      ": the one loaded is not the one torch was built with, or the ranks load different ones",
                  r.version_conflict ? r.version_conflict->text : "NCCL versions seen in the log: " + detail::join(vs, ", "),
                  "`pip list | grep -i nccl` on every node: keep exactly the nvidia-nccl wheel torch was built with (remove the extra "
                  "one), use one image everywhere; if VLLM_NCCL_SO_PATH is set, point it at the same library on all nodes.");
            specific = true;
        }
        if (r.watchdog) {
            std::string what = "a collective" + (r.watchdog_op.empty() ? std::string() : " (" + r.watchdog_op + ")") + " hung";
            if (r.watchdog_ran_ms) what += " for " + std::to_string(*r.watchdog_ran_ms) + " ms";
            if (r.watchdog_rank) what += " on rank " + std::to_string(*r.watchdog_rank);
            if (!r.watchdog_ip.empty()) what += " (node " + r.watchdog_ip + ")";
            if (r.watchdog_seq) what += *r.watchdog_seq < 100 ? ", among the first collectives (SeqNum " + std::to_string(*r.watchdog_seq) + "): the path between the GPUs never worked"
                                                               : ", after long service (SeqNum " + std::to_string(*r.watchdog_seq) + ")";
            f.add("nccl.watchdog_timeout", severity::error, nn, src, what + "; the NCCL watchdog took the process down", r.watchdog->text,
                  "If it hangs in the first collectives on PCIe-only GPUs, run once with NCCL_P2P_DISABLE=1: if that works, disable "
                  "ACS/IOMMU (see nccl.p2p_hang); across nodes check the NCCL interface and transport (NCCL_DEBUG=INFO, "
                  "NCCL_SOCKET_IFNAME); after hours of service check `dmesg` for Xid errors and upgrade vLLM and NCCL (the vLLM 0.3.1 "
                  "all-reduce hang was fixed in 0.3.2).");
            specific = true;
        }
        if (r.ibverbs_missing && r.socket_after_ibverbs) {
            const std::string& iface = r.socket_after_ibverbs_interface;
            const bool ib_here = want_rdma || r.ib_requested() || detail::starts_with(iface, "ib") ||
                                 (n.rdma && !n.rdma->ports.empty());
            if (ib_here) {
                f.add("nccl.ibverbs_missing", severity::error, nn, src,
                      "NCCL could not load libibverbs, so traffic between nodes runs over TCP" +
                          (iface.empty() ? std::string() : " on " + iface) +
                          (detail::starts_with(iface, "ib") ? std::string(" (IPoIB: the InfiniBand fabric is there, used as TCP)") : std::string()),
                      r.ibverbs_missing->text + "\n" + r.socket_after_ibverbs->text,
                      "Install the RDMA user space in the image (`apt-get install -y libibverbs1 ibverbs-providers`, or rdma-core), "
                      "restart, and confirm `NET/IB : Using [0]mlx5_...` and `Using network IB` in an NCCL_DEBUG=INFO log.");
                specific = true;
            }
        }
        if (r.peer_lost && !specific) {
            f.add("nccl.wrong_interface", severity::error, nn, src,
                  "an NCCL connection to a peer broke (remote process exited or network error): usually NCCL chose an interface "
                  "the nodes cannot reach each other on; check that the peer did not crash first",
                  r.peer_lost->text,
                  std::string("Find the interface both nodes share (`ip -br addr`, `ip route get <peer-ip>`). ") + fix_interface);
            specific = true;
        }
        const bool log_ends_in_init = r.init_start && r.last_line && r.last_line->number == r.init_start->number &&
                                      (!r.init_complete || r.init_complete->number < r.init_start->number);
        if (log_ends_in_init && r.errors.empty() && r.warnings.empty() && !specific) {
            f.add("nccl.init_hang", severity::warning, nn, src,
                  "the log ends in NCCL communicator init: if the process is still alive, this rank hangs there", r.init_start->text,
                  "Under HAMi (LD_PRELOAD=...libvgpu.so) set CUDA_DISABLE_CONTROL=true for whole-GPU pods; otherwise rerun with "
                  "NCCL_DEBUG=INFO and check P2P/ACS (nccl.p2p_hang) and the interfaces (NCCL_SOCKET_IFNAME) of every node.");
        }
        if (r.init_complete && r.last_line && r.last_line->number > r.init_complete->number && r.errors.empty() && !specific) {
            auto rest = detail::trim(after(r.last_line->text, "Processed prompts:"));
            if (detail::starts_with(rest, "0%")) {
                f.add("nccl.p2p_hang", severity::error, nn, src,
                      "the GPUs stall after NCCL init: the first collective never finishes (P2P over PCIe blocked by ACS/IOMMU)",
                      r.init_complete->text + "\n" + r.last_line->text,
                      "Confirm with NCCL_P2P_DISABLE=1 (it will run, slower); the real fix: disable ACS and IOMMU in the BIOS or boot "
                      "with `pci=noacs` (and `iommu=pt` / `amd_iommu=off`); `sudo lspci -vvv | grep ACSCtl` must show no `SrcValid+`.");
                specific = true;
            }
        }
        if (!ex.interface.empty() && r.interface_line) {
            const std::string want = ex.interface.front() == '=' ? ex.interface.substr(1) : ex.interface;
            std::vector<std::string> names;
            for (const auto& p : r.processes)
                for (const auto& i : p.socket_interfaces) add_unique(names, i.substr(0, i.find(':')));
            if (!names.empty() && std::find(names.begin(), names.end(), want) == names.end())
                f.add("nccl.wrong_interface", severity::warning, nn, src,
                      "NCCL uses " + detail::join(names, ", ") + ", not the planned interface " + want, r.interface_line->text,
                      fix_interface);
        }
        if (!specific && (!r.errors.empty() || !r.warnings.empty()))
            f.add("nccl.failure", severity::error, nn, src, "NCCL reported a failure",
                  !r.errors.empty() ? r.errors.front().text : r.warnings.front().text,
                  "The NCCL WARN line names the call that failed. Run with NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET on every node "
                  "and compare the interface, the transport and the NCCL version across nodes.");
        nccl = std::move(r);
    }
}

}  // namespace diag
}  // namespace detail

DSDEPLOY_NAMESPACE_END
