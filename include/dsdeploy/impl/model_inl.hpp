// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/model.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <system_error>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE std::string_view to_string(dtype t) {
    switch (t) {
        case dtype::fp32: return "float32";
        case dtype::bf16: return "bfloat16";
        case dtype::fp16: return "float16";
        case dtype::fp8: return "fp8";
        case dtype::int8: return "int8";
        case dtype::int4: return "int4";
    }
    return "bfloat16";
}

DSDEPLOY_INLINE std::optional<dtype> parse_dtype(std::string_view s) {
    const std::string k = detail::to_lower(detail::trim(s));
    if (k == "bfloat16" || k == "bf16") return dtype::bf16;
    if (k == "float16" || k == "fp16" || k == "half") return dtype::fp16;
    if (k == "float32" || k == "fp32" || k == "float") return dtype::fp32;
    if (k == "fp8" || k == "fp8_e4m3" || k == "fp8_e5m2" || k == "float8_e4m3fn") return dtype::fp8;
    if (k == "int8") return dtype::int8;
    if (k == "int4") return dtype::int4;
    return std::nullopt;
}

DSDEPLOY_INLINE double bytes_per_value(dtype t) {
    switch (t) {
        case dtype::fp32: return 4;
        case dtype::bf16:
        case dtype::fp16: return 2;
        case dtype::fp8:
        case dtype::int8: return 1;
        case dtype::int4: return 0.5;
    }
    return 2;
}

// --- catalog -----------------------------------------------------------------------------------

