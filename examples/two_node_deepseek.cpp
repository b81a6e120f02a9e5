// SPDX-License-Identifier: Apache-2.0
// The whole two-node DeepSeek-V3 bring-up with the library: describe the cluster, agree on the
// network from what ibv_devinfo shows on each node, plan until the model fits, render every
// node's files and write them. Then follow what it prints, on each node.
//   two_node_deepseek [OUT_DIR]
#include <dsdeploy/dsdeploy.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace {
// What `ibv_devinfo` prints on each of the two servers (two active InfiniBand HCAs).
const char* devinfo = "hca_id:\tmlx5_0\n\t\tport:\t1\n\t\t\tstate:\t\t\tPORT_ACTIVE (4)\n\t\t\tlink_layer:\t\tInfiniBand\n"
                      "hca_id:\tmlx5_3\n\t\tport:\t1\n\t\t\tstate:\t\t\tPORT_ACTIVE (4)\n\t\t\tlink_layer:\t\tInfiniBand\n";

// Applies an option's vLLM flags when they are only utilization, context length or KV dtype.
bool apply(const std::vector<std::string>& flags, dsdeploy::serving_options& s) {
    if (flags.empty()) return false;
    for (std::size_t i = 0; i + 1 < flags.size(); i += 2) {
        if (flags[i] == "--gpu-memory-utilization") s.gpu_memory_utilization = std::stod(flags[i + 1]);
        else if (flags[i] == "--max-model-len") s.max_model_len = std::stoi(flags[i + 1]);
        else if (flags[i] == "--kv-cache-dtype") s.kv_cache_dtype = dsdeploy::parse_dtype(flags[i + 1]);
        else return false;
    }
    return true;
}
}  // namespace

int main(int argc, char** argv) {
    const std::string out = argc > 1 ? argv[1] : "two-node-bundle";
    try {
        // 1. The cluster: two servers of 8 x H20 (96 GB); node1 runs the Ray head and the API server.
        //    (2 x 8 L20 does not hold DeepSeek-V3's FP8 weights once vLLM's own overheads are
        //    counted: 40.9 GiB of weights per GPU of 44.5; `dsdeploy plan` lists what would.)
        dsdeploy::inventory inv;
        inv.name = "deepseek-v3-2x8-h20";
        inv.cluster.nodes = {
            {"node1", "10.0.0.1", dsdeploy::node_role::head, "H20", 8, {}, "root@10.0.0.1", ""},
            {"node2", "10.0.0.2", dsdeploy::node_role::worker, "H20", 8, {}, "root@10.0.0.2", ""},
        };

        // 2. The network every node supports (on a node itself: read_sysfs_infiniband()).
        std::vector<dsdeploy::node_detection> seen;
        for (const auto& n : inv.cluster.nodes)
            seen.push_back({n.name, dsdeploy::detect_profile(dsdeploy::parse_ibv_devinfo(devinfo), "bond0")});
        const dsdeploy::agreement net = dsdeploy::agree(seen);
        inv.network = net.profile;
        for (const auto& w : net.warnings) std::cout << "network: " << w << "\n";

        // 3. The model and the plan: TP 8 inside each server, PP 2 across them.
        inv.serving.model = "deepseek-ai/DeepSeek-V3";
        inv.serving.model_path = "/data/models/DeepSeek-V3";
        inv.serving.served_model_name = "deepseek-v3";
        inv.serving.tensor_parallel_size = 8;
        inv.serving.pipeline_parallel_size = 2;
        inv.serving.max_model_len = 65536;
        dsdeploy::plan p = dsdeploy::plan_for(inv);
        if (!p.fits()) {
            // Not at this context: take the first option that fits by changing vLLM flags only.
            for (const auto& option : p.alternatives)
                if (option.fits && apply(option.vllm_flags, inv.serving)) {
                    std::cout << "does not fit as asked; using: " << option.summary << "\n";
                    break;
                }
            p = dsdeploy::plan_for(inv);
        }
        std::cout << dsdeploy::to_text(p) << "\n";

        // 4. Every node's files (compose.yaml, .env with the API key at 0600, scripts, README),
        //    written to a temporary folder and renamed into place.
        dsdeploy::bundle_options o;
        o.api_key = dsdeploy::resolve_api_key(inv, out, &o.api_key_source);
        const dsdeploy::bundle b = dsdeploy::render_bundle(inv, p, o);
        const dsdeploy::write_result written = dsdeploy::write_bundle(b, out);
        std::cout << dsdeploy::next_steps(b, written.root);
        return p.fits() ? 0 : 1;
    } catch (const dsdeploy::error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 2;
    }
}
