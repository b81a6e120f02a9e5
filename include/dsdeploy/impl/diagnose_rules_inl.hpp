// SPDX-License-Identifier: Apache-2.0
// What the diagnose rule sets share: the finder that collects findings (deduplicated, at most
// max_findings_per_id per id and node), the facts one node's rule sets pass on to the next
// (node_facts: its RDMA detection, its NCCL report, its versions) and those gathered for the
// across-node rules (cluster_facts), the fix texts several rule sets give, and the declaration of
// every rule set in the order diagnose() calls them. Part of the diagnose room's implementation.
#pragma once

#include <dsdeploy/detail/diagnose_text.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/network.hpp>

#include <cstddef>
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

constexpr std::size_t max_findings_per_id = 32;  // per node: a log with a thousand failed ports says it enough

struct finder {
    std::vector<finding> out;
    std::set<std::string> seen;
    std::map<std::string, std::size_t> per_id;
    std::map<std::string, std::size_t> not_shown;  // id + node -> findings beyond max_findings_per_id
    // Whether another finding `id` on `node` would still be shown (callers skip building it otherwise).
    bool room(const std::string& id, const std::string& node) const {
        auto it = per_id.find(id + '\x1f' + node);
        return it == per_id.end() || it->second < max_findings_per_id;
    }
    // `count` more findings like `id` on `node` that are not shown (the last shown one says so).
    void note_more(const std::string& id, const std::string& node, std::size_t count) { not_shown[id + '\x1f' + node] += count; }
    void add(std::string id, severity level, std::string node, std::string source, std::string message, std::string evidence, std::string fix) {
        std::string key = id + '\x1f' + node + '\x1f' + evidence + '\x1f' + (evidence.empty() ? message : std::string());
        if (seen.count(key)) return;
        if (++per_id[id + '\x1f' + node] > max_findings_per_id) {
            ++not_shown[id + '\x1f' + node];
            return;
        }
        seen.insert(std::move(key));
        // values taken from the input (names, versions, addresses) reach messages too: keep them valid UTF-8
        out.push_back(finding{std::move(id), level, clean_text(node, 200), std::move(source), clean_text(message, 2000),
                              clean_text(evidence, 4000, true), clean_text(fix, 2000)});
    }
    // Appends "(N more not shown)" to the last shown finding of every id and node that had more.
    void close() {
        for (auto i = out.size(); i-- > 0;) {
            auto it = not_shown.find(out[i].id + '\x1f' + out[i].node);
            if (it == not_shown.end() || it->second == 0) continue;
            out[i].message += " (" + std::to_string(it->second) + " more like this not shown)";
            it->second = 0;
        }
    }
};

inline std::string text_of(const std::optional<log_line>& l) { return l ? l->text : std::string(); }

// The verbatim line of `text` that contains `needle` (and, when given, follows a line with `after`).
inline std::string find_line(std::string_view text, std::string_view needle, std::string_view after_needle = {}) {
    bool armed = after_needle.empty();
    for (const auto& l : clean_lines(text)) {
        if (!armed) {
            if (has(l, after_needle)) armed = true;
            continue;
        }
        if (has(l, needle)) return clean_text(trim(l));
    }
    return {};
}

inline std::string join_lines(const std::vector<log_line>& lines, std::size_t max = 8) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < lines.size() && i < max; ++i) parts.push_back(lines[i].text);
    if (lines.size() > max) parts.push_back("... (" + std::to_string(lines.size() - max) + " more)");
    return join(parts, "\n");
}

inline std::string fabric_name(fabric f) {
    switch (f) {
        case fabric::infiniband: return "InfiniBand";
        case fabric::roce: return "RoCE";
        case fabric::tcp: return "TCP";
    }
    return "TCP";
}

inline const char* fix_ib_fallback =
    "Make the RDMA devices visible where NCCL runs: in Docker add `--device /dev/infiniband` (or run privileged), `--cap-add IPC_LOCK` "
    "and `--ulimit memlock=-1`; check that `ibv_devinfo` inside the container lists the HCAs as PORT_ACTIVE, that NCCL_IB_HCA names "
    "them and NCCL_IB_DISABLE is 0; then confirm `NET/IB` (not `NET/Socket`) in an NCCL_DEBUG=INFO log.";
