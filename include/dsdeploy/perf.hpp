// SPDX-License-Identifier: Apache-2.0
// The performance model: for a plan (model, GPU, TP x PP x DP, memory account), the network
// between its nodes and a workload, predicted TTFT, TPOT, output/total tokens per second,
// requests per second, the batch the KV cache holds and the bottleneck of each phase. A
// roofline-style closed form (docs/performance-model.md section 2) with a few efficiency
// factors fitted on published measurements (tests/fixtures/perf/measurements.tsv). Every
// figure carries its provenance and a low/high range.
#pragma once

#include <dsdeploy/cluster.hpp>
#include <dsdeploy/config.hpp>
#include <dsdeploy/error.hpp>
#include <dsdeploy/gpu.hpp>
#include <dsdeploy/model.hpp>
#include <dsdeploy/network.hpp>
#include <dsdeploy/plan.hpp>

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

// Where a figure comes from.
enum class provenance {
    datasheet,     // vendor datasheet or the plan's byte arithmetic on datasheet memory
    calibrated,    // the model with factors fitted on published measurements of this GPU and path
    extrapolated,  // the model outside the measurements it was fitted on (GPU, fabric or mode not covered)
};
std::string_view to_string(provenance p);

// A predicted figure: the central value and the range the calibration errors imply.
struct estimate {
    double value = 0;
    double low = 0;
    double high = 0;
    provenance source = provenance::extrapolated;
    std::string basis;  // one line: which rows, datasheet or assumption
};

// --- data: datasheets and fitted factors ---------------------------------------------------------

// What the GPU catalog does not hold: dense tensor-core rates and the factor group.
struct gpu_datasheet {
    std::string_view gpu;     // catalog name ("H100-SXM"), or "A40" (not in the catalog)
    std::string_view family;  // efficiency-factor group: "hopper", "ampere", "gddr"
    double bf16_tflops = 0;   // dense (no sparsity)
    double fp8_tflops = 0;    // dense; 0: no FP8 tensor cores (FP8 checkpoints run as W8A16 at the BF16 rate)
    std::string_view source;
};
const std::vector<gpu_datasheet>& gpu_datasheets();
// By catalog name (find_gpu's normalisation); nullptr when unknown.
const gpu_datasheet* find_gpu_datasheet(std::string_view gpu);

// One factor of the model: fitted on calibration rows (rows lists their ids) or fixed.
struct perf_factor {
    std::string_view key;         // "eta_bw_hopper"
    double value = 0;
    std::string_view unit;        // "fraction", "us", "ms", "x"
    provenance source = provenance::calibrated;
    std::string_view applies_to;  // GPU family, fabric or engine the factor covers
    std::string_view meaning;
    std::vector<std::string_view> rows;  // calibration rows it was fitted on (empty: fixed, extrapolated)
};
// Every factor, fitted ones with the rows they were fitted on (scripts/dev/perf_model_fit.py, 2026-12-03).
const std::vector<perf_factor>& perf_factor_table();
// A factor's value by key; throws std::out_of_range for an unknown key.
double perf_factor_value(std::string_view key);

// The calibration rows per GPU type (catalog names), to tell calibrated from extrapolated.
std::vector<std::string_view> calibration_rows_for_gpu(std::string_view gpu);

// Multipliers of the leave-one-out error (10th..90th percentile of measured/predicted over the
// calibration rows): the range of a calibrated figure is [value x low, value x high].
struct error_band {
    double low = 1;
    double high = 1;
};
error_band perf_band_tpot();
error_band perf_band_throughput();
error_band perf_band_ttft();
// Extra widening of the range for extrapolated figures (an assumption, see the docs).
inline constexpr double perf_extrapolation_widening = 1.25;

// --- inputs ------------------------------------------------------------------------------------

// The link between nodes as the model sees it.
struct perf_network {
    fabric kind = fabric::infiniband;
    // Inter-node bandwidth per GPU, GB/s per direction; 0: the default for the fabric and the GPU
    // class (IB: 50 on Hopper nodes = one 400G NIC per GPU, else 25 = 200G; RoCE 25; TCP 4).
    double gbytes_per_gpu = 0;
};
perf_network perf_network_for(const network_profile& p, double link_gbit_per_gpu = 0);

// The serving engine; its defaults cap the batch (max sequences) and add per-step overhead.
struct engine_profile {
    std::string name = "vllm";     // "vllm", "sglang", "tensorrt-llm"
    std::string version = "0.11";  // vLLM < 0.8 runs the V0 engine
    bool v0 = false;               // vLLM V0 engine (also PP on vLLM before V1 supported it)
};

enum class load_kind {
    closed,  // `concurrency` clients, each sending the next request when the last one ends
    burst,   // `num_prompts` prompts sent at once (request rate infinity)
    open,    // Poisson arrivals at `request_rate` per second (extrapolated: no calibration row)
};

struct workload {
    double input_len = 4096;   // tokens per request (mean)
    double output_len = 1024;  // tokens per request (mean)
    load_kind load = load_kind::closed;
    double concurrency = 1;    // closed loop
    double num_prompts = 0;    // burst; for closed loop: the total requests sent (0: many)
    double request_rate = 0;   // open loop, requests/s
    bool sharegpt = false;     // ShareGPT-like length tail (fitted tail factor); fixed lengths otherwise
};
// "in=4096,out=1024,concurrency=16" | "...,rate=2" | "...,burst=500"; throws config_error plan.value.
workload parse_workload(std::string_view spec, const std::string& field = "--workload");
std::string to_string(const workload& w);

