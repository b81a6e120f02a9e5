// SPDX-License-Identifier: Apache-2.0
// The vLLM memory model against every public start-up log in tests/fixtures/vllm-memory:
// INDEX.tsv holds each fixture's inputs, the fixture's own header lines (# vllm:, # config:)
// are parsed and must agree with it. Calibration fixtures must be within max(1 GiB, 3 %) of the
// "Available KV cache memory" vLLM logged; held-out errors are printed; the verdict (does vLLM
// start at that max-model-len) must match wherever the outcome is known.
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/plan.hpp>
#include <dsdeploy/vllm_memory.hpp>

#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace vllm_memory_test {

using namespace dsdeploy;

namespace {
const std::string dir = std::string(DSDEPLOY_SOURCE_DIR) + "/tests/fixtures/vllm-memory/";

using row = std::map<std::string, std::string>;

std::vector<row> read_index() { return dsdeploy_test::read_tsv(dir + "INDEX.tsv"); }

bool known(const std::string& v) { return !v.empty() && v != "-" && v != "unknown"; }
double num(const std::string& v) { return std::stod(v); }

struct fixture_file {
    std::map<std::string, std::string> header;  // source, gpu, model, vllm, config, note
    std::vector<std::string> body;
};

fixture_file read_fixture(const std::string& name) {
    std::ifstream in(dir + name + ".log");
    REQUIRE(in);
    fixture_file f;
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("# ", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos && f.body.empty()) f.header[line.substr(2, colon - 2)] += line.substr(colon + 1);
        } else {
            f.body.push_back(line);
        }
    }
    return f;
}

// "tp=2 pp=1 ... gpu_memory_utilization=0.95 (...)" -> "0.95"; "" when absent
std::string config_value(const std::string& config, const std::string& key) {
    const std::regex re("(^|\\s)" + key + "=([^\\s]+)");
    std::smatch m;
    return std::regex_search(config, m, re) ? m[2].str() : std::string();
}

vllm_era era_of_index(const std::string& e) {
    if (e == "v0-old") return vllm_era::v0_legacy;
    if (e == "v0-10511") return vllm_era::v0_pr10511;
    if (e == "v0-post") return vllm_era::v0_post;
    if (e == "v1-cg") return vllm_era::v1_cudagraph;
    return vllm_era::v1;
}

vllm_rank_input input_of(const row& r) {
    vllm_rank_input in;
    in.total_gib = num(r.at("total_gib"));
    in.utilization = num(r.at("util"));
    in.weights_gib = known(r.at("weights_gib")) ? num(r.at("weights_gib")) : 0.0;
    in.tp = std::stoi(r.at("tp_model"));
    in.nvlink = r.at("nvlink") == "yes";
    in.spans_nodes = r.at("cross_node") == "yes";
    in.hidden_size = std::stoi(r.at("hidden"));
    const int top_k = std::stoi(r.at("top_k"));
    in.intermediate_local = top_k > 0 ? double(top_k) * std::stoi(r.at("moe_intermediate")) / in.tp : double(std::stoi(r.at("intermediate"))) / in.tp;
    in.vocab_size = std::stoi(r.at("vocab"));
    in.max_num_batched_tokens = known(r.at("batched_tokens")) ? std::stoi(r.at("batched_tokens")) : 0;
    in.max_num_seqs = known(r.at("max_num_seqs")) ? std::stoi(r.at("max_num_seqs")) : 0;
    in.gpu_name = r.at("gpu");
    in.era = era_of_index(r.at("era"));
    return in;
}
}  // namespace

TEST_CASE("every fixture's header agrees with INDEX.tsv") {
    const auto rows = read_index();
    CHECK(rows.size() >= 20);
    std::map<std::string, int> gpus;
    for (const auto& r : rows) {
        INFO(r.at("name"));
        const fixture_file f = read_fixture(r.at("name"));
        REQUIRE(f.header.count("source"));
        REQUIRE(f.header.count("vllm"));
        REQUIRE(f.header.count("config"));
        CHECK_FALSE(f.body.empty());
        // The source of INDEX.tsv is the fixture's source.
        CHECK(f.header.at("source").find(r.at("source").substr(0, 40)) != std::string::npos);
        // vLLM version: the header starts with it.
        const std::string v = f.header.at("vllm");
        CHECK(v.find(r.at("vllm")) != std::string::npos);
        const std::string tp = config_value(f.header.at("config"), "tp");
        CHECK(tp == r.at("tp"));
        const std::string util = config_value(f.header.at("config"), "gpu_memory_utilization");
        if (!util.empty() && util != "unknown") CHECK(std::stod(util) == Approx(num(r.at("util"))));
        ++gpus[r.at("gpu")];
    }
    CHECK(gpus.size() >= 5);
}

