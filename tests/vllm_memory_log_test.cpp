// SPDX-License-Identifier: Apache-2.0
// vLLM's memory lines (issue 17, item 4): every public start-up log in tests/fixtures/vllm-memory
// is parsed and its figures compared with INDEX.tsv; each release's format (0.6 V0 through 0.34)
// is read from the format strings of its source; the reconciliation with a plan names the term
// that differed most.
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/plan.hpp>
#include <dsdeploy/vllm_memory_log.hpp>

#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace vllm_memory_log_test {

using namespace dsdeploy;

namespace {
const std::string dir = std::string(DSDEPLOY_SOURCE_DIR) + "/tests/fixtures/vllm-memory/";

using row = std::map<std::string, std::string>;

std::vector<row> read_index() { return dsdeploy_test::read_tsv(dir + "INDEX.tsv"); }

bool known(const std::string& v) { return !v.empty() && v != "-" && v != "unknown"; }

// The log as posted: everything after the fixture's leading "# source/gpu/model/vllm/config/note" header.
std::string body_of(const std::string& name) {
    std::ifstream in(dir + name + ".log");
    REQUIRE(in);
    std::string line, body;
    bool header = true;
    while (std::getline(in, line)) {
        if (header && line.rfind("#", 0) == 0) continue;
        header = false;
        body += line + "\n";
    }
    return body;
}

// INDEX.tsv figures that are not in the log as posted (derived by the fixture's author, see its notes).
const std::set<std::pair<std::string, std::string>> derived = {
    {"pr10511-h100-llama3-8b-tp2", "available_kv_gib"},        // the quote ends before the value
    {"pr17122-l40s-llama31-8b", "available_kv_gib"},           // derived from the token count
    {"i13061-4090x2-r1-distill-qwen14b", "non_torch_gib"},     // the reporter's prose, not a log line
    {"i13061-4090x2-r1-distill-qwen14b", "activation_gib"},
    {"i13061-4090x2-r1-distill-qwen14b", "available_kv_gib"},
    {"llmd-h100-gpt-oss-120b", "util"},                        // the row says 0.9; INDEX has 0.95, what its terms add up to
};
}  // namespace

TEST_CASE("every fixture's memory lines are read and agree with INDEX.tsv") {
    int fixtures = 0, compared = 0;
    for (const auto& r : read_index()) {
        const std::string name = r.at("name");
        INFO(name);
        const vllm_memory_log m = parse_vllm_memory_log(body_of(name));
        CHECK(m.recognised);
        ++fixtures;
        // GiB figures: two decimals as vLLM prints them (the INDEX rounds "14.2488" to 14.25).
        auto gib = [&](const std::string& col, const std::optional<logged_figure>& f) {
            if (!known(r.at(col))) return;
            const double want = std::stod(r.at(col));
            if (derived.count({name, col})) {
                CHECK_FALSE(f);  // if the log said it after all, the exception is wrong
                return;
            }
            INFO(col << " in INDEX.tsv: " << want);
            REQUIRE(f);
            CHECK(f->value == Approx(want).margin(0.011));
            CHECK(f->line.number > 0);
            CHECK_FALSE(f->line.text.empty());
            ++compared;
        };
        gib("weights_gib", m.weights_gib);
        gib("non_torch_gib", m.non_torch_gib);
        gib("activation_gib", m.activation_gib);
        gib("available_kv_gib", m.available_kv_gib);
        gib("graph_gib", m.cuda_graph_gib);
        if (known(r.at("kv_tokens"))) {
            INFO("kv_tokens " << r.at("kv_tokens"));
            REQUIRE(m.kv_tokens);
            CHECK(static_cast<long long>(m.kv_tokens->value) == std::stoll(r.at("kv_tokens")));
            ++compared;
        }
        // INDEX's cuda_graph_gib is whichever graph figure the source gives: the capture (dennislee22), the 0.21
        // estimate (LMCache#3430), the DEBUG free-memory delta (llm-d).
        if (known(r.at("cuda_graph_gib"))) {
            const double want = std::stod(r.at("cuda_graph_gib"));
            bool found = false;
            for (const auto* f : {&m.cuda_graph_gib, &m.cuda_graph_estimate_gib, &m.cuda_graph_delta_gib})
                found = found || (*f && std::fabs((*f)->value - want) < 0.011);
            CHECK(found);
            ++compared;
        }
        // The configuration where the log prints it (INDEX also holds assumed values, so only agreement is checked).
        if (m.total_gib) CHECK(m.total_gib->value == Approx(std::stod(r.at("total_gib"))).margin(0.011));
        if (m.utilization && derived.count({name, "util"})) CHECK(m.utilization->value != Approx(std::stod(r.at("util"))));
        else if (m.utilization) CHECK(m.utilization->value == Approx(std::stod(r.at("util"))).margin(0.0001));
        if (m.free_at_start_gib && known(r.at("free_at_start_gib")))
            CHECK(m.free_at_start_gib->value == Approx(std::stod(r.at("free_at_start_gib"))).margin(0.011));
        if (m.max_num_batched_tokens) CHECK(std::to_string(static_cast<long long>(m.max_num_batched_tokens->value)) == r.at("batched_tokens"));
        if (m.tensor_parallel_size) CHECK(std::to_string(static_cast<int>(m.tensor_parallel_size->value)) == r.at("tp"));
        if (m.concurrency_tokens && known(r.at("max_model_len")))
            CHECK(static_cast<long long>(m.concurrency_tokens->value) == std::stoll(r.at("max_model_len")));
    }
    CHECK(fixtures >= 28);
    CHECK(compared >= 60);
}

