// SPDX-License-Identifier: Apache-2.0
// The README's library example, verbatim (tests/readme_example_test.cmake keeps them equal).
#include <dsdeploy/dsdeploy.hpp>
#include <iostream>

int main() {
    dsdeploy::inventory inv = dsdeploy::default_inventory();   // or build the cluster yourself
    for (auto& n : inv.cluster.nodes) n.gpu_type = "H20";      // 2 x 8 L20 cannot hold it
    inv.serving.max_model_len = 16384;
    dsdeploy::plan p = dsdeploy::plan_for(inv);                // validates, plans, accounts memory
    std::cout << dsdeploy::to_text(p);                         // or nlohmann::json(p)
    return p.fits() ? 0 : 1;
}