TEST_CASE("available KV memory per fixture: calibration within max(1 GiB, 3 %), held-out reported") {
    const auto rows = read_index();
    int calibration = 0, heldout = 0, heldout_ok = 0;
    double heldout_abs = 0;
    std::printf("%-40s %-11s %8s %8s %7s %6s\n", "fixture", "split", "logged", "model", "error", "tol");
    for (const auto& r : rows) {
        if (!known(r.at("weights_gib")) || !known(r.at("available_kv_gib")) || r.at("era") == "v1-old") continue;
        const vllm_rank_memory m = vllm_rank_account(input_of(r));
        const double logged = num(r.at("available_kv_gib"));
        const double err = m.available_kv_gib - logged;
        const double tol = std::max(1.0, 0.03 * std::abs(logged));
        std::printf("%-40s %-11s %8.2f %8.2f %+7.2f %6.2f%s\n", r.at("name").c_str(), r.at("split").c_str(), logged, m.available_kv_gib, err, tol,
                    std::abs(err) <= tol ? "" : "  outside");
        // Every term says where it comes from.
        for (const auto& t : m.terms) CHECK_FALSE(t.source.empty());
        if (r.at("split") == "calibration") {
            INFO(r.at("name") << ": logged " << logged << " GiB, model " << m.available_kv_gib << " GiB");
            CHECK(std::abs(err) <= tol);
            ++calibration;
        } else {
            ++heldout;
            heldout_ok += std::abs(err) <= tol;
            heldout_abs += std::abs(err);
        }
    }
    std::printf("calibration: %d fixtures, all within max(1 GiB, 3 %%); held-out: %d/%d within, mean |error| %.2f GiB\n", calibration,
                heldout_ok, heldout, heldout ? heldout_abs / heldout : 0.0);
    CHECK(calibration >= 10);
    CHECK(heldout >= 5);
}

TEST_CASE("the verdict matches vLLM's outcome wherever it is known") {
    int checked = 0;
    for (const auto& r : read_index()) {
        const std::string outcome = r.at("outcome");
        if ((outcome != "starts" && outcome != "fails") || !known(r.at("weights_gib")) || r.at("era") == "v1-old") continue;
        const vllm_rank_memory m = vllm_rank_account(input_of(r));
        bool starts = m.available_kv_gib > 0;
        if (starts && known(r.at("kv_bytes_per_token")) && known(r.at("max_model_len")))
            starts = vllm_kv_tokens(m.available_kv_gib, num(r.at("kv_bytes_per_token"))) >= std::stoll(r.at("max_model_len"));
        INFO(r.at("name") << ": model says " << (starts ? "starts" : "fails") << " with " << m.available_kv_gib << " GiB");
        CHECK(starts == (outcome == "starts"));
        ++checked;
    }
    CHECK(checked >= 15);
}

TEST_CASE("blocks, tokens and maximum concurrency as vLLM prints them") {
    int checked = 0;
    const std::regex conc("Maximum concurrency for ([0-9,]+) tokens per request: ([0-9.]+)x");
    for (const auto& r : read_index()) {
        if (!known(r.at("kv_tokens")) || !known(r.at("kv_bytes_per_token")) || !known(r.at("available_kv_gib"))) continue;
        // V0 0.7-0.9 (i13061: the reporter's figures come from different lines) is not checked here.
        if (r.at("era") == "v0-post") continue;
        INFO(r.at("name"));
        const double bpt = num(r.at("kv_bytes_per_token"));
        const std::int64_t logged = std::stoll(r.at("kv_tokens"));
        // The logged GiB has two decimals: +-0.005 GiB, plus one block.
        const double slack_tokens = 0.005 * gib / bpt + 16;
        const std::int64_t ours = vllm_kv_tokens(num(r.at("available_kv_gib")), bpt);
        CHECK(ours % 16 == 0);
        CHECK(std::abs(double(ours - logged)) <= slack_tokens);
        // Sliding-window / hybrid models (gpt-oss) divide by the largest group's footprint instead.
        if (r.at("model_key").rfind("gpt-oss", 0) == 0) continue;
        for (const auto& line : read_fixture(r.at("name")).body) {
            std::smatch m;
            if (!std::regex_search(line, m, conc)) continue;
            std::string len = m[1].str();
            len.erase(std::remove(len.begin(), len.end(), ','), len.end());
            CHECK(vllm_max_concurrency(logged, std::stoi(len)) == Approx(std::stod(m[2].str())).margin(0.006));
            ++checked;
            break;
        }
    }
    CHECK(checked >= 4);
}

