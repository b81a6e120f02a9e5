// SPDX-License-Identifier: Apache-2.0
// Umbrella header: everything dsdeploy offers.
#pragma once

#include <dsdeploy/bench.hpp>
#include <dsdeploy/bench_engine.hpp>
#include <dsdeploy/bench_formats.hpp>
#include <dsdeploy/bench_report.hpp>
#include <dsdeploy/bench_results.hpp>
#include <dsdeploy/bench_runner.hpp>
#include <dsdeploy/bench_stats.hpp>
#include <dsdeploy/bench_workload.hpp>
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
#include <dsdeploy/openai_codec.hpp>
#include <dsdeploy/openai_errors.hpp>
#include <dsdeploy/openai_metrics.hpp>
#include <dsdeploy/openai_transport.hpp>
#include <dsdeploy/openai_types.hpp>
#include <dsdeploy/orchestrate.hpp>
#include <dsdeploy/plan.hpp>
#include <dsdeploy/version.hpp>
