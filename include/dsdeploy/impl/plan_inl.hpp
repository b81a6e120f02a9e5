// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/plan.hpp>
#include <dsdeploy/sglang_memory.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
// 65536 -> "65,536"
inline std::string grouped(std::int64_t v) {
    std::string digits = std::to_string(v < 0 ? -v : v);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return v < 0 ? "-" + out : out;
}

struct gpu_layout {
    const gpu_spec* gpu = nullptr;  // nullptr: CPU-only
    int nodes = 0;                  // nodes that contribute devices
    int per_node = 0;               // GPUs per node (CPU-only: 1 worker per node)
};

inline gpu_layout layout_of(const cluster& c) {
    gpu_layout out;
    std::string first_type;
    int first_count = -1;
    std::size_t first_index = 0;
    for (std::size_t i = 0; i < c.nodes.size(); ++i) {
        const node& n = c.nodes[i];
        const std::string at = "nodes[" + std::to_string(i) + "]";
        if (first_count < 0) {
            first_count = n.gpus();
            first_type = n.gpu_type;
            first_index = i;
            if (n.gpus() > 0) out.gpu = &require_gpu(n.gpu_type, at + ".gpu_type");
            continue;
        }
        if (n.gpus() != first_count)
            raise(errc::gpu_mixed, at + ".gpu_count",
                  std::to_string(n.gpus()) + " GPUs here but " + std::to_string(first_count) + " on nodes[" + std::to_string(first_index) +
                      "]; vLLM places the same number of workers on every node, so give every node the same GPU count (use gpu_ids to pick a subset)");
        if (n.gpus() > 0) {
            const gpu_spec& g = require_gpu(n.gpu_type, at + ".gpu_type");
            if (g.name != out.gpu->name)
                raise(errc::gpu_mixed, at + ".gpu_type",
                      g.name + " here but " + out.gpu->name + " on nodes[" + std::to_string(first_index) +
                          "]; one deployment plans for one GPU type, so split the cluster or use the same GPUs");
        }
    }
    out.nodes = static_cast<int>(c.nodes.size());
    out.per_node = first_count > 0 ? first_count : 1;
    return out;
}

inline std::vector<int> divisors(int n) {
    std::vector<int> out;
    for (int d = 1; d <= n; ++d)
        if (n % d == 0) out.push_back(d);
    return out;
}

inline std::vector<int> partition_for(const model_spec& m, const parallelism& p, const plan_options& o) {
    return o.pp_layer_partition.empty() ? default_pp_partition(m.num_layers, p.pp) : o.pp_layer_partition;
}

inline std::string fmt_gib(double v) { return fmt::format("{:.2f} GiB", v); }
}  // namespace detail

DSDEPLOY_INLINE parallelism choose_parallelism(const cluster& c, const model_spec& m, std::vector<std::string>* reasons) {
    const auto layout = detail::layout_of(c);
    parallelism p;
    auto say = [&](std::string s) {
        if (reasons) reasons->push_back(std::move(s));
    };
    if (!layout.gpu) {
        p.pp = std::min(layout.nodes, m.num_layers);
        say(fmt::format("no GPUs: one CPU worker per node, PP {} = nodes, so the model's layers are split across all {} nodes", p.pp,
                        layout.nodes));
        return p;
    }
    const int g = layout.per_node;
    int tp = g;
    while (tp > 1 && (m.num_attention_heads % tp != 0 || g % tp != 0)) --tp;
    p.tp = tp;
    p.pp = std::min(layout.nodes, m.num_layers);
    p.dp = g / tp;
    if (tp == g)
        say(fmt::format("TP {} = the GPUs in one node: tensor parallelism exchanges activations every layer, so it stays on "
                        "the fastest links ({})",
                        tp, layout.gpu->nvlink ? "NVLink" : "PCIe; " + layout.gpu->name + " has no NVLink"));
    else
        say(fmt::format("TP {}: the largest size that divides both the {} GPUs per node and the {} attention heads; DP {} "
                        "replicas use the other GPUs",
                        tp, g, m.num_attention_heads, p.dp));
    if (p.pp > 1)
        say(fmt::format("PP {} = nodes: pipeline parallelism sends activations across the network once per stage, which suits "
                        "the slower inter-node links (vLLM's advice: TP inside a node, PP across nodes)",
                        p.pp));
    return p;
}

