// SPDX-License-Identifier: Apache-2.0
#include <dsdeploy/model.hpp>

#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace model_test {

using namespace dsdeploy;

namespace {
constexpr double GiB = 1024.0 * 1024 * 1024;
model_spec ds() { return *find_model("deepseek-ai/DeepSeek-V3"); }
}  // namespace

TEST_CASE("the catalog has the models the planner must know - with their published sizes") {
    struct expect {
        const char* name;
        double params_b;
    };
    for (auto e : {expect{"deepseek-v3", 671}, expect{"DeepSeek-R1", 671}, expect{"Qwen/Qwen2.5-72B-Instruct", 72.7},
                   expect{"llama-3.1-70b", 70.6}, expect{"Llama-3.1-405B-Instruct", 405}, expect{"qwen3-235b-a22b", 235},
                   expect{"kimi-k2", 1026}}) {
        INFO(e.name);
        auto m = find_model(e.name);
        REQUIRE(m.has_value());
        // The byte model counts the same parameters the model cards publish (within 1%).
        CHECK(total_params(*m) / 1e9 == Approx(e.params_b).epsilon(0.01));
    }
    CHECK_FALSE(find_model("gpt-5").has_value());
}

TEST_CASE("DeepSeek-V3 in FP8 with 128x128 block scales: 673.2 GB of main-model weights") {
    const model_spec m = ds();
    CHECK(m.is_mla());
    CHECK(m.is_moe());
    CHECK(m.weights.type == dtype::fp8);
    CHECK(m.weights.block == 128);
    // model-hw-facts.md §1.1: 673.2 GB = 626.9 GiB (the checkpoint adds ~15 GB of MTP layer).
    CHECK(total_weight_bytes(m) / 1e9 == Approx(673.2).epsilon(0.001));
    CHECK(total_weight_bytes(m) / GiB == Approx(626.9).epsilon(0.001));
    CHECK(*m.checkpoint_bytes == 688586727753ULL);
}

TEST_CASE("per-GPU weights for TP8 - TP16 and TP8 x PP2 match the worked numbers") {
    const model_spec m = ds();
    auto whole = [&](int tp) { return stage_weight_bytes(m, 0, m.num_layers, true, true, {tp, tp}) / GiB; };
    CHECK(whole(8) == Approx(79.3).epsilon(0.005));   // HabanaAI/vllm-fork#809 logged 79.41 GiB
    CHECK(whole(16) == Approx(40.18).epsilon(0.005));
    auto split = default_pp_partition(61, 2);
    REQUIRE(split == std::vector<int>{31, 30});
    CHECK(stage_weight_bytes(m, 0, 31, true, false, {8, 8}) / GiB == Approx(38.41).epsilon(0.005));
    CHECK(stage_weight_bytes(m, 31, 30, false, true, {8, 8}) / GiB == Approx(40.88).epsilon(0.005));
    CHECK(default_pp_partition(61, 4) == std::vector<int>{15, 15, 16, 15});
}

TEST_CASE("KV cache bytes per token: MLA does not shrink with TP - GQA does until one head per rank") {
    const model_spec m = ds();
    CHECK(kv_bytes_per_token(m, dtype::bf16, 61, 1) == 70272);
    CHECK(kv_bytes_per_token(m, dtype::bf16, 61, 16) == 70272);
    CHECK(kv_bytes_per_token(m, dtype::fp8, 61, 8) == 35136);
    CHECK(kv_bytes_per_token(m, dtype::bf16, 30, 8) == 30 * 576 * 2);

    const model_spec llama = *find_model("llama-3.1-70b");
    CHECK(kv_bytes_per_token(llama, dtype::bf16, 80, 1) == 327680);  // 2 x 80 x 8 x 128 x 2
    CHECK(kv_bytes_per_token(llama, dtype::bf16, 80, 8) == 40960);
    const model_spec qwen3 = *find_model("qwen3-235b");
    CHECK(kv_bytes_per_token(qwen3, dtype::bf16, 94, 1) == 192512);
    CHECK(kv_bytes_per_token(qwen3, dtype::bf16, 94, 8) == 48128);  // 4 KV heads over 8 ranks: one per rank
    CHECK(default_kv_dtype(m) == dtype::bf16);
}

