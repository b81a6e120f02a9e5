// SPDX-License-Identifier: Apache-2.0
// Whatever a failed bring-up step printed, judged as every kind of evidence on two nodes.
#include <dsdeploy/diagnose.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto a = dsdeploy::evidence_from_output("node1", text);
    a.nvidia_smi = text;
    a.nvidia_smi_topo = text;
    a.ray_list_nodes = text;
    a.ibv_devinfo = text;
    a.log = text;  // failure lines of any log (parse_log_events), and the NCCL parser on it
    (void)dsdeploy::recognised_in(text);
    auto b = dsdeploy::evidence_from_output("node2", text);
    b.ray_status = text;
    b.vllm_log = text;
    b.nccl_log = text;
    b.versions["ray"] = "2.50.1";
    dsdeploy::expectations ex;
    ex.fabric_kind = dsdeploy::fabric::infiniband;
    ex.interface = "bond0";
    ex.max_model_len = 4096;
    ex.node_list = {{"node1", "10.0.0.1", 8}, {"node2", "10.0.0.2", 8}};
    const auto findings = dsdeploy::diagnose({{a, b}}, ex);
    (void)dsdeploy::to_text(findings);
    nlohmann::json j = findings;
    (void)j.dump();  // throws on invalid UTF-8: evidence must be clean
    return 0;
}
