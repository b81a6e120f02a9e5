// SPDX-License-Identifier: Apache-2.0
// The benchmark's result documents: llmperf's summary and individual-responses files, vLLM
// bench serve's result JSON and printed block, dsdeploy's --json document, and writing them
// to disk (atomically; bench.write on failure).
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/bench_results.hpp>
#include <dsdeploy/bench_stats.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

// llmperf's file stem: "<model>_<mean in>_<mean out>" with every character that is not a word
// character or '-' turned into '-' and runs of '-' collapsed.
std::string llmperf_stem(const std::string& model, int mean_input_tokens, int mean_output_tokens);

// llmperf's "<stem>_summary.json" object, with its keys in its order (see docs/bench.md, "Files").
// `metadata` are llmperf's --metadata pairs (top-level keys).
nlohmann::ordered_json llmperf_summary(const run_result& r,
                                       const std::vector<std::pair<std::string, std::string>>& metadata = {});
// llmperf's "<stem>_individual_responses.json" array (returned requests, errors included).
nlohmann::ordered_json llmperf_individual_responses(const run_result& r);
// Parses llmperf's --metadata "k=v,k2=v2"; bench.config for an item without '='.
std::vector<std::pair<std::string, std::string>> parse_metadata(std::string_view text);

// vLLM bench serve's result JSON, key for key and type for type as vllm/benchmarks/serve.py writes
// it at vllm-project/vllm commit 009e6d4 (main, read 2026-12-03): `detailed` is --save-detailed
// (the per-request arrays input_lens, output_lens, ttfts, itls, start_times, generated_texts,
// errors; latencies and queue_times are always there). tokenizer_id says how tokens were counted.
nlohmann::ordered_json vllm_result(const run_result& r, const run_summary& s, const std::string& label = "dsdeploy",
                                   const std::vector<std::pair<std::string, std::string>>& metadata = {},
                                   bool detailed = true);
// vLLM's file name: "<label>-<rate>qps[-concurrency<N>]-<model basename>-<YYYYMMDD-HHMMSS>.json".
std::string vllm_result_filename(const run_result& r, const std::string& label = "dsdeploy");
// The printed block of vllm bench serve ("Serving Benchmark Result"), same labels and widths,
// followed by dsdeploy's own lines (token source, errors, client CPU).
std::string to_text(const run_result& r, const run_summary& s);
// Everything, for --json: the vLLM keys plus dsdeploy's (errors, sources, client overhead).
nlohmann::ordered_json to_json(const run_result& r, const run_summary& s);

// AIPerf's aggregate export profile_export_aiperf.json in the format of AIPerf 0.13.0
// (aiperf.common.models.export_models.JsonExportData, schema_version "1.4"): one object per
// metric with unit, avg, p1..p99, min, max, std, count and sum (record metrics) or unit and avg
// (run totals and rates), was_cancelled, error_summary, start_time and end_time. dsdeploy's own
// facts (token sources, load, latency from the scheduled send) are under "dsdeploy".
nlohmann::ordered_json aiperf_export(const run_result& r, const run_summary& s);

// Writes text to path atomically (temporary file, then rename); bench.write on failure.
void write_file(const std::string& path, const std::string& text);
// Writes aiperf_export() as <dir>/profile_export_aiperf.json (dir created if missing); returns the path.
std::string write_aiperf_export(const std::string& dir, const run_result& r, const run_summary& s);
// Writes llmperf's two files into dir (created if missing); returns their paths.
std::vector<std::string> write_llmperf_files(const std::string& dir, const run_result& r,
                                             const std::vector<std::pair<std::string, std::string>>& metadata = {});

}  // namespace bench
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/bench_formats_inl.hpp>
#endif