namespace detail {
struct catalog_model {
    catalog_entry entry;
    const char* config;  // the fields of the model's Hugging Face config.json that matter here
    double published_params_b;
    std::uint64_t checkpoint_bytes;  // 0 when unknown
};

// Sources: ../shared/reference/model-hw-facts.md §1 (config.json mirrors and model cards).
inline const std::vector<catalog_model>& catalog() {
    static const char* deepseek_v3 = R"({
        "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
        "num_hidden_layers": 61, "hidden_size": 7168, "num_attention_heads": 128, "num_key_value_heads": 128,
        "vocab_size": 129280, "intermediate_size": 18432, "q_lora_rank": 1536, "kv_lora_rank": 512,
        "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128, "n_routed_experts": 256,
        "num_experts_per_tok": 8, "n_shared_experts": 1, "moe_intermediate_size": 2048, "first_k_dense_replace": 3,
        "max_position_embeddings": 163840, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
        "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]}})";
    static const char* kimi_k2 = R"({
        "architectures": ["DeepseekV3ForCausalLM"], "model_type": "kimi_k2",
        "num_hidden_layers": 61, "hidden_size": 7168, "num_attention_heads": 64, "num_key_value_heads": 64,
        "vocab_size": 163840, "intermediate_size": 18432, "q_lora_rank": 1536, "kv_lora_rank": 512,
        "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128, "n_routed_experts": 384,
        "num_experts_per_tok": 8, "n_shared_experts": 1, "moe_intermediate_size": 2048, "first_k_dense_replace": 1,
        "max_position_embeddings": 131072, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
        "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]}})";
    static const char* qwen25_72b = R"({
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "num_hidden_layers": 80, "hidden_size": 8192,
        "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 152064, "intermediate_size": 29568,
        "max_position_embeddings": 32768, "tie_word_embeddings": false, "torch_dtype": "bfloat16"})";
    static const char* llama31_70b = R"({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "num_hidden_layers": 80, "hidden_size": 8192,
        "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256, "intermediate_size": 28672,
        "max_position_embeddings": 131072, "tie_word_embeddings": false, "torch_dtype": "bfloat16"})";
    static const char* llama31_405b = R"({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "num_hidden_layers": 126, "hidden_size": 16384,
        "num_attention_heads": 128, "num_key_value_heads": 8, "vocab_size": 128256, "intermediate_size": 53248,
        "max_position_embeddings": 131072, "tie_word_embeddings": false, "torch_dtype": "bfloat16"})";
    static const char* qwen3_235b = R"({
        "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "num_hidden_layers": 94, "hidden_size": 4096,
        "num_attention_heads": 64, "num_key_value_heads": 4, "head_dim": 128, "vocab_size": 151936,
        "intermediate_size": 12288, "num_experts": 128, "num_experts_per_tok": 8, "moe_intermediate_size": 1536,
        "decoder_sparse_step": 1, "mlp_only_layers": [], "max_position_embeddings": 40960,
        "tie_word_embeddings": false, "torch_dtype": "bfloat16"})";
    static const char* qwen3_235b_fp8 = R"({
        "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "num_hidden_layers": 94, "hidden_size": 4096,
        "num_attention_heads": 64, "num_key_value_heads": 4, "head_dim": 128, "vocab_size": 151936,
        "intermediate_size": 12288, "num_experts": 128, "num_experts_per_tok": 8, "moe_intermediate_size": 1536,
        "decoder_sparse_step": 1, "mlp_only_layers": [], "max_position_embeddings": 40960,
        "tie_word_embeddings": false, "torch_dtype": "bfloat16",
        "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]}})";
    static const std::vector<catalog_model> models = {
        {{"deepseek-ai/DeepSeek-V3", {"deepseek-v3", "deepseek-v3-0324", "deepseek-ai/DeepSeek-V3-0324", "DeepSeek-V3-Base"}},
         deepseek_v3, 671, 688586727753ULL},
        {{"deepseek-ai/DeepSeek-R1", {"deepseek-r1", "deepseek-r1-0528", "deepseek-ai/DeepSeek-R1-0528"}}, deepseek_v3, 671,
         688586727753ULL},
        {{"moonshotai/Kimi-K2-Instruct", {"kimi-k2", "kimi-k2-instruct", "moonshotai/Kimi-K2-Base"}}, kimi_k2, 1026, 0},
        {{"Qwen/Qwen2.5-72B-Instruct", {"qwen2.5-72b", "qwen2.5-72b-instruct", "Qwen/Qwen2.5-72B"}}, qwen25_72b, 72.7, 0},
        {{"meta-llama/Llama-3.1-70B-Instruct",
          {"llama-3.1-70b", "llama-3.1-70b-instruct", "meta-llama/Llama-3.1-70B", "meta-llama/Llama-3.3-70B-Instruct",
           "llama-3.3-70b", "deepseek-ai/DeepSeek-R1-Distill-Llama-70B", "deepseek-r1-distill-llama-70b"}},
         llama31_70b, 70.6, 0},
        {{"meta-llama/Llama-3.1-405B-Instruct", {"llama-3.1-405b", "llama-3.1-405b-instruct", "meta-llama/Llama-3.1-405B"}},
         llama31_405b, 405, 0},
        {{"Qwen/Qwen3-235B-A22B", {"qwen3-235b", "qwen3-235b-a22b", "Qwen/Qwen3-235B-A22B-Instruct-2507"}}, qwen3_235b, 235, 0},
        {{"Qwen/Qwen3-235B-A22B-FP8", {"qwen3-235b-fp8", "qwen3-235b-a22b-fp8"}}, qwen3_235b_fp8, 235, 0},
    };
    return models;
}

inline std::string short_name(std::string_view id) {
    auto slash = id.rfind('/');
    return std::string(slash == std::string_view::npos ? id : id.substr(slash + 1));
}
}  // namespace detail

DSDEPLOY_INLINE const std::vector<catalog_entry>& model_catalog_entries() {
    static const std::vector<catalog_entry> entries = [] {
        std::vector<catalog_entry> out;
        for (const auto& m : detail::catalog()) out.push_back(m.entry);
        return out;
    }();
    return entries;
}

DSDEPLOY_INLINE std::optional<model_spec> find_model(std::string_view name) {
    const auto key = detail::trim(name);
    for (const auto& m : detail::catalog()) {
        bool hit = detail::iequals(key, m.entry.id) || detail::iequals(key, detail::short_name(m.entry.id));
        for (const auto& a : m.entry.aliases) hit = hit || detail::iequals(key, a);
        if (!hit) continue;
        model_spec spec = model_from_hf_config(nlohmann::json::parse(m.config), m.entry.id);
        spec.published_params_b = m.published_params_b;
        if (m.checkpoint_bytes) spec.checkpoint_bytes = m.checkpoint_bytes;
        return spec;
    }
    return std::nullopt;
}

// --- config.json ---------------------------------------------------------------------------------

namespace detail {
class config_reader {
public:
    config_reader(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}

    bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

