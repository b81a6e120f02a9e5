// SPDX-License-Identifier: Apache-2.0
// Ranking the layouts that fit by a predicted metric (dsdeploy plan --workload): candidates from
// the planner, one prediction each (impl/perf_inl.hpp), the winner and why.
#pragma once

#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/impl/perf_inl.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>

DSDEPLOY_NAMESPACE_BEGIN


DSDEPLOY_INLINE std::optional<rank_metric> parse_rank_metric(std::string_view s) {
    const std::string k = detail::to_lower(detail::trim(s));
    if (k == "throughput" || k == "tokens" || k == "output") return rank_metric::throughput;
    if (k == "ttft") return rank_metric::ttft;
    if (k == "tpot" || k == "itl") return rank_metric::tpot;
    return std::nullopt;
}

DSDEPLOY_INLINE std::string_view to_string(rank_metric m) {
    switch (m) {
        case rank_metric::throughput: return "throughput";
        case rank_metric::ttft: return "ttft";
        case rank_metric::tpot: return "tpot";
    }
    return "throughput";
}

namespace detail {
inline std::string layout_label(const parallelism& p, bool cross, double util, bool fp8_kv, bool int4) {
    std::string s = fmt::format("TP {} x PP {}", p.tp, p.pp);
    if (p.dp > 1) s += fmt::format(" x DP {}{}", p.dp, p.ep ? " + EP" : "");
    if (cross) s += " (TP across nodes)";
    s += fmt::format(", util {:.2f}", util);
    if (fp8_kv) s += ", FP8 KV";
    if (int4) s += ", 4-bit ckpt";
    return s;
}

inline double metric_value(const perf_prediction& p, rank_metric m) {
    switch (m) {
        case rank_metric::throughput: return p.output_tok_s.value;
        case rank_metric::ttft: return p.ttft_ms.value;
        case rank_metric::tpot: return p.tpot_ms.value;
    }
    return 0;
}

inline bool better(const ranked_layout& a, const ranked_layout& b, rank_metric m) {
    if (a.meets_slo != b.meets_slo) return a.meets_slo;
    const double va = metric_value(a.prediction, m), vb = metric_value(b.prediction, m);
    if (va != vb) return m == rank_metric::throughput ? va > vb : va < vb;
    return a.label < b.label;
}

inline std::string metric_phrase(rank_metric m) {
    switch (m) {
        case rank_metric::throughput: return "output throughput";
        case rank_metric::ttft: return "TTFT";
        case rank_metric::tpot: return "TPOT";
    }
    return "";
}

inline std::string metric_fmt(const perf_prediction& p, rank_metric m) {
    switch (m) {
        case rank_metric::throughput: return fmt::format("{} tok/s", fmt_num(p.output_tok_s.value));
        case rank_metric::ttft: return fmt_ms(p.ttft_ms.value);
        case rank_metric::tpot: return fmt_ms(p.tpot_ms.value);
    }
    return "";
}

inline std::string why_line(const layout_ranking& r) {
    if (r.ranked.empty()) return "";
    const ranked_layout& a = r.ranked[0];
    const perf_prediction& pa = a.prediction;
    std::string s = fmt::format("{} wins on {}: {}", a.label, metric_phrase(r.metric), metric_fmt(pa, r.metric));
    if (r.ranked.size() < 2) return s + "; it is the only layout that fits the workload";
    const ranked_layout& b = r.ranked[1];
    const perf_prediction& pb = b.prediction;
    s += fmt::format(" against {} for {} (next best)", metric_fmt(pb, r.metric), b.label);
    const double ba = std::floor(pa.batch) * a.parallel.dp, bb = std::floor(pb.batch) * b.parallel.dp;
    if (r.metric == rank_metric::ttft)
        s += fmt::format(": its prefill takes {} against {}{}", fmt_ms(pa.prefill_ms), fmt_ms(pb.prefill_ms),
                         pa.kv_limited != pb.kv_limited ? (pa.kv_limited ? ", though its clients queue for KV slots" : ", and no client queues for a KV slot")
                                                        : "");
    else if (r.metric == rank_metric::tpot)
        s += fmt::format(": its decode step takes {} at batch {:g} against {} at batch {:g} ({} binds)", fmt_ms(pa.decode_ms), std::floor(pa.batch),
                         fmt_ms(pb.decode_ms), std::floor(pb.batch), pa.decode.bottleneck);
    else if (ba > bb)
        s += fmt::format(": it decodes {:g} requests at once against {:g}{}, with a {} step against {} ({} binds)", ba, bb,
                         pb.kv_limited ? " (the other's KV cache caps its batch)" : "", fmt_ms(pa.decode_ms), fmt_ms(pb.decode_ms),
                         pa.decode.bottleneck);
    else
        s += fmt::format(": it decodes {:g} requests at once against {:g}{}, but each step takes {} against {} ({} binds)", ba, bb,
                         pa.kv_limited ? " (its KV cache caps the batch)" : "", fmt_ms(pa.decode_ms), fmt_ms(pb.decode_ms), pa.decode.bottleneck);
    const double va = metric_value(pa, r.metric), vb = metric_value(pb, r.metric);
    const error_band band = r.metric == rank_metric::throughput ? perf_band_throughput()
                            : r.metric == rank_metric::ttft     ? perf_band_ttft()
                                                                : perf_band_tpot();
    const double ratio = std::max(va, vb) / std::max(1e-12, std::min(va, vb));
    if (ratio < band.high / band.low) s += fmt::format("; the {:.0f}% lead is inside the model's error range, so measure both", 100 * (ratio - 1));
    if (r.slo_tpot_ms && !a.meets_slo) s += fmt::format("; no layout meets the TPOT SLO of {:g} ms", *r.slo_tpot_ms);
    return s;
}
}  // namespace detail

