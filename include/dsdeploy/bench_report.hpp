// SPDX-License-Identifier: Apache-2.0
// The benchmark's report: one self-contained HTML page with inline SVG plots (no script, no
// network): TTFT and ITL histograms and output throughput over time for every run, and
// latency and throughput against concurrency for a sweep.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/bench_results.hpp>
#include <dsdeploy/bench_stats.hpp>

#include <string>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

struct report_point {  // one run (one concurrency of a sweep)
    std::string label;  // e.g. "concurrency 8"
    const run_result* result = nullptr;
    const run_summary* summary = nullptr;
    // An HTML fragment shown under the point's table row, e.g. bench_reconcile.hpp's to_html():
    // the performance model's prediction beside the measurement. Empty: none.
    std::string reconciliation_html{};
};
// TTFT and ITL histograms and output throughput over time for every point, and latency vs
// concurrency when there are several points.
std::string html_report(const std::vector<report_point>& points, const std::string& title = "dsdeploy bench");

}  // namespace bench
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/bench_report_inl.hpp>
#endif
