// SPDX-License-Identifier: Apache-2.0
// `ray status` in any Ray version's layout, or a connection error.
#include <dsdeploy/diagnose.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto s = dsdeploy::parse_ray_status(text);
    (void)s.node_count();
    (void)s.resource("GPU");
    dsdeploy::node_evidence n;
    n.name = "node1";
    n.ray_status = text;
    dsdeploy::expectations ex;
    ex.node_list = {{"node1", "10.0.0.1", 8}, {"node2", "10.0.0.2", 8}};
    (void)dsdeploy::diagnose({{n}}, ex);
    return 0;
}
