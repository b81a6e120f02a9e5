// SPDX-License-Identifier: Apache-2.0
// What a planner needs to know about a model: its shape, its weight format, the bytes each
// GPU holds for a given split, and the KV cache bytes per token (MLA and GQA).
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/error.hpp>

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

enum class dtype { fp32, bf16, fp16, fp8, int8, int4 };
std::string_view to_string(dtype t);
// Accepts "bfloat16"/"bf16", "float16"/"fp16"/"half", "float32", "fp8"/"fp8_e4m3"/"fp8_e5m2",
// "int8", "int4"; nullopt otherwise.
std::optional<dtype> parse_dtype(std::string_view s);
double bytes_per_value(dtype t);

enum class attention_kind { gqa, mla };

// How the linear layers' weights are stored. Embeddings, norms and routers keep the
// model's activation dtype.
struct weight_format {
    dtype type = dtype::bf16;
    int block = 0;  // FP8/INT8 block quantization: one fp32 scale per block x block tile
    int group = 0;  // INT4/INT8 group quantization: an fp16 scale and a zero point per group
    std::string method;  // quantization_config.quant_method, lower case ("fp8", "awq", "compressed-tensors"); empty: not quantized
};

struct model_spec {
    std::string name;          // catalog id ("deepseek-ai/DeepSeek-V3") or the directory read
    std::string architecture;  // "DeepseekV3ForCausalLM"
    std::string model_type;    // "deepseek_v3"

    int num_layers = 0;
    int hidden_size = 0;
    int num_attention_heads = 0;
    int num_kv_heads = 0;
    int head_dim = 0;
    int vocab_size = 0;
    int intermediate_size = 0;  // dense FFN
    bool attention_bias = false;
    bool tie_word_embeddings = false;

    attention_kind attention = attention_kind::gqa;
    int q_lora_rank = 0;  // MLA; 0 when queries are not low-rank
    int kv_lora_rank = 0;
    int qk_nope_head_dim = 0;
    int qk_rope_head_dim = 0;
    int v_head_dim = 0;

    int num_experts = 0;  // routed experts per MoE layer; 0 for dense models
    int experts_per_token = 0;
    int num_shared_experts = 0;
    int moe_intermediate_size = 0;
    int shared_expert_intermediate_size = 0;  // 0: num_shared_experts * moe_intermediate_size
    int first_dense_layers = 0;               // leading layers with a dense FFN

    dtype activation_dtype = dtype::bf16;  // torch_dtype: unquantized weights and the default KV cache
    weight_format weights;
    int max_context = 0;

    double published_params_b = 0;                // from the model card, billions (0: unknown)
    std::optional<std::uint64_t> checkpoint_bytes;  // safetensors total_size (all files, MTP included)

    bool is_moe() const { return num_experts > 0; }
    bool is_mla() const { return attention == attention_kind::mla; }
    bool is_moe_layer(int layer) const { return is_moe() && layer >= first_dense_layers; }
};

// --- catalog and readers -------------------------------------------------------------------

struct catalog_entry {
    std::string id;                    // the Hugging Face repository id
    std::vector<std::string> aliases;  // short names, compared case-insensitively
};

const std::vector<catalog_entry>& model_catalog_entries();
// The catalog model by id or alias; nullopt when unknown.
std::optional<model_spec> find_model(std::string_view name);

// Reads the fields of a Hugging Face config.json. Throws model.config_field naming the field.
model_spec model_from_hf_config(const nlohmann::json& config, std::string name);
// Reads <dir>/config.json and, when present, model.safetensors.index.json's total_size.
model_spec load_model_dir(const std::filesystem::path& dir);
// A local directory holding config.json, or a catalog id/alias; throws model.unknown.
model_spec resolve_model(std::string_view name_or_path, const std::string& field = "model");

// --- bytes -----------------------------------------------------------------------------------

// How one GPU's share is cut: tensor parallel size, and how many GPUs share the routed
// experts (tp without expert parallelism; tp * dp with it).
struct shard_layout {
    int tp = 1;
    int expert_shards = 1;
    // EPLB's redundant experts: each MoE layer holds num_experts + this many physical experts,
    // split over expert_shards (vllm/model_executor/layers/fused_moe/layer.py: global_num_experts
    // = logical + redundant, local = global / ep_size).
    int redundant_experts = 0;
};

// Bytes one GPU holds for decoder layer `layer` (0-based).
double layer_bytes(const model_spec& m, int layer, shard_layout s);
// The input embedding (on the first pipeline stage) and the LM head plus final norm (last).
double embedding_bytes(const model_spec& m, shard_layout s);
double head_bytes(const model_spec& m, shard_layout s);
// Bytes one GPU holds for pipeline stage [first_layer, first_layer + num_layers).
double stage_weight_bytes(const model_spec& m, int first_layer, int num_layers, bool first_stage, bool last_stage,
                          shard_layout s);
// The whole main model (no MTP/draft layers) on one device.
double total_weight_bytes(const model_spec& m);
// Parameters counted by the same model, for cross-checks against published figures.
double total_params(const model_spec& m);

// KV cache bytes per token on one GPU holding `layers` layers at tensor-parallel size tp.
// MLA keeps one latent (kv_lora_rank + qk_rope_head_dim) per layer on every TP rank;
// GQA keeps K and V for max(1, kv_heads / tp) heads.
double kv_bytes_per_token(const model_spec& m, dtype kv, int layers, int tp);
// The KV cache dtype vLLM uses for "auto": the model's activation dtype.
dtype default_kv_dtype(const model_spec& m);

// vLLM's default split of layers over pipeline stages (get_pp_indices): equal shares, the
// remainder going to the stages before the last, e.g. 61 layers over 2 stages = {31, 30}.
std::vector<int> default_pp_partition(int layers, int pp);

// The same model stored in another weight format (for "what would a 4-bit checkpoint need").
model_spec with_weights(model_spec m, weight_format w);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/model_inl.hpp>
#endif
