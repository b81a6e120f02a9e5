// SPDX-License-Identifier: Apache-2.0
// nvidia-smi output (table, -L, CSV) comes from other machines and other driver versions.
#include <dsdeploy/diagnose.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    (void)dsdeploy::parse_nvidia_smi(text);
    dsdeploy::node_evidence n;
    n.name = "node1";
    n.nvidia_smi = text;
    dsdeploy::expectations ex;
    ex.node_list = {{"node1", "10.0.0.1", 8}};
    (void)dsdeploy::diagnose({{n}}, ex);
    return 0;
}
