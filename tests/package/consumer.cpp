// SPDX-License-Identifier: Apache-2.0
// A program another team would write: it only knows the installed package.
#include <dsdeploy/cluster.hpp>
#include <dsdeploy/version.hpp>

#include <cstdio>

int main() {
    dsdeploy::cluster c;
    c.nodes.push_back({"head", "10.1.0.1", dsdeploy::node_role::head, "H100", 8, {}, "", ""});
    c.nodes.push_back({"worker", "10.1.0.2", dsdeploy::node_role::worker, "H100", 8, {}, "", ""});
    dsdeploy::validate(c);
    std::printf("dsdeploy %s: %d GPUs, head %s\n", DSDEPLOY_VERSION, c.total_gpus(), c.head().name.c_str());
    return c.total_gpus() == 16 ? 0 : 1;
}