    int required_int(const char* key) const {
        if (!has(key)) fail(key, "is missing; the planner needs it (a positive integer)");
        return positive(key);
    }
    int optional_int(const char* key, int fallback) const { return has(key) ? non_negative(key) : fallback; }
    bool optional_bool(const char* key, bool fallback) const {
        if (!has(key)) return fallback;
        if (!j_.at(key).is_boolean()) fail(key, "must be true or false");
        return j_.at(key).get<bool>();
    }
    std::string optional_string(const char* key) const {
        if (!has(key)) return {};
        if (!j_.at(key).is_string()) fail(key, "must be a string");
        return j_.at(key).get<std::string>();
    }

    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        raise(errc::model_config_field, where_ + "." + key, what);
    }

private:
    int positive(const char* key) const {
        int v = non_negative(key);
        if (v == 0) fail(key, "must be a positive integer");
        return v;
    }
    int non_negative(const char* key) const {
        const auto& v = j_.at(key);
        if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > 100000000)
            fail(key, "must be a non-negative integer, got " + v.dump());
        return v.get<int>();
    }

    const nlohmann::json& j_;
    std::string where_;
};

inline weight_format read_quantization(const nlohmann::json& q, const std::string& where) {
    auto fail = [&](const std::string& key, const std::string& what) -> weight_format {
        raise(errc::model_unsupported, where + ".quantization_config" + (key.empty() ? "" : "." + key), what);
    };
    if (!q.is_object()) return fail("", "must be an object");
    // Every field is checked for its type: config.json is outside input, and nlohmann's typed
    // value() would otherwise throw its own exception instead of naming the field.
    auto text = [&](const nlohmann::json& o, const std::string& path, const char* key, const char* fallback) {
        if (!o.contains(key) || o[key].is_null()) return std::string(fallback);
        if (!o[key].is_string()) fail(path + key, "must be a string, got " + o[key].dump());
        return o[key].get<std::string>();
    };
    auto integer = [&](const nlohmann::json& o, const std::string& path, const char* key, int fallback) {
        if (!o.contains(key) || o[key].is_null()) return fallback;
        const auto& v = o[key];
        if (!v.is_number_integer() || v.get<long long>() < -1 || v.get<long long>() > 1000000)
            fail(path + key, "must be an integer between -1 and 1000000, got " + v.dump());
        return v.get<int>();
    };
    auto block_of = [&](const nlohmann::json& b) {
        if (b.is_array() && !b.empty() && b[0].is_number_integer() && b[0].get<long long>() > 0 &&
            b[0].get<long long>() <= 1000000)
            return b[0].get<int>();
        return 0;
    };
    const std::string method = to_lower(text(q, "", "quant_method", ""));
    weight_format w;
    w.method = method == "compressed_tensors" ? "compressed-tensors" : method;
    if (method == "fp8" || method == "fbgemm_fp8") {
        w.type = dtype::fp8;
        if (q.contains("weight_block_size")) w.block = block_of(q["weight_block_size"]);
        return w;
    }
    if (method == "awq" || method == "gptq" || method == "awq_marlin" || method == "gptq_marlin" || method == "moe_wna16") {
        const int bits = integer(q, "", "bits", integer(q, "", "w_bit", 4));
        w.type = bits <= 4 ? dtype::int4 : dtype::int8;
        w.group = integer(q, "", "group_size", integer(q, "", "q_group_size", 128));
        if (w.group < 0) w.group = 0;  // GPTQ's -1: one scale per output channel
        return w;
    }
    if (method == "compressed-tensors" || method == "compressed_tensors") {
        if (q.contains("config_groups") && q["config_groups"].is_object()) {
            for (const auto& [name, group] : q["config_groups"].items()) {
                if (!group.is_object() || !group.contains("weights") || !group["weights"].is_object()) continue;
                const auto& wt = group["weights"];
                const std::string path = "config_groups." + name + ".weights.";
                const int bits = integer(wt, path, "num_bits", 8);
                const std::string type = text(wt, path, "type", "int");
                if (type == "float") w.type = bits <= 4 ? dtype::int4 : dtype::fp8;
                else w.type = bits <= 4 ? dtype::int4 : dtype::int8;
                if (wt.contains("block_structure")) w.block = block_of(wt["block_structure"]);
                w.group = std::max(0, integer(wt, path, "group_size", w.group));
                return w;
            }
        }
        return fail("config_groups", "compressed-tensors without a weights group; only int4/int8/fp8 weight groups can be sized");
    }
    if (method == "w8a8_int8" || method == "int8") {
        w.type = dtype::int8;
        return w;
    }
    return fail("quant_method", "\"" + method + "\" is not a weight format dsdeploy can size; supported: fp8, awq, gptq, compressed-tensors, w8a8_int8");
}
}  // namespace detail