DSDEPLOY_INLINE void validate_plan(const cluster& c, const model_spec& m, const parallelism& p, const plan_options& o) {
    validate(c);
    const auto layout = detail::layout_of(c);
    if (!(o.gpu_memory_utilization > 0 && o.gpu_memory_utilization <= 1))
        raise(errc::plan_value, "serving.gpu_memory_utilization",
              fmt::format("{} is not a fraction of GPU memory; use a value in (0, 1], typically 0.85-0.95", o.gpu_memory_utilization));
    if (o.max_model_len < 0)
        raise(errc::plan_value, "serving.max_model_len", std::to_string(o.max_model_len) + " is negative; use a positive token count or 0 for the model's context length");
    if (m.max_context > 0 && o.max_model_len > m.max_context)
        raise(errc::plan_value, "serving.max_model_len",
              fmt::format("{} exceeds the model's context length {} (max_position_embeddings); use at most {}", o.max_model_len,
                          m.max_context, m.max_context));
    if (!(o.headroom_gib >= 0 && o.headroom_gib < 1024))
        raise(errc::plan_value, "serving.headroom_gib", fmt::format("{} is not a headroom in GiB; use 0 or more (default 2)", o.headroom_gib));
    for (auto [name, v] : {std::pair<const char*, int>{"tensor_parallel_size", p.tp}, {"pipeline_parallel_size", p.pp},
                           {"data_parallel_size", p.dp}})
        if (v < 1 || v > 4096) raise(errc::plan_value, std::string("serving.") + name, std::to_string(v) + " must be at least 1");

    const int devices = layout.gpu ? c.total_gpus() : layout.nodes;
    if (p.world_size() != devices) {
        std::vector<std::string> fits;
        for (int tp : detail::divisors(layout.per_node))
            if (m.num_attention_heads % tp == 0 && devices % tp == 0 && devices / tp <= m.num_layers)
                fits.push_back(fmt::format("TP {} x PP {}", tp, devices / tp));
        raise(errc::plan_world_size, "serving.tensor_parallel_size",
              fmt::format("TP {} x PP {} x DP {} = {} workers, but the cluster has {} {}; the Ray executor needs one worker per {}. "
                          "Layouts that use them all: {}",
                          p.tp, p.pp, p.dp, p.world_size(), devices, layout.gpu ? "GPUs" : "nodes", layout.gpu ? "GPU" : "node",
                          fits.empty() ? std::string("none") : detail::one_of(fits)));
    }
    if (layout.gpu && !o.allow_cross_node_tp && (p.tp > layout.per_node || layout.per_node % p.tp != 0))
        raise(errc::plan_tp_cross_node, "serving.tensor_parallel_size",
              fmt::format("TP {} would put one tensor-parallel group on more than one node ({} GPUs per node); use a TP that divides {} "
                          "(e.g. TP {} x PP {}) or set serving.allow_cross_node_tp = true",
                          p.tp, layout.per_node, layout.per_node, layout.per_node, std::max(1, devices / layout.per_node)));
    if (m.num_attention_heads % p.tp != 0) {
        std::vector<std::string> ok;
        for (int d : detail::divisors(m.num_attention_heads))
            if (d <= devices) ok.push_back(std::to_string(d));
        raise(errc::plan_tp_heads, "serving.tensor_parallel_size",
              fmt::format("{} attention heads are not divisible by TP {}; use TP {}", m.num_attention_heads, p.tp, detail::one_of(ok)));
    }
    if (p.pp > m.num_layers)
        raise(errc::plan_pp_layers, "serving.pipeline_parallel_size",
              fmt::format("PP {} exceeds the model's {} layers; use at most PP {}", p.pp, m.num_layers, m.num_layers));
    if (!o.pp_layer_partition.empty()) {
        const int sum = std::accumulate(o.pp_layer_partition.begin(), o.pp_layer_partition.end(), 0);
        const bool positive = std::all_of(o.pp_layer_partition.begin(), o.pp_layer_partition.end(), [](int v) { return v > 0; });
        if (static_cast<int>(o.pp_layer_partition.size()) != p.pp || sum != m.num_layers || !positive)
            raise(errc::plan_pp_partition, "serving.pp_layer_partition",
                  fmt::format("needs {} positive entries (one per pipeline stage) summing to the model's {} layers, e.g. {}", p.pp,
                              m.num_layers, fmt::join(default_pp_partition(m.num_layers, p.pp), ",")));
    }
    if (p.ep && !m.is_moe())
        raise(errc::plan_expert_parallel, "serving.enable_expert_parallel",
              m.name + " has no experts; expert parallelism applies to MoE models only, so set it to false");
    if (layout.gpu) {
        const quant_support q = quantization_support(*layout.gpu, m.weights);
        if (q.path == quant_path::unsupported)
            raise(m.weights.type == dtype::fp8 ? errc::plan_fp8_unsupported : errc::model_unsupported, "model", m.name + ": " + q.note);
    }
}

// Read from vLLM v0.11.0 (the catalogued release); re-read for every new release in the table.
DSDEPLOY_INLINE const std::vector<quant_rule>& quantization_rules() {
    static const std::vector<quant_rule> rules = {
        {{""}, {dtype::bf16}, 7.0, 8.0,
         "FP16: with --dtype auto vLLM casts BF16 weights to FP16 where BF16 is missing, which can overflow for models trained in BF16",
         "vllm/platforms/cuda.py CudaPlatformBase.supported_dtypes (BF16 from capability 8.0) and vllm/config/model.py "
         "_resolve_auto_dtype (falls back to the first supported dtype, FP16) (v0.11.0)"},
        {{""}, {dtype::fp16, dtype::fp32}, 7.0, 7.0, "",
         "CMakeLists.txt CUDA_SUPPORTED_ARCHS starts at 7.0 (v0.11.0)"},
        {{"fp8"}, {dtype::fp8}, 8.0, 8.9,
         "weight-only FP8 (W8A16) through vLLM's Marlin kernels: the weights stay FP8 in memory (block scales become per-group "
         "scales), activations and the matrix products run in BF16, so it is slower than native FP8 for compute-bound work "
         "(prefill, large batches)",
         "vllm/model_executor/layers/quantization/fp8.py: Fp8Config.get_min_capability() = 80; Fp8LinearMethod and Fp8MoEMethod "
         "set use_marlin below capability 89, block FP8 included (utils/marlin_utils_fp8.py prepare_fp8_layer_for_marlin, "
         "prepare_moe_fp8_layer_for_marlin) (v0.11.0)"},
        {{"fbgemm_fp8"}, {dtype::fp8}, 8.0, 8.9,
         "weight-only FP8 (W8A16) through vLLM's Marlin kernels: compute runs in BF16, slower than native FP8",
         "vllm/model_executor/layers/quantization/fbgemm_fp8.py: FBGEMMFp8Config.get_min_capability() = 80, use_marlin below "
         "capability 89 (v0.11.0)"},
        {{"compressed-tensors"}, {dtype::fp8}, 8.0, 8.9,
         "weight-only FP8 (CompressedTensorsW8A16Fp8, Marlin) instead of W8A8: compute runs in BF16, slower than native FP8",
         "vllm/model_executor/layers/quantization/compressed_tensors/compressed_tensors.py _get_scheme_from_parts: "
         "CompressedTensorsW8A8Fp8 (get_min_capability 89) falls back to CompressedTensorsW8A16Fp8 (80); compressed_tensors_moe.py "
         "CompressedTensorsW8A8Fp8MoEMethod sets use_marlin below 89 (v0.11.0)"},
        {{"compressed-tensors"}, {dtype::int4}, 8.0, 8.0, "",
         "vllm/model_executor/layers/quantization/compressed_tensors/schemes/compressed_tensors_wNa16.py "
         "CompressedTensorsWNA16.get_min_capability() = 80 (Marlin); MoE: CompressedTensorsWNA16MarlinMoEMethod (v0.11.0)"},
        {{"compressed-tensors"}, {dtype::int8}, 7.5, 8.0,
         "only W8A8 int8 checkpoints (CompressedTensorsW8A8Int8, 7.5); weight-only int8 (W8A16) needs 8.0",
         "vllm/model_executor/layers/quantization/compressed_tensors/schemes/compressed_tensors_w8a8_int8.py get_min_capability 75, "
         "compressed_tensors_wNa16.py 80 (v0.11.0)"},
        {{"awq", "awq_marlin"}, {dtype::int4, dtype::int8}, 7.5, 8.0,
         "AWQ's own GEMM kernels (awq.py) instead of Marlin, slower; MoE layers through moe_wna16",
         "vllm/model_executor/layers/quantization/awq.py AWQConfig.get_min_capability() = 75; awq_marlin.py "
         "AWQMarlinConfig.get_min_capability() = 80, chosen by override_quantization_method when is_awq_marlin_compatible (v0.11.0)"},
        {{"gptq", "gptq_marlin"}, {dtype::int4, dtype::int8}, 7.0, 8.0,
         "GPTQ's exllama kernels (gptq.py) instead of Marlin, slower",
         "vllm/model_executor/layers/quantization/gptq.py GPTQConfig.get_min_capability() = 60 (vLLM builds for 7.0 and up); "
         "gptq_marlin.py GPTQMarlinConfig.get_min_capability() = 80 (v0.11.0)"},
        {{"moe_wna16"}, {dtype::int4, dtype::int8}, 7.0, 8.0,
         "moe_wna16's Triton kernels instead of Marlin",
         "vllm/model_executor/layers/quantization/moe_wna16.py MoeWNA16Config.get_min_capability() = 70, Marlin when "
         "is_gptq_marlin_compatible / is_awq_marlin_compatible (v0.11.0)"},
    };
    return rules;
}

