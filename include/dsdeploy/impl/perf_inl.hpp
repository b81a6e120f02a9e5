// SPDX-License-Identifier: Apache-2.0
// The performance model, ported from scripts/dev/perf_model_fit.py (formulas: docs/performance-model.md
// section 2): inputs and one prediction. Its data are impl/perf_data_inl.hpp, the ranking of layouts
// impl/perf_rank_inl.hpp. tests/perf_test.cpp checks the port against the prototype on every row.
#pragma once

#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/impl/perf_data_inl.hpp>
#include <dsdeploy/perf.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE std::string_view to_string(provenance p) {
    switch (p) {
        case provenance::datasheet: return "datasheet";
        case provenance::calibrated: return "calibrated";
        case provenance::extrapolated: return "extrapolated";
    }
    return "extrapolated";
}

// --- inputs ----------------------------------------------------------------------------------------

DSDEPLOY_INLINE perf_network perf_network_for(const network_profile& p, double link_gbit_per_gpu) {
    perf_network n;
    n.kind = p.kind;
    n.gbytes_per_gpu = link_gbit_per_gpu > 0 ? link_gbit_per_gpu / 8.0 : 0;
    return n;
}

DSDEPLOY_INLINE workload parse_workload(std::string_view spec, const std::string& field) {
    workload w;
    bool have_load = false;
    auto bad = [&](const std::string& why) {
        raise(errc::plan_value, field,
              "\"" + std::string(spec) + "\": " + why + "; use e.g. in=4096,out=1024,concurrency=16 (or rate=2, or burst=500)");
    };
    std::string_view rest = spec;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view item = detail::trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (item.empty()) continue;
        const auto eq = item.find('=');
        if (eq == std::string_view::npos) bad("\"" + std::string(item) + "\" is not key=value");
        const std::string key = detail::to_lower(detail::trim(item.substr(0, eq)));
        const std::string val(detail::trim(item.substr(eq + 1)));
        if (key == "sharegpt") {
            w.sharegpt = val == "1" || val == "true" || val == "yes";
            continue;
        }
        double v = 0;
        try {
            std::size_t used = 0;
            v = std::stod(val, &used);
            if (used != val.size()) throw std::invalid_argument(val);
        } catch (const std::exception&) {
            bad(key + "=" + val + " is not a number");
        }
        if (!(v > 0) || !std::isfinite(v)) bad(key + " must be positive");
        if (key == "in" || key == "input" || key == "input_len") w.input_len = v;
        else if (key == "out" || key == "output" || key == "output_len") w.output_len = v;
        else if (key == "concurrency" || key == "c") { w.load = load_kind::closed; w.concurrency = v; have_load = true; }
        else if (key == "rate" || key == "request_rate") { w.load = load_kind::open; w.request_rate = v; have_load = true; }
        else if (key == "burst" || key == "prompts" || key == "num_prompts") {
            if (!have_load) w.load = load_kind::burst;
            w.num_prompts = v;
            have_load = true;
        } else bad("unknown key \"" + key + "\" (in, out, concurrency, rate, burst, sharegpt)");
    }
    return w;
}

DSDEPLOY_INLINE std::string to_string(const workload& w) {
    std::string load;
    switch (w.load) {
        case load_kind::closed: load = fmt::format("concurrency={:g}", w.concurrency); break;
        case load_kind::burst: load = fmt::format("burst={:g}", w.num_prompts); break;
        case load_kind::open: load = fmt::format("rate={:g}/s", w.request_rate); break;
    }
    return fmt::format("in={:g},out={:g},{}{}", w.input_len, w.output_len, load, w.sharegpt ? ",sharegpt" : "");
}

// --- the model -------------------------------------------------------------------------------------