DSDEPLOY_INLINE model_spec model_from_hf_config(const nlohmann::json& root, std::string name) {
    if (!root.is_object()) raise(errc::model_config_field, "config.json", "must be a JSON object");
    // Multimodal configs keep the language model under text_config.
    const nlohmann::json& j = root.contains("text_config") && root["text_config"].is_object() ? root["text_config"] : root;
    const std::string where = &j == &root ? "config.json" : "config.json.text_config";
    detail::config_reader r(j, where);
    model_spec m;
    m.name = std::move(name);
    if (root.contains("architectures") && root["architectures"].is_array() && !root["architectures"].empty() &&
        root["architectures"][0].is_string())
        m.architecture = root["architectures"][0].get<std::string>();
    m.model_type = r.optional_string("model_type");
    if (m.model_type.empty() && root.contains("model_type") && root["model_type"].is_string())
        m.model_type = root["model_type"].get<std::string>();

    m.num_layers = r.required_int("num_hidden_layers");
    m.hidden_size = r.required_int("hidden_size");
    m.num_attention_heads = r.required_int("num_attention_heads");
    m.num_kv_heads = r.optional_int("num_key_value_heads", m.num_attention_heads);
    m.head_dim = r.optional_int("head_dim", m.hidden_size / m.num_attention_heads);
    m.vocab_size = r.required_int("vocab_size");
    m.tie_word_embeddings = r.optional_bool("tie_word_embeddings", false);
    m.attention_bias = r.optional_bool("attention_bias", m.model_type == "qwen2" || m.model_type == "qwen2_moe");
    m.max_context = r.optional_int("max_position_embeddings", 0);

    if (r.has("kv_lora_rank")) {
        m.attention = attention_kind::mla;
        m.kv_lora_rank = r.required_int("kv_lora_rank");
        m.q_lora_rank = r.optional_int("q_lora_rank", 0);
        m.qk_nope_head_dim = r.required_int("qk_nope_head_dim");
        m.qk_rope_head_dim = r.required_int("qk_rope_head_dim");
        m.v_head_dim = r.required_int("v_head_dim");
    }

    // MoE: DeepSeek names (n_routed_experts), Qwen names (num_experts), Mixtral (num_local_experts).
    if (r.has("n_routed_experts")) m.num_experts = r.required_int("n_routed_experts");
    else if (r.has("num_experts")) m.num_experts = r.optional_int("num_experts", 0);
    else if (r.has("num_local_experts")) m.num_experts = r.optional_int("num_local_experts", 0);
    if (m.is_moe()) {
        m.experts_per_token = r.required_int("num_experts_per_tok");
        m.num_shared_experts = r.optional_int("n_shared_experts", 0);
        m.shared_expert_intermediate_size = r.optional_int("shared_expert_intermediate_size", 0);
        if (m.shared_expert_intermediate_size > 0 && m.num_shared_experts == 0) m.num_shared_experts = 1;
        m.moe_intermediate_size = r.has("moe_intermediate_size") ? r.required_int("moe_intermediate_size")
                                                                  : r.required_int("intermediate_size");
        m.first_dense_layers = r.optional_int("first_k_dense_replace", 0);
        m.intermediate_size = r.optional_int("intermediate_size", 0);
        if (m.first_dense_layers > 0 && m.intermediate_size == 0)
            r.fail("intermediate_size", "is missing; the dense layers before first_k_dense_replace need it");
    } else {
        m.intermediate_size = r.required_int("intermediate_size");
    }

    std::string torch_dtype = r.optional_string("torch_dtype");
    if (torch_dtype.empty()) torch_dtype = r.optional_string("dtype");
    if (!torch_dtype.empty()) {
        auto t = parse_dtype(torch_dtype);
        if (!t) r.fail("torch_dtype", "\"" + torch_dtype + "\" is not a dtype; expected bfloat16, float16 or float32");
        m.activation_dtype = *t;
    }
    m.weights.type = m.activation_dtype;
    const nlohmann::json* q = nullptr;
    if (root.contains("quantization_config")) q = &root["quantization_config"];
    else if (j.contains("quantization_config")) q = &j["quantization_config"];
    if (q && !q->is_null()) m.weights = detail::read_quantization(*q, where);

    if (m.num_attention_heads % std::max(1, m.num_kv_heads) != 0)
        r.fail("num_key_value_heads", "must divide num_attention_heads (" + std::to_string(m.num_attention_heads) + ")");
    return m;
}