TEST_CASE("the banner's version and the figures every rank prints") {
    const vllm_memory_log m = parse_vllm_memory_log(body_of("dl-a100-gpt-oss-120b-tp4-3nodes-u080"));
    CHECK(m.version == "0.10.1.1");
    REQUIRE(m.weights_gib);
    CHECK(m.weights_gib->lines == 4);  // four ranks, one value
    CHECK_FALSE(m.weights_gib->varies);
    REQUIRE(m.max_concurrency);
    CHECK(m.max_concurrency->value == Approx(284.25));
    CHECK(m.concurrency_tokens->value == 16384);
    CHECK(m.tensor_parallel_size->value == 4);
    CHECK(m.max_num_batched_tokens->value == 2048);
    CHECK(m.utilization->value == Approx(0.8));
    // Lines a terminal cut in two (dennislee22's two-node log) are joined.
    const vllm_memory_log w = parse_vllm_memory_log(body_of("dl-a10040-qwen2-7b-tp2-2nodes-u050"));
    REQUIRE(w.weights_gib);
    CHECK(w.weights_gib->value == Approx(7.1217));
    CHECK(w.weights_gib->lines == 2);
    REQUIRE(w.available_kv_gib);
    CHECK(w.available_kv_gib->lines == 2);
    REQUIRE(w.cuda_graph_gib);
    CHECK(w.cuda_graph_gib->value == Approx(1.00));
}

