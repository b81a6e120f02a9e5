// SPDX-License-Identifier: Apache-2.0
// NCCL_DEBUG=INFO logs from any NCCL version, interleaved between ranks.
#include <dsdeploy/diagnose.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto r = dsdeploy::parse_nccl_log(text);
    (void)r.ib_requested();
    dsdeploy::node_evidence n;
    n.name = "node1";
    n.nccl_log = text;
    dsdeploy::expectations ex;
    ex.fabric_kind = dsdeploy::fabric::roce;
    ex.interface = "bond0";
    (void)dsdeploy::diagnose({{n, n}}, ex);
    return 0;
}