DSDEPLOY_INLINE model_spec load_model_dir(const std::filesystem::path& dir) {
    const auto config_path = dir / "config.json";
    std::ifstream in(config_path);
    if (!in) raise(errc::model_config_unreadable, config_path.string(), "cannot open config.json; is this a Hugging Face model directory?");
    nlohmann::json config;
    try {
        in >> config;
    } catch (const nlohmann::json::exception& e) {
        raise(errc::model_config_unreadable, config_path.string(), std::string("not valid JSON: ") + e.what());
    }
    model_spec m = model_from_hf_config(config, dir.string());
    const auto index_path = dir / "model.safetensors.index.json";
    std::ifstream index(index_path);
    if (index) {
        try {
            nlohmann::json idx;
            index >> idx;
            if (idx.contains("metadata") && idx["metadata"].contains("total_size") && idx["metadata"]["total_size"].is_number_unsigned())
                m.checkpoint_bytes = idx["metadata"]["total_size"].get<std::uint64_t>();
        } catch (const nlohmann::json::exception& e) {
            raise(errc::model_config_unreadable, index_path.string(), std::string("not valid JSON: ") + e.what());
        }
    }
    return m;
}

DSDEPLOY_INLINE model_spec resolve_model(std::string_view name_or_path, const std::string& field) {
    std::error_code ec;
    const std::filesystem::path p{std::string(name_or_path)};
    if (std::filesystem::is_directory(p, ec) && std::filesystem::exists(p / "config.json", ec)) return load_model_dir(p);
    if (auto m = find_model(name_or_path)) return *m;
    std::vector<std::string> ids;
    for (const auto& e : model_catalog_entries()) ids.push_back(e.id);
    raise(errc::model_unknown, field,
          "\"" + std::string(name_or_path) + "\" is neither a local directory with config.json nor a catalog model; use a model directory or one of " +
              detail::one_of(ids));
}

// --- bytes ---------------------------------------------------------------------------------------

namespace detail {
// Bytes of an out x in linear layer's weights in format w (whole matrix, unsharded).
inline double linear_bytes(double out, double in, const weight_format& w) {
    const double values = out * in;
    switch (w.type) {
        case dtype::fp8:
        case dtype::int8:
            if (w.block > 0) return values + 4.0 * std::ceil(out / w.block) * std::ceil(in / w.block);
            if (w.group > 0) return values + 2.0 * out * std::ceil(in / w.group);
            return values + 4.0 * out;  // per-channel scales
        case dtype::int4: {
            const double groups = w.group > 0 ? std::ceil(in / w.group) : 1;
            return values * 0.5 + out * groups * 2.5;  // fp16 scale + 4-bit zero per group
        }
        default: return values * bytes_per_value(w.type);
    }
}
}  // namespace detail

