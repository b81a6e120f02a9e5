// SPDX-License-Identifier: Apache-2.0
#include <dsdeploy/dsdeploy.hpp>

int dsdeploy_odr_b() { return dsdeploy::default_inventory().cluster.total_gpus(); }
