// SPDX-License-Identifier: Apache-2.0
// Predicted beside measured: the performance model's prediction (perf.hpp) for the workload a
// benchmark run actually sent (mean prompt and output tokens, concurrency or request rate), and
// the run's measured TTFT, TPOT, ITL, output tokens/s and requests/s with the error of each.
// Pure: the caller predicts (predict_performance on the deployment's plan) and measures.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/bench_results.hpp>
#include <dsdeploy/bench_stats.hpp>
#include <dsdeploy/perf.hpp>

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

// The performance model's workload for what a run sent: the mean prompt and output tokens of
// its completed requests (the requested means when none completed), a closed loop of its users or
// an open loop at its rate; num_prompts is the number of measured requests.
dsdeploy::workload perf_workload_for(const run_result& r, const run_summary& s);

struct reconciled_metric {
    std::string key;        // "ttft_ms", "tpot_ms", "itl_ms", "output_tok_s", "requests_s"
    std::string name;       // "TTFT (mean)", ...
    std::string unit;       // "ms", "tok/s", "req/s"
    estimate predicted;     // value, low..high range, provenance
    double measured = 0;
    bool have_measured = false;  // false when the run measured none (e.g. every request failed)
    // (measured - predicted) / predicted: +0.30 is 30% above the prediction. 0 without a measurement.
    double error = 0;
    bool within_range = false;   // measured within [predicted.low, predicted.high]
};

struct reconciliation {
    std::string deployment;      // "DeepSeek-V3 on 2 x 8 H20, TP 8 x PP 2"
    dsdeploy::workload load;     // what was predicted for
    std::vector<reconciled_metric> metrics;
    std::vector<std::string> notes;  // assumptions, what the comparison cannot tell
};

// Predicted beside measured for TTFT (mean), TPOT (mean), ITL (mean; the model's TPOT is its ITL),
// output tokens/s and requests/s. `deployment` labels the plan the prediction was made for.
reconciliation reconcile(const perf_prediction& predicted, const dsdeploy::workload& load, const run_summary& measured,
                         const std::string& deployment);
// A label for a plan: model, GPUs and layout.
std::string deployment_label(const plan& p);

// "Predicted beside measured" block for the text summary.
std::string to_text(const reconciliation& r);
void to_json(nlohmann::json& j, const reconciliation& r);
// The report's table (an HTML fragment, escaped).
std::string to_html(const reconciliation& r);

}  // namespace bench
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/bench_reconcile_inl.hpp>
#endif
