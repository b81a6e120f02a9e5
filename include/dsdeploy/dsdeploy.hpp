// SPDX-License-Identifier: Apache-2.0
// Umbrella header: everything dsdeploy offers.
#pragma once

#include <dsdeploy/bench.hpp>
#include <dsdeploy/bundle.hpp>
#include <dsdeploy/cluster.hpp>
#include <dsdeploy/compose.hpp>
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/error.hpp>
#include <dsdeploy/gpu.hpp>
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/launch.hpp>
#include <dsdeploy/model.hpp>
#include <dsdeploy/network.hpp>
#include <dsdeploy/openai.hpp>
#include <dsdeploy/orchestrate.hpp>
#include <dsdeploy/perf.hpp>
#include <dsdeploy/plan.hpp>
#include <dsdeploy/version.hpp>