namespace detail {

struct perf_params {
    double eta_bw_hopper, eta_bw_ampere, eta_bw_gddr, eta_moe_bw, w4_moe_bw, eta_f_dense, eta_f_moe;
    double t_layer_us, t_step_ms, t_step_v0_ms, a_inter_us, t_ttft0_ms, sharegpt_tail;
    double a_nvlink_us, a_pcie_us, eta_link;
};

inline const perf_params& perf_fitted() {
    static const perf_params p = {
        perf_factor_value("eta_bw_hopper"), perf_factor_value("eta_bw_ampere"), perf_factor_value("eta_bw_gddr"),
        perf_factor_value("eta_moe_bw"),    perf_factor_value("w4_moe_bw"),     perf_factor_value("eta_f_dense"),
        perf_factor_value("eta_f_moe"),     perf_factor_value("t_layer_us"),    perf_factor_value("t_step_ms"),
        perf_factor_value("t_step_v0_ms"),  perf_factor_value("a_inter_us"),    perf_factor_value("t_ttft0_ms"),
        perf_factor_value("sharegpt_tail"), perf_factor_value("a_nvlink_us"),   perf_factor_value("a_pcie_us"),
        perf_factor_value("eta_link"),
    };
    return p;
}

// The model's shape in the prototype's terms (parameters, not bytes).
struct perf_dims {
    int L = 0, h = 0, vocab = 0;
    bool moe = false, mla = false;
    int nq = 0, nkv = 0, hd = 0;
    double attn = 0;      // attention parameters per layer
    double mlp = 0;       // dense FFN parameters per dense layer
    int n_dense = 0;      // layers with a dense FFN
    int E = 0, k = 0;     // routed experts, chosen per token
    double expert = 0;    // parameters per expert
    double shared = 0;    // shared experts (in expert units)
    double kv_elems = 0;  // MLA latent per token per layer
    double repl = 0;      // per layer, replicated on every TP rank (MLA q_a, kv_a, router)
};

inline perf_dims perf_dims_of(const model_spec& m) {
    perf_dims d;
    d.L = m.num_layers;
    d.h = m.hidden_size;
    d.vocab = m.vocab_size;
    d.moe = m.is_moe();
    d.mla = m.is_mla();
    d.nq = m.num_attention_heads;
    d.nkv = m.num_kv_heads;
    d.hd = m.head_dim;
    const double h = m.hidden_size, nq = m.num_attention_heads;
    if (d.mla) {
        const double qk = m.qk_nope_head_dim + m.qk_rope_head_dim;
        const double q = m.q_lora_rank > 0 ? h * m.q_lora_rank + double(m.q_lora_rank) * nq * qk : h * nq * qk;
        d.attn = q + h * (m.kv_lora_rank + m.qk_rope_head_dim) + double(m.kv_lora_rank) * nq * (m.qk_nope_head_dim + m.v_head_dim) +
                 nq * m.v_head_dim * h;
        d.kv_elems = m.kv_lora_rank + m.qk_rope_head_dim;
        d.repl = h * m.q_lora_rank + h * (m.kv_lora_rank + m.qk_rope_head_dim) + h * m.num_experts;
    } else {
        d.attn = h * nq * m.head_dim * 2 + 2 * h * double(m.num_kv_heads) * m.head_dim;
    }
    d.mlp = 3 * h * m.intermediate_size;
    d.n_dense = d.moe ? m.first_dense_layers : m.num_layers;
    d.E = m.num_experts;
    d.k = m.experts_per_token;
    d.expert = 3 * h * m.moe_intermediate_size;
    d.shared = m.shared_expert_intermediate_size > 0 && m.moe_intermediate_size > 0
                   ? double(m.shared_expert_intermediate_size) / m.moe_intermediate_size
                   : m.num_shared_experts;
    return d;
}

// Bytes per parameter: attention/dense/shared, routed experts, embedding and head.
struct perf_wbytes {
    double dense = 2, expert = 2, emb = 2;
};
inline perf_wbytes perf_weight_bytes(const model_spec& m) {
    switch (m.weights.type) {
        case dtype::fp8:
        case dtype::int8: return {1, 1, 2};
        case dtype::int4: return {2, 0.53, 2};  // AWQ MoE checkpoints: experts 4-bit g128, the rest 16-bit
        default: return {2, 2, 2};
    }
}

struct perf_ctx {
    perf_dims d;
    perf_wbytes wb;
    bool fp8_weights = false;
    double bw = 0;         // B/s, datasheet
    double f_lin = 0;      // FLOP/s for linear layers
    double f_bf16 = 0;     // FLOP/s for attention
    double eta_bw = 0;
    int tp = 1, pp = 1, gpn = 1, nodes = 1;
    bool nvlink = false;
    double link_bw = 0;    // B/s per direction inside a node
    double fabric_bw = 0;  // B/s per GPU between nodes
    double kv_tok_layer = 0;
    // DP + EP (not in the prototype; extrapolated): routed experts sharded over tp x dp GPUs, each
    // GPU serving the tokens of all dp replicas, two all-to-alls per MoE layer.
    int ep_dp = 1;          // dp when expert parallelism is on, else 1
    bool ep_cross = false;  // the EP group spans nodes
    std::vector<std::pair<int, int>> stages;  // (layers, dense layers)
    const perf_params* P = nullptr;
};

inline double distinct_frac(const perf_dims& d, double tokens) {
    if (!d.moe || d.E <= 0) return 0.0;
    return 1.0 - std::pow(1.0 - double(d.k) / d.E, std::max(tokens, 0.0));
}

inline double allreduce_time(const perf_ctx& c, double nbytes) {
    if (c.tp <= 1) return 0.0;
    double a = 0, bw = 0;
    if (c.tp > c.gpn) {
        a = c.P->a_inter_us * 1e-6;
        bw = c.fabric_bw * c.P->eta_link;
    } else {
        a = (c.nvlink ? c.P->a_nvlink_us : c.P->a_pcie_us) * 1e-6;
        bw = c.link_bw * c.P->eta_link;
    }
    return a + 2.0 * (c.tp - 1) / c.tp * nbytes / bw;
}

// Dispatch + combine of `tokens` tokens' hidden states for one MoE layer under EP (0 without EP).
inline double alltoall_time(const perf_ctx& c, double tokens) {
    if (c.ep_dp <= 1) return 0.0;
    const int shards = c.tp * c.ep_dp;
    const double nb = tokens * c.d.k * c.d.h * 2.0 * (shards - 1) / shards;
    const double a = (c.ep_cross ? c.P->a_inter_us : c.nvlink ? c.P->a_nvlink_us : c.P->a_pcie_us) * 1e-6;
    const double bw = (c.ep_cross ? c.fabric_bw : c.link_bw) * c.P->eta_link;
    return 2 * (a + nb / bw);
}

inline double hop_time(const perf_ctx& c, double tokens) {
    if (c.pp <= 1) return 0.0;
    const double nb = tokens * c.d.h * 2;
    if (c.nodes > 1) return c.P->a_inter_us * 1e-6 + nb / (c.fabric_bw * c.P->eta_link);
    return c.P->a_nvlink_us * 1e-6 + nb / 100e9;
}

struct perf_step_parts {
    double mem = 0, comp = 0, ar = 0, ovh = 0, hop = 0, bound = 0;
};

inline double decode_stage_time(const perf_ctx& c, int n, int n_dense, bool last, double mb, double ctx, perf_step_parts& parts) {
    const perf_dims& d = c.d;
    const perf_params& P = *c.P;
    const int n_moe = n - n_dense;
    const double always = n * d.attn * c.wb.dense + n_dense * d.mlp * c.wb.dense + n_moe * d.shared * d.expert * c.wb.dense;
    const double experts = n_moe * double(d.E) * d.expert * c.wb.expert * distinct_frac(d, mb * c.ep_dp) / c.ep_dp;
    const double head = (last ? 1.0 : 0.0) * double(d.vocab) * d.h * c.wb.emb;
    const double wbytes = (always + head) / c.tp + n * d.repl * c.wb.dense * (1 - 1.0 / c.tp);
    const double kvbytes = mb * ctx * n * c.kv_tok_layer;
    const double bw = c.bw * c.eta_bw;
    const double moe_eff = P.eta_moe_bw * (c.wb.expert < 1.0 ? P.w4_moe_bw : 1.0);
    const double t_mem = (wbytes + kvbytes) / bw + experts / c.tp / (bw * moe_eff);
    const double act_dense = n * d.attn + n_dense * d.mlp + (last ? 1.0 : 0.0) * double(d.vocab) * d.h;
    const double act_moe = n_moe * (d.shared + d.k) * d.expert;
    const double attn_fl = d.mla ? mb * ctx * n * 2 * d.nq * (d.kv_elems + 512) * 2 / c.tp : mb * ctx * n * 4.0 * d.nq * d.hd / c.tp;
    const double t_comp = (2 * act_dense * mb / c.tp) / (c.f_lin * P.eta_f_dense) + (2 * act_moe * mb / c.tp) / (c.f_lin * P.eta_f_moe) +
                          attn_fl / (c.f_bf16 * P.eta_f_dense);
    const double t_ar = n * 2 * allreduce_time(c, mb * d.h * 2) + n_moe * alltoall_time(c, mb);
    const double t_ovh = n * P.t_layer_us * 1e-6;
    parts.mem += t_mem;
    parts.comp += t_comp;
    parts.ar += t_ar;
    parts.ovh += t_ovh;
    parts.bound += std::max(t_mem, t_comp);
    return t_ovh + std::max(t_mem, t_comp) + t_ar;
}

// TPOT without prefill interference: a token's trip through all PP stages.
inline double decode_time(const perf_ctx& c, double b, double ctx, bool v0, perf_step_parts* out = nullptr) {
    const double mb = std::max(1.0, std::ceil(b / c.pp));
    const double t0 = (c.P->t_step_ms + (v0 ? c.P->t_step_v0_ms : 0.0)) * 1e-3;
    perf_step_parts parts;
    parts.ovh = t0;
    double t = t0;
    for (std::size_t i = 0; i < c.stages.size(); ++i)
        t += decode_stage_time(c, c.stages[i].first, c.stages[i].second, i + 1 == c.stages.size(), mb, ctx, parts);
    parts.hop = (c.pp - 1) * hop_time(c, mb);
    t += parts.hop;
    if (out) *out = parts;
    return t;
}

struct perf_prefill_parts {
    double lin = 0, att = 0, ar = 0, hop = 0;
};

// Marginal time to prefill one request of n_tok tokens (all stages in sequence).
inline double prefill_time(const perf_ctx& c, double n_tok, perf_prefill_parts* out = nullptr) {
    const perf_dims& d = c.d;
    const perf_params& P = *c.P;
    const double act_dense = d.L * d.attn + d.n_dense * d.mlp + double(d.vocab) * d.h / std::max(n_tok, 1.0);
    const double act_moe = (d.L - d.n_dense) * (d.shared + d.k) * d.expert;
    const double t_lin = 2 * n_tok / c.tp * (act_dense / (c.f_lin * P.eta_f_dense) + act_moe / (c.f_lin * P.eta_f_moe));
    const double per_pair = d.mla ? 2.0 * d.nq * (192 + 128) : 2.0 * d.nq * d.hd * 2;
    const double t_att = d.L * per_pair * n_tok * n_tok / 2 / c.tp / (c.f_bf16 * P.eta_f_dense);
    const double t_ar = d.L * 2 * allreduce_time(c, n_tok * d.h * 2) + (d.L - d.n_dense) * alltoall_time(c, n_tok);
    const double t_hop = (c.pp - 1) * hop_time(c, n_tok);
    if (out) *out = {t_lin, t_att, t_ar, t_hop};
    return t_lin + t_att + t_ar + t_hop;
}

inline bool version_before(const std::string& version, int major, int minor, bool if_unknown) {
    int a = 0, b = 0;
    if (std::sscanf(version.c_str(), "%d.%d", &a, &b) != 2) return if_unknown;
    return a < major || (a == major && b < minor);
}

inline double engine_max_seqs(const engine_profile& e, const gpu_spec& g, std::string_view family) {
    if (e.name == "tensorrt-llm") return 2048;
    if (e.name == "sglang") return 4096;
    // vLLM V1 (>= 0.8): 1024 on >= 70 GiB GPUs other than A100, else 256; V0: 256.
    if (!version_before(e.version, 0, 8, false) && g.memory_gib >= 70 && family != "ampere") return 1024;
    return 256;
}

inline bool engine_v0(const engine_profile& e) { return e.name == "vllm" && (e.v0 || version_before(e.version, 0, 8, false)); }

inline double default_fabric_gbytes(fabric kind, std::string_view family) {
    switch (kind) {
        case fabric::infiniband: return family == "hopper" ? 50.0 : 25.0;  // IB 400G / 200G per GPU
        case fabric::roce: return family == "hopper" ? 50.0 : 25.0;
        case fabric::tcp: return 4.0;
    }
    return 4.0;
}

inline std::string fmt_ms(double ms) {
    if (ms >= 10000) return fmt::format("{:.0f} s", ms / 1000);
    if (ms >= 1000) return fmt::format("{:.1f} s", ms / 1000);
    if (ms >= 100) return fmt::format("{:.0f} ms", ms);
    if (ms >= 10) return fmt::format("{:.1f} ms", ms);
    return fmt::format("{:.2f} ms", ms);
}

inline std::string fmt_num(double v) {
    if (v >= 100) return fmt::format("{:.0f}", v);
    if (v >= 10) return fmt::format("{:.1f}", v);
    return fmt::format("{:.2f}", v);
}

inline void set_phase(phase_parts& ph, const std::vector<std::pair<std::string, double>>& parts) {
    double total = 0, best = -1;
    for (const auto& [name, v] : parts) {
        total += v;
        if (v > best) {
            best = v;
            ph.bottleneck = name;
        }
    }
    ph.bottleneck_share = total > 0 ? best / total : 0;
}

}  // namespace detail

