// SPDX-License-Identifier: Apache-2.0
// The vLLM rule set (a vLLM server log): vllm.quantization_unsupported_gpu, vllm.cuda_graph_oom,
// vllm.out_of_memory, vllm.kv_cache_too_small, ray.node_ip_mismatch (its own node pinned but not
// placeable), vllm.ray_tp_exceeds_local_gpus (info),
// vllm.no_node_type_fulfils, vllm.placement_group_timeout / _waiting, vllm.not_enough_gpus,
// vllm.executor_not_ray, vllm.engine_failed; it records the node:<ip> vLLM asked Ray for and the
// Ray workers' IPs for the across-node IP rules.
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

DSDEPLOY_INLINE void vllm_rules(finder& f, const expectations& ex, cluster_facts& c, node_facts& n) {
    const node_evidence& node = n.node;
    const std::string& nn = node.name;
    const int want_nodes = c.want_nodes;
    auto& ver = n.versions;
    auto& ray_ips = c.ray_ips;
    auto& requested_ips = c.requested_ips;
    auto judge = [&](const vllm_report& v) {
        if (!v.version.empty()) ver.emplace("vllm", v.version);
        bool specific = false;
        if (v.quantization_unsupported) {
            const std::string method = v.quantization_method.empty() ? std::string("the checkpoint's quantization") : v.quantization_method;
            const std::string cap = v.min_capability ? std::to_string(*v.min_capability / 10) + "." + std::to_string(*v.min_capability % 10) : "";
            f.add("vllm.quantization_unsupported_gpu", severity::error, nn, "vllm_log",
                  method + " needs GPU compute capability " + (cap.empty() ? std::string("higher than this") : cap) +
                      (v.current_capability ? "; these GPUs are " + std::to_string(*v.current_capability / 10) + "." + std::to_string(*v.current_capability % 10)
                                            : std::string()),
                  v.quantization_unsupported->text,
                  "Serve a checkpoint these GPUs can run (not quantized, or AWQ/GPTQ), or move to GPUs with capability >= " +
                      (cap.empty() ? std::string("the minimum") : cap) + " (FP8: Ada or Hopper or newer, e.g. L4, L40S, H100).");
            specific = true;
        }
        if (v.cuda_graph_oom) {
            f.add("vllm.cuda_graph_oom", severity::error, nn, "vllm_log",
                  "out of memory while capturing CUDA graphs: the KV cache already took its share of --gpu-memory-utilization and "
                  "capture needs 1-3 GiB more per GPU",
                  v.cuda_graph_oom->text + (v.cuda_graph_capture ? "\n" + v.cuda_graph_capture->text : std::string()),
                  "Add --enforce-eager (no CUDA graphs), or lower --gpu-memory-utilization by 0.02-0.05, or capture fewer shapes "
                  "(a smaller --max-num-seqs / --cuda-graph-sizes).");
            specific = true;
        } else if (!v.out_of_memory.empty()) {
            f.add("vllm.out_of_memory", severity::error, nn, "vllm_log", "a GPU ran out of memory", v.out_of_memory.front().text,
                  "Run `dsdeploy plan` for this layout: lower --max-model-len or --max-num-seqs, add pipeline stages (more GPUs), "
                  "use an FP8 KV cache or a quantized checkpoint, and free GPU memory held by other processes; lower "
                  "--gpu-memory-utilization when the OOM happens outside vLLM's budget (CUDA graphs, NCCL buffers).");
            specific = true;
        }
        const std::optional<std::int64_t> need = ex.max_model_len ? ex.max_model_len : v.max_model_len;
        const std::string estimated =
            v.estimated_max_model_len ? " Based on the available memory, at most " + std::to_string(*v.estimated_max_model_len) + " tokens fit." : std::string();
        if (v.kv_cache_error) {
            f.add("vllm.kv_cache_too_small", severity::error, nn, "vllm_log",
                  "the KV cache cannot hold one request of --max-model-len tokens, so vLLM refused to start." + estimated,
                  v.kv_cache_error->text, fix_kv);
            specific = true;
        } else if (v.kv_cache_tokens && need && *v.kv_cache_tokens < *need) {
            f.add("vllm.kv_cache_too_small", severity::error, nn, "vllm_log",
                  "the KV cache holds " + std::to_string(*v.kv_cache_tokens) + " tokens, fewer than one request of " + std::to_string(*need) +
                      " tokens needs",
                  text_of(v.kv_cache_line), fix_kv);
            specific = true;
        } else if (v.max_concurrency && *v.max_concurrency < 1.0) {
            f.add("vllm.kv_cache_too_small", severity::error, nn, "vllm_log",
                  "maximum concurrency " + fmt_number(*v.max_concurrency) + "x: the KV cache cannot hold one full-length request",
                  text_of(v.concurrency_line), fix_kv);
            specific = true;
        }
        // vLLM pins one bundle to its own node's IP; when that node has GPUs (vLLM counted them) and Ray still cannot
        // place the bundle, Ray knows the node by another IP
        if (!v.no_node_type.empty() && v.local_gpus && *v.local_gpus >= 1 && !v.requested_node_ips.empty()) {
            const std::string& ip = v.requested_node_ips.front();
            if (!ray_ips.count(ip)) {
                std::string line;
                for (const auto& l : v.no_node_type)
                    if (line.empty() && has(l.text, "node:" + ip)) line = l.text;
                f.add("ray.node_ip_mismatch", severity::error, nn, "vllm_log",
                      "vLLM pins a bundle to node:" + ip + ", its own node, which has " + std::to_string(*v.local_gpus) +
                          " GPU(s), yet no Ray node can take it: Ray registered this node under another IP (multi-NIC host)",
                      (line.empty() ? v.no_node_type.front().text : line) + "\n" + v.tp_exceeds_local->text, fix_ip);
                specific = true;
            }
        }
        if (v.tp_exceeds_local)
            f.add("vllm.ray_tp_exceeds_local_gpus", severity::info, nn, "vllm_log",
                  "vLLM warns that TP x PP exceeds this node's GPUs; with the Ray executor across nodes that is expected, not a failure",
                  v.tp_exceeds_local->text,
                  "Nothing to do if `ray status` shows at least TP x PP GPUs in the cluster; if the start then fails, the other "
                  "findings name the cause.");
        if (!v.no_node_type.empty()) {
            std::vector<std::string> ips;
            for (const auto& l : v.no_node_type) collect_node_ips(l.text, ips);
            std::string more;  // a message names at most 16
            if (ips.size() > 16) {
                more = " and " + std::to_string(ips.size() - 16) + " more";
                ips.resize(16);
            }
            f.add("vllm.no_node_type_fulfils", severity::error, nn, "vllm_log",
                  "Ray cannot place a request from vLLM on any node" +
                      (ips.empty() ? std::string() : " (it is pinned to node:" + detail::join(ips, ", node:") + more + ")"),
                  v.no_node_type.front().text,
                  std::string("Usually the driver's IP is not the IP Ray registered for its node (multi-NIC hosts). ") + fix_ip +
                      " Also check that `ray status` shows the GPUs TP x PP needs.");
            specific = true;
        }
        if (v.placement_group_timeout) {
            f.add("vllm.placement_group_timeout", severity::error, nn, "vllm_log",
                  "vLLM gave up waiting for Ray to reserve one GPU per worker", v.placement_group_timeout->text,
                  std::string("Check that `ray status` shows the GPU total TP x PP needs and that every `node:<ip>` in the request is a "
                              "Ray node's IP. ") +
                      fix_ip);
            specific = true;
        } else if (!v.placement_group_waiting.empty()) {
            f.add("vllm.placement_group_waiting", severity::warning, nn, "vllm_log",
                  "vLLM is waiting for Ray to reserve one GPU per worker", v.placement_group_waiting.back().text,
                  std::string("Check that `ray status` shows the GPU total TP x PP needs and that every `node:<ip>` in the request is a "
                              "Ray node's IP. ") +
                      fix_ip);
        }
        if (!v.not_enough_gpus.empty()) {
            f.add("vllm.not_enough_gpus", severity::error, nn, "vllm_log", "vLLM found fewer GPUs than TP x PP needs where it runs",
                  v.not_enough_gpus.front().text,
                  "Run `vllm serve` on a GPU node that belongs to the Ray cluster, with `--distributed-executor-backend ray` when TP x "
                  "PP is larger than one node's GPUs (required from vLLM 0.11.1 on); check that `ray status` shows the GPU total.");
            specific = true;
        }
        if (want_nodes > 1 && !v.executor_backend.empty() && v.executor_backend != "ray")
            f.add("vllm.executor_not_ray", severity::warning, nn, "vllm_log",
                  "the plan spans " + std::to_string(want_nodes) + " nodes but vLLM runs the \"" + v.executor_backend + "\" executor",
                  text_of(v.executor_line), "Add `--distributed-executor-backend ray` to `vllm serve` for multi-node serving over Ray.");
        if (v.engine_failed && !specific && !n.explained)
            f.add("vllm.engine_failed", severity::error, nn, "vllm_log", "the vLLM engine stopped during start-up", v.engine_failed->text,
                  "The lines before this one in the log give the cause; run `dsdeploy doctor` with the NCCL and Ray outputs of every "
                  "node as well.");
        for (const auto& ip : v.requested_node_ips) {
            std::string line;
            for (const auto* group : {&v.no_node_type, &v.placement_group_waiting})
                for (const auto& l : *group)
                    if (line.empty() && has(l.text, "node:" + ip)) line = l.text;
            if (line.empty() && v.placement_group_timeout) line = v.placement_group_timeout->text;
            requested_ips.push_back(wanted_ip{ip, nn, line});
        }
        for (const auto& ip : v.ray_worker_ips) ray_ips.emplace(ip, seen_ip{nn, "vllm_log", "(RayWorkerWrapper ..., ip=" + ip + ")"});
        if (v.requested_node_ips_not_kept > 0 && (!ray_ips.empty() || !c.expected_ips.empty()))
            f.note_more("ray.node_ip_mismatch", nn, v.requested_node_ips_not_kept);
    };
    if (node.vllm_log) judge(parse_vllm_log(*node.vllm_log));
    for (const auto& g : node.streamed)
        if (g.source == "vllm_log" || (g.source == "output" && g.vllm.recognised)) judge(g.vllm);
}

}  // namespace diag
}  // namespace detail

DSDEPLOY_NAMESPACE_END