DSDEPLOY_INLINE quant_support quantization_support(const gpu_spec& g, const weight_format& w) {
    quant_support q;
    const std::string method = detail::to_lower(w.method);
    for (const auto& r : quantization_rules()) {
        if (std::find(r.methods.begin(), r.methods.end(), method) == r.methods.end()) continue;
        if (std::find(r.weights.begin(), r.weights.end(), w.type) == r.weights.end()) continue;
        q.rule = &r;
        break;
    }
    if (!q.rule) return q;
    const quant_rule& r = *q.rule;
    const std::string what = method.empty() ? std::string(to_string(w.type)) + " weights"
                                            : std::string(to_string(w.type)) + " weights (quant_method \"" + method + "\")";
    // Capabilities are x.y; compare in tenths so 8.9 is not 8.8999.
    const auto tenths = [](double v) { return static_cast<int>(std::lround(v * 10)); };
    if (tenths(g.compute_capability) < tenths(r.min_capability)) {
        q.path = quant_path::unsupported;
        q.note = fmt::format("vLLM refuses {} on {} (compute capability {:.1f}; the method needs {:.1f}); use a checkpoint in another "
                             "format or other GPUs [{}]",
                             what, g.name, g.compute_capability, r.min_capability, r.source);
    } else if (tenths(g.compute_capability) < tenths(r.native_capability)) {
        q.path = quant_path::weight_only;
        q.note = fmt::format("{} (compute capability {:.1f}) runs {} as {} [{}]", g.name, g.compute_capability, what, r.below_native,
                             r.source);
    }
    return q;
}