DSDEPLOY_INLINE perf_prediction predict_performance(const plan& pl, const perf_network& net, const workload& w, const engine_profile& e) {
    if (!(w.input_len > 0) || !(w.output_len > 0))
        raise(errc::plan_value, "workload", "input and output lengths must be positive token counts");
    const gpu_spec& g = pl.gpu;
    const gpu_datasheet* ds = find_gpu_datasheet(g.name);
    if (g.name.empty() || !ds)
        raise(errc::plan_value, "gpu", "no datasheet figures for GPU \"" + g.name + "\"; the performance model knows " + [] {
                  std::vector<std::string> names;
                  for (const auto& x : gpu_datasheets()) names.emplace_back(x.gpu);
                  return detail::one_of(names);
              }());
    const detail::perf_params& P = detail::perf_fitted();
    detail::perf_ctx c;
    c.P = &P;
    c.d = detail::perf_dims_of(pl.model);
    c.wb = detail::perf_weight_bytes(pl.model);
    c.fp8_weights = pl.model.weights.type == dtype::fp8;
    c.bw = g.bandwidth_gbps * 1e9;
    c.f_bf16 = ds->bf16_tflops * 1e12;
    c.f_lin = c.fp8_weights && ds->fp8_tflops > 0 ? ds->fp8_tflops * 1e12 : c.f_bf16;
    c.eta_bw = ds->family == "ampere" ? P.eta_bw_ampere : ds->family == "gddr" ? P.eta_bw_gddr : P.eta_bw_hopper;
    c.tp = std::max(1, pl.parallel.tp);
    c.pp = std::max(1, pl.parallel.pp);
    c.gpn = std::max(1, pl.gpus_per_node);
    c.nodes = std::max(1, pl.nodes);
    c.nvlink = g.nvlink;
    c.link_bw = (g.nvlink ? g.gpu_link_gbps / 2 : g.gpu_link_gbps) * 1e9;
    c.fabric_bw = (net.gbytes_per_gpu > 0 ? net.gbytes_per_gpu : detail::default_fabric_gbytes(net.kind, ds->family)) * 1e9;
    if (pl.parallel.ep && pl.parallel.dp > 1 && c.d.moe) {
        c.ep_dp = pl.parallel.dp;
        c.ep_cross = c.tp * pl.parallel.dp > c.gpn;
    }
    const dtype kv = pl.memory_checked ? pl.memory.kv_dtype : default_kv_dtype(pl.model);
    c.kv_tok_layer = kv_bytes_per_token(pl.model, kv, 1, c.tp);
    const std::vector<int> parts = pl.layer_partition.empty() ? default_pp_partition(c.d.L, c.pp) : pl.layer_partition;
    int start = 0;
    for (int n : parts) {
        c.stages.emplace_back(n, std::max(0, std::min(c.d.n_dense, start + n) - start));
        start += n;
    }

    perf_prediction out;
    const double i = w.input_len, o = w.output_len;
    const double dp = std::max(1, pl.parallel.dp);
    out.kv_tokens = double(pl.memory.kv_tokens);
    out.engine_max_seqs = detail::engine_max_seqs(e, g, ds->family);
    out.fits = out.kv_tokens >= i + o;
    const double bmax = std::min(out.engine_max_seqs, std::max(1.0, out.kv_tokens / (i + o)));
    const bool v0 = detail::engine_v0(e);
    const double t_pf = detail::prefill_time(c, i);
    const double ctx = i + o / 2;
    const double t0 = P.t_ttft0_ms * 1e-3;
    const double tail = w.sharegpt ? P.sharegpt_tail : 1.0;

    double tpot = 0, ttft = 0, out_tps = 0, B = 1, t_dec = 0;
    auto closed = [&](double cc, double N) {
        B = std::max(1.0, std::min(cc, bmax));
        t_dec = detail::decode_time(c, B, ctx, v0);
        tpot = t_dec + (B - 1) * t_pf / o;
        ttft = t0 + t_pf + 0.5 * t_dec;
        if (N > 0 && N > B) ttft += (B / N) * (B - 1) / 2 * t_pf;
        const double t_req = ttft + (o - 1) * tpot;
        out_tps = B * o / t_req;
        if (cc > bmax) ttft += (cc / bmax - 1) * t_req;
        return t_req;
    };
    switch (w.load) {
        case load_kind::burst: {
            const double n = std::max(1.0, (w.num_prompts > 0 ? w.num_prompts : w.concurrency) / dp);
            B = std::max(1.0, std::min(n, bmax));
            t_dec = detail::decode_time(c, B, ctx, v0);
            double T = n * t_pf + n * o / B * t_dec;
            if (tail > 1.0) T += (tail - 1.0) * o * detail::decode_time(c, std::max(1.0, B / tail), ctx, v0);
            const double k_pf = n <= B ? (B - 1) / 2 : (B - 1) * (n - B) / n + (B - 1) / 2 * B / n;
            tpot = t_dec + k_pf * t_pf / o;
            const double first = (B + 1) / 2 * t_pf;
            ttft = t0 + first * (B / n) + (1 - B / n) * (first + T / 2);
            out_tps = n * o / T;
            out.kv_limited = n > bmax;
            break;
        }
        case load_kind::closed: {
            const double cc = std::max(1.0, w.concurrency / dp);
            closed(cc, w.num_prompts / dp);
            out.kv_limited = cc > bmax;
            break;
        }
        case load_kind::open: {
            // Little's law: in flight = rate x request time; iterate to the fixed point.
            const double rate = w.request_rate / dp;
            double inflight = 1;
            double t_req = closed(inflight, 0);
            for (int it = 0; it < 100; ++it) {
                const double next = std::min(bmax, std::max(1.0, rate * t_req));
                if (std::abs(next - inflight) < 1e-6 * inflight) break;
                inflight = 0.5 * inflight + 0.5 * next;
                t_req = closed(inflight, 0);
            }
            const double served = out_tps;  // at the batch held
            if (rate * o > served * (1 + 1e-9) && inflight >= bmax * (1 - 1e-6)) {
                out.kv_limited = true;
                out.assumptions.push_back(fmt::format(
                    "the arrival rate ({:g} requests/s per replica) exceeds what the batch the KV cache holds serves ({:.2f}/s): the "
                    "queue grows without bound, so TTFT is unbounded; figures are at saturation",
                    rate, served / o));
            } else {
                out_tps = rate * o;
            }
            break;
        }
    }
    out.batch = B;
    out.decode_ms = t_dec * 1e3;
    out.prefill_ms = t_pf * 1e3;

    // Where the time goes, at the batch held.
    detail::perf_step_parts sp;
    detail::decode_time(c, B, ctx, v0, &sp);
    std::string tp_link = c.ep_dp > 1      ? std::string("TP all-reduce + EP all-to-all over ") +
                                               (c.ep_cross ? std::string(to_string(net.kind)) : c.nvlink ? "NVLink" : "PCIe")
                          : c.tp <= 1        ? "TP collectives"
                          : c.tp > c.gpn   ? std::string("TP collectives over the inter-node link (") + std::string(to_string(net.kind)) + ")"
                          : c.nvlink       ? "TP collectives over NVLink"
                                           : "TP collectives over PCIe";
    out.decode.hbm_ms = sp.mem * 1e3;
    out.decode.tensor_ms = sp.comp * 1e3;
    out.decode.tp_collective_ms = sp.ar * 1e3;
    out.decode.pp_handoff_ms = sp.hop * 1e3;
    out.decode.overhead_ms = sp.ovh * 1e3;
    const double mb = std::max(1.0, std::ceil(B / c.pp));
    const double busy = std::min(double(c.pp), std::ceil(B / mb));
    out.decode.bubble_ms = c.pp > 1 && busy < c.pp ? (sp.bound + sp.ar + sp.ovh) * 1e3 * (c.pp - busy) / c.pp : 0;
    detail::set_phase(out.decode, {{sp.mem >= sp.comp ? "HBM bandwidth" : "tensor cores", std::max(sp.mem, sp.comp) * 1e3},
                                   {tp_link, sp.ar * 1e3},
                                   {"per-step overhead", sp.ovh * 1e3},
                                   {"PP hand-offs over the inter-node link", sp.hop * 1e3}});
    if (out.decode.bubble_ms > 0)
        out.decode.bottleneck += fmt::format(" (pipeline bubble: {:g} of {} stages busy at batch {:g})", busy, c.pp, B);
    detail::perf_prefill_parts pp;
    detail::prefill_time(c, i, &pp);
    out.prefill.tensor_ms = (pp.lin + pp.att) * 1e3;
    out.prefill.tp_collective_ms = pp.ar * 1e3;
    out.prefill.pp_handoff_ms = pp.hop * 1e3;
    out.prefill.overhead_ms = P.t_ttft0_ms;
    detail::set_phase(out.prefill, {{"tensor cores", (pp.lin + pp.att) * 1e3},
                                    {tp_link, pp.ar * 1e3},
                                    {"PP hand-offs over the inter-node link", pp.hop * 1e3}});

    // Provenance and ranges.
    const auto rows = calibration_rows_for_gpu(g.name);
    std::vector<std::string> outside;
    if (rows.size() < 2)
        outside.push_back(fmt::format("{} calibration row{} on {}", rows.size(), rows.size() == 1 ? "" : "s", g.name));
    if (c.nodes > 1 && net.kind != fabric::infiniband)
        outside.push_back(fmt::format("the inter-node latency was fitted on InfiniBand, not {}", to_string(net.kind)));
    if (c.tp > c.gpn && !g.nvlink) outside.push_back("no measurement of TP across nodes on PCIe-only GPUs");
    if (w.load == load_kind::open) outside.push_back("no open-loop (request-rate) measurement");
    if (c.ep_dp > 1) outside.push_back("no measurement with DP + expert parallelism (all-to-all modelled, not fitted)");
    if (kv == dtype::fp8) outside.push_back("FP8 KV cache not in the calibration set");
    const bool calibrated = outside.empty();
    const std::string cal_basis =
        calibrated ? fmt::format("fitted on {} calibration rows on {} (and the shared factors' rows); range: leave-one-out errors, 10th-90th percentile",
                                 rows.size(), g.name)
                   : "extrapolated: " + fmt::format("{}", fmt::join(outside, "; ")) + "; range widened x" + fmt::format("{:g}", perf_extrapolation_widening);
    auto make = [&](double v, error_band b, std::string basis) {
        estimate x;
        x.value = v;
        x.source = calibrated ? provenance::calibrated : provenance::extrapolated;
        const double widen = calibrated ? 1.0 : perf_extrapolation_widening;
        x.low = v * b.low / widen;
        x.high = v * b.high * widen;
        x.basis = std::move(basis);
        return x;
    };
    out.tpot_ms = make(tpot * 1e3, perf_band_tpot(), cal_basis);
    out.ttft_ms = make(ttft * 1e3, perf_band_ttft(), cal_basis + "; TTFT has a median error near 50%: do not rank by it alone");
    out.output_tok_s = make(out_tps * dp, perf_band_throughput(), cal_basis);
    out.total_tok_s = make(out_tps * dp * (i + o) / o, perf_band_throughput(), "output tokens/s x (in + out) / out");
    out.requests_s = make(out_tps * dp / o, perf_band_throughput(), "output tokens/s / out");
    out.kv_max_concurrency.value = out.kv_max_concurrency.low = out.kv_max_concurrency.high = std::floor(out.kv_tokens / (i + o)) * dp;
    out.kv_max_concurrency.source = provenance::datasheet;
    out.kv_max_concurrency.basis = fmt::format("the plan's memory account: {:.0f} KV tokens per replica / {:g} tokens per request{}", out.kv_tokens,
                                               i + o, dp > 1 ? fmt::format(" x {:g} replicas", dp) : "");

    out.assumptions.push_back(fmt::format("engine {} {}{}: at most {:g} sequences per replica", e.name, e.version, v0 ? " (V0)" : "",
                                          out.engine_max_seqs));
    out.assumptions.push_back("uniform expert routing (an upper bound on expert bytes); no MTP/speculative decoding, no prefix caching");
    if (pl.model.weights.type == dtype::int4)
        out.assumptions.push_back("4-bit checkpoint modelled as AWQ MoE: routed experts 4-bit (0.53 B/param), the rest 16-bit");
    if (c.fp8_weights && ds->fp8_tflops <= 0)
        out.assumptions.push_back(g.name + " has no FP8 tensor cores: FP8 weights computed as W8A16 at the BF16 rate");
    if (c.nodes > 1)
        out.assumptions.push_back(fmt::format("inter-node link {:g} GB/s per GPU per direction ({}{})", c.fabric_bw / 1e9, to_string(net.kind),
                                              net.gbytes_per_gpu > 0 ? ", as given" : ", default for the fabric and GPU class"));
    if (out.kv_limited)
        out.assumptions.push_back(fmt::format("the KV cache holds {:g} requests of {:g} tokens per replica: the other clients wait for a slot",
                                              std::floor(bmax), i + o));
    return out;
}

DSDEPLOY_NAMESPACE_END