DSDEPLOY_INLINE layout_ranking rank_layouts(const cluster& c, const model_spec& m, const plan_options& o, const perf_network& net, const workload& w,
                                            rank_metric metric, std::optional<double> slo_tpot_ms, const engine_profile& e) {
    layout_ranking r;
    r.load = w;
    r.metric = metric;
    r.slo_tpot_ms = slo_tpot_ms;
    if (c.nodes.empty() || c.total_gpus() <= 0) {
        r.why = "no GPUs in the cluster: the performance model covers GPUs only";
        return r;
    }
    const node& first = c.nodes.front();
    const gpu_spec& g = require_gpu(first.gpu_type, "nodes[0].gpu_type");
    const int per_node = first.gpus();
    const int devices = c.total_gpus();
    const int nodes = static_cast<int>(c.nodes.size());
    const int len = static_cast<int>(std::ceil(w.input_len + w.output_len));

    std::vector<double> utils = {o.gpu_memory_utilization};
    for (double u : {0.95, max_practical_utilization})
        if (u > o.gpu_memory_utilization + 1e-9) utils.push_back(u);
    const dtype kv_default = o.kv_cache_dtype.value_or(default_kv_dtype(m));
    r.utilizations = fmt::format("{:.2f}", fmt::join(utils, "/"));
    r.kv_dtypes = kv_default == dtype::fp8 ? "FP8" : std::string(to_string(kv_default)) + " and FP8";
    std::vector<std::optional<dtype>> kvs = {o.kv_cache_dtype};
    if (kv_default != dtype::fp8) kvs.push_back(dtype::fp8);
    std::vector<model_spec> models = {m};
    std::string current_label;
    if (m.weights.type != dtype::int4) models.push_back(with_weights(m, weight_format{dtype::int4, 0, 128, "awq"}));

    for (int tp = 1; tp <= devices; ++tp) {
        if (devices % tp != 0 || m.num_attention_heads % tp != 0) continue;
        const bool cross = tp > per_node;
        if (cross ? tp % per_node != 0 : per_node % tp != 0) continue;
        for (int dp = 1; dp <= devices / tp; ++dp) {
            if ((devices / tp) % dp != 0) continue;
            const int pp = devices / tp / dp;
            if (pp > m.num_layers) continue;
            const parallelism par{tp, pp, dp, m.is_moe() && dp > 1};
            for (const model_spec& mm : models)
                for (const auto& kv : kvs)
                    for (double u : utils) {
                        ranked_layout cand;
                        cand.parallel = par;
                        cand.cross_node_tp = cross;
                        cand.options = o;
                        cand.options.parallel = par;
                        cand.options.gpu_memory_utilization = u;
                        cand.options.kv_cache_dtype = kv;
                        cand.options.max_model_len = len;
                        cand.options.allow_cross_node_tp = cross;
                        cand.options.pp_layer_partition.clear();
                        const bool int4 = mm.weights.type == dtype::int4 && m.weights.type != dtype::int4;
                        cand.weights = int4 ? "int4 (4-bit checkpoint, group 128)" : std::string(to_string(mm.weights.type));
                        cand.label = detail::layout_label(par, cross, u, kv && *kv == dtype::fp8 && kv_default != dtype::fp8, int4);
                        if (o.parallel && o.parallel->tp == par.tp && o.parallel->pp == par.pp && o.parallel->dp == par.dp &&
                            u == o.gpu_memory_utilization && kv == o.kv_cache_dtype && !int4)
                            current_label = cand.label;
                        ++r.candidates;
                        try {
                            validate_plan(c, mm, par, cand.options);
                        } catch (const config_error& err) {
                            cand.rejected = err.detail();
                            r.rejected.push_back(std::move(cand));
                            continue;
                        }
                        const std::vector<int> part = default_pp_partition(mm.num_layers, pp);
                        cand.memory = account_memory(mm, g, par, cand.options, part);
                        if (!cand.memory.fits) {
                            cand.rejected = cand.memory.kv_cache_gib <= 0
                                                ? fmt::format("weights ({:.2f} GiB per GPU) and headroom leave no KV cache", cand.memory.weights_gib)
                                                : fmt::format("the KV cache holds {} tokens, less than one {}-token request", cand.memory.kv_tokens, len);
                            r.rejected.push_back(std::move(cand));
                            continue;
                        }
                        plan pl;
                        pl.model = mm;
                        pl.gpu = g;
                        pl.nodes = nodes;
                        pl.gpus_per_node = per_node;
                        pl.parallel = par;
                        pl.options = cand.options;
                        pl.layer_partition = part;
                        pl.memory_checked = true;
                        pl.memory = cand.memory;
                        cand.prediction = predict_performance(pl, net, w, e);
                        cand.meets_slo = !slo_tpot_ms || cand.prediction.tpot_ms.value <= *slo_tpot_ms;
                        // A higher utilization that holds no larger batch adds nothing: keep the lower one.
                        if (!r.ranked.empty()) {
                            const ranked_layout& prev = r.ranked.back();
                            if (prev.parallel.tp == par.tp && prev.parallel.pp == par.pp && prev.parallel.dp == par.dp && prev.weights == cand.weights &&
                                prev.options.kv_cache_dtype == kv && prev.prediction.batch >= cand.prediction.batch) {
                                ++r.duplicates;
                                continue;
                            }
                        }
                        r.ranked.push_back(std::move(cand));
                    }
        }
    }
    std::stable_sort(r.ranked.begin(), r.ranked.end(), [&](const ranked_layout& a, const ranked_layout& b) { return detail::better(a, b, metric); });
    if (!current_label.empty()) {
        for (std::size_t k = 0; k < r.ranked.size() && !r.current; ++k)
            if (r.ranked[k].label == current_label) r.current = r.ranked[k], r.current_rank = k + 1;
        for (std::size_t k = 0; k < r.rejected.size() && !r.current; ++k)
            if (r.rejected[k].label == current_label) r.current = r.rejected[k];
    }
    r.why = r.ranked.empty() ? fmt::format("no layout of the {} {} GPUs holds one {}-token request", devices, g.name, len) : detail::why_line(r);
    return r;
}

