// SPDX-License-Identifier: Apache-2.0
// The netcheck worker's output (JSON lines from a node, with whatever else the runtime printed),
// then the verdict on a two-node report built from it.
#include <dsdeploy/netcheck.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    dsdeploy::netcheck_report r;
    r.backend = size % 2 ? "nccl" : "gloo";
    r.world = 2;
    r.master = "10.0.0.1:29501";
    for (const char* name : {"h1", "h2"}) {
        dsdeploy::netcheck_node n;
        n.name = name;
        n.address = "10.0.0.1";
        n.interface = "eth0";
        n.planned_ranks = 1;
        n.backend = r.backend;
        n.reached = true;
        n.stderr_tail = text;
        dsdeploy::parse_netcheck_output(text, n);
        r.nodes.push_back(n);
    }
    dsdeploy::inventory inv = dsdeploy::default_inventory();
    r.findings = dsdeploy::judge_netcheck(inv, r, {});
    (void)r.exit_code();
    (void)dsdeploy::to_text(r);
    return 0;
}