DSDEPLOY_INLINE memory_account account_memory(const model_spec& m, const gpu_spec& g, const parallelism& p, const plan_options& o,
                                              const std::vector<int>& partition) {
    memory_account a;
    a.usable_gib = g.memory_gib;
    // SGLang: --mem-fraction-static (or its default for the GPU) of the free memory holds weights + KV.
    const bool sglang = o.engine == engine_kind::sglang;
    const double fraction = sglang ? (o.mem_fraction_static > 0 ? o.mem_fraction_static : sglang_default_mem_fraction(g.memory_gib, p.tp, p.pp))
                                   : o.gpu_memory_utilization;
    a.utilization = fraction;
    a.budget_gib = g.memory_gib * fraction;  // SGLang: fraction x the free memory, set from the first stage below
    a.engine = o.engine;
    a.headroom_gib = o.headroom_gib;
    a.max_model_len = o.max_model_len > 0 ? o.max_model_len : m.max_context;
    a.kv_dtype = o.kv_cache_dtype.value_or(default_kv_dtype(m));
    a.vllm_version = sglang ? o.sglang_version : o.vllm_version;
    a.era = vllm_era_of(o.vllm_version);
    a.enforce_eager = o.enforce_eager;
    const shard_layout shard{p.tp, p.ep ? p.tp * p.dp : p.tp, p.ep ? o.num_redundant_experts : 0};
    // The fused-MoE intermediate cache holds top_k x moe_I / tp per token; dense layers I / tp.
    const double dense_local = double(m.intermediate_size) / p.tp;
    const double moe_local = m.is_moe() ? double(m.experts_per_token) * m.moe_intermediate_size / p.tp : 0.0;
    // dsdeploy puts pipeline stages on separate nodes; o.nodes overrides when known.
    const bool spans_nodes = o.nodes > 1 || (o.nodes == 0 && p.pp > 1);
    int first = 0;
    a.kv_tokens = -1;
    a.slack_gib = 0;
    a.margin_gib = 0;
    for (std::size_t s = 0; s < partition.size(); ++s) {
        stage_memory st;
        st.first_layer = first;
        st.num_layers = partition[s];
        st.weights_gib = stage_weight_bytes(m, first, partition[s], s == 0, s + 1 == partition.size(), shard) / gib;
        vllm_rank_input in;
        in.total_gib = g.memory_gib;
        in.utilization = o.gpu_memory_utilization;
        in.weights_gib = st.weights_gib;
        in.tp = p.tp;
        in.nvlink = g.nvlink;
        in.spans_nodes = spans_nodes;
        in.last_stage = s + 1 == partition.size();
        in.hidden_size = m.hidden_size;
        in.intermediate_local = std::max(dense_local, moe_local);
        in.vocab_size = m.vocab_size;
        in.max_num_batched_tokens = o.max_num_batched_tokens;
        in.max_num_seqs = o.max_num_seqs;
        in.gpu_name = g.name;
        in.enforce_eager = o.enforce_eager;
        in.era = a.era;
        const vllm_rank_memory r = sglang ? sglang_rank_account(in, fraction) : vllm_rank_account(in);
        a.max_num_batched_tokens = r.max_num_batched_tokens;
        a.max_num_seqs = r.max_num_seqs;
        st.terms = r.terms;
        st.terms.push_back({"headroom", a.headroom_gib, "serving.headroom_gib: dsdeploy's explicit extra margin, on top of vLLM's terms", true});
        st.available_gib = r.available_kv_gib;
        st.outside_budget_gib = r.outside_budget_gib;
        st.slack_gib = r.slack_gib;
        st.kv_cache_gib = r.available_kv_gib - a.headroom_gib;
        st.kv_bytes_per_token = kv_bytes_per_token(m, a.kv_dtype, partition[s], p.tp);
        st.kv_tokens = vllm_kv_tokens(st.kv_cache_gib, st.kv_bytes_per_token, a.block_size);
        const double one_sequence = double(a.max_model_len) * st.kv_bytes_per_token / gib;
        st.need_gib = (r.requested_gib - r.available_kv_gib) + a.headroom_gib + one_sequence;
        const double margin = std::min(st.kv_cache_gib - one_sequence, st.slack_gib);
        const bool tighter = a.kv_tokens < 0 || st.kv_tokens < a.kv_tokens ||
                             (st.kv_tokens == a.kv_tokens && st.kv_cache_gib < a.stages[a.limiting_stage].kv_cache_gib);
        if (tighter) {
            a.kv_tokens = st.kv_tokens;
            a.limiting_stage = s;
        }
        if (st.weights_gib > a.weights_gib) {
            a.weights_gib = st.weights_gib;
            a.heaviest_stage = s;
        }
        a.need_gib = std::max(a.need_gib, st.need_gib);
        a.slack_gib = s == 0 ? st.slack_gib : std::min(a.slack_gib, st.slack_gib);
        a.margin_gib = s == 0 ? margin : std::min(a.margin_gib, margin);
        a.outside_budget_gib = std::max(a.outside_budget_gib, st.outside_budget_gib);
        a.pre_snapshot_gib = std::max(a.pre_snapshot_gib, r.pre_snapshot_gib);
        a.stages.push_back(st);
        first += partition[s];
    }
    if (a.kv_tokens < 0) a.kv_tokens = 0;
    if (sglang) a.budget_gib = fraction * (g.memory_gib - a.pre_snapshot_gib);
    if (!a.stages.empty()) {
        a.kv_cache_gib = a.stages[a.limiting_stage].kv_cache_gib;
        a.kv_bytes_per_token = a.stages[a.limiting_stage].kv_bytes_per_token;
        a.terms = a.stages[a.limiting_stage].terms;
    }
    const bool utilization_ok = a.utilization < 0.99 || a.enforce_eager;
    a.fits = a.max_model_len > 0 && a.kv_tokens >= a.max_model_len && a.slack_gib >= 0 && utilization_ok;
    // SGLang's DP attention: the attention_dp groups of a TP group hold different requests, each
    // its own KV cache (sgl-project/sglang benchmark/deepseek_v3/README.md: DP attention avoids the
    // latent KV replicated over the TP ranks), so the tokens the group holds multiply.
    const int kv_groups = o.engine == engine_kind::sglang ? std::max(1, o.attention_dp) : 1;
    a.max_concurrency = a.max_model_len > 0 ? vllm_max_concurrency(a.kv_tokens, a.max_model_len, a.block_size) * p.dp * kv_groups : 0;
    a.total_weights_gib = total_weight_bytes(m) / gib;
    a.cluster_budget_gib = a.budget_gib * p.world_size();
    return a;
}