// --- outputs -----------------------------------------------------------------------------------

// Where the time of one phase goes, in ms (decode: per token; prefill: per request).
struct phase_parts {
    double hbm_ms = 0;          // weights, routed experts touched and KV reads at the fitted bandwidth
    double tensor_ms = 0;       // tensor-core FLOPs at the fitted efficiency
    double tp_collective_ms = 0;  // TP all-reduces (NVLink, PCIe, or the inter-node link when TP spans nodes)
    double pp_handoff_ms = 0;   // PP activations over the inter-node link
    double overhead_ms = 0;     // per-layer and per-step fixed costs (launches, scheduler, sampling)
    double bubble_ms = 0;       // decode: pipeline stages idle when the batch is smaller than PP
    std::string bottleneck;     // "HBM bandwidth", "tensor cores", "TP collectives over PCIe", ...
    double bottleneck_share = 0;  // of the phase's time
};

struct perf_prediction {
    estimate ttft_ms;
    estimate tpot_ms;           // = mean ITL in this model
    estimate output_tok_s;      // all DP replicas
    estimate total_tok_s;       // input + output tokens per second
    estimate requests_s;
    estimate kv_max_concurrency;  // requests of in+out tokens the KV cache holds (all replicas), from the plan's memory account
    double kv_tokens = 0;         // per replica, from the plan's memory account
    double engine_max_seqs = 0;   // per replica
    double batch = 0;             // sequences decoded together per replica
    double decode_ms = 0;         // one decode step at that batch, no prefill interference
    double prefill_ms = 0;        // one request's prefill
    bool kv_limited = false;      // clients wait for KV cache slots (concurrency > batch held)
    bool fits = false;            // the KV cache holds at least one request
    phase_parts decode;
    phase_parts prefill;
    std::vector<std::string> assumptions;
};

// Predicts a workload on a plan. Uses the plan's model, GPU, nodes, layout and memory account
// (kv_tokens). Throws config_error plan.value for a GPU without a datasheet entry or a bad workload.
perf_prediction predict_performance(const plan& p, const perf_network& net, const workload& w, const engine_profile& e = {});

// --- ranking layouts -----------------------------------------------------------------------------

enum class rank_metric { throughput, ttft, tpot };
std::optional<rank_metric> parse_rank_metric(std::string_view s);
std::string_view to_string(rank_metric m);

struct ranked_layout {
    std::string label;           // "TP 8 x PP 2, util 0.98, FP8 KV"
    parallelism parallel;
    plan_options options;
    std::string weights;         // "fp8", "bf16", "int4 (4-bit checkpoint)"
    bool cross_node_tp = false;
    memory_account memory;
    perf_prediction prediction;
    bool meets_slo = true;
    std::string rejected;        // why it does not fit (empty when it does)
};

struct layout_ranking {
    workload load;
    rank_metric metric = rank_metric::throughput;
    std::optional<double> slo_tpot_ms;
    std::vector<ranked_layout> ranked;    // layouts that fit (and meet the SLO first), best first
    std::vector<ranked_layout> rejected;  // layouts that do not fit the workload
    // The layout given in the plan options (o.parallel at o's utilization, KV dtype and weights):
    // its rank (1-based, 0 when it does not fit) and the candidate itself; nullopt when not given.
    std::optional<ranked_layout> current;
    std::size_t current_rank = 0;
    std::size_t candidates = 0;
    std::size_t duplicates = 0;           // higher utilizations that hold no larger batch (left out)
    std::string utilizations;             // "0.90/0.95/0.98"
    std::string kv_dtypes;                // "bf16 and FP8"
    std::string why;                      // one line on why the winner wins
};

// Enumerates the layouts the cluster can run (every TP x PP x DP that uses all GPUs, TP across
// nodes included; DP with expert parallelism for MoE models, its all-to-all extrapolated), each at the plan's utilization and
// at 0.95 and 0.98, with the plan's KV cache dtype and FP8, with the checkpoint's weights and a
// 4-bit checkpoint; accounts memory with the planner (max_model_len = in + out), predicts the
// workload on those that fit and ranks them by the metric. When o.parallel is set, that layout is
// reported as `current` (the plan's own layout).
layout_ranking rank_layouts(const cluster& c, const model_spec& m, const plan_options& o, const perf_network& net, const workload& w,
                            rank_metric metric = rank_metric::throughput, std::optional<double> slo_tpot_ms = std::nullopt,
                            const engine_profile& e = {});

std::string to_text(const perf_prediction& p);
// `top`: how many ranked layouts to list.
std::string to_text(const layout_ranking& r, std::size_t top = 8);
void to_json(nlohmann::json& j, const estimate& e);
void to_json(nlohmann::json& j, const perf_prediction& p);
void to_json(nlohmann::json& j, const layout_ranking& r);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/perf_inl.hpp>
#include <dsdeploy/impl/perf_rank_inl.hpp>
#endif