// --- output ----------------------------------------------------------------------------------------

DSDEPLOY_INLINE std::string to_text(const perf_prediction& p) {
    using detail::fmt_ms;
    using detail::fmt_num;
    std::string s;
    auto line = [&](const char* name, const estimate& e, const std::string& v, const std::string& lo, const std::string& hi) {
        s += fmt::format("  {:<16} {:>12}  [{} - {}]  {}\n", name, v, lo, hi, to_string(e.source));
    };
    line("TTFT", p.ttft_ms, fmt_ms(p.ttft_ms.value), fmt_ms(p.ttft_ms.low), fmt_ms(p.ttft_ms.high));
    line("TPOT / ITL", p.tpot_ms, fmt_ms(p.tpot_ms.value), fmt_ms(p.tpot_ms.low), fmt_ms(p.tpot_ms.high));
    line("output", p.output_tok_s, fmt_num(p.output_tok_s.value) + " tok/s", fmt_num(p.output_tok_s.low), fmt_num(p.output_tok_s.high));
    line("total", p.total_tok_s, fmt_num(p.total_tok_s.value) + " tok/s", fmt_num(p.total_tok_s.low), fmt_num(p.total_tok_s.high));
    line("requests", p.requests_s, fmt::format("{:.3g} req/s", p.requests_s.value), fmt::format("{:.3g}", p.requests_s.low),
         fmt::format("{:.3g}", p.requests_s.high));
    s += fmt::format("  {:<16} {:>12}  {}\n", "KV cache holds", fmt::format("{:g} req", p.kv_max_concurrency.value), p.kv_max_concurrency.basis);
    s += fmt::format("  {:<16} {:>12}  per replica{}\n", "batch decoded", fmt::format("{:g}", std::floor(p.batch)),
                     p.kv_limited ? ": limited by the KV cache, the other clients queue" : "");
    s += fmt::format("  decode step {}: HBM {} | tensor {} | TP {} | PP hand-off {} | overhead {}{} -> {} ({:.0f}%)\n", fmt_ms(p.decode_ms),
                     fmt_ms(p.decode.hbm_ms), fmt_ms(p.decode.tensor_ms), fmt_ms(p.decode.tp_collective_ms), fmt_ms(p.decode.pp_handoff_ms),
                     fmt_ms(p.decode.overhead_ms), p.decode.bubble_ms > 0 ? " | bubble " + fmt_ms(p.decode.bubble_ms) : std::string(),
                     p.decode.bottleneck, 100 * p.decode.bottleneck_share);
    s += fmt::format("  prefill {}: tensor {} | TP {} | PP hand-off {} -> {} ({:.0f}%)\n", fmt_ms(p.prefill_ms), fmt_ms(p.prefill.tensor_ms),
                     fmt_ms(p.prefill.tp_collective_ms), fmt_ms(p.prefill.pp_handoff_ms), p.prefill.bottleneck, 100 * p.prefill.bottleneck_share);
    s += "  provenance: " + p.tpot_ms.basis + "\n";
    for (const auto& a : p.assumptions) s += "  assumes: " + a + "\n";
    return s;
}

