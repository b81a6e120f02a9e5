// SPDX-License-Identifier: Apache-2.0
// The performance model against the 49 published measurements of tests/fixtures/perf/measurements.tsv
// and against the Python prototype's predictions (tests/fixtures/perf/prototype-predictions.json,
// written by `python3 scripts/dev/perf_model_fit.py --json ...`), so no Python is needed here.
#include <dsdeploy/perf.hpp>

#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace perf_test {

using namespace dsdeploy;

namespace {

using row_t = std::map<std::string, std::string>;

std::vector<row_t> load_tsv() {
    std::istringstream in(dsdeploy_test::read_file(std::string(DSDEPLOY_SOURCE_DIR) + "/tests/fixtures/perf/measurements.tsv"));
    std::vector<std::string> cols;
    std::vector<row_t> rows;
    std::string line;
    auto split = [](const std::string& s) {
        std::vector<std::string> out;
        std::size_t start = 0;
        while (true) {
            const auto tab = s.find('\t', start);
            out.push_back(s.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
            if (tab == std::string::npos) break;
            start = tab + 1;
        }
        return out;
    };
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto v = split(line);
        if (cols.empty()) {
            cols = v;
            continue;
        }
        row_t r;
        for (std::size_t k = 0; k < cols.size(); ++k) r[cols[k]] = k < v.size() ? v[k] : "";
        rows.push_back(std::move(r));
    }
    return rows;
}

std::optional<double> num(const std::string& s) {
    if (s.empty() || s == "inf") return std::nullopt;
    return std::stod(s);
}

// The prototype's assumed_int: the column, else "key=N" in the 'assumed' notes.
std::optional<int> assumed_int(const row_t& r, const std::string& key) {
    if (!r.at(key).empty()) return static_cast<int>(std::stod(r.at(key)));
    std::string a = r.at("assumed");
    for (char& ch : a)
        if (ch == ';' || ch == '(') ch = ',';
    std::istringstream parts(a);
    std::string part;
    while (std::getline(parts, part, ',')) {
        const auto b = part.find_first_not_of(' ');
        if (b == std::string::npos) continue;
        part = part.substr(b);
        if (part.rfind(key + "=", 0) == 0) return std::stoi(part.substr(key.size() + 1));
    }
    return std::nullopt;
}

model_spec dense(const std::string& name, int L, int h, int nq, int nkv, int hd, int ffn, int vocab) {
    model_spec m;
    m.name = name;
    m.num_layers = L;
    m.hidden_size = h;
    m.num_attention_heads = nq;
    m.num_kv_heads = nkv;
    m.head_dim = hd;
    m.intermediate_size = ffn;
    m.vocab_size = vocab;
    m.max_context = 131072;
    return m;
}

// Catalog models where they exist; the prototype's dims (MODELS in scripts/dev/perf_model_fit.py) otherwise.
model_spec model_for(const row_t& r) {
    const std::string& name = r.at("model");
    const std::string& quant = r.at("quant");
    model_spec m;
    if (name.rfind("DeepSeek-R1-Distill-Llama-8B", 0) == 0 || name == "Llama-3.1-8B") m = dense(name, 32, 4096, 32, 8, 128, 14336, 128256);
    else if (name == "DeepSeek-R1-Distill-Qwen-14B" || name == "Qwen2.5-14B") m = dense(name, 48, 5120, 40, 8, 128, 13824, 152064);
    else if (name.rfind("DeepSeek", 0) == 0) m = *find_model("deepseek-v3");
    else if (name == "Qwen3-235B-A22B") m = *find_model(quant.rfind("fp8", 0) == 0 ? "qwen3-235b-fp8" : "qwen3-235b");
    else if (name == "Qwen2.5-72B") m = *find_model("qwen2.5-72b");
    else if (name == "Qwen3-32B") m = dense(name, 64, 5120, 64, 8, 128, 25600, 151936);
    else if (name == "Qwen3-14B") m = dense(name, 40, 5120, 40, 8, 128, 17408, 151936);
    else if (name == "Qwen3-8B") m = dense(name, 36, 4096, 32, 8, 128, 12288, 151936);
    else if (name == "Qwen2.5-7B") m = dense(name, 28, 3584, 28, 4, 128, 18944, 152064);
    else FAIL("no model for " << name);
    if (quant.rfind("awq", 0) == 0 || quant.rfind("int4", 0) == 0) m = with_weights(m, weight_format{dtype::int4, 0, 128, "awq"});
    else if (quant.rfind("fp8", 0) == 0) m = with_weights(m, weight_format{dtype::fp8, 128, 0, "fp8"});
    else m = with_weights(m, weight_format{dtype::bf16, 0, 0, ""});
    m.max_context = std::max(m.max_context, 131072);
    return m;
}

gpu_spec gpu_for(const std::string& name) {
    if (name == "A40") return {"A40", 44.5, 48, 696, 8.6, false, false, 32, "NVIDIA A40 datasheet (not in the catalog)"};
    const std::map<std::string, std::string> alias = {{"H100", "H100-SXM"}, {"A100-80G", "A100-80GB"}, {"A100-40G", "A100-40GB"}};
    const auto it = alias.find(name);
    const gpu_spec* g = find_gpu(it == alias.end() ? name : it->second);
    REQUIRE(g);
    return *g;
}

struct case_t {
    row_t row;
    plan pl;
    workload w;
    engine_profile e;
    perf_network net;
};

case_t build(const row_t& r) {
    case_t c;
    c.row = r;
    const int gpn = static_cast<int>(num(r.at("gpus_per_node")).value_or(1));
    const int nodes = static_cast<int>(num(r.at("nodes")).value_or(1));
    const int pp = assumed_int(r, "pp").value_or(1);
    const int tp = assumed_int(r, "tp").value_or(gpn * nodes / pp);
    const int dp = assumed_int(r, "dp").value_or(1);
    c.pl.model = model_for(r);
    c.pl.gpu = gpu_for(r.at("gpu"));
    c.pl.nodes = nodes;
    c.pl.gpus_per_node = gpn;
    c.pl.parallel = parallelism{tp, pp, dp, false};
    c.pl.layer_partition = default_pp_partition(c.pl.model.num_layers, pp);
    c.w.input_len = std::stod(r.at("input_len"));
    c.w.output_len = std::stod(r.at("output_len"));
    c.pl.options.gpu_memory_utilization = 0.90;
    c.pl.options.headroom_gib = 2.0;
    c.pl.options.max_model_len = static_cast<int>(std::ceil(c.w.input_len + c.w.output_len));
    c.pl.options.parallel = c.pl.parallel;
    c.pl.memory = account_memory(c.pl.model, c.pl.gpu, c.pl.parallel, c.pl.options, c.pl.layer_partition);
    c.pl.memory_checked = true;
    c.w.load = r.at("load") == "burst" ? load_kind::burst : load_kind::closed;
    c.w.concurrency = num(r.at("concurrency")).value_or(1);
    c.w.num_prompts = num(r.at("num_prompts")).value_or(0);
    c.w.sharegpt = r.at("id").find("sharegpt") != std::string::npos;
    c.e.name = r.at("engine");
    c.e.version = r.at("engine_version");
    c.e.v0 = r.at("assumed").find("V0 engine") != std::string::npos;
    c.net.kind = fabric::infiniband;
    return c;
}

struct measured_t {
    std::optional<double> tpot, out, ttft;
};

measured_t measured(const case_t& c) {
    const row_t& r = c.row;
    measured_t m;
    m.tpot = num(r.at("tpot_ms"));
    m.ttft = num(r.at("ttft_ms"));
    m.out = num(r.at("output_tok_s"));
    if (!m.out && num(r.at("output_tok_s_per_gpu"))) m.out = *num(r.at("output_tok_s_per_gpu")) * c.pl.parallel.world_size();
    if (!m.out && num(r.at("req_s"))) m.out = *num(r.at("req_s")) * c.w.output_len;
    return m;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct err_set {
    std::vector<double> tpot, out, ttft;
    double worst_tpot = 1, worst_out = 1;
    std::string worst_tpot_id, worst_out_id;
    void add(const std::string& id, const measured_t& m, const perf_prediction& p) {
        auto ratio = [](double a, double b) { return std::max(a / b, b / a); };
        if (m.tpot) {
            tpot.push_back(std::abs(p.tpot_ms.value / *m.tpot - 1));
            if (ratio(p.tpot_ms.value, *m.tpot) > worst_tpot) worst_tpot = ratio(p.tpot_ms.value, *m.tpot), worst_tpot_id = id;
        }
        if (m.out) {
            out.push_back(std::abs(p.output_tok_s.value / *m.out - 1));
            if (ratio(p.output_tok_s.value, *m.out) > worst_out) worst_out = ratio(p.output_tok_s.value, *m.out), worst_out_id = id;
        }
        if (m.ttft) ttft.push_back(std::abs(p.ttft_ms.value / *m.ttft - 1));
    }
    std::string summary(const std::string& name) const {
        char buf[512];
        std::snprintf(buf, sizeof buf,
                      "%-10s TPOT n=%2zu median |err| %5.1f%% worst x%.2f (%s) | output tok/s n=%2zu median |err| %5.1f%% worst x%.2f (%s) | "
                      "TTFT n=%2zu median |err| %5.1f%%",
                      name.c_str(), tpot.size(), 100 * median(tpot), worst_tpot, worst_tpot_id.c_str(), out.size(), 100 * median(out),
                      worst_out, worst_out_id.c_str(), ttft.size(), 100 * median(ttft));
        return buf;
    }
};

}  // namespace

TEST_CASE("the performance model predicts the published measurements and matches the prototype") {
    const auto rows = load_tsv();
    REQUIRE(rows.size() == 49);
    const auto proto = nlohmann::json::parse(dsdeploy_test::read_file(std::string(DSDEPLOY_SOURCE_DIR) + "/tests/fixtures/perf/prototype-predictions.json"));
    std::map<std::string, nlohmann::json> by_id;
    for (const auto& x : proto.at("rows")) by_id[x.at("id").get<std::string>()] = x.at("predicted");
    REQUIRE(by_id.size() == rows.size());

    err_set calib, held;
    double worst_dev = 0, worst_kv = 0;
    std::string worst_dev_id, worst_kv_id;
    std::printf("%-46s %-7s %17s %19s %21s %6s\n", "id", "split", "TPOT meas/C++", "out tok/s meas/C++", "TTFT meas/C++", "batch");
    for (const auto& r : rows) {
        const case_t c = build(r);
        const perf_prediction p = predict_performance(c.pl, c.net, c.w, c.e);
        const measured_t m = measured(c);
        (r.at("split") == "calib" ? calib : held).add(r.at("id"), m, p);
        auto f = [](const std::optional<double>& a, double b) {
            char buf[64];
            if (a) std::snprintf(buf, sizeof buf, "%.1f/%.1f", *a, b);
            else std::snprintf(buf, sizeof buf, "-/%.1f", b);
            return std::string(buf);
        };
        std::printf("%-46s %-7s %17s %19s %21s %6.0f\n", r.at("id").c_str(), r.at("split").c_str(), f(m.tpot, p.tpot_ms.value).c_str(),
                    f(m.out, p.output_tok_s.value).c_str(), f(m.ttft, p.ttft_ms.value).c_str(), p.batch);

        // The KV pool comes from the planner's memory account (vllm_memory.hpp: vLLM's profiler with
        // its non-torch, activation and CUDA-graph terms), the prototype's from a flat headroom, so
        // they differ (reported below); the port itself is checked with the prototype's pool.
        const auto& q = by_id.at(r.at("id"));
        INFO(r.at("id"));
        const double kv_dev = std::abs(p.kv_tokens / q.at("kv_tokens").get<double>() - 1);
        const bool int4 = c.pl.model.weights.type == dtype::int4;
        if (!int4 && kv_dev > worst_kv) worst_kv = kv_dev, worst_kv_id = r.at("id");
        // With the prototype's KV pool, the port agrees with the prototype within 1% on every figure.
        plan same_pool = c.pl;
        same_pool.memory.kv_tokens = static_cast<std::int64_t>(std::floor(q.at("kv_tokens").get<double>()));
        const perf_prediction pp = predict_performance(same_pool, c.net, c.w, c.e);
        for (auto [name, ours] : {std::pair<const char*, double>{"tpot_ms", pp.tpot_ms.value}, {"out_tps", pp.output_tok_s.value},
                                  {"ttft_ms", pp.ttft_ms.value}, {"batch", pp.batch}, {"t_pf_ms", pp.prefill_ms}, {"t_dec_ms", pp.decode_ms}}) {
            const double theirs = q.at(name).get<double>();
            const double dev = std::abs(ours / theirs - 1);
            INFO(name << ": C++ " << ours << " prototype " << theirs);
            CHECK(dev <= 0.01);
            if (dev > worst_dev) worst_dev = dev, worst_dev_id = r.at("id") + " " + name;
        }
        // Every figure has a range around it and a provenance.
        CHECK(p.tpot_ms.low < p.tpot_ms.value);
        CHECK(p.tpot_ms.high > p.tpot_ms.value);
        CHECK(p.output_tok_s.low < p.output_tok_s.value);
        CHECK(!p.tpot_ms.basis.empty());
        CHECK(!p.decode.bottleneck.empty());
        CHECK(!p.prefill.bottleneck.empty());
    }
    std::printf("%s\n%s\n", calib.summary("calib").c_str(), held.summary("held-out").c_str());
    std::printf("C++ vs prototype (same KV pool): largest deviation %.4f%% (%s)\n", 100 * worst_dev, worst_dev_id.c_str());
    std::printf("planner's KV pool vs prototype's (4-bit rows aside): largest deviation %.2f%% (%s)\n", 100 * worst_kv, worst_kv_id.c_str());
    // The goal on the calibration set.
    CHECK(median(calib.tpot) <= 0.25);
    CHECK(median(calib.out) <= 0.25);
    // Held-out rows are reported, not asserted, beyond sanity: no throughput prediction off by more than 2x.
    CHECK(held.worst_out <= 2.0);
}

TEST_CASE("provenance: L20 figures are extrapolated, H200 NVLink figures calibrated") {
    const auto rows = load_tsv();
    for (const auto& r : rows) {
        if (r.at("id") != "ds-r1-l20-pp3tp8-c16" && r.at("id") != "ds-r1-h200x8-sglang-1k1k-c16") continue;
        const case_t c = build(r);
        const perf_prediction p = predict_performance(c.pl, c.net, c.w, c.e);
        if (r.at("gpu") == "L20") {
            CHECK(p.tpot_ms.source == provenance::extrapolated);
            CHECK(p.tpot_ms.basis.find("1 calibration row on L20") != std::string::npos);
        } else {
            CHECK(p.tpot_ms.source == provenance::calibrated);
        }
        CHECK(p.kv_max_concurrency.source == provenance::datasheet);
    }
    CHECK(calibration_rows_for_gpu("h100").size() == 23);
    CHECK(find_gpu_datasheet("H100")->fp8_tflops == 1979);
    for (const auto& g : gpu_catalog()) {
        INFO(g.name);
        CHECK(find_gpu_datasheet(g.name) != nullptr);
    }
    for (const auto& f : perf_factor_table()) {
        INFO(f.key);
        CHECK((f.source == provenance::extrapolated || !f.rows.empty()));
    }
}

TEST_CASE("workload strings") {
    const workload w = parse_workload("in=4096,out=1024,concurrency=16");
    CHECK(w.input_len == 4096);
    CHECK(w.output_len == 1024);
    CHECK(w.load == load_kind::closed);
    CHECK(w.concurrency == 16);
    CHECK(parse_workload("in=100,out=10,rate=2").load == load_kind::open);
    CHECK(parse_workload("in=100,out=10,burst=500").num_prompts == 500);
    CHECK(to_string(w) == "in=4096,out=1024,concurrency=16");
    CHECK_THROWS_AS(parse_workload("in=4096,out=x"), config_error);
    CHECK_THROWS_AS(parse_workload("in=4096,speed=3"), config_error);
    CHECK(parse_rank_metric("TPOT") == rank_metric::tpot);
    CHECK(!parse_rank_metric("fast"));
}

TEST_CASE("ranking the default cluster's layouts for a workload") {
    cluster c;
    for (int k = 0; k < 2; ++k) {
        node n;
        n.name = "node" + std::to_string(k + 1);
        n.address = "10.0.0." + std::to_string(k + 1);
        n.gpu_type = "L20";
        n.gpu_count = 8;
        n.role = k == 0 ? node_role::head : node_role::worker;
        c.nodes.push_back(n);
    }
    const model_spec m = *find_model("deepseek-v3");
    plan_options o;
    const workload w = parse_workload("in=4096,out=1024,concurrency=16");
    const layout_ranking r = rank_layouts(c, m, o, perf_network{}, w, rank_metric::throughput);
    REQUIRE(!r.ranked.empty());
    CHECK(r.candidates > r.ranked.size());
    for (std::size_t k = 1; k < r.ranked.size(); ++k)
        CHECK(r.ranked[k - 1].prediction.output_tok_s.value >= r.ranked[k].prediction.output_tok_s.value);
    CHECK(r.why.find("wins on output throughput") != std::string::npos);
    const std::string text = to_text(r);
    CHECK(text.find("Why: ") != std::string::npos);
    std::printf("%s", text.c_str());
    // An SLO no layout meets still ranks, and says so.
    const layout_ranking s = rank_layouts(c, m, o, perf_network{}, w, rank_metric::throughput, 1.0);
    REQUIRE(!s.ranked.empty());
    CHECK(!s.ranked[0].meets_slo);
    CHECK(s.why.find("no layout meets the TPOT SLO") != std::string::npos);
    const layout_ranking t = rank_layouts(c, m, o, perf_network{}, w, rank_metric::tpot);
    for (std::size_t k = 1; k < t.ranked.size(); ++k) CHECK(t.ranked[k - 1].prediction.tpot_ms.value <= t.ranked[k].prediction.tpot_ms.value);
    nlohmann::json j = r;
    CHECK(j.at("ranked").size() == r.ranked.size());
    CHECK(j.at("ranked")[0].at("prediction").at("tpot_ms").at("provenance") == "extrapolated");
}

TEST_CASE("open loop: below saturation the output is rate x out, above it the queue is flagged") {
    const auto rows = load_tsv();
    const auto it = std::find_if(rows.begin(), rows.end(), [](const row_t& r) { return r.at("id") == "ds-r1-h200x8-sglang-1k1k-c16"; });
    REQUIRE(it != rows.end());
    case_t c = build(*it);
    c.w = parse_workload("in=1024,out=1024,rate=0.5");
    const perf_prediction slow = predict_performance(c.pl, c.net, c.w, c.e);
    CHECK(slow.output_tok_s.value == Approx(512));
    CHECK(slow.requests_s.value == Approx(0.5));
    CHECK(slow.tpot_ms.source == provenance::extrapolated);  // no open-loop calibration row
    CHECK(!slow.kv_limited);
    CHECK(slow.batch > 1);  // Little's law: 0.5/s x ~20 s per request
    c.w = parse_workload("in=1024,out=1024,rate=1000");
    const perf_prediction flood = predict_performance(c.pl, c.net, c.w, c.e);
    CHECK(flood.kv_limited);
    CHECK(flood.output_tok_s.value < 1000 * 1024);
    CHECK(std::any_of(flood.assumptions.begin(), flood.assumptions.end(),
                      [](const std::string& a) { return a.find("queue grows without bound") != std::string::npos; }));
}

TEST_CASE("DP + EP charges an all-to-all and is extrapolated") {
    const auto rows = load_tsv();
    const auto it = std::find_if(rows.begin(), rows.end(), [](const row_t& r) { return r.at("id") == "ds-r1-h200x8-sglang-1k1k-c16"; });
    REQUIRE(it != rows.end());
    case_t c = build(*it);
    c.pl.parallel = parallelism{4, 1, 2, true};
    c.pl.layer_partition = default_pp_partition(c.pl.model.num_layers, 1);
    c.pl.memory = account_memory(c.pl.model, c.pl.gpu, c.pl.parallel, c.pl.options, c.pl.layer_partition);
    const perf_prediction p = predict_performance(c.pl, c.net, c.w, c.e);
    CHECK(p.tpot_ms.source == provenance::extrapolated);
    CHECK(p.tpot_ms.basis.find("expert parallelism") != std::string::npos);
    CHECK(p.decode.tp_collective_ms > 0);
    CHECK(p.kv_max_concurrency.value == std::floor(p.kv_tokens / 2048) * 2);
}

}  // namespace perf_test
