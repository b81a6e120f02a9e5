// SPDX-License-Identifier: Apache-2.0
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/plan.hpp>

#include "test_support.hpp"

#include <nlohmann/json.hpp>

namespace plan_test {

using namespace dsdeploy;

namespace {
cluster nodes_of(int n, const char* gpu, int per_node) {
    cluster c;
    for (int i = 0; i < n; ++i)
        c.nodes.push_back(node{"n" + std::to_string(i), "10.0.0." + std::to_string(i + 1), i == 0 ? node_role::head : node_role::worker,
                               gpu, per_node, {}, "", ""});
    return c;
}
plan_options with(int tp, int pp, double util, int len) {
    plan_options o;
    o.parallel = parallelism{tp, pp, 1, false};
    o.gpu_memory_utilization = util;
    o.max_model_len = len;
    return o;
}
const fit_option* find_option(const plan& p, const std::string& id) {
    for (const auto& f : p.alternatives)
        if (f.id == id) return &f;
    return nullptr;
}
}  // namespace

TEST_CASE("the original write-up's plan does not fit - and says so with the numbers") {
    const plan p = plan_for(default_inventory());
    REQUIRE(p.memory_checked);
    CHECK_FALSE(p.fits());
    const auto& a = p.memory;
    // model-hw-facts.md §6: 0.8 x 44.53 = 35.62 GiB per GPU; the last stage holds 40.88 GiB.
    CHECK(a.budget_gib == Approx(35.62).epsilon(0.01));
    CHECK(a.weights_gib == Approx(40.88).epsilon(0.01));
    CHECK(a.heaviest_stage == 1);
    CHECK(a.cluster_budget_gib == Approx(570.0).epsilon(0.01));
    CHECK(a.total_weights_gib == Approx(626.9).epsilon(0.01));
    CHECK(a.kv_tokens == 0);
    CHECK(p.layer_partition == std::vector<int>{31, 30});

    const std::string text = to_text(p);
    CHECK_THAT(text, Catch::Matchers::Contains("DOES NOT FIT"));
    CHECK_THAT(text, Catch::Matchers::Contains("40.88 GiB"));
    CHECK_THAT(text, Catch::Matchers::Contains("35.62 GiB"));
    CHECK_THAT(text, Catch::Matchers::Contains("Options that would fit"));

    // vLLM 0.11's terms: the limiting stage lists weights, non-torch, activation, CUDA graphs
    // (outside the budget before 0.20), pre-snapshot memory and the headroom, each with a source.
    CHECK(a.vllm_version == "0.11.0");
    CHECK(a.era == vllm_era::v1);
    REQUIRE(a.terms.size() == 6);
    for (const auto& t : a.terms) CHECK_FALSE(t.source.empty());
    CHECK(a.terms[4].name == "pre_snapshot");
    CHECK_FALSE(a.terms[4].in_budget);
    CHECK(a.outside_budget_gib == Approx(0.61 + 0.93 + 0.353 * 6 + 0.5 * 8));
    CHECK(a.slack_gib == Approx(44.53 * 0.2 - a.outside_budget_gib));
    // Options: utilization cannot save it - 0.8 already leaves only 1.25 GiB outside the budget -
    // and neither can a shorter context nor --enforce-eager (the weights alone exceed the budget)...
    const fit_option* util = find_option(p, "raise_utilization");
    REQUIRE(util);
    CHECK_FALSE(util->fits);
    CHECK(find_option(p, "raise_utilization_shorter_context") == nullptr);  // 0.80 is already the highest safe utilization
    const fit_option* shorter = find_option(p, "shorter_context");
    REQUIRE(shorter);
    CHECK_FALSE(shorter->fits);
    const fit_option* eager = find_option(p, "enforce_eager");
    REQUIRE(eager);
    CHECK_FALSE(eager->fits);
    CHECK(eager->vllm_flags.front() == "--enforce-eager");
    // ...but a 4-bit checkpoint and a third node each would, with the model's uncertainty to spare.
    const fit_option* int4 = find_option(p, "int4_weights");
    REQUIRE(int4);
    CHECK(int4->fits);
    CHECK(int4->memory.weights_gib < 25);
    const fit_option* more = find_option(p, "more_nodes");
    REQUIRE(more);
    CHECK(more->fits);
    CHECK(more->nodes == 3);
    CHECK(more->parallel->pp == 3);
    const fit_option* fp8kv = find_option(p, "fp8_kv_cache");
    REQUIRE(fp8kv);
    CHECK_FALSE(fp8kv->fits);  // the weights are the problem, not the KV cache
    const fit_option* balanced = find_option(p, "balanced_layers");
    REQUIRE(balanced);
    CHECK(balanced->env.at(0).first == "VLLM_PP_LAYER_PARTITION");
    CHECK(balanced->memory.weights_gib < a.weights_gib);
    // Fitting options come first, and every fitting option keeps the model's uncertainty.
    CHECK(p.alternatives.front().fits);
    for (const auto& f : p.alternatives)
        if (f.fits) CHECK(f.memory.margin_gib >= vllm_memory_uncertainty_gib);
}

TEST_CASE("at 0.98 and 16k context the same layout does not fit: nothing is left outside the budget") {
    // Before issue 17 this was "fits" with 0.76 GiB of KV per GPU and a flat 2 GiB headroom.
    const model_spec m = *find_model("deepseek-v3");
    const plan p = make_plan(nodes_of(2, "L20", 8), m, with(8, 2, 0.98, 16384));
    CHECK_FALSE(p.fits());
    CHECK(p.memory.slack_gib < 0);
    CHECK_THAT(to_text(p), Catch::Matchers::Contains("held outside the budget"));
    // 0.99 or more is never "fits" without --enforce-eager, not even on H200s with room to spare.
    const plan h = make_plan(nodes_of(1, "H200", 8), m, with(8, 1, 0.99, 4096));
    CHECK_FALSE(h.fits());
    CHECK_THAT(to_text(h), Catch::Matchers::Contains("0.99 or more"));
}

TEST_CASE("three nodes of 8 x L20 at 0.8 and 16k fit - KV tokens match a hand computation from the terms") {
    const model_spec m = *find_model("deepseek-v3");
    const plan p = make_plan(nodes_of(3, "L20", 8), m, with(8, 3, 0.8, 16384));
    REQUIRE(p.fits());
    CHECK(p.memory.confident());
    const auto& s = p.memory.stages[2];  // the last stage: 20 layers + LM head, runs the sampler
    CHECK(s.num_layers == 20);
    // vLLM 0.11 on L20 (44.53 GiB, not an >= 70 GiB part): T = 2048, S = 256.
    CHECK(p.memory.max_num_batched_tokens == 2048);
    CHECK(p.memory.max_num_seqs == 256);
    const double non_torch = 0.1325 + 0.0 + 0.7866;  // base + PCIe TP 8 + stages across nodes
    const double sampler = 4.3161 * 256 * 129280 * 4 / gib;
    const double kv_gib = 44.53 * 0.8 - s.weights_gib - non_torch - sampler - 2.0;
    CHECK(s.kv_cache_gib == Approx(kv_gib).epsilon(1e-4));
    CHECK(s.kv_bytes_per_token == 20 * 576 * 2);
    CHECK(s.kv_tokens == static_cast<std::int64_t>(kv_gib * gib / (20 * 576 * 2 * 16)) * 16);
    CHECK(p.memory.max_concurrency == Approx(double(p.memory.kv_tokens / 16) / (16384 / 16)));
    CHECK(p.alternatives.empty());
    // --enforce-eager in extra_args takes the graphs out of the account.
    auto eager = with(8, 3, 0.8, 16384);
    eager.enforce_eager = true;
    const plan e = make_plan(nodes_of(3, "L20", 8), m, eager);
    CHECK(e.memory.slack_gib == Approx(p.memory.slack_gib + 0.5 * 8));
}

TEST_CASE("automatic choice: TP inside a node - PP across nodes - with reasons") {
    const model_spec m = *find_model("deepseek-v3");
    std::vector<std::string> reasons;
    auto p = choose_parallelism(nodes_of(2, "H100", 8), m, &reasons);
    CHECK(p.tp == 8);
    CHECK(p.pp == 2);
    CHECK(p.dp == 1);
    REQUIRE(reasons.size() == 2);
    CHECK_THAT(reasons[0], Catch::Matchers::Contains("NVLink"));
    CHECK_THAT(reasons[1], Catch::Matchers::Contains("PP 2 = nodes"));
    // 64 heads, 6 GPUs per node: TP 2 divides both, DP 3 uses the rest.
    auto q = choose_parallelism(nodes_of(1, "H100", 6), *find_model("llama-3.1-70b"), &reasons);
    CHECK(q.tp == 2);
    CHECK(q.dp == 3);
    // DeepSeek-V3 on one 8 x H200 node fits with TP 8.
    const plan h = make_plan(nodes_of(1, "H200", 8), m, plan_options{});
    CHECK(h.parallel.tp == 8);
    CHECK(h.fits());
    CHECK(h.memory.weights_gib == Approx(79.3).epsilon(0.005));
}

TEST_CASE("CPU-only clusters get one worker per node and no memory check") {
    cluster c = nodes_of(2, "", 0);
    const plan p = make_plan(c, *find_model("llama-3.1-70b"), plan_options{});
    CHECK(p.parallel.tp == 1);
    CHECK(p.parallel.pp == 2);
    CHECK_FALSE(p.memory_checked);
    CHECK(p.fits());
    CHECK_THAT(p.warnings.at(0), Catch::Matchers::Contains("not checked"));
}

TEST_CASE("plan errors: world size - TP across nodes - heads - layers - partition - values") {
    const model_spec m = *find_model("deepseek-v3");
    const cluster c = nodes_of(2, "L20", 8);
    CHECK_DSDEPLOY_ERROR(make_plan(c, m, with(8, 1, 0.9, 4096)), errc::plan_world_size, "serving.tensor_parallel_size",
                         "Layouts that use them all: TP 1 x PP 16, TP 2 x PP 8, TP 4 x PP 4 or TP 8 x PP 2");
    CHECK_DSDEPLOY_ERROR(make_plan(c, m, with(16, 1, 0.9, 4096)), errc::plan_tp_cross_node, "serving.tensor_parallel_size",
                         "allow_cross_node_tp");
    auto cross = with(16, 1, 0.9, 4096);
    cross.allow_cross_node_tp = true;
    CHECK_NOTHROW(make_plan(c, m, cross));

    const model_spec qwen = *find_model("qwen3-235b");  // 64 heads
    cluster six = nodes_of(1, "H100", 6);
    CHECK_DSDEPLOY_ERROR(make_plan(six, qwen, with(6, 1, 0.9, 4096)), errc::plan_tp_heads, "serving.tensor_parallel_size",
                         "64 attention heads are not divisible by TP 6");

    model_spec tiny = m;
    tiny.num_layers = 1;
    CHECK_DSDEPLOY_ERROR(make_plan(c, tiny, with(8, 2, 0.9, 4096)), errc::plan_pp_layers, "serving.pipeline_parallel_size",
                         "exceeds the model's 1 layers");

    auto part = with(8, 2, 0.9, 4096);
    part.pp_layer_partition = {30, 30};
    CHECK_DSDEPLOY_ERROR(make_plan(c, m, part), errc::plan_pp_partition, "serving.pp_layer_partition", "summing to the model's 61 layers");
    part.pp_layer_partition = {32, 29};
    CHECK(make_plan(c, m, part).memory.weights_gib == Approx(39.77).epsilon(0.005));

    CHECK_DSDEPLOY_ERROR(make_plan(c, m, with(8, 2, 1.5, 4096)), errc::plan_value, "serving.gpu_memory_utilization", "(0, 1]");
    CHECK_DSDEPLOY_ERROR(make_plan(c, m, with(8, 2, 0.9, 1 << 20)), errc::plan_value, "serving.max_model_len",
                         "context length 163840");
    auto zero = with(0, 2, 0.9, 4096);
    CHECK_DSDEPLOY_ERROR(make_plan(c, m, zero), errc::plan_value, "serving.tensor_parallel_size", "at least 1");
}

TEST_CASE("plan errors: EP without experts - mixed GPUs") {
    const model_spec m = *find_model("deepseek-v3");
    auto ep = with(8, 1, 0.9, 4096);
    ep.parallel->ep = true;
    CHECK_DSDEPLOY_ERROR(make_plan(nodes_of(1, "H100", 8), *find_model("llama-3.1-70b"), ep), errc::plan_expert_parallel,
                         "serving.enable_expert_parallel", "MoE models only");
    cluster mixed = nodes_of(2, "L20", 8);
    mixed.nodes[1].gpu_type = "H20";
    CHECK_DSDEPLOY_ERROR(make_plan(mixed, m, with(8, 2, 0.9, 4096)), errc::gpu_mixed, "nodes[1].gpu_type", "one GPU type");
    mixed.nodes[1].gpu_type = "L20";
    mixed.nodes[1].gpu_count = 4;
    CHECK_DSDEPLOY_ERROR(make_plan(mixed, m, with(4, 3, 0.9, 4096)), errc::gpu_mixed, "nodes[1].gpu_count", "same GPU count");
}

TEST_CASE("expert parallelism spreads the routed experts over TP x DP ranks") {
    const model_spec m = *find_model("deepseek-v3");
    plan_options o;
    o.parallel = parallelism{1, 1, 8, true};
    o.max_model_len = 4096;
    const plan ep = make_plan(nodes_of(1, "H200", 8), m, o);
    o.parallel = parallelism{8, 1, 1, false};
    const plan tp = make_plan(nodes_of(1, "H200", 8), m, o);
    // The experts shrink the same; attention is whole on every DP rank, so EP holds more.
    CHECK(ep.memory.weights_gib > tp.memory.weights_gib);
    // About 10.6 GiB of MLA attention plus 3.4 GiB of embedding and LM head, whole instead of 1/8.
    CHECK(ep.memory.weights_gib > tp.memory.weights_gib + 12);
    CHECK(ep.memory.weights_gib < tp.memory.weights_gib + 16);
}

TEST_CASE("the plan as JSON carries the numbers and the options") {
    const nlohmann::json j = plan_for(default_inventory());
    CHECK(j["fits"] == false);
    CHECK(j["parallel"]["tensor_parallel_size"] == 8);
    CHECK(j["memory"]["budget_gib"].get<double>() == Approx(35.62).epsilon(0.01));
    CHECK(j["memory"]["stages"].size() == 2);
    CHECK(j["alternatives"].size() >= 4);
    CHECK(j["alternatives"][0]["fits"] == true);
}

TEST_CASE("A100 + block-FP8 DeepSeek-V3 is planned: weight-only FP8 through Marlin, compute in BF16, with the source") {
    const model_spec m = *find_model("deepseek-v3");
    REQUIRE(m.weights.method == "fp8");
    const plan p = make_plan(nodes_of(4, "A100-80GB", 8), m, with(8, 4, 0.9, 4096));
    const auto note = std::find_if(p.warnings.begin(), p.warnings.end(), [](const std::string& w) { return w.find("Marlin") != std::string::npos; });
    REQUIRE(note != p.warnings.end());
    CHECK_THAT(*note, Catch::Matchers::Contains("A100-80GB (compute capability 8.0) runs fp8 weights (quant_method \"fp8\") as weight-only FP8 (W8A16)"));
    CHECK_THAT(*note, Catch::Matchers::Contains("run in BF16"));
    CHECK_THAT(*note, Catch::Matchers::Contains("slower"));
    CHECK_THAT(*note, Catch::Matchers::Contains("fp8.py"));
    CHECK_THAT(*note, Catch::Matchers::Contains("(v0.11.0)"));
    CHECK_THAT(to_text(p), Catch::Matchers::Contains("Marlin"));
    // Native FP8 GPUs get no note.
    const plan h = make_plan(nodes_of(2, "H20", 8), m, with(8, 2, 0.9, 4096));
    CHECK(std::none_of(h.warnings.begin(), h.warnings.end(), [](const std::string& w) { return w.find("Marlin") != std::string::npos; }));
}

TEST_CASE("GPU x weight format table: every row cites vLLM and the release, capabilities decide the path") {
    for (const auto& r : quantization_rules()) {
        CHECK(r.min_capability <= r.native_capability);
        CHECK_THAT(r.source, Catch::Matchers::Contains("(v0.11.0)"));
        CHECK((r.below_native.empty() == (r.min_capability == r.native_capability)));
    }
    const gpu_spec& a100 = *find_gpu("A100-80GB");
    const gpu_spec& l20 = *find_gpu("L20");
    const gpu_spec& h100 = *find_gpu("H100");
    weight_format fp8{dtype::fp8, 128, 0, "fp8"};
    CHECK(quantization_support(a100, fp8).path == quant_path::weight_only);
    CHECK(quantization_support(l20, fp8).path == quant_path::native);  // 8.9: native FP8
    CHECK(quantization_support(h100, fp8).path == quant_path::native);
    weight_format ct{dtype::fp8, 0, 0, "compressed-tensors"};
    CHECK(quantization_support(a100, ct).path == quant_path::weight_only);
    weight_format awq{dtype::int4, 0, 128, "awq"};
    CHECK(quantization_support(a100, awq).path == quant_path::native);
    weight_format bf16{};
    CHECK(quantization_support(a100, bf16).path == quant_path::native);
    // Below a method's minimum: refused, naming the source.
    const gpu_spec& v100 = *find_gpu("V100-32GB");
    const quant_support q = quantization_support(v100, fp8);
    CHECK(q.path == quant_path::unsupported);
    CHECK_THAT(q.note, Catch::Matchers::Contains("needs 8.0"));
    CHECK(quantization_support(v100, bf16).path == quant_path::weight_only);  // cast to FP16
    CHECK(quantization_support(v100, weight_format{dtype::fp16, 0, 0, ""}).path == quant_path::native);
    CHECK_DSDEPLOY_ERROR(make_plan(nodes_of(2, "V100-32GB", 8), *find_model("deepseek-v3"), with(8, 2, 0.9, 4096)),
                         errc::plan_fp8_unsupported, "model", "vLLM refuses fp8 weights (quant_method \"fp8\") on V100-32GB");
}

}  // namespace plan_test