DSDEPLOY_INLINE std::string to_text(const layout_ranking& r, std::size_t top) {
    using detail::fmt_ms;
    using detail::fmt_num;
    std::string s = fmt::format("Performance (predicted) for {}, ranked by {}{}\n", to_string(r.load), detail::metric_phrase(r.metric),
                                r.slo_tpot_ms ? fmt::format(" with TPOT <= {:g} ms", *r.slo_tpot_ms) : std::string());
    s += fmt::format("{} of {} candidates fit one {:g}-token request and are ranked (every TP x PP x DP on these GPUs, at utilization {}, "
                     "with {} KV cache, with the checkpoint's weights and a 4-bit checkpoint; {} higher utilizations that hold no larger batch "
                     "left out)\n",
                     r.ranked.size(), r.candidates, r.load.input_len + r.load.output_len, r.utilizations, r.kv_dtypes, r.duplicates);
    if (!r.ranked.empty()) {
        s += fmt::format("  {:>2}  {:<62} {:>6} {:>20} {:>22} {:>18}  {}\n", "#", "layout", "batch", "TPOT [range]", "output tok/s [range]",
                         "TTFT [range]", "decode bound by");
        for (std::size_t k = 0; k < r.ranked.size() && k < top; ++k) {
            const auto& x = r.ranked[k];
            const auto& p = x.prediction;
            s += fmt::format("  {:>2}  {:<62} {:>6} {:>20} {:>22} {:>18}  {}{}{}\n", k + 1, x.label, fmt::format("{:g}", std::floor(p.batch)),
                             fmt::format("{} [{}-{}]", fmt_ms(p.tpot_ms.value), fmt_num(p.tpot_ms.low), fmt_num(p.tpot_ms.high)),
                             fmt::format("{} [{}-{}]", fmt_num(p.output_tok_s.value), fmt_num(p.output_tok_s.low), fmt_num(p.output_tok_s.high)),
                             fmt::format("{} [{}-{}]", fmt_ms(p.ttft_ms.value), fmt_ms(p.ttft_ms.low), fmt_ms(p.ttft_ms.high)),
                             p.decode.bottleneck, x.meets_slo ? "" : "  (misses the SLO)",
                             p.tpot_ms.source == provenance::extrapolated ? "  *" : "");
        }
        if (r.ranked.size() > top) s += fmt::format("  ... and {} more (--json lists all)\n", r.ranked.size() - top);
        s += "Why: " + r.why + "\n";
        if (r.current && r.current_rank == 0)
            s += fmt::format("The plan's layout ({}) does not fit one {:g}-token request: {}\n", r.current->label,
                             r.load.input_len + r.load.output_len, r.current->rejected);
        else if (r.current && r.current_rank > 1)
            s += fmt::format("The plan's layout ({}) ranks #{} of {}:\n{}", r.current->label, r.current_rank, r.ranked.size(),
                             to_text(r.current->prediction));
        s += std::string(r.current_rank == 1 ? "The winner is the plan's layout" : "Winner") + " in detail:\n" + to_text(r.ranked[0].prediction);
        if (r.ranked[0].prediction.tpot_ms.source == provenance::extrapolated) s += "  (* extrapolated: see provenance)\n";
    } else {
        s += "Why: " + r.why + "\n";
    }
    return s;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const estimate& e) {
    j = {{"value", e.value}, {"low", e.low}, {"high", e.high}, {"provenance", to_string(e.source)}, {"basis", e.basis}};
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const perf_prediction& p) {
    auto phase = [](const phase_parts& ph) {
        return nlohmann::json{{"hbm_ms", ph.hbm_ms},
                              {"tensor_ms", ph.tensor_ms},
                              {"tp_collective_ms", ph.tp_collective_ms},
                              {"pp_handoff_ms", ph.pp_handoff_ms},
                              {"overhead_ms", ph.overhead_ms},
                              {"bubble_ms", ph.bubble_ms},
                              {"bottleneck", ph.bottleneck},
                              {"bottleneck_share", ph.bottleneck_share}};
    };
    j = {{"ttft_ms", p.ttft_ms},
         {"tpot_ms", p.tpot_ms},
         {"itl_ms", p.tpot_ms},
         {"output_tok_s", p.output_tok_s},
         {"total_tok_s", p.total_tok_s},
         {"requests_s", p.requests_s},
         {"kv_max_concurrency", p.kv_max_concurrency},
         {"kv_tokens_per_replica", p.kv_tokens},
         {"engine_max_seqs", p.engine_max_seqs},
         {"batch", p.batch},
         {"decode_step_ms", p.decode_ms},
         {"prefill_ms", p.prefill_ms},
         {"kv_limited", p.kv_limited},
         {"fits", p.fits},
         {"decode", phase(p.decode)},
         {"prefill", phase(p.prefill)},
         {"assumptions", p.assumptions}};
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const layout_ranking& r) {
    nlohmann::json ranked = nlohmann::json::array();
    for (std::size_t k = 0; k < r.ranked.size(); ++k) {
        const auto& x = r.ranked[k];
        ranked.push_back({{"rank", k + 1},
                          {"label", x.label},
                          {"tp", x.parallel.tp},
                          {"pp", x.parallel.pp},
                          {"dp", x.parallel.dp},
                          {"expert_parallel", x.parallel.ep},
                          {"cross_node_tp", x.cross_node_tp},
                          {"gpu_memory_utilization", x.options.gpu_memory_utilization},
                          {"kv_cache_dtype", std::string(to_string(x.memory.kv_dtype))},
                          {"weights", x.weights},
                          {"meets_slo", x.meets_slo},
                          {"kv_tokens", x.memory.kv_tokens},
                          {"prediction", x.prediction}});
    }
    j = {{"workload",
          {{"input_len", r.load.input_len},
           {"output_len", r.load.output_len},
           {"load", r.load.load == load_kind::closed ? "closed" : r.load.load == load_kind::burst ? "burst" : "open"},
           {"concurrency", r.load.concurrency},
           {"num_prompts", r.load.num_prompts},
           {"request_rate", r.load.request_rate}}},
         {"rank_by", to_string(r.metric)},
         {"slo_tpot_ms", r.slo_tpot_ms ? nlohmann::json(*r.slo_tpot_ms) : nlohmann::json(nullptr)},
         {"candidates", r.candidates},
         {"duplicates_left_out", r.duplicates},
         {"fitting", r.ranked.size()},
         {"why", r.why},
         {"current_layout", r.current ? nlohmann::json{{"label", r.current->label},
                                                        {"rank", r.current_rank},
                                                        {"fits", r.current_rank > 0},
                                                        {"rejected", r.current->rejected},
                                                        {"prediction", r.current_rank > 0 ? nlohmann::json(r.current->prediction) : nlohmann::json(nullptr)}}
                                      : nlohmann::json(nullptr)},
         {"ranked", ranked}};
}

DSDEPLOY_NAMESPACE_END
