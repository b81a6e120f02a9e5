// SPDX-License-Identifier: Apache-2.0
// The Ray rule set (ray status, ray list nodes): ray.unreachable, ray.too_few_nodes,
// ray.too_few_gpus, ray.pending_demands, ray.node_failed; it records the IPs Ray knows its nodes
// by and the node:<ip> its pending demands ask for, for the across-node IP rules.
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

DSDEPLOY_INLINE void ray_rules(finder& f, const expectations&, cluster_facts& c, node_facts& n) {
    const node_evidence& node = n.node;
    const std::string& nn = node.name;
    const int want_nodes = c.want_nodes;
    const int want_gpus = c.want_gpus;
    auto& ray_ips = c.ray_ips;
    auto& requested_ips = c.requested_ips;
    auto check_counts = [&](int count, double gpus, bool has_gpu_figure, const std::string& source, const std::string& nodes_ev,
                            const std::string& gpus_ev) {
        if (want_nodes > 0 && count < want_nodes)
            f.add("ray.too_few_nodes", severity::error, nn, source,
                  "Ray has " + std::to_string(count) + " node(s); the plan needs " + std::to_string(want_nodes), nodes_ev,
                  "Run `ray start --address <head-ip>:<port>` on the missing nodes and check they stay up (`ray list nodes`): a "
                  "worker that cannot reach the head's GCS port, or whose --node-ip-address is not reachable, never joins.");
        if (want_gpus > 0 && gpus + 1e-9 < want_gpus && (has_gpu_figure || count > 0))
            f.add("ray.too_few_gpus", severity::error, nn, source,
                  "Ray sees " + fmt_number(gpus) + " GPU(s); the plan needs " + std::to_string(want_gpus), gpus_ev,
                  "Start Ray where the GPUs are visible on every node (Docker: `--gpus all`), let Ray detect them (give --num-gpus "
                  "only to limit them), and wait until `ray status` shows the plan's GPU total before `vllm serve`.");
    };
    if (node.ray_status) {
        auto s = parse_ray_status(*node.ray_status);
        if (s.connection_error && !s.recognised) {
            f.add("ray.unreachable", severity::error, nn, "ray_status", "`ray status` got no status from a Ray cluster", s.connection_error->text,
                  "Start the Ray head (`ray start --head --port 6379`) or point to it (`ray status --address <head-ip>:6379`, "
                  "RAY_ADDRESS), and open the GCS port between the nodes.");
        } else if (s.recognised) {
            std::vector<log_line> active;
            for (const auto& g : s.active) active.push_back(log_line{0, g.line});
            for (const auto& g : s.idle) active.push_back(log_line{0, g.line});
            const ray_resource* gpu = s.resource("GPU");
            std::string gpu_ev;
            if (gpu) {
                gpu_ev = s.resource_lines[static_cast<std::size_t>(gpu - s.resources.data())].text;
            } else {
                std::vector<log_line> block;
                if (s.usage_header) block.push_back(*s.usage_header);
                block.insert(block.end(), s.resource_lines.begin(), s.resource_lines.end());
                gpu_ev = join_lines(block, 6);
            }
            check_counts(s.node_count(), gpu ? gpu->total : 0.0, gpu != nullptr || s.usage_header.has_value(), "ray_status",
                         active.empty() ? std::string("Active: (no nodes)") : join_lines(active), gpu_ev);
            if (!s.pending_demands.empty())
                f.add("ray.pending_demands", severity::warning, nn, "ray_status",
                      std::to_string(s.pending_demands.size()) + " resource demand(s) wait for resources the cluster does not have",
                      join_lines(s.pending_demands, 4),
                      "Compare the demand with the totals above: vLLM asks for one GPU per worker (TP x PP), and a bundle pinned to "
                      "`node:<ip>` needs a Ray node with exactly that IP (VLLM_HOST_IP).");
            for (const auto& l : s.recent_failures)
                f.add("ray.node_failed", severity::warning, nn, "ray_status", "Ray reports a failed node", l.text,
                      "Read the raylet log on that node (/tmp/ray/session_latest/logs/raylet.out) and start `ray start` there again.");
            for (const auto& u : s.nodes)
                if (!u.ip.empty()) ray_ips.emplace(u.ip, seen_ip{nn, "ray_status", "Node: " + u.name});
            std::vector<std::string> demand_ips;
            for (const auto& l : s.pending_demands) {
                std::vector<std::string> ips;
                collect_node_ips(l.text, ips);
                for (auto& ip : ips) requested_ips.push_back(wanted_ip{ip, nn, l.text});
            }
        }
    }
    if (node.ray_list_nodes) {
        auto rows = parse_ray_list_nodes(*node.ray_list_nodes);
        int alive = 0;
        double gpus = 0;
        bool any_gpu = false;
        std::vector<log_line> lines;
        for (const auto& r : rows) {
            if (r.state == "DEAD") {
                f.add("ray.node_failed", severity::warning, nn, "ray_list_nodes", "Ray lists node " + r.node_ip + " as DEAD", r.line,
                      "Read the raylet log on that node (/tmp/ray/session_latest/logs/raylet.out) and start `ray start` there again.");
                continue;
            }
            ++alive;
            lines.push_back(log_line{0, r.line});
            if (r.gpus) gpus += *r.gpus, any_gpu = true;
            if (is_ip_address(r.node_ip)) ray_ips.emplace(r.node_ip, seen_ip{nn, "ray_list_nodes", r.line});
        }
        if (!node.ray_status && !rows.empty())
            check_counts(alive, gpus, any_gpu || alive > 0, "ray_list_nodes", join_lines(lines), join_lines(lines));
    }
}

}  // namespace diag
}  // namespace detail

DSDEPLOY_NAMESPACE_END