TEST_CASE("eras, defaults and the terms outside the budget") {
    CHECK(vllm_era_of("0.11.0") == vllm_era::v1);
    CHECK(vllm_era_of("v0.10.1.1") == vllm_era::v1);
    CHECK(vllm_era_of("0.19.1") == vllm_era::v1);
    CHECK(vllm_era_of("0.20.0") == vllm_era::v1_cudagraph);
    CHECK(vllm_era_of("0.33.2") == vllm_era::v1_cudagraph);
    CHECK(vllm_era_of("0.34.0") == vllm_era::v1_extensible);
    CHECK(vllm_era_of("0.6.5.dev") == vllm_era::v0_pr10511);
    CHECK(vllm_era_of("0.8.5") == vllm_era::v0_post);
    CHECK(vllm_era_of("nightly") == vllm_era::v1);
    // A digit string of any length (the sanitizer build caught 1111111111 x 10 overflowing).
    CHECK(vllm_era_of("1111111111111.0") == vllm_era::v1_extensible);
    CHECK(vllm_era_of("0.99999999999999") == vllm_era::v1_extensible);
    CHECK(vllm_default_max_num_seqs(79.18, "H100-SXM") == 1024);
    CHECK(vllm_default_max_num_seqs(79.25, "A100-80GB") == 256);
    CHECK(vllm_default_max_num_batched_tokens(44.53, "L20") == 2048);

    vllm_rank_input in;
    in.total_gib = 79.18;
    in.utilization = 0.9;
    in.weights_gib = 14.99;
    in.hidden_size = 4096;
    in.intermediate_local = 14336;
    in.vocab_size = 128256;
    in.gpu_name = "H100-SXM";
    in.tp = 8;
    in.nvlink = true;
    // 0.11: graphs outside the budget; 0.20: subtracted; --enforce-eager: none.
    const auto v11 = vllm_rank_account(in);
    in.era = vllm_era::v1_cudagraph;
    const auto v20 = vllm_rank_account(in);
    in.enforce_eager = true;
    const auto eager = vllm_rank_account(in);
    CHECK(v11.available_kv_gib - v20.available_kv_gib == Approx(0.5 * 8));
    CHECK(v11.outside_budget_gib - v20.outside_budget_gib == Approx(0.5 * 8));
    CHECK(eager.available_kv_gib == Approx(v11.available_kv_gib));
    CHECK(eager.outside_budget_gib == Approx(v20.outside_budget_gib));
    CHECK(v11.slack_gib == Approx(79.18 * 0.1 - v11.outside_budget_gib));
    // At 0.99 the slack is gone.
    in.era = vllm_era::v1;
    in.enforce_eager = false;
    in.utilization = 0.99;
    CHECK(vllm_rank_account(in).slack_gib < 0);
}

TEST_CASE("the inventory feeds the account: runtime.vllm_version, --enforce-eager and batch limits in extra_args") {
    serving_options s;
    s.extra_args = {"--enforce-eager", "--max-num-seqs", "64", "--max-num-batched-tokens=4096"};
    const plan_options o = to_plan_options(s);
    CHECK(o.enforce_eager);
    CHECK(o.max_num_seqs == 64);
    CHECK(o.max_num_batched_tokens == 4096);
    inventory inv = default_inventory();
    inv.runtime.vllm_version = "0.21.0";
    const plan p = plan_for(inv);
    CHECK(p.memory.vllm_version == "0.21.0");
    CHECK(p.memory.era == vllm_era::v1_cudagraph);
    // From 0.20 the graphs are inside the budget: less KV, more room outside.
    const plan old = plan_for(default_inventory());
    CHECK(p.memory.kv_cache_gib == Approx(old.memory.kv_cache_gib - 0.5 * 8));
    CHECK(p.memory.slack_gib == Approx(old.memory.slack_gib + 0.5 * 8));
}

}  // namespace vllm_memory_test