TEST_CASE("a local Hugging Face directory is read - with the safetensors index size") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("dsdeploy-model-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "config.json") << R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","num_hidden_layers":4,
        "hidden_size":256,"num_attention_heads":8,"num_key_value_heads":2,"vocab_size":1000,"intermediate_size":512,
        "max_position_embeddings":2048,"torch_dtype":"float16","tie_word_embeddings":true})";
    std::ofstream(dir / "model.safetensors.index.json") << R"({"metadata":{"total_size":123456},"weight_map":{}})";
    const model_spec m = resolve_model(dir.string());
    CHECK(m.num_layers == 4);
    CHECK(m.head_dim == 32);
    CHECK(m.activation_dtype == dtype::fp16);
    CHECK(m.tie_word_embeddings);
    CHECK(m.checkpoint_bytes == 123456u);
    // 4 layers x (q,o 256x256 + k,v 64x256 + mlp 3x256x512 + 2 norms) + tied embedding + final norm, 2 bytes each.
    const double per_layer = 2.0 * 256 * 256 + 2.0 * 64 * 256 + 3.0 * 256 * 512 + 2 * 256;
    CHECK(total_weight_bytes(m) == Approx(2 * (4 * per_layer + 1000.0 * 256 + 256)));
    fs::remove_all(dir);
}

TEST_CASE("quantization formats are read from quantization_config") {
    auto cfg = nlohmann::json::parse(R"({"num_hidden_layers":2,"hidden_size":128,"num_attention_heads":4,"vocab_size":100,
        "intermediate_size":256,"quantization_config":{"quant_method":"awq","bits":4,"group_size":128}})");
    auto m = model_from_hf_config(cfg, "awq");
    CHECK(m.weights.type == dtype::int4);
    CHECK(m.weights.group == 128);
    cfg["quantization_config"] = {{"quant_method", "compressed-tensors"},
                                  {"config_groups", {{"group_0", {{"weights", {{"num_bits", 8}, {"type", "float"}}}}}}}};
    CHECK(model_from_hf_config(cfg, "ct").weights.type == dtype::fp8);
    cfg["quantization_config"] = {{"quant_method", "bitsandbytes"}};
    CHECK_DSDEPLOY_ERROR(model_from_hf_config(cfg, "bnb"), errc::model_unsupported, "config.json.quantization_config.quant_method",
                         "supported: fp8, awq");
}

TEST_CASE("quantization_config fields of the wrong type are named, not thrown as JSON errors") {
    auto cfg = nlohmann::json::parse(R"({"num_hidden_layers":2,"hidden_size":128,"num_attention_heads":4,"vocab_size":100,
        "intermediate_size":256,"quantization_config":{"quant_method":36}})");
    CHECK_DSDEPLOY_ERROR(model_from_hf_config(cfg, "q"), errc::model_unsupported, "config.json.quantization_config.quant_method",
                         "must be a string, got 36");
    cfg["quantization_config"] = {{"quant_method", "gptq"}, {"bits", "4"}};
    CHECK_DSDEPLOY_ERROR(model_from_hf_config(cfg, "q"), errc::model_unsupported, "config.json.quantization_config.bits",
                         "must be an integer");
    cfg["quantization_config"] = {{"quant_method", "gptq"}, {"bits", 4}, {"group_size", -1}};
    CHECK(model_from_hf_config(cfg, "q").weights.group == 0);
    cfg["quantization_config"] = {{"quant_method", "compressed-tensors"},
                                  {"config_groups", {{"g", {{"weights", {{"num_bits", 8}, {"type", 8}}}}}}}};
    CHECK_DSDEPLOY_ERROR(model_from_hf_config(cfg, "q"), errc::model_unsupported,
                         "config.json.quantization_config.config_groups.g.weights.type", "must be a string");
}

TEST_CASE("model errors name the file or field") {
    CHECK_DSDEPLOY_ERROR(resolve_model("no-such-model", "serving.model"), errc::model_unknown, "serving.model",
                         "deepseek-ai/DeepSeek-V3");
    auto cfg = nlohmann::json::parse(R"({"num_hidden_layers":2,"hidden_size":128,"vocab_size":100,"intermediate_size":256})");
    CHECK_DSDEPLOY_ERROR(model_from_hf_config(cfg, "x"), errc::model_config_field, "config.json.num_attention_heads", "is missing");
    cfg["num_attention_heads"] = "four";
    CHECK_DSDEPLOY_ERROR(model_from_hf_config(cfg, "x"), errc::model_config_field, "config.json.num_attention_heads",
                         "non-negative integer");

    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("dsdeploy-badmodel-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "config.json") << "{not json";
    CHECK_DSDEPLOY_ERROR(load_model_dir(dir), errc::model_config_unreadable, (dir / "config.json").string(), "not valid JSON");
    CHECK_DSDEPLOY_ERROR(load_model_dir(dir / "missing"), errc::model_config_unreadable, (dir / "missing" / "config.json").string(),
                         "cannot open config.json");
    fs::remove_all(dir);
}

}  // namespace model_test