TEST_CASE("each release's format, from its source's format strings") {
    SECTION("0.11.0: %.4f GiB, %.2f GiB, two KV lines, the DEBUG breakdown of 0.10.2+") {
        const auto m = parse_vllm_memory_log(
            "(VllmWorker TP0 pid=1) INFO 10-01 10:00:00 [gpu_model_runner.py:2653] Model loading took 14.9889 GiB and 3.652170 seconds\n"
            "(VllmWorker TP0 pid=1) DEBUG 10-01 10:00:10 [gpu_worker.py:284] Initial free memory: 78.57 GiB; Requested memory: 0.90 (util), "
            "71.26 GiB\n"
            "(VllmWorker TP0 pid=1) DEBUG 10-01 10:00:10 [gpu_worker.py:297] Memory profiling takes 2.10 seconds. Total non KV cache memory: "
            "19.88GiB; torch peak memory increase: 4.76GiB; non-torch forward increase memory: 0.13GiB; weights memory: 14.99GiB.\n"
            "(VllmWorker TP0 pid=1) INFO 10-01 10:00:10 [gpu_worker.py:298] Available KV cache memory: 51.38 GiB\n"
            "(EngineCore_0 pid=2) INFO 10-01 10:00:11 [kv_cache_utils.py:1087] GPU KV cache size: 420,912 tokens\n"
            "(EngineCore_0 pid=2) INFO 10-01 10:00:11 [kv_cache_utils.py:1091] Maximum concurrency for 16,000 tokens per request: 26.31x\n"
            "(VllmWorker TP0 pid=1) INFO 10-01 10:00:20 [gpu_model_runner.py:3480] Graph capturing finished in 5 secs, took 0.50 GiB\n"
            "(VllmWorker TP0 pid=1) DEBUG 10-01 10:00:20 [gpu_worker.py:393] Free memory on device (78.57/79.18 GiB) on startup. Desired GPU "
            "memory utilization is (0.9, 71.26 GiB). Actual usage is 14.99 GiB for weight, 4.76 GiB for peak activation, 0.13 GiB for "
            "non-torch memory, and -0.45 GiB for CUDAGraph memory. Replace gpu_memory_utilization config with `--kv-cache-memory=55491753575` "
            "(51.68 GiB) to fit into requested memory, or `--kv-cache-memory=63344644096` (58.99 GiB) to fully utilize gpu memory. Current "
            "kv cache memory in use is 51.38 GiB.\n");
        REQUIRE(m.recognised);
        CHECK(m.weights_gib->value == Approx(14.9889));
        CHECK(m.weights_gib->lines == 3);
        CHECK_FALSE(m.weights_gib->varies);  // 14.9889 and 14.99: the same figure, rounded
        CHECK(m.activation_gib->value == Approx(4.76));
        CHECK(m.non_torch_gib->value == Approx(0.13));
        CHECK(m.available_kv_gib->value == Approx(51.38));
        CHECK(m.kv_tokens->value == 420912);
        CHECK(m.max_concurrency->value == Approx(26.31));
        CHECK(m.cuda_graph_gib->value == Approx(0.50));
        CHECK(m.cuda_graph_delta_gib->value == Approx(-0.45));
        CHECK(m.free_at_start_gib->value == Approx(78.57));
        CHECK(m.total_gib->value == Approx(79.18));
        CHECK(m.requested_gib->value == Approx(71.26));
        CHECK(m.utilization->value == Approx(0.9));
    }
    SECTION("0.14-0.21: format_gib (1-2 decimals), 'GiB memory and', the CUDA-graph estimate, pool actual, device in the message") {
        const auto m = parse_vllm_memory_log(
            "(EngineCore pid=4108) INFO 05-28 08:00:10 [gpu_model_runner.py:4960] Model loading took 15.3 GiB memory and 20.000000 seconds\n"
            "(EngineCore pid=4108) INFO 05-28 08:00:24 [gpu_model_runner.py:6063] Profiling CUDA graph memory: PIECEWISE=51 (largest=512), "
            "FULL=35 (largest=256)\n"
            "(EngineCore pid=4108) INFO 05-28 08:00:25 [gpu_model_runner.py:6142] Estimated CUDA graph memory: 0.52 GiB total\n"
            "(EngineCore pid=4108) INFO 05-28 08:00:26 [gpu_worker.py:462] Available KV cache memory: 6.37 GiB\n"
            "(EngineCore pid=4108) INFO 05-28 08:00:26 [gpu_worker.py:477] CUDA graph memory profiling is enabled (default since v0.21.0). The "
            "current --gpu-memory-utilization=0.9764 is equivalent to --gpu-memory-utilization=0.9543 without CUDA graph memory profiling.\n"
            "(EngineCore pid=4108) INFO 05-28 08:00:26 [kv_cache_utils.py:1710] GPU KV cache size: 46,368 tokens\n"
            "(EngineCore pid=4108) INFO 05-28 08:00:26 [kv_cache_utils.py:1711] Maximum concurrency for 16,384 tokens per request: 2.83x\n"
            "(EngineCore pid=4108) INFO 05-28 08:00:40 [gpu_worker.py:622] CUDA graph pool memory: 0.55 GiB (actual), 0.52 GiB (estimated), "
            "difference: 0.03 GiB (5.8%).\n"
            "(EngineCore pid=4108) DEBUG 05-28 08:00:40 [gpu_worker.py:664] Free memory on device cuda:0 (22.9/23.55 GiB) on startup.\n");
        CHECK(m.weights_gib->value == Approx(15.3));
        CHECK(m.cuda_graph_estimate_gib->value == Approx(0.52));
        CHECK(m.cuda_graph_gib->value == Approx(0.55));  // no capture line: the pool's actual size
        CHECK(m.utilization->value == Approx(0.9764));
        CHECK(m.kv_tokens->value == 46368);
        CHECK(m.free_at_start_gib->value == Approx(22.9));
        CHECK(m.total_gib->value == Approx(23.55));
    }
    SECTION("0.34: one line for tokens and concurrency, the extensible KV cache's warm-up line") {
        const auto m = parse_vllm_memory_log(
            "(EngineCore pid=9) INFO 11-20 09:00:00 [gpu_model_runner.py:442] Model loading took 8 GiB memory and 9.100000 seconds\n"
            "(EngineCore pid=9) INFO 11-20 09:00:30 [extensible_kv_cache.py:694] Memory after warmup: 3.2 GiB free, 60.5 GiB committed to the "
            "KV cache, 5.1 GiB kept for transient activations (5.1 GiB allocated at peak, 0.4 GiB of torch reservation growth); 3872 KV "
            "cache blocks (60.5 GiB) fit within the requested 79.18 GiB. Torch may reserve up to 5.5 GiB.\n"
            "(EngineCore pid=9) INFO 11-20 09:00:30 [kv_cache_utils.py:1169] GPU KV cache size: 495,616 tokens, Maximum concurrency for 32,768 "
            "tokens per request: 15.12x\n");
        CHECK(m.weights_gib->value == Approx(8));
        CHECK(m.kv_committed_gib->value == Approx(60.5));
        CHECK(m.activation_gib->value == Approx(5.1));
        CHECK(m.kv_tokens->value == 495616);
        CHECK(m.concurrency_tokens->value == 32768);
        CHECK(m.max_concurrency->value == Approx(15.12));
    }
    SECTION("V0: the one-line 0.7-0.9 breakdown, '# cuda blocks', a negative KV figure") {
        const auto m = parse_vllm_memory_log(
            "INFO 03-13 08:56:39 [model_runner.py:1146] Model loading took 3.3414 GB and 0.742108 seconds\n"
            "INFO 03-13 08:56:40 [worker.py:267] the current vLLM instance can use total_gpu_memory (7.75GiB) x gpu_memory_utilization (0.90) "
            "= 6.97GiB\n"
            "INFO 03-13 08:56:40 [worker.py:267] model weights take 3.34GiB; non_torch_memory takes 0.04GiB; PyTorch activation peak memory "
            "takes 1.39GiB; the rest of the memory reserved for KV Cache is -2.20GiB.\n"
            "INFO 03-13 08:56:40 [executor_base.py:111] # cuda blocks: 5148, # CPU blocks: 9362\n");
        CHECK(m.requested_gib->value == Approx(6.97));
        CHECK(m.total_gib->value == Approx(7.75));
        CHECK(m.utilization->value == Approx(0.90));
        CHECK(m.non_torch_gib->value == Approx(0.04));
        CHECK(m.available_kv_gib->value == Approx(-2.20));
        CHECK(m.kv_tokens->value == 5148 * 16);
    }
    SECTION("a snapshot's repr is not the profile's non-torch increase; text without memory lines is not recognised") {
        const auto m = parse_vllm_memory_log(
            "DEBUG [gpu_worker.py:200] torch_peak=1.0GiB, torch_allocated=0.5GiB, free_memory=70.0GiB, total_memory=79.18GiB, "
            "cuda_memory=9.0GiB, torch_memory=8.0GiB, non_torch_memory=1.0GiB, timestamp=1.0\n");
        CHECK_FALSE(m.non_torch_gib);
        CHECK_FALSE(parse_vllm_memory_log("INFO hello\nModel loading took lots of time\nAvailable KV cache memory: ? GiB\n").recognised);
        CHECK_FALSE(parse_vllm_memory_log("").recognised);
    }
    SECTION("timestamped and Compose-prefixed lines are records of their own, not continuations") {
        const auto k = parse_vllm_memory_log(
            "2026-12-03T07:00:10.123456Z (EngineCore_0 pid=2) INFO [gpu_model_runner.py:2653] Model loading took 14.9889 GiB and 3.6 seconds\n"
            "2026-12-03T07:00:20.123456Z (EngineCore_0 pid=2) INFO [gpu_worker.py:298] Available KV cache memory: 51.38 GiB\n"
            "12-03 07:00:21 INFO [kv_cache_utils.py:1087] GPU KV cache size: 420,912 tokens\n");
        REQUIRE(k.weights_gib);
        CHECK(k.weights_gib->line.number == 1);
        REQUIRE(k.available_kv_gib);
        CHECK(k.available_kv_gib->line.number == 2);
        REQUIRE(k.kv_tokens);
        CHECK(k.kv_tokens->line.number == 3);
        const auto c = parse_vllm_memory_log(
            "node1-vllm-1  | INFO 12-03 07:00:10 [gpu_model_runner.py:2653] Model loading took 14.9889 GiB and 3.6 seconds\n"
            "node1-vllm-1  | INFO 12-03 07:00:20 [gpu_worker.py:298] Available KV cache memory: 51.38 GiB\n");
        REQUIRE(c.available_kv_gib);
        CHECK(c.available_kv_gib->line.number == 2);
        CHECK(c.weights_gib->line.number == 1);
    }
    SECTION("ranks that disagree: the smallest KV cache, the heaviest weights") {
        const auto m = parse_vllm_memory_log(
            "(Worker_PP0 pid=1) INFO [gpu_model_runner.py:1] Model loading took 40.1 GiB memory and 1.0 seconds\n"
            "(Worker_PP1 pid=2) INFO [gpu_model_runner.py:1] Model loading took 41.5 GiB memory and 1.0 seconds\n"
            "(Worker_PP0 pid=1) INFO [gpu_worker.py:1] Available KV cache memory: 2.5 GiB\n"
            "(Worker_PP1 pid=2) INFO [gpu_worker.py:1] Available KV cache memory: 1.25 GiB\n");
        CHECK(m.weights_gib->value == Approx(41.5));
        CHECK(m.weights_gib->varies);
        CHECK(m.weights_gib->line.number == 2);
        CHECK(m.available_kv_gib->value == Approx(1.25));
        CHECK(m.available_kv_gib->line.number == 4);
        // The mp executor's prefixes name the stage: each stage's figures on their own.
        REQUIRE(m.stages.size() == 2);
        CHECK(m.stages[0].pp_rank == 0);
        CHECK(m.stages[0].weights_gib->value == Approx(40.1));
        CHECK(m.stages[0].available_kv_gib->value == Approx(2.5));
        CHECK(m.stages[0].available_kv_gib->line.number == 3);
        CHECK(m.stages[1].pp_rank == 1);
        CHECK(m.stages[1].weights_gib->value == Approx(41.5));
        CHECK_FALSE(m.stages[1].weights_gib->varies);
    }
}