namespace detail {
inline double round_up(double v, double step) { return std::ceil(v / step - 1e-9) * step; }

inline std::int64_t round_down_len(std::int64_t tokens) {
    if (tokens >= 1024) return tokens / 1024 * 1024;
    return tokens;
}

inline std::string util_str(double u) { return fmt::format("{:.2f}", u); }

inline std::vector<fit_option> alternatives(const plan& base) {
    std::vector<fit_option> out;
    const model_spec& m = base.model;
    const gpu_spec& g = base.gpu;
    const parallelism& p = base.parallel;
    const plan_options& o = base.options;
    const auto& mem = base.memory;
    const int len = mem.max_model_len;

    // The highest utilization that leaves room outside the budget for the pre-snapshot memory and
    // (before 0.20) the CUDA graphs, with the model's uncertainty to spare; never 0.99 or more.
    auto highest_utilization = [&](const plan_options& oo) {
        const auto probe = account_memory(m, g, p, oo, base.layer_partition);
        const double u = std::floor((1.0 - (probe.outside_budget_gib + probe.uncertainty_gib) / g.memory_gib) * 100.0 + 1e-9) / 100.0;
        return std::min(u, max_practical_utilization);
    };
    const double u_max = highest_utilization(o);
    const std::string overheads = fmt::format("{} held outside the budget{}", fmt_gib(mem.outside_budget_gib),
                                              mem.era == vllm_era::v1 && !o.enforce_eager ? " (context, communicators, CUDA graphs)" : " (context, communicators)");
    // 1. The utilization this context needs.
    {
        fit_option f;
        f.id = "raise_utilization";
        const double need = round_up(mem.need_gib / g.memory_gib, 0.01);
        plan_options o2 = o;
        o2.gpu_memory_utilization = std::min(need, 1.0);
        f.memory = account_memory(m, g, p, o2, base.layer_partition);
        f.fits = need <= u_max && f.memory.confident();
        f.vllm_flags = {"--gpu-memory-utilization", util_str(need)};
        f.summary = f.fits ? fmt::format("--gpu-memory-utilization {}: {} per GPU holds {} of weights, {} of vLLM overheads, {} of headroom and "
                                         "{} tokens of KV cache ({:.1f} sequences of {}); {} spare outside the budget",
                                         util_str(need), fmt_gib(f.memory.budget_gib), fmt_gib(f.memory.weights_gib),
                                         fmt_gib(f.memory.budget_gib - f.memory.stages[f.memory.limiting_stage].available_gib - f.memory.weights_gib),
                                         fmt_gib(o.headroom_gib), grouped(f.memory.kv_tokens), f.memory.max_concurrency, grouped(len),
                                         fmt_gib(f.memory.slack_gib))
                           : fmt::format("--gpu-memory-utilization would have to be {} ({} per GPU) for one {}-token sequence; above {} "
                                         "the {} and the model's {} uncertainty do not fit",
                                         util_str(need), fmt_gib(mem.need_gib), grouped(len), util_str(u_max), overheads,
                                         fmt_gib(mem.uncertainty_gib));
        out.push_back(std::move(f));
    }
    // 2. The context that fits at this utilization, and at the highest one the overheads allow.
    auto context_option = [&](const plan_options& base_o, double u, const char* id) {
        fit_option f;
        f.id = id;
        plan_options o2 = base_o;
        o2.gpu_memory_utilization = u;
        const auto probe = account_memory(m, g, p, o2, base.layer_partition);
        // Leave the model's uncertainty in the KV cache too.
        std::int64_t fit_tokens = 0;
        for (const auto& st : probe.stages) {
            const std::int64_t t = vllm_kv_tokens(st.kv_cache_gib - probe.uncertainty_gib, st.kv_bytes_per_token, probe.block_size);
            fit_tokens = &st == &probe.stages.front() ? t : std::min(fit_tokens, t);
        }
        const std::int64_t new_len = round_down_len(std::min<std::int64_t>(fit_tokens, len));
        o2.max_model_len = static_cast<int>(std::max<std::int64_t>(new_len, 1));
        f.memory = account_memory(m, g, p, o2, base.layer_partition);
        f.fits = new_len >= 1024 && f.memory.confident();
        if (base_o.enforce_eager && !o.enforce_eager) f.vllm_flags.push_back("--enforce-eager");
        for (const char* x : {"--gpu-memory-utilization"}) f.vllm_flags.push_back(x);
        f.vllm_flags.push_back(util_str(u));
        f.vllm_flags.push_back("--max-model-len");
        f.vllm_flags.push_back(std::to_string(new_len));
        const std::string flags = fmt::format("{}", fmt::join(f.vllm_flags, " "));
        const std::string at = fmt::format("{}--gpu-memory-utilization {}", base_o.enforce_eager && !o.enforce_eager ? "--enforce-eager " : "",
                                           util_str(u));
        f.summary = f.fits ? fmt::format("{}: the KV cache holds {} tokens ({} per GPU), {:.1f} sequences at full length; {} spare outside the "
                                         "budget",
                                         flags, grouped(f.memory.kv_tokens), fmt_gib(f.memory.kv_cache_gib), f.memory.max_concurrency,
                                         fmt_gib(f.memory.slack_gib))
                           : f.memory.slack_gib < f.memory.uncertainty_gib
                               ? fmt::format("{}: {} held outside the budget leaves {} of the {} the model needs to spare", at,
                                             fmt_gib(f.memory.outside_budget_gib), fmt_gib(f.memory.slack_gib), fmt_gib(f.memory.uncertainty_gib))
                               : fmt::format("at {} the weights ({}), vLLM's overheads and the headroom ({}) leave {} for the KV cache: "
                                             "no usable context length with {} to spare",
                                             at, fmt_gib(probe.weights_gib), fmt_gib(o.headroom_gib), fmt_gib(probe.kv_cache_gib),
                                             fmt_gib(probe.uncertainty_gib));
        return f;
    };
    out.push_back(context_option(o, o.gpu_memory_utilization, "shorter_context"));
    if (!out.back().fits && o.gpu_memory_utilization < u_max)
        out.push_back(context_option(o, u_max, "raise_utilization_shorter_context"));
    // 2b. Without CUDA graphs: before 0.20 they sit outside the budget, so --enforce-eager frees
    //     that room for a higher utilization (at some decode speed).
    if (!o.enforce_eager) {
        plan_options eager = o;
        eager.enforce_eager = true;
        const double u_eager = highest_utilization(eager);
        fit_option f = context_option(eager, std::max(u_eager, o.gpu_memory_utilization), "enforce_eager");
        if (f.fits || mem.era == vllm_era::v1) out.push_back(std::move(f));
    }
    // 3. FP8 KV cache halves the bytes per token (BF16 -> FP8).
    const dtype kv = o.kv_cache_dtype.value_or(default_kv_dtype(m));
    if (kv != dtype::fp8) {
        fit_option f;
        f.id = "fp8_kv_cache";
        plan_options o2 = o;
        o2.kv_cache_dtype = dtype::fp8;
        f.memory = account_memory(m, g, p, o2, base.layer_partition);
        f.fits = f.memory.confident();
        f.vllm_flags = {"--kv-cache-dtype", "fp8"};
        f.summary = f.fits ? fmt::format("--kv-cache-dtype fp8: {} bytes/token instead of {}; {} tokens of KV cache ({:.1f} sequences of {})",
                                         grouped(static_cast<std::int64_t>(f.memory.kv_bytes_per_token)),
                                         grouped(static_cast<std::int64_t>(mem.kv_bytes_per_token)), grouped(f.memory.kv_tokens),
                                         f.memory.max_concurrency, grouped(len))
                           : fmt::format("--kv-cache-dtype fp8 alone does not help: the KV cache is not the problem, the weights ({}) "
                                         "and vLLM's overheads exceed the budget ({}), or the margin is under {}",
                                         fmt_gib(f.memory.weights_gib), fmt_gib(mem.budget_gib - o.headroom_gib), fmt_gib(f.memory.uncertainty_gib));
        out.push_back(std::move(f));
    }
    // 4. A 4-bit checkpoint (AWQ/GPTQ-style, group 128).
    if (m.weights.type != dtype::int4) {
        fit_option f;
        f.id = "int4_weights";
        const model_spec m4 = with_weights(m, weight_format{dtype::int4, 0, 128, "awq"});
        f.memory = account_memory(m4, g, p, o, base.layer_partition);
        f.fits = f.memory.confident();
        f.summary = fmt::format("a 4-bit checkpoint (AWQ/GPTQ, group 128; estimated {:.0f} GiB): {} of weights per GPU, {} tokens of KV "
                                "cache ({:.1f} sequences of {}){}",
                                f.memory.total_weights_gib, fmt_gib(f.memory.weights_gib), grouped(f.memory.kv_tokens),
                                f.memory.max_concurrency, grouped(len), f.fits ? "" : "; still does not fit");
        out.push_back(std::move(f));
    }
    // 5. More nodes of the same kind, TP inside each node and one more pipeline stage per node.
    if (base.gpus_per_node > 0) {
        const int tp = std::min(p.tp, base.gpus_per_node);
        for (int extra = 1; extra <= 4; ++extra) {
            parallelism p2{tp, (base.nodes + extra) * base.gpus_per_node / tp, 1, p.ep};
            if (p2.pp > m.num_layers) break;
            plan_options o2 = o;
            o2.nodes = base.nodes + extra;
            const auto mem2 = account_memory(m, g, p2, o2, default_pp_partition(m.num_layers, p2.pp));
            if (!mem2.confident() && extra < 4) continue;
            fit_option f;
            f.id = "more_nodes";
            f.nodes = base.nodes + extra;
            f.parallel = p2;
            f.memory = mem2;
            f.fits = mem2.confident();
            f.vllm_flags = {"--tensor-parallel-size", std::to_string(p2.tp), "--pipeline-parallel-size", std::to_string(p2.pp)};
            f.summary = fmt::format("{} nodes of {} x {} (TP {} x PP {}): {} of weights per GPU, {} tokens of KV cache ({:.1f} sequences "
                                    "of {}){}",
                                    f.nodes, base.gpus_per_node, g.name, p2.tp, p2.pp, fmt_gib(mem2.weights_gib), grouped(mem2.kv_tokens),
                                    mem2.max_concurrency, grouped(len), f.fits ? "" : "; still does not fit");
            out.push_back(std::move(f));
            break;
        }
    }
    // 6. A layer split that evens out the stages (the last stage also holds the LM head).
    if (p.pp > 1) {
        std::vector<int> best = base.layer_partition;
        double best_need = mem.need_gib;
        std::vector<int> cur = best;
        bool improved = true;
        while (improved) {
            improved = false;
            for (std::size_t from = 0; from < cur.size(); ++from)
                for (std::size_t to = 0; to < cur.size(); ++to) {
                    if (from == to || cur[from] <= 1) continue;
                    auto cand = cur;
                    cand[from] -= 1;
                    cand[to] += 1;
                    const double need = account_memory(m, g, p, o, cand).need_gib;
                    if (need + 1e-9 < best_need) {
                        best_need = need;
                        best = cand;
                        improved = true;
                    }
                }
            cur = best;
        }
        if (best != base.layer_partition) {
            fit_option f;
            f.id = "balanced_layers";
            f.memory = account_memory(m, g, p, o, best);
            f.fits = f.memory.confident();
            f.env = {{"VLLM_PP_LAYER_PARTITION", fmt::format("{}", fmt::join(best, ","))}};
            f.summary = fmt::format("VLLM_PP_LAYER_PARTITION={}: the heaviest GPU holds {} of weights instead of {}{}", fmt::join(best, ","),
                                    fmt_gib(f.memory.weights_gib), fmt_gib(mem.weights_gib),
                                    f.fits ? fmt::format(", leaving {} tokens of KV cache", grouped(f.memory.kv_tokens))
                                           : "; not enough on its own");
            out.push_back(std::move(f));
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const fit_option& a, const fit_option& b) { return a.fits > b.fits; });
    return out;
}
}  // namespace detail

