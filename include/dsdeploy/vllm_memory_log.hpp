// SPDX-License-Identifier: Apache-2.0
// vLLM's memory lines in a start-up log, in the formats vLLM 0.6-0.34 print them (and the
// restatements public write-ups quote), and their reconciliation with what the plan predicted
// for that rank (issue 17, item 4): weights ("Model loading took"), non-torch memory, the
// activation peak, CUDA graphs (estimate and capture), the memory held before the init snapshot
// ("Free memory on device ... on startup"), the KV cache in GiB, tokens and "maximum concurrency".
// The parser takes any text and never throws; the model it is compared with is vllm_memory.hpp
// through plan.hpp's memory account. docs/memory-model.md section 8 describes both.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/log_line.hpp>
#include <dsdeploy/plan.hpp>

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

// One figure read from the log: GiB, tokens, a ratio, as the unit of the field says.
// Several ranks print the same line; `lines` counts them and `varies` says whether they
// disagreed, in which case `value` is the one vLLM goes by: the smallest for the KV cache
// (vLLM takes the minimum across ranks), the largest for everything else (the heaviest rank).
struct logged_figure {
    double value = 0;
    log_line line;          // where `value` was read
    int lines = 0;          // how many lines gave this figure
    bool varies = false;    // ranks printed different values (pipeline stages, a straggler)
};

struct vllm_memory_log {
    bool recognised = false;       // at least one memory figure was read
    std::string version;           // "vLLM API server version X", "LLM engine (vX)"
    // configuration, as far as the log prints it
    std::optional<logged_figure> utilization;        // gpu_memory_utilization
    std::optional<logged_figure> tensor_parallel_size;
    std::optional<logged_figure> max_model_len;
    std::optional<logged_figure> max_num_batched_tokens;
    // the budget
    std::optional<logged_figure> total_gib;          // CUDA total: "total_gpu_memory", "Free memory on device (free/total GiB)"
    std::optional<logged_figure> free_at_start_gib;  // "Free memory on device (free/total GiB) on startup"
    std::optional<logged_figure> requested_gib;      // total x utilization: "the current vLLM instance can use", "Desired GPU memory utilization is (u, X GiB)"
    // the profile
    std::optional<logged_figure> weights_gib;        // "Model loading took", "Loading model weights took ... GB", "model weights take"
    std::optional<logged_figure> non_torch_gib;      // "non_torch_memory", "non-torch forward increase memory", "GiB for non-torch memory"
    std::optional<logged_figure> activation_gib;     // "PyTorch activation peak memory", "torch peak memory increase", "GiB for peak activation"
    std::optional<logged_figure> cuda_graph_estimate_gib;  // "Estimated CUDA graph memory: X GiB total" (0.18+)
    std::optional<logged_figure> cuda_graph_gib;     // "Graph capturing finished in N secs, took X GiB", else "CUDA graph pool memory: X GiB (actual)"
    std::optional<logged_figure> cuda_graph_delta_gib;     // DEBUG "X GiB for CUDAGraph memory": a free-memory delta across capture (can be negative)
    // the KV cache
    std::optional<logged_figure> available_kv_gib;   // "Available KV cache memory", "reserved for KV Cache is", "kv_cache_size=", vLLM's ValueError
    std::optional<logged_figure> kv_committed_gib;   // 0.34: "Memory after warmup: ... X GiB committed to the KV cache"
    std::optional<logged_figure> kv_tokens;          // "GPU KV cache size: N tokens", V0 "# GPU blocks: N" x block size, "stored in KV cache (N)"
    std::optional<logged_figure> concurrency_tokens; // "Maximum concurrency for N tokens per request"
    std::optional<logged_figure> max_concurrency;    //   ... ": X x"
    // The same figures per pipeline stage, when the lines name their stage (the mp executor's
    // "(Worker_PP1_TP0 pid=...)" prefix, 0.11+); empty otherwise (the Ray executor, one stage).
    int pp_rank = -1;                                 // set in the entries of `stages`
    std::vector<vllm_memory_log> stages;
};

