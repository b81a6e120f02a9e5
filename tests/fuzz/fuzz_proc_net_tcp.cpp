// SPDX-License-Identifier: Apache-2.0
// /proc/net/tcp and /proc/net/tcp6 (the listening-socket probe).
#include <dsdeploy/diagnose.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    dsdeploy::node_evidence n;
    n.name = "node1";
    n.listening = dsdeploy::parse_proc_net_tcp(text);
    for (const auto& s : *n.listening) (void)dsdeploy::is_loopback(s.address);
    (void)dsdeploy::diagnose({{n}});
    return 0;
}