namespace {
// Two stages' workers of the mp executor (vLLM 0.11+ prefixes), stage 2 heavier by 0.5 GiB than planned.
std::string fmt_log(double w0, double w1) {
    std::ostringstream o;
    o.setf(std::ios::fixed);
    o.precision(4);
    o << "(Worker_PP0_TP0 pid=11) INFO 12-03 07:00:10 [gpu_model_runner.py:2653] Model loading took " << w0 << " GiB and 90.0 seconds\n"
      << "(Worker_PP1_TP0 pid=19) INFO 12-03 07:00:11 [gpu_model_runner.py:2653] Model loading took " << w1 + 0.5 << " GiB and 91.0 seconds\n"
      << "(Worker_PP0_TP0 pid=11) INFO 12-03 07:01:10 [gpu_worker.py:298] Available KV cache memory: -4.00 GiB\n"
      << "(Worker_PP1_TP0 pid=19) INFO 12-03 07:01:11 [gpu_worker.py:298] Available KV cache memory: -6.50 GiB\n";
    return o.str();
}

// The inventory of dennislee22's run: Qwen2-7B-Instruct, TP 2 on one node of 2 x A100-80GB, util 0.25, 16,384 tokens.
inventory qwen2_7b_tp2() {
    inventory inv = default_inventory();
    inv.name = "qwen2-7b";
    inv.cluster.nodes.resize(1);
    inv.cluster.nodes[0].gpu_type = "A100-80GB";
    inv.cluster.nodes[0].gpu_count = 2;
    inv.network.kind = fabric::tcp;
    inv.network.hcas.clear();
    inv.serving.model = dir + "models/qwen2-7b-instruct";
    inv.serving.model_path = "/data/models/Qwen2-7B-Instruct";
    inv.serving.served_model_name = "qwen2-7b";
    inv.serving.tensor_parallel_size = 2;
    inv.serving.pipeline_parallel_size = 1;
    inv.serving.gpu_memory_utilization = 0.25;
    inv.serving.max_model_len = 16384;
    inv.runtime.vllm_version = "0.10.1.1";
    return inv;
}
}  // namespace

