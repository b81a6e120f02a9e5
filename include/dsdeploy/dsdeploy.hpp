// SPDX-License-Identifier: Apache-2.0
// Umbrella header: everything dsdeploy offers.
#pragma once

#include <dsdeploy/bench.hpp>
#include <dsdeploy/bundle.hpp>
#include <dsdeploy/cluster.hpp>
#include <dsdeploy/compose.hpp>
#include <dsdeploy/deployment_state.hpp>
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/diagnose_gpu.hpp>
#include <dsdeploy/diagnose_nccl.hpp>
#include <dsdeploy/diagnose_ray.hpp>
#include <dsdeploy/diagnose_vllm.hpp>
#include <dsdeploy/error.hpp>
#include <dsdeploy/executor.hpp>
#include <dsdeploy/gpu.hpp>
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/launch.hpp>
#include <dsdeploy/log_line.hpp>
#include <dsdeploy/model.hpp>
#include <dsdeploy/network.hpp>
#include <dsdeploy/openai.hpp>
#include <dsdeploy/orchestrate.hpp>
#include <dsdeploy/plan.hpp>
#include <dsdeploy/ssh_executor.hpp>
#include <dsdeploy/version.hpp>
