// SPDX-License-Identifier: Apache-2.0
// A load generator for OpenAI-compatible servers whose own overhead is near zero, with
// llmperf-compatible and vLLM-bench-compatible results. This umbrella includes the bench
// rooms; include one of them alone when that is all you need.
//
//     namespace b = dsdeploy::bench;
//     b::workload_options w;                       // llmperf's defaults: 550±150 in, 150±80 out
//     w.model = "deepseek-ai/DeepSeek-V3";
//     auto load = b::make_workload(w, b::server_token_counter(client));   // sized by /tokenize
//     b::run_options r;
//     r.max_concurrency = 64;                      // closed loop: 64 users
//     b::epoll_engine engine(client.url());        // or b::transport_engine<T> for any transport
//     b::run_result res = b::run(engine, load, r, client.options().api_key.value_or(""));
//     b::run_summary s = b::summarize(res);         // TTFT, TPOT, ITL, E2EL, throughput, goodput
//     b::write_llmperf_files("results", res, s);   // <stem>_summary.json, <stem>_individual_responses.json
//
//   bench_workload.hpp  prompts, lengths, request bodies, arrival schedules, token counters
//   bench_results.hpp   what a run recorded: request_record, run_result, bench::clock
//   bench_stats.hpp     percentiles, distributions, goodput SLOs, summarize() -> run_summary
//   bench_formats.hpp   llmperf and vLLM bench result documents, text and JSON, writing files
//   bench_report.hpp    the HTML report with inline SVG plots
//   bench_reconcile.hpp the performance model's prediction beside what a run measured
//   bench_engine.hpp    the engine concept, stream_job (the recorder), epoll_engine, transport_engine
//   bench_runner.hpp    run(), run_options, progress, interrupt_guard
//
// The pure parts (workload, arrival schedules, statistics, result documents, the HTML report)
// do no I/O and are tested on their own. The runner is generic over its engine. The bench
// rooms depend on the openai rooms only (bench_reconcile also on perf.hpp); this umbrella includes
// the client (openai.hpp).
#pragma once

#include <dsdeploy/bench_engine.hpp>
#include <dsdeploy/bench_formats.hpp>
#include <dsdeploy/bench_reconcile.hpp>
#include <dsdeploy/bench_report.hpp>
#include <dsdeploy/bench_results.hpp>
#include <dsdeploy/bench_runner.hpp>
#include <dsdeploy/bench_stats.hpp>
#include <dsdeploy/bench_workload.hpp>
#include <dsdeploy/openai.hpp>