TEST_CASE("the log beside the plan for that rank: every term, its difference, the one that differed most") {
    const plan p = plan_for(qwen2_7b_tp2());
    REQUIRE(p.memory_checked);
    const vllm_memory_log m = parse_vllm_memory_log(body_of("dl-a100-qwen2-7b-tp2-u025"));
    const vllm_memory_reconciliation r = reconcile_vllm_memory(m, p);
    std::map<std::string, const memory_comparison*> rows;
    for (const auto& c : r.rows) rows[c.name] = &c;
    for (const char* name : {"weights", "non_torch_and_activation", "cuda_graphs", "pre_snapshot", "available_kv", "kv_tokens", "max_concurrency"})
        CHECK(rows.count(name));
    // weights: 7.1217 logged against the plan's share of the checkpoint
    REQUIRE(rows.at("weights")->difference());
    CHECK(std::fabs(*rows.at("weights")->difference()) < 0.1);
    // V1 prints neither non-torch nor activation: their sum is derived from the budget
    const auto* na = rows.at("non_torch_and_activation");
    REQUIRE(na->logged);
    CHECK(na->logged_from.find("derived") != std::string::npos);
    CHECK(*na->logged == Approx(79.15 * 0.25 - 7.1217 - 12.02).margin(0.001));  // the plan's A100 total: the log does not print it
    CHECK(rows.at("cuda_graphs")->logged.value() == Approx(0.65));
    CHECK(rows.at("cuda_graphs")->predicted.value() == Approx(1.0));  // 0.50 x TP
    CHECK_FALSE(rows.at("pre_snapshot")->logged);
    CHECK(rows.at("kv_tokens")->logged.value() == 450192);
    // The plan's available KV and tokens are vLLM's own figures (before dsdeploy's headroom).
    CHECK(rows.at("available_kv")->predicted.value() == Approx(p.memory.stages[0].available_gib));
    CHECK(rows.at("kv_tokens")->predicted.value() ==
          double(vllm_kv_tokens(p.memory.stages[0].available_gib, p.memory.stages[0].kv_bytes_per_token)));
    // The term that differed most is the one with the largest |difference| in GiB.
    REQUIRE(r.largest);
    double worst = 0;
    for (const auto& c : r.rows)
        if (c.term && c.difference()) worst = std::max(worst, std::fabs(*c.difference()));
    CHECK(std::fabs(*r.rows[*r.largest].difference()) == Approx(worst));
    CHECK(r.rows[*r.largest].term);
    // Within the model's uncertainty here (docs/memory-model.md: this log is in the calibration split).
    CHECK(std::fabs(*rows.at("available_kv")->difference()) < 1.0);
    CHECK_FALSE(r.differs);
    CHECK_FALSE(memory_finding(r, "node1"));
    const std::string text = to_text(r);
    CHECK(text.find("<- differed most") != std::string::npos);
    CHECK(text.find("largest difference: " + r.rows[*r.largest].name) != std::string::npos);
    const nlohmann::json j = r;
    CHECK(j.at("largest") == r.rows[*r.largest].name);
    CHECK(j.at("rows").size() == r.rows.size());
}

