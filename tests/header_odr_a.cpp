// SPDX-License-Identifier: Apache-2.0
// Two translation units include every header; a missing `inline` fails the link. The umbrella
// header first and twice: this is also its self-containment check (tests/CMakeLists.txt).
#include <dsdeploy/dsdeploy.hpp>
#include <dsdeploy/dsdeploy.hpp>

int dsdeploy_odr_b();

int main() {
    const auto inv = dsdeploy::default_inventory();
    return (inv.cluster.total_gpus() == 16 && dsdeploy_odr_b() == 16) ? 0 : 1;
}
