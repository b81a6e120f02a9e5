// SPDX-License-Identifier: Apache-2.0
// vLLM start-up logs (V0 and V1 engines, Ray driver messages, tracebacks).
#include <dsdeploy/diagnose.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    (void)dsdeploy::parse_vllm_log(text);
    dsdeploy::node_evidence n;
    n.name = "node1";
    n.vllm_log = text;
    dsdeploy::expectations ex;
    ex.max_model_len = 65536;
    ex.node_list = {{"node1", "10.0.0.1", 8}, {"node2", "10.0.0.2", 8}};
    (void)dsdeploy::diagnose({{n}}, ex);
    return 0;
}
