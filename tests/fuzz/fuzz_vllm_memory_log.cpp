// SPDX-License-Identifier: Apache-2.0
// vLLM's memory lines (every format 0.6-0.34, Markdown restatements, lines cut by a terminal),
// reconciled with a pipeline-parallel plan and a single-stage one, printed as text and JSON.
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/vllm_memory_log.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const dsdeploy::plan pp2 = dsdeploy::plan_for(dsdeploy::default_inventory());
    static const dsdeploy::plan pp1 = [] {
        dsdeploy::inventory inv = dsdeploy::default_inventory();
        inv.cluster.nodes.resize(1);
        inv.serving.pipeline_parallel_size = 1;
        inv.serving.model = "meta-llama/Llama-3.1-70B-Instruct";
        inv.runtime.vllm_version = "0.21.0";
        return dsdeploy::plan_for(inv);
    }();
    const std::string text(reinterpret_cast<const char*>(data), size);
    const dsdeploy::vllm_memory_log m = dsdeploy::parse_vllm_memory_log(text);
    (void)dsdeploy::to_text(m);
    nlohmann::json j = m;
    (void)j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    for (const auto* p : {&pp2, &pp1}) {
        const auto r = dsdeploy::reconcile_vllm_memory(m, *p);
        (void)dsdeploy::to_text(r);
        (void)dsdeploy::memory_finding(r, "node1");
        nlohmann::json jr = r;
        (void)jr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return 0;
}
