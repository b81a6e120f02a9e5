// SPDX-License-Identifier: Apache-2.0
// The rule set for failure lines in any log (diagnose_events.hpp), run on every text of a node:
// gloo.connect_full_mesh, gloo.socket_interface_missing, version.skew (Ray's version check),
// ray.unreachable (GCS), ray.ports_blocked, gpu.driver_too_old, gpu.driver_library_mismatch,
// gpu.xid_fallen_off_bus, model.gated_repo_unauthorized, model.cache_not_writable. diagnose()
// runs it first: these lines name a cause, so they lead the node's findings.
#pragma once

#include <dsdeploy/detail/diagnose_text.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/diagnose_events.hpp>
#include <dsdeploy/impl/diagnose_rules_inl.hpp>

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
namespace diag {

inline const char* fix_gloo =
    "On every node set GLOO_SOCKET_IFNAME to the one interface that holds the node's cluster IP (e.g. "
    "`$(ip -4 route get <head-ip> | awk '/dev/{print $3}')`), together with NCCL_SOCKET_IFNAME, in the environment of `ray start` "
    "(Ray workers inherit it; setting it only for `vllm serve` is not enough); in hostNetwork pods this is mandatory, because the "
    "hostname resolves to 127.0.0.1.";

DSDEPLOY_INLINE void event_rules(finder& f, const expectations&, cluster_facts&, node_facts& n) {
    const node_evidence& node = n.node;
    const std::string& nn = node.name;
    const std::pair<const char*, const std::optional<std::string>*> texts[] = {
        {"log", &node.log},           {"vllm_log", &node.vllm_log},   {"nccl_log", &node.nccl_log},
        {"ray_status", &node.ray_status}, {"nvidia_smi", &node.nvidia_smi}, {"ray_list_nodes", &node.ray_list_nodes}};
    const std::size_t before = f.out.size();
    auto judge = [&](const log_events& e, const std::string& source, bool is_ray_status) {
        if (!e.recognised) return;
        if (e.gloo_no_interface) {
            f.add("gloo.socket_interface_missing", severity::error, nn, source,
                  "GLOO_SOCKET_IFNAME names no interface on this node (\"" + e.gloo_interface +
                      "\"), so torch.distributed's Gloo group cannot start",
                  e.gloo_no_interface->text,
                  "Set GLOO_SOCKET_IFNAME to one existing interface name (no `^`, no list; `ip -br addr`), e.g. the NIC that routes "
                  "to the head (`ip -4 route get <head-ip>`); keep exclusion lists like `^lo,docker` only in NCCL_SOCKET_IFNAME, "
                  "which accepts them.");
        }
        if (e.gloo_connect_full_mesh) {
            std::string ev = e.gloo_connect_full_mesh->text;
            if (e.gloo_loopback) ev += "\n" + e.gloo_loopback->text;
            f.add("gloo.connect_full_mesh", severity::error, nn, source,
                  "Gloo (the CPU process group vLLM and SGLang set up beside NCCL) could not connect all ranks" +
                      (e.gloo_node_ip.empty() ? std::string() : " - node " + e.gloo_node_ip) +
                      (e.gloo_loopback ? std::string("; the ranks advertised the loopback address, so peers dialled themselves") : std::string()),
                  ev, fix_gloo);
        }
        if (e.ray_version_mismatch) {
            std::vector<std::string> diffs;
            for (const auto& [k, v] : e.ray_cluster_versions) {
                auto it = e.ray_process_versions.find(k);
                if (it != e.ray_process_versions.end() && it->second != v) diffs.push_back(k + " " + v + " (cluster) vs " + it->second + " (this process)");
            }
            std::vector<std::string> ev;
            for (const auto& l : e.ray_version_block) ev.push_back(l.text);
            f.add("version.skew", severity::error, nn, source,
                  "Ray refused to connect: " + (diffs.empty() ? std::string("its version check failed") : detail::join(diffs, "; ")) +
                      (e.ray_process_node.empty() ? std::string() : " on node " + e.ray_process_node) +
                      " (Ray requires the same Ray and Python version on every node and in the driver)",
                  detail::join(ev, "\n"),
                  "Run the same container image (or the same Ray and Python versions, down to the patch release) on every node and "
                  "for the driver: start the cluster and the driver from one environment, pin `ray==<head's version>` in any "
                  "runtime or pip environment of the workers.");
        }
        if (e.ray_redis_unreachable && e.ray_redis_port && *e.ray_redis_port != 6379) {
            f.add("ray.ports_blocked", severity::error, nn, source,
                  "this node reached the Ray head but not the head's port " + std::to_string(*e.ray_redis_port) +
                      ": a firewall lets Ray's GCS port through but not the other ports Ray uses between nodes",
                  e.ray_redis_unreachable->text,
                  "Open the ports Ray uses between nodes (GCS 6379, the node manager and object manager ports, the worker port "
                  "range) in firewalls and security groups, or pin them with `ray start --node-manager-port ... "
                  "--object-manager-port ... --min-worker-port ... --max-worker-port ...` and open exactly those.");
        } else if ((e.ray_redis_unreachable || e.ray_gcs_unreachable) && !is_ray_status) {
            // (`ray status` output is judged by ray_rules)
            const log_line& l = e.ray_gcs_unreachable ? *e.ray_gcs_unreachable : *e.ray_redis_unreachable;
            f.add("ray.unreachable", severity::error, nn, source, "this node could not reach the Ray head's GCS", l.text,
                  "Give `ray start --address` the head's routable IP and port (not 127.0.0.1 from another node or container), "
                  "check `nc -z <head-ip> 6379` from this node, and open the GCS port between the nodes.");
        }
        if (e.driver_library_mismatch) {
            f.add("gpu.driver_library_mismatch", severity::error, nn, source,
                  "the NVIDIA user-space libraries do not match the loaded kernel module (they were upgraded under it)",
                  e.driver_library_mismatch->text,
                  "Reboot the node (or stop every GPU user and reload the nvidia kernel modules); then hold the driver packages "
                  "(`apt-mark hold` the nvidia packages) so unattended upgrades cannot do it again.");
        }
        if (e.driver_too_old) {
            std::string found;
            if (e.driver_found_cuda && *e.driver_found_cuda >= 1000)
                found = " (the driver supports CUDA " + std::to_string(*e.driver_found_cuda / 1000) + "." +
                        std::to_string((*e.driver_found_cuda % 1000) / 10) + ")";
            f.add("gpu.driver_too_old", severity::error, nn, source,
                  "the host's NVIDIA driver is older than the CUDA this image was built for" + found, e.driver_too_old->text,
                  "Upgrade the host driver to one that supports the image's CUDA (CUDA 12.x images need driver 525 or newer, 12.1: "
                  "530+, commonly 535), or use an image built for the CUDA the host driver supports (`nvidia-smi` shows it).");
        }
        if (e.xid_fallen_off_bus) {
            f.add("gpu.xid_fallen_off_bus", severity::error, nn, source,
                  "GPU " + (e.xid_pci.empty() ? std::string("?") : e.xid_pci) +
                      " dropped off the PCIe bus (Xid 79): a hardware, cooling or power fault; software changes will not help",
                  e.xid_fallen_off_bus->text,
                  "Drain the node and reboot it; check cooling, power cables and seating of that card "
                  "(`nvidia-smi --query-gpu=index,pci.bus_id --format=csv` maps the bus id to the GPU); replace the GPU if it recurs.");
        }
        if (e.gated_repo) {
            f.add("model.gated_repo_unauthorized", severity::error, nn, source,
                  (e.gated_model.empty() ? std::string("the model") : e.gated_model) +
                      " is a gated Hugging Face repository and this process has no token of an account granted access",
                  e.gated_repo->text,
                  "Accept the licence on the model's page with your account, create a read token, export HF_TOKEN on every node "
                  "(with Ray: in the environment of `ray start`), or download the model once and serve the local path.");
        }
        if (e.cache_not_writable) {
            f.add("model.cache_not_writable", severity::error, nn, source,
                  "the Hugging Face cache " + e.cache_path + " is not writable by the process's user, so downloads cannot be stored",
                  e.cache_not_writable->text,
                  "Set HF_HOME to a directory the container's user can write, or `chown` the mounted cache to the container's UID "
                  "(`id -u` inside the container).");
        }
    };
    std::vector<const std::string*> done;  // the same output filed in several slots is read once
    for (const auto& [source_name, slot] : texts) {
        const std::optional<std::string>* text = slot;  // (a lambda may not capture a structured binding in C++17)
        if (!*text || std::any_of(done.begin(), done.end(), [&](const std::string* d) { return *d == **text; })) continue;
        done.push_back(&**slot);
        judge(parse_log_events(**slot), source_name, node.ray_status && *node.ray_status == **slot);
    }
    for (const auto& g : node.streamed) judge(g.events, g.source == "output" ? std::string("log") : g.source, false);
    for (std::size_t i = before; i < f.out.size(); ++i)
        if (f.out[i].level == severity::error) n.explained = true;
}

}  // namespace diag
}  // namespace detail

DSDEPLOY_NAMESPACE_END