DSDEPLOY_INLINE plan make_plan(const cluster& c, const model_spec& m, const plan_options& o) {
    validate(c);
    plan result;
    result.model = m;
    const auto layout = detail::layout_of(c);
    result.nodes = layout.nodes;
    result.gpus_per_node = layout.gpu ? layout.per_node : 0;
    if (layout.gpu) result.gpu = *layout.gpu;
    result.options = o;
    if (result.options.max_model_len == 0) result.options.max_model_len = m.max_context;
    if (o.parallel) {
        result.parallel = *o.parallel;
        result.reasons.push_back(fmt::format("TP {} x PP {} x DP {} as given", o.parallel->tp, o.parallel->pp, o.parallel->dp));
    } else {
        result.parallel = choose_parallelism(c, m, &result.reasons);
    }
    validate_plan(c, m, result.parallel, result.options);
    result.layer_partition = detail::partition_for(m, result.parallel, result.options);

    if (!layout.gpu) {
        result.warnings.push_back("the cluster has no GPUs: vLLM runs on its CPU backend and the GPU memory fit is not checked");
        return result;
    }
    if (!layout.gpu->nvlink && result.parallel.tp > 1)
        result.warnings.push_back(fmt::format("{} has no NVLink: tensor-parallel traffic crosses PCIe (about {:.0f} GB/s per direction)",
                                              layout.gpu->name, layout.gpu->gpu_link_gbps));
    if (const quant_support q = quantization_support(*layout.gpu, m.weights); q.path == quant_path::weight_only)
        result.warnings.push_back(q.note);
    if (result.options.allow_cross_node_tp && result.parallel.tp > layout.per_node)
        result.warnings.push_back(fmt::format("TP {} spans nodes: every layer's all-reduce crosses the network", result.parallel.tp));
    result.memory_checked = true;
    result.memory = account_memory(m, result.gpu, result.parallel, result.options, result.layer_partition);
    if (!result.memory.fits) {
        result.alternatives = detail::alternatives(result);
        if (result.options.engine == engine_kind::sglang) {
            // The options are written as vLLM flags; for SGLang keep those that change only the
            // layout, the nodes or the context (their flags are SGLang's own through make_launch).
            auto vllm_only = [](const fit_option& f) {
                return std::any_of(f.vllm_flags.begin(), f.vllm_flags.end(), [](const std::string& w) {
                    return w == "--gpu-memory-utilization" || w == "--enforce-eager" || w == "--max-model-len";
                });
            };
            result.alternatives.erase(std::remove_if(result.alternatives.begin(), result.alternatives.end(), vllm_only),
                                      result.alternatives.end());
            result.warnings.push_back("SGLang: the memory account is SGLang's (--mem-fraction-static " +
                                      fmt::format("{}", result.memory.utilization) +
                                      " of the free memory for weights + KV cache); raise serving.mem_fraction_static, shorten "
                                      "serving.max_model_len or add GPUs");
        }
    }
    return result;
}

