// SPDX-License-Identifier: Apache-2.0
// The rule set on what the local probes measured: shm.too_small (/dev/shm's size),
// ray.dashboard_exposed (a TCP listener on the dashboard port beyond loopback), and
// ray.node_ip_mismatch for a VLLM_HOST_IP that is not the node's planned address.
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

DSDEPLOY_INLINE void probe_rules(finder& f, const expectations& ex, cluster_facts& c, node_facts& n) {
    const node_evidence& node = n.node;
    const std::string& nn = node.name;
    const expected_node* exp = n.exp;
    auto& host_ips = c.host_ips;
    if (node.shm_bytes && *node.shm_bytes < ex.min_shm_bytes)
        f.add("shm.too_small", severity::error, nn, "probe",
              "/dev/shm holds " + fmt_bytes(static_cast<double>(*node.shm_bytes)) + "; NCCL needs at least " +
                  fmt_bytes(static_cast<double>(ex.min_shm_bytes)) + " for its shared-memory transport",
              "/dev/shm: " + std::to_string(*node.shm_bytes) + " bytes", fix_shm);
    if (node.listening)
        for (const auto& s : *node.listening)
            if (s.port == ex.dashboard_port && !is_loopback(s.address))
                f.add("ray.dashboard_exposed", severity::warning, nn, "probe",
                      "the Ray dashboard (port " + std::to_string(s.port) + ") listens on " + s.address +
                          ", reachable from other hosts; it accepts jobs (arbitrary code) without authentication",
                      "LISTEN " + s.address + ":" + std::to_string(s.port),
                      "Bind it to localhost (`ray start --dashboard-host 127.0.0.1`, Ray's default) and reach it through an SSH tunnel "
                      "(`ssh -L 8265:127.0.0.1:8265 <head>`), or firewall the port.");
    if (node.vllm_host_ip) {
        host_ips.push_back(wanted_ip{*node.vllm_host_ip, nn, "VLLM_HOST_IP=" + *node.vllm_host_ip});
        if (exp && !exp->address.empty() && exp->address != *node.vllm_host_ip)
            f.add("ray.node_ip_mismatch", severity::error, nn, "probe",
                  "VLLM_HOST_IP is " + *node.vllm_host_ip + " but the plan gives this node the address " + exp->address,
                  "VLLM_HOST_IP=" + *node.vllm_host_ip, fix_ip);
    }
}

}  // namespace diag
}  // namespace detail

DSDEPLOY_NAMESPACE_END