// Reads every memory figure it recognises; never throws. Lines cut by a terminal or a copy
// (a continuation starting with a lower-case letter, a digit or a blank) are joined first.
vllm_memory_log parse_vllm_memory_log(std::string_view text);

namespace detail {
namespace memlog {
// One logical line: its first line's number, the lines a terminal cut joined, and the pipeline
// stage its process prefix names.
struct record {
    std::size_t number = 0;
    std::string text;
    int pp_rank = -1;
};
// The figures of a sequence of records (all of a log's, or one pipeline stage's).
class record_parser {
public:
    void add(const record& rec);
    void skip(const record& rec);  // a record that holds none of the words add() looks for (it still ends a table)
    bool in_table() const { return !table_header_.empty(); }
    vllm_memory_log finish();

private:
    vllm_memory_log r_;
    std::optional<logged_figure> blocks_, pool_actual_;
    double block_size_ = 16;
    std::optional<logged_figure> peak_torch_;  // V0 <= 0.6.4: weights included
    std::vector<std::string> table_header_;
};
}  // namespace memlog
}  // namespace detail

// The same parser line by line, for a log of any size (doctor streams its files through it): give
// it each line with its 1-based number, colour codes removed (log_reader in diagnose.hpp), then
// take the figures. Its state is bounded: the record being joined (at most 4000 characters) and
// the figures of at most max_stages pipeline stages (the first ones whose lines hold a key's word).
class vllm_memory_log_parser {
public:
    static constexpr std::size_t max_stages = 256;
    void line(std::size_t number, std::string_view text);
    vllm_memory_log finish();  // the figures; the parser starts afresh

private:
    void flush();
    detail::memlog::record_parser all_;
    std::map<int, detail::memlog::record_parser> stages_;
    detail::memlog::record record_;
    bool has_record_ = false;
    bool record_matters_ = false;  // its lines hold a word a figure's key contains
    std::size_t stage_tables_ = 0;  // stage parsers inside a Markdown table
};

// One row of the side-by-side: a figure vLLM logged beside what the plan predicted.
struct memory_comparison {
    std::string name;                 // weights, non_torch, activation, non_torch_and_activation, cuda_graphs,
                                      // pre_snapshot, available_kv, kv_tokens, max_concurrency
    std::string unit;                 // "GiB", "tokens", "x"
    bool term = false;                // one of the memory model's terms (a candidate for "differed most")
    std::optional<double> logged, predicted;
    std::string logged_from;          // the log line (or how it was derived)
    std::string predicted_from;       // the model's source for the term
    std::optional<double> difference() const {
        if (!logged || !predicted) return std::nullopt;
        return *logged - *predicted;
    }
};

struct vllm_memory_reconciliation {
    std::string logged_version;       // from the log ("" when it does not say)
    std::string planned_version;      // runtime.vllm_version
    std::size_t stage = 0;            // the plan's stage compared (its limiting one)
    std::size_t stages = 1;
    std::vector<memory_comparison> rows;
    std::optional<std::size_t> largest;   // index in rows: the term whose difference is largest in GiB
    std::vector<std::string> notes;       // where the log's configuration differs from the plan's
    double tolerance_gib = 0;             // max(model uncertainty, 3 % of the logged KV): beyond it the plan is wrong
    bool differs = false;                 // the KV cache or the largest term differs by more than tolerance_gib
};

// The plan's prediction for the rank that printed `log` (the limiting stage: the one whose KV
// cache sets the pool, and the only one without pipeline parallelism) beside what it logged.
vllm_memory_reconciliation reconcile_vllm_memory(const vllm_memory_log& log, const plan& p);

// The finding vllm.memory_differs_from_plan (warning) when r.differs: names the term that
// differed most with both figures and the log line; nullopt otherwise.
std::optional<finding> memory_finding(const vllm_memory_reconciliation& r, const std::string& node);

// Plain text for people: the logged figures alone, or the side-by-side.
std::string to_text(const vllm_memory_log& log);
std::string to_text(const vllm_memory_reconciliation& r);
void to_json(nlohmann::json& j, const vllm_memory_log& log);
void to_json(nlohmann::json& j, const vllm_memory_reconciliation& r);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/vllm_memory_log_inl.hpp>
#endif