// --- presentation ------------------------------------------------------------------------------

namespace detail {
inline std::string describe_model(const model_spec& m) {
    std::string s = m.name;
    std::vector<std::string> bits;
    if (!m.architecture.empty()) bits.push_back(m.architecture);
    bits.push_back(m.is_mla() ? "MLA" : fmt::format("GQA {}/{} heads", m.num_attention_heads, m.num_kv_heads));
    if (m.is_moe()) bits.push_back(fmt::format("MoE {} experts, {} active", m.num_experts, m.experts_per_token));
    std::string w(to_string(m.weights.type));
    if (m.weights.block) w += fmt::format(" block {}", m.weights.block);
    if (m.weights.group) w += fmt::format(" group {}", m.weights.group);
    bits.push_back(w + " weights");
    bits.push_back(fmt::format("{} layers", m.num_layers));
    return s + " (" + join(bits, ", ") + ")";
}
}  // namespace detail

DSDEPLOY_INLINE std::string to_text(const plan& p) {
    using detail::fmt_gib;
    using detail::grouped;
    std::string out;
    auto line = [&](const std::string& s) { out += s + "\n"; };
    line("Model     " + detail::describe_model(p.model));
    if (p.gpus_per_node > 0)
        line(fmt::format("Cluster   {} node{} x {} {} ({:.2f} GiB each as PyTorch sees it) = {} GPUs", p.nodes, p.nodes == 1 ? "" : "s",
                         p.gpus_per_node, p.gpu.name, p.gpu.memory_gib, p.nodes * p.gpus_per_node));
    else
        line(fmt::format("Cluster   {} node{}, no GPUs (vLLM CPU backend)", p.nodes, p.nodes == 1 ? "" : "s"));
    line(fmt::format("Parallel  TP {} x PP {} x DP {}{} = {} workers; layers per stage {}", p.parallel.tp, p.parallel.pp, p.parallel.dp,
                     p.parallel.ep ? " with expert parallelism" : "", p.parallel.world_size(), fmt::join(p.layer_partition, ", ")));
    for (const auto& r : p.reasons) line("          - " + r);
    if (!p.memory_checked) {
        for (const auto& w : p.warnings) line("Warning   " + w);
        return out;
    }
    const auto& a = p.memory;
    const auto& lim = a.stages[a.limiting_stage];
    const bool sglang = a.engine == engine_kind::sglang;
    const std::string stage_text = fmt::format("stage {} of {}{}", a.limiting_stage + 1, a.stages.size(),
                                               a.limiting_stage == a.heaviest_stage ? ", the heaviest" : ", the one with the fewest KV tokens");
    if (sglang)
        line(fmt::format("Memory per GPU as SGLang {} accounts it (weights + KV cache in --mem-fraction-static of the memory free once CUDA "
                         "and NCCL are up; activations and CUDA graphs in the rest), {}:",
                         a.vllm_version, stage_text));
    else
        line(fmt::format("Memory per GPU as vLLM {} accounts it ({}), {}:", a.vllm_version, to_string(a.era), stage_text));
    line(fmt::format("  {:<32} {:>10}", "usable", fmt_gib(a.usable_gib)));
    if (sglang)
        line(fmt::format("  {:<32} {:>10}  (x {:.3f} mem-fraction-static of {} free after {} of context and communicators)", "budget",
                         fmt_gib(a.budget_gib), a.utilization, fmt_gib(a.usable_gib - a.pre_snapshot_gib), fmt_gib(a.pre_snapshot_gib)));
    else
        line(fmt::format("  {:<32} {:>10}  (x {:.2f} gpu-memory-utilization)", "budget", fmt_gib(a.budget_gib), a.utilization));
    for (const auto& t : lim.terms) {
        if (!t.in_budget) continue;
        std::string what = t.name;
        if (t.name == "weights")
            what += fmt::format(" ({} layers{})", lim.num_layers,
                                a.limiting_stage + 1 == a.stages.size() ? " + LM head" : (a.limiting_stage == 0 ? " + embedding" : ""));
        line(fmt::format("  - {:<30} {:>10}  {}", what, fmt_gib(t.gib), t.source));
    }
    line(fmt::format("  {:<32} {:>10}  -> {} tokens at {} bytes/token ({}, blocks of {})", "= KV cache", fmt_gib(lim.kv_cache_gib), grouped(lim.kv_tokens),
                     grouped(static_cast<std::int64_t>(lim.kv_bytes_per_token)), to_string(a.kv_dtype), a.block_size));
    if (sglang)
        line(fmt::format("  outside the budget: the context and communicators, then in {} = free x (1 - mem-fraction-static):",
                         fmt_gib((a.usable_gib - a.pre_snapshot_gib) * (1 - a.utilization))));
    else
        line(fmt::format("  outside the budget, in {} = usable x (1 - utilization):", fmt_gib(a.usable_gib * (1 - a.utilization))));
    for (const auto& t : lim.terms)
        if (!t.in_budget) line(fmt::format("  - {:<30} {:>10}  {}", t.name, fmt_gib(t.gib), t.source));
    line(fmt::format("  {:<32} {:>10}  (the model's uncertainty: {}; margin {})", "= spare outside the budget", fmt_gib(a.slack_gib), fmt_gib(a.uncertainty_gib),
                     fmt_gib(a.margin_gib)));
    line(fmt::format("Whole model {} of weights against {} of budget on {} GPUs", fmt_gib(a.total_weights_gib),
                     fmt_gib(a.cluster_budget_gib), p.parallel.world_size()));
    if (a.fits) {
        line(fmt::format("Verdict   FITS: the KV cache holds {} tokens = {:.2f}x concurrency for {} tokens per request (as vLLM prints it){}",
                         grouped(a.kv_tokens), a.max_concurrency, grouped(a.max_model_len),
                         a.confident() ? "" : fmt::format("; but the margin ({}) is under the model's uncertainty ({})", fmt_gib(a.margin_gib),
                                                          fmt_gib(a.uncertainty_gib))));
    } else {
        std::string why;
        if (a.utilization >= 0.99 && !a.enforce_eager)
            why = "; at 0.99 or more nothing is left for the CUDA context, communicators and graphs (use --enforce-eager and a lower utilization)";
        else if (a.slack_gib < 0)
            why = fmt::format("; besides, {} held outside the budget needs {} more than usable x (1 - utilization)", fmt_gib(a.outside_budget_gib),
                              fmt_gib(-a.slack_gib));
        if (a.weights_gib + a.headroom_gib > a.budget_gib) why += "; the weights alone exceed the budget";
        line(fmt::format("Verdict   DOES NOT FIT: one {}-token sequence needs {} per GPU, the budget is {} ({} {}){}", grouped(a.max_model_len),
                         fmt_gib(a.need_gib), fmt_gib(a.budget_gib), fmt_gib(std::abs(a.need_gib - a.budget_gib)),
                         a.need_gib > a.budget_gib ? "short" : "to spare", why));
        std::vector<const fit_option*> yes, no;
        for (const auto& f : p.alternatives) (f.fits ? yes : no).push_back(&f);
        if (!yes.empty()) line("Options that would fit:");
        for (const auto* f : yes) line("  + " + f->summary);
        if (!no.empty()) line("Options that would not be enough:");
        for (const auto* f : no) line("  - " + f->summary);
    }
    for (const auto& w : p.warnings) line("Warning   " + w);
    return out;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const parallelism& p) {
    j = {{"tensor_parallel_size", p.tp}, {"pipeline_parallel_size", p.pp}, {"data_parallel_size", p.dp}, {"enable_expert_parallel", p.ep},
         {"world_size", p.world_size()}};
}