DSDEPLOY_INLINE double layer_bytes(const model_spec& m, int layer, shard_layout s) {
    using detail::linear_bytes;
    const double H = m.hidden_size, act = bytes_per_value(m.activation_dtype);
    const double tp = std::max(1, s.tp);
    const auto& w = m.weights;
    double replicated = 2 * H * act;  // input and post-attention norms
    double sharded = 0;
    if (m.is_mla()) {
        const double qk = m.qk_nope_head_dim + m.qk_rope_head_dim;
        if (m.q_lora_rank > 0) {
            replicated += linear_bytes(m.q_lora_rank, H, w) + m.q_lora_rank * act;
            sharded += linear_bytes(m.num_attention_heads * qk, m.q_lora_rank, w);
        } else {
            sharded += linear_bytes(m.num_attention_heads * qk, H, w);
        }
        replicated += linear_bytes(m.kv_lora_rank + m.qk_rope_head_dim, H, w) + m.kv_lora_rank * act;
        sharded += linear_bytes(m.num_attention_heads * (m.qk_nope_head_dim + m.v_head_dim), m.kv_lora_rank, w);
        sharded += linear_bytes(H, m.num_attention_heads * m.v_head_dim, w);
    } else {
        const double hd = m.head_dim;
        sharded += linear_bytes(m.num_attention_heads * hd, H, w) + linear_bytes(H, m.num_attention_heads * hd, w);
        // K and V heads are split over TP ranks and replicated once TP exceeds their number.
        const double kv_per_rank = std::max(1.0, std::floor(m.num_kv_heads / tp));
        replicated += 2 * linear_bytes(kv_per_rank * hd, H, w);
        if (m.attention_bias) sharded += (m.num_attention_heads + 2.0 * m.num_kv_heads) * hd * act;
    }
    double experts = 0;
    if (m.is_moe_layer(layer)) {
        experts = (m.num_experts + s.redundant_experts) * 3 * linear_bytes(m.moe_intermediate_size, H, w);
        const double shared = m.shared_expert_intermediate_size > 0 ? m.shared_expert_intermediate_size
                                                                     : double(m.num_shared_experts) * m.moe_intermediate_size;
        if (shared > 0) sharded += 3 * linear_bytes(shared, H, w);
        replicated += m.num_experts * H * act;  // router
        if (m.model_type.rfind("deepseek", 0) == 0 || m.model_type == "kimi_k2") replicated += 4.0 * m.num_experts;  // score bias
    } else {
        sharded += 3 * linear_bytes(m.intermediate_size, H, w);
    }
    return replicated + sharded / tp + experts / std::max(1, s.expert_shards);
}

DSDEPLOY_INLINE double embedding_bytes(const model_spec& m, shard_layout s) {
    return double(m.vocab_size) * m.hidden_size * bytes_per_value(m.activation_dtype) / std::max(1, s.tp);
}

DSDEPLOY_INLINE double head_bytes(const model_spec& m, shard_layout s) {
    return embedding_bytes(m, s) + double(m.hidden_size) * bytes_per_value(m.activation_dtype);
}

DSDEPLOY_INLINE double stage_weight_bytes(const model_spec& m, int first_layer, int num_layers, bool first_stage, bool last_stage,
                                          shard_layout s) {
    double bytes = 0;
    for (int l = first_layer; l < first_layer + num_layers; ++l) bytes += layer_bytes(m, l, s);
    if (first_stage) bytes += embedding_bytes(m, s);
    // A tied LM head shares the embedding's memory when both sit on the same GPU.
    if (last_stage) bytes += (m.tie_word_embeddings && first_stage) ? double(m.hidden_size) * bytes_per_value(m.activation_dtype) : head_bytes(m, s);
    return bytes;
}

DSDEPLOY_INLINE double total_weight_bytes(const model_spec& m) {
    return stage_weight_bytes(m, 0, m.num_layers, true, true, shard_layout{});
}

DSDEPLOY_INLINE double total_params(const model_spec& m) {
    // Two bytes per value and no scales: bytes / 2 counts the parameters.
    model_spec counted = m;
    counted.activation_dtype = dtype::bf16;
    counted.weights = weight_format{dtype::bf16, 0, 0, ""};
    return total_weight_bytes(counted) / 2.0;
}

DSDEPLOY_INLINE dtype default_kv_dtype(const model_spec& m) { return m.activation_dtype; }

DSDEPLOY_INLINE double kv_bytes_per_token(const model_spec& m, dtype kv, int layers, int tp) {
    const double b = bytes_per_value(kv);
    if (m.is_mla()) return double(layers) * (m.kv_lora_rank + m.qk_rope_head_dim) * b;
    const int heads = std::max(1, m.num_kv_heads / std::max(1, tp));
    return 2.0 * layers * heads * m.head_dim * b;
}

DSDEPLOY_INLINE std::vector<int> default_pp_partition(int layers, int pp) {
    if (pp <= 0) return {};
    std::vector<int> parts(static_cast<std::size_t>(pp), layers / pp);
    const int remaining = layers % pp;
    for (int i = 2; i < remaining + 2; ++i) parts[static_cast<std::size_t>(pp - i)] += 1;
    return parts;
}

DSDEPLOY_INLINE model_spec with_weights(model_spec m, weight_format w) {
    m.weights = w;
    m.checkpoint_bytes.reset();
    return m;
}

DSDEPLOY_NAMESPACE_END