TEST_CASE("a plan that is wrong about the checkpoint: the weights differ most, and the finding says so") {
    // llm-d's Llama-3.3-70B FP8 run on 2 x H100, planned as the bf16 checkpoint.
    inventory inv = qwen2_7b_tp2();
    inv.cluster.nodes[0].gpu_type = "H100-SXM";
    inv.serving.model = "meta-llama/Llama-3.3-70B-Instruct";
    inv.serving.gpu_memory_utilization = 0.9;
    inv.serving.max_model_len = 16000;
    inv.runtime.vllm_version = "0.11.0";
    const plan p = plan_for(inv);
    const vllm_memory_log m = parse_vllm_memory_log(body_of("llmd-h100-llama33-70b-fp8-tp2"));
    const vllm_memory_reconciliation r = reconcile_vllm_memory(m, p);
    REQUIRE(r.largest);
    CHECK(r.rows[*r.largest].name == "weights");
    CHECK(*r.rows[*r.largest].difference() < -25);  // 33.88 logged, about 65 planned
    CHECK(r.differs);
    // non-torch and activation are logged separately here (llm-d quotes the DEBUG breakdown), and so is the pre-snapshot memory
    std::map<std::string, const memory_comparison*> rows;
    for (const auto& c : r.rows) rows[c.name] = &c;
    CHECK(rows.count("non_torch"));
    CHECK(rows.count("activation"));
    CHECK(rows.at("pre_snapshot")->logged.value() == Approx(79.18 - 77.64));
    const auto f = memory_finding(r, "node1");
    REQUIRE(f);
    CHECK(f->id == "vllm.memory_differs_from_plan");
    CHECK(f->level == severity::warning);
    CHECK(f->message.find("the term that differed most is weights") != std::string::npos);
    CHECK(f->evidence.find("Model loading took") != std::string::npos);
    CHECK(f->fix.find("quantization") != std::string::npos);
    // the version and utilization agree with the plan: no notes about them
    for (const auto& n : r.notes) CHECK(n.find("runtime.vllm_version") == std::string::npos);
}