namespace detail {
inline nlohmann::json terms_json(const std::vector<memory_term>& terms) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : terms) out.push_back({{"name", t.name}, {"gib", t.gib}, {"source", t.source}, {"in_budget", t.in_budget}});
    return out;
}
}  // namespace detail

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const memory_account& m) {
    nlohmann::json stages = nlohmann::json::array();
    for (const auto& s : m.stages)
        stages.push_back({{"first_layer", s.first_layer},
                          {"num_layers", s.num_layers},
                          {"weights_gib", s.weights_gib},
                          {"kv_cache_gib", s.kv_cache_gib},
                          {"kv_bytes_per_token", s.kv_bytes_per_token},
                          {"kv_tokens", s.kv_tokens},
                          {"need_gib", s.need_gib},
                          {"available_gib", s.available_gib},
                          {"outside_budget_gib", s.outside_budget_gib},
                          {"slack_gib", s.slack_gib},
                          {"terms", detail::terms_json(s.terms)}});
    j = {{"usable_gib", m.usable_gib},
         {"gpu_memory_utilization", m.utilization},
         {"budget_gib", m.budget_gib},
         {"headroom_gib", m.headroom_gib},
         {"weights_gib", m.weights_gib},
         {"kv_cache_gib", m.kv_cache_gib},
         {"kv_bytes_per_token", m.kv_bytes_per_token},
         {"kv_cache_dtype", std::string(to_string(m.kv_dtype))},
         {"kv_tokens", m.kv_tokens},
         {"max_model_len", m.max_model_len},
         {"max_concurrency", m.max_concurrency},
         {"need_gib", m.need_gib},
         {"total_weights_gib", m.total_weights_gib},
         {"cluster_budget_gib", m.cluster_budget_gib},
         {"heaviest_stage", m.heaviest_stage},
         {"limiting_stage", m.limiting_stage},
         {"fits", m.fits},
         {"confident", m.confident()},
         {"vllm_version", m.vllm_version},
         {"vllm_era", std::string(to_string(m.era))},
         {"enforce_eager", m.enforce_eager},
         {"max_num_batched_tokens", m.max_num_batched_tokens},
         {"max_num_seqs", m.max_num_seqs},
         {"block_size", m.block_size},
         {"pre_snapshot_gib", m.pre_snapshot_gib},
         {"outside_budget_gib", m.outside_budget_gib},
         {"slack_gib", m.slack_gib},
         {"margin_gib", m.margin_gib},
         {"uncertainty_gib", m.uncertainty_gib},
         {"terms", detail::terms_json(m.terms)},
         {"stages", stages}};
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const plan& p) {
    j = nlohmann::json::object();
    j["model"] = {{"name", p.model.name},
                  {"architecture", p.model.architecture},
                  {"attention", p.model.is_mla() ? "mla" : "gqa"},
                  {"num_layers", p.model.num_layers},
                  {"num_experts", p.model.num_experts},
                  {"weight_dtype", std::string(to_string(p.model.weights.type))},
                  {"max_context", p.model.max_context}};
    j["cluster"] = {{"nodes", p.nodes}, {"gpus_per_node", p.gpus_per_node}, {"gpu", p.gpu.name}, {"gpu_memory_gib", p.gpu.memory_gib}};
    j["parallel"] = p.parallel;
    j["layer_partition"] = p.layer_partition;
    j["reasons"] = p.reasons;
    j["warnings"] = p.warnings;
    j["memory_checked"] = p.memory_checked;
    j["fits"] = p.fits();
    if (p.memory_checked) j["memory"] = p.memory;
    nlohmann::json alts = nlohmann::json::array();
    for (const auto& f : p.alternatives) {
        nlohmann::json a = {{"id", f.id}, {"summary", f.summary}, {"fits", f.fits}, {"vllm_flags", f.vllm_flags}, {"memory", f.memory}};
        nlohmann::json env = nlohmann::json::object();
        for (const auto& [k, v] : f.env) env[k] = v;
        a["env"] = env;
        if (f.parallel) a["parallel"] = *f.parallel;
        if (f.nodes) a["nodes"] = f.nodes;
        alts.push_back(std::move(a));
    }
    j["alternatives"] = alts;
}

DSDEPLOY_NAMESPACE_END
