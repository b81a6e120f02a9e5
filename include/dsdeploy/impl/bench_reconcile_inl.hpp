// SPDX-License-Identifier: Apache-2.0
// The definitions of bench_reconcile.hpp: included by it in header-only mode, compiled once by
// src/bench_reconcile.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/bench_reconcile.hpp>
#include <dsdeploy/detail/html.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

DSDEPLOY_INLINE dsdeploy::workload perf_workload_for(const run_result& r, const run_summary& s) {
    dsdeploy::workload w;
    w.input_len = s.completed ? static_cast<double>(s.total_input_tokens) / static_cast<double>(s.completed)
                              : static_cast<double>(r.workload.mean_input_tokens);
    w.output_len = s.completed ? static_cast<double>(s.total_output_tokens) / static_cast<double>(s.completed)
                               : static_cast<double>(r.workload.mean_output_tokens);
    if (!(w.input_len >= 1)) w.input_len = 1;
    if (!(w.output_len >= 1)) w.output_len = 1;
    w.num_prompts = static_cast<double>(r.requests.size());
    if (r.closed_loop) {
        w.load = load_kind::closed;
        w.concurrency = static_cast<double>(r.max_concurrency ? r.max_concurrency : 1);
    } else {
        w.load = load_kind::open;
        w.request_rate = r.request_rate;
    }
    return w;
}

DSDEPLOY_INLINE std::string deployment_label(const plan& p) {
    std::string gpus = p.gpu.name.empty() ? std::string("CPU") : p.gpu.name;
    std::string layout = fmt::format("TP {} x PP {}", p.parallel.tp, p.parallel.pp);
    if (p.parallel.dp > 1) layout += fmt::format(" x DP {}", p.parallel.dp);
    if (p.parallel.ep) layout += " (EP)";
    return fmt::format("{} on {} x {} {}, {}", p.model.name, p.nodes, p.gpus_per_node, gpus, layout);
}

DSDEPLOY_INLINE reconciliation reconcile(const perf_prediction& pr, const dsdeploy::workload& load, const run_summary& s,
                                         const std::string& deployment) {
    reconciliation r;
    r.deployment = deployment;
    r.load = load;
    auto add = [&](const char* key, const char* name, const char* unit, const estimate& e, double measured, bool have) {
        reconciled_metric m;
        m.key = key;
        m.name = name;
        m.unit = unit;
        m.predicted = e;
        m.have_measured = have;
        m.measured = have ? measured : 0.0;
        m.error = have && e.value > 0 ? (measured - e.value) / e.value : 0.0;
        m.within_range = have && measured >= e.low && measured <= e.high;
        r.metrics.push_back(std::move(m));
    };
    add("ttft_ms", "TTFT (mean)", "ms", pr.ttft_ms, s.ttft.mean, s.ttft.n > 0);
    add("tpot_ms", "TPOT (mean)", "ms", pr.tpot_ms, s.tpot.mean, s.tpot.n > 0);
    // The model's ITL is its TPOT (one token per decode step): the same prediction, against the
    // measured gaps between output events.
    add("itl_ms", "ITL (mean)", "ms", pr.tpot_ms, s.itl.mean, s.itl.n > 0);
    add("output_tok_s", "output tokens/s", "tok/s", pr.output_tok_s, s.output_throughput, s.completed > 0 && s.duration > 0);
    add("requests_s", "requests/s", "req/s", pr.requests_s, s.request_throughput, s.completed > 0 && s.duration > 0);
    r.notes.push_back("predicted for " + to_string(load) + " (the run's mean prompt and output tokens)");
    r.notes.push_back("error = (measured - predicted) / predicted; range = the model's low..high");
    if (!pr.fits) r.notes.push_back("the plan's KV cache does not hold one request of this workload: the prediction is not meaningful");
    if (pr.kv_limited) r.notes.push_back("the model expects clients to wait for KV-cache slots at this concurrency");
    for (const auto& a : pr.assumptions) r.notes.push_back(a);
    return r;
}

namespace detail {
inline std::string reconcile_num(double v) {
    if (!std::isfinite(v)) return "-";
    if (std::fabs(v) >= 100) return fmt::format("{:.0f}", v);
    if (std::fabs(v) >= 10) return fmt::format("{:.1f}", v);
    return fmt::format("{:.2f}", v);
}
inline std::string reconcile_pct(const reconciled_metric& m) {
    if (!m.have_measured) return "-";
    return fmt::format("{:+.0f}%", m.error * 100.0);
}
inline std::string reconcile_esc(const std::string& s) { return dsdeploy::detail::html_escape(s); }
}  // namespace detail

DSDEPLOY_INLINE std::string to_text(const reconciliation& r) {
    std::string o = "=============== Predicted beside measured ===============\n";
    o += "Deployment:           " + r.deployment + "\n";
    o += fmt::format("{:<22} {:>10} {:>21} {:>10} {:>7}  {}\n", "metric", "predicted", "range", "measured", "error", "provenance");
    for (const auto& m : r.metrics) {
        const std::string range = detail::reconcile_num(m.predicted.low) + ".." + detail::reconcile_num(m.predicted.high);
        o += fmt::format("{:<22} {:>10} {:>21} {:>10} {:>7}  {}\n", m.name + " " + m.unit, detail::reconcile_num(m.predicted.value),
                         range, m.have_measured ? detail::reconcile_num(m.measured) : std::string("-"), detail::reconcile_pct(m),
                         std::string(to_string(m.predicted.source)));
    }
    for (const auto& n : r.notes) o += "  - " + n + "\n";
    return o;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const reconciliation& r) {
    j = nlohmann::json::object();
    j["deployment"] = r.deployment;
    j["workload"] = to_string(r.load);
    nlohmann::json ms = nlohmann::json::array();
    for (const auto& m : r.metrics) {
        nlohmann::json e;
        e["metric"] = m.key;
        e["name"] = m.name;
        e["unit"] = m.unit;
        e["predicted"] = m.predicted;
        e["measured"] = m.have_measured ? nlohmann::json(m.measured) : nlohmann::json();
        e["error"] = m.have_measured ? nlohmann::json(m.error) : nlohmann::json();
        e["within_range"] = m.within_range;
        ms.push_back(std::move(e));
    }
    j["metrics"] = std::move(ms);
    j["notes"] = r.notes;
}

DSDEPLOY_INLINE std::string to_html(const reconciliation& r) {
    using detail::reconcile_esc;
    std::string o = "<h2>Predicted beside measured</h2>\n<p>" + reconcile_esc(r.deployment) + "; " + reconcile_esc(to_string(r.load)) +
                    ".</p>\n<table>\n<tr><th>metric</th><th>predicted</th><th>range</th><th>measured</th><th>error</th>"
                    "<th>provenance</th></tr>\n";
    for (const auto& m : r.metrics) {
        o += "<tr><td>" + reconcile_esc(m.name + " (" + m.unit + ")") + "</td><td>" + detail::reconcile_num(m.predicted.value) +
             "</td><td>" + detail::reconcile_num(m.predicted.low) + " .. " + detail::reconcile_num(m.predicted.high) + "</td><td>" +
             (m.have_measured ? detail::reconcile_num(m.measured) : std::string("-")) + "</td><td>" + detail::reconcile_pct(m) +
             "</td><td>" + reconcile_esc(std::string(to_string(m.predicted.source))) + "</td></tr>\n";
    }
    o += "</table>\n<ul>\n";
    for (const auto& n : r.notes) o += "<li>" + reconcile_esc(n) + "</li>\n";
    return o + "</ul>\n";
}

}  // namespace bench
DSDEPLOY_NAMESPACE_END