TEST_CASE("the log's configuration where it is not the plan's") {
    inventory inv = qwen2_7b_tp2();
    inv.serving.gpu_memory_utilization = 0.5;
    inv.runtime.vllm_version = "0.21.0";
    const auto r = reconcile_vllm_memory(parse_vllm_memory_log(body_of("dl-a100-qwen2-7b-tp2-u025")), plan_for(inv));
    std::string notes;
    for (const auto& n : r.notes) notes += n + "\n";
    CHECK(notes.find("set runtime.vllm_version = \"0.10.1.1\"") != std::string::npos);
    CHECK(notes.find("gpu_memory_utilization 0.25, the plan at 0.5") != std::string::npos);
    CHECK(r.differs);  // the plan at 0.5 predicts about 20 GiB more KV than vLLM had at 0.25
    const nlohmann::json j = parse_vllm_memory_log(body_of("dl-a100-qwen2-7b-tp2-u025"));
    CHECK(j.at("weights").at("value") == Approx(7.1217));
    CHECK(j.at("non_torch").is_null());
}

TEST_CASE("pipeline parallelism: the compared stage's own lines when the workers name their stage") {
    // The built-in default: DeepSeek-V3 on 2 x 8 L20, TP 8 x PP 2; the last stage holds the fewest tokens.
    const plan p = plan_for(default_inventory());
    REQUIRE(p.memory.stages.size() == 2);
    REQUIRE(p.memory.limiting_stage == 1);
    const double w0 = p.memory.stages[0].weights_gib, w1 = p.memory.stages[1].weights_gib;
    const std::string log = fmt_log(w0, w1);
    const vllm_memory_log m = parse_vllm_memory_log(log);
    REQUIRE(m.stages.size() == 2);
    const vllm_memory_reconciliation r = reconcile_vllm_memory(m, p);
    CHECK(r.stage == 1);
    std::map<std::string, const memory_comparison*> rows;
    for (const auto& c : r.rows) rows[c.name] = &c;
    // stage 2's own lines (Worker_PP1_*), not the heaviest or smallest over both stages
    CHECK(rows.at("weights")->logged.value() == Approx(w1 + 0.5));
    CHECK(rows.at("weights")->logged_from.find("Worker_PP1_TP0") != std::string::npos);
    CHECK(rows.at("available_kv")->logged.value() == Approx(-6.5));
    CHECK(rows.at("weights")->predicted.value() == Approx(w1));
    std::string notes;
    for (const auto& n : r.notes) notes += n + "\n";
    CHECK(notes.find("from the lines of its own workers (Worker_PP1_...)") != std::string::npos);
    CHECK(notes.find("stage 1: available KV -4.00 GiB logged") != std::string::npos);
    CHECK(to_text(m).find("pipeline stage 2 (Worker_PP1)") != std::string::npos);
    const nlohmann::json j = m;
    CHECK(j.at("stages").size() == 2);
    CHECK(j.at("stages").at(1).at("pp_rank") == 1);
    // Without the stage in the prefix (the Ray executor), the note says what was compared.
    const vllm_memory_reconciliation ray = reconcile_vllm_memory(parse_vllm_memory_log("Model loading took 40.0 GiB memory and 1.0 seconds\n"), p);
    std::string ray_notes;
    for (const auto& n : ray.notes) ray_notes += n;
    CHECK(ray_notes.find("do not say which stage printed them") != std::string::npos);
}

}  // namespace vllm_memory_log_test