inline const char* fix_interface =
    "Set NCCL_SOCKET_IFNAME (with GLOO_SOCKET_IFNAME and TP_SOCKET_IFNAME) to the interface that holds the node's cluster address "
    "(`ip -br addr`), with a leading '=' for an exact match, on every node and in the environment of `ray start` so Ray workers "
    "inherit it.";
inline const char* fix_ip =
    "Use one IP per node everywhere: VLLM_HOST_IP, `ray start --node-ip-address` and the inventory's node address must all be the "
    "address of that node's cluster-network NIC; check NODE_IP in `ray list nodes`.";
inline const char* fix_kv =
    "Lower --max-model-len, or raise --gpu-memory-utilization, use --kv-cache-dtype fp8, or add GPUs (more pipeline stages); "
    "`dsdeploy plan` shows the per-GPU budget.";
inline const char* fix_shm =
    "Give the container a larger /dev/shm: `--shm-size 10.24g` (as vLLM's run_cluster.sh does) or `--ipc host`; in Kubernetes "
    "mount an emptyDir with medium: Memory at /dev/shm.";

struct seen_ip {
    std::string node, source, line;
};
struct wanted_ip {
    std::string ip, node, line;
};

// What the plan asks for (derived once from the expectations), and what the per-node rule sets
// gather for the rules across nodes.
struct cluster_facts {
    int want_nodes = 0;
    int want_gpus = 0;
    std::set<std::string> expected_ips;
    bool want_rdma = false;
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> versions;  // key -> (node, value)
    std::vector<node_detection> detections;
    std::map<std::string, seen_ip> ray_ips;  // IPs Ray knows its nodes by
    std::vector<wanted_ip> requested_ips;    // node:<ip> a driver asked for
    std::vector<wanted_ip> host_ips;         // VLLM_HOST_IP per node
    std::vector<std::pair<std::string, log_line>> nccl_nets;  // (node, the line showing its inter-node transport)
};
cluster_facts cluster_facts_for(const expectations& ex);

// One node under judgement: its evidence, what the plan expects of it, and what earlier rule
// sets learnt for later ones.
struct node_facts {
    explicit node_facts(const node_evidence& e) : node(e), versions(e.versions) {}
    const node_evidence& node;
    const expected_node* exp = nullptr;
    std::map<std::string, std::string> versions;  // the node's, plus what its tools' outputs print
    std::optional<rdma_report> rdma;               // ibv_devinfo, else sysfs
    std::string rdma_source;                       // "ibv_devinfo" or "sysfs"
    std::optional<detection> det;
    std::optional<nccl_report> nccl;
    bool explained = false;                        // an earlier rule set named a cause (an error) on this node
};

// The rule sets, in the order diagnose() calls them for each node.
void event_rules(finder& f, const expectations& ex, cluster_facts& c, node_facts& n);     // diagnose_events_rules_inl.hpp
void rdma_rules(finder& f, const expectations& ex, cluster_facts& c, node_facts& n);      // diagnose_rdma_rules_inl.hpp
void gpu_rules(finder& f, const expectations& ex, cluster_facts& c, node_facts& n);       // diagnose_gpu_rules_inl.hpp
void ray_rules(finder& f, const expectations& ex, cluster_facts& c, node_facts& n);       // diagnose_ray_rules_inl.hpp
void nccl_rules(finder& f, const expectations& ex, cluster_facts& c, node_facts& n);      // diagnose_nccl_rules_inl.hpp
void roce_gid_rules(finder& f, const expectations& ex, cluster_facts& c, node_facts& n);  // diagnose_rdma_rules_inl.hpp
void vllm_rules(finder& f, const expectations& ex, cluster_facts& c, node_facts& n);      // diagnose_vllm_rules_inl.hpp
void probe_rules(finder& f, const expectations& ex, cluster_facts& c, node_facts& n);     // diagnose_probe_rules_inl.hpp
void collect_versions(cluster_facts& c, const node_facts& n);                             // diagnose_versions_rules_inl.hpp
// Then, once, across nodes.
void fabric_agreement_rules(finder& f, cluster_facts& c);  // diagnose_across_nodes_rules_inl.hpp
void version_rules(finder& f, cluster_facts& c);           // diagnose_versions_rules_inl.hpp
void node_ip_rules(finder& f, cluster_facts& c);           // diagnose_across_nodes_rules_inl.hpp

}  // namespace diag
}  // namespace detail

DSDEPLOY_NAMESPACE_END
