// SPDX-License-Identifier: Apache-2.0
// `nvidia-smi topo -m`: tabs or spaces, colour codes, NIC legends.
#include <dsdeploy/diagnose.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto topo = dsdeploy::parse_nvidia_smi_topo(text);
    for (const auto& a : topo.devices)
        for (const auto& b : topo.devices) (void)topo.link(a, b);
    dsdeploy::node_evidence n;
    n.name = "node1";
    n.nvidia_smi_topo = text;
    (void)dsdeploy::diagnose({{n}});
    return 0;
}
