// SPDX-License-Identifier: Apache-2.0
// dsdeploy bench: load an OpenAI-compatible server as llmperf's token_benchmark_ray.py does
// (same flags, same environment, same result files), with vLLM bench serve's metrics, an
// open-loop mode, a concurrency sweep and an HTML report.
#include "cli.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>

namespace dsdeploy_cli {

namespace b = dsdeploy::bench;

namespace {

// --base-url, else $OPENAI_API_BASE (llmperf's), else $OPENAI_BASE_URL, else local vLLM.
std::string bench_base_url(const std::string& flag) {
    if (!flag.empty()) return flag;
    for (const char* v : {"OPENAI_API_BASE", "OPENAI_BASE_URL"})
        if (const char* env = std::getenv(v); env && *env) return env;
    return "http://127.0.0.1:8000/v1";
}

std::vector<std::size_t> parse_sweep(const std::string& text) {
    std::vector<std::size_t> out;
    std::size_t from = 0;
    while (from <= text.size()) {
        const std::size_t comma = std::min(text.find(',', from), text.size());
        std::string v = text.substr(from, comma - from);
        from = comma + 1;
        v.erase(0, v.find_first_not_of(" \t"));
        v.erase(v.find_last_not_of(" \t") + 1);
        if (v.empty()) continue;
        char* end = nullptr;
        const long n = std::strtol(v.c_str(), &end, 10);
        if (*end != '\0' || n < 1 || n > 1000000)
            dsdeploy::raise(dsdeploy::errc::bench_config, "sweep", "\"" + v + "\" is not a concurrency (a whole number >= 1)");
        out.push_back(static_cast<std::size_t>(n));
    }
    if (out.empty()) dsdeploy::raise(dsdeploy::errc::bench_config, "sweep", "names no concurrency; e.g. 1,4,16,64");
    return out;
}

// "concurrency 8", "4 req/s, at most 8 in flight", "4 req/s, no cap".
std::string point_label(const b::run_result& r) {
    if (r.closed_loop) return "concurrency " + std::to_string(r.max_concurrency);
    return fmt::format("{:g} req/s, {}", r.request_rate,
                       r.max_concurrency ? "at most " + std::to_string(r.max_concurrency) + " in flight" : std::string("no cap"));
}

}  // namespace

command add_bench_command(CLI::App& root, options& o) {
    struct settings {
        std::string base_url, model, api_key_env = "OPENAI_API_KEY", llm_api = "openai";
        int mean_in = 550, sd_in = 150, mean_out = 150, sd_out = 80;
        std::size_t max_completed = 10, concurrent = 10, warmups = 0;
        double timeout = 90;  // llmperf: the test's duration limit, in seconds
        double request_timeout = 600;
        std::string results_dir, sampling = "{}", metadata, endpoint = "chat", sweep, report;
        std::string rate = "inf", percentile_metrics = "ttft,tpot,itl,e2el", metric_percentiles = "50,90,95,99", goodput;
        double burstiness = 1.0, progress_interval = 1.0;
        std::size_t max_concurrency = 0;
        double link_gbit = 0;
        std::uint64_t seed = 11111;
        bool ignore_eos = false, no_tokenize = false, save_result = false, save_detailed = false, quiet = false;
        std::string output_tokens = "usage";
    };
    auto s = std::make_shared<settings>();
    CLI::App* app = root.add_subcommand(
        "bench", "benchmark an OpenAI-compatible server (llmperf-compatible flags and files, vLLM bench metrics)");
    app->add_option("--model", s->model, "served model name (default: the first one the server lists)");
    app->add_option("--base-url", s->base_url,
                    "server URL, with or without /v1 (default: $OPENAI_API_BASE, else $OPENAI_BASE_URL, else "
                    "http://127.0.0.1:8000/v1)");
    app->add_option("--api-key-env", s->api_key_env, "environment variable holding the API key (never pass the key itself)")
        ->capture_default_str();
    app->add_option("--mean-input-tokens", s->mean_in, "mean prompt length in tokens")->capture_default_str();
    app->add_option("--stddev-input-tokens", s->sd_in, "standard deviation of the prompt length")->capture_default_str();
    app->add_option("--mean-output-tokens", s->mean_out, "mean max_tokens per request")->capture_default_str();
    app->add_option("--stddev-output-tokens", s->sd_out, "standard deviation of max_tokens")->capture_default_str();
    app->add_option("--max-num-completed-requests", s->max_completed, "requests to send (per sweep point)")
        ->capture_default_str();
    CLI::Option* concurrent_opt =
        app->add_option("--num-concurrent-requests", s->concurrent,
                        "concurrent users (closed loop; default 10); with --request-rate, the cap on requests in flight");
    app->add_option("--timeout,--time-limit", s->timeout,
                    "seconds after which no request is started (llmperf's --timeout); the results so far are written")
        ->capture_default_str();
    app->add_option("--request-timeout", s->request_timeout, "seconds one request may take before it counts as a timeout")
        ->capture_default_str();
    app->add_option("--results-dir", s->results_dir,
                    "folder for <stem>_summary.json, <stem>_individual_responses.json, profile_export_aiperf.json and "
                    "report.html (empty: none)");
    app->add_option("--additional-sampling-params", s->sampling, "JSON object merged into every request body")
        ->capture_default_str();
    app->add_option("--metadata", s->metadata, "k=v,k2=v2 pairs added to the summary");
    app->add_option("--llm-api", s->llm_api, "llmperf's API kind; only openai is supported")->capture_default_str();
    app->add_option("--endpoint", s->endpoint, "chat or completions")->capture_default_str();
    app->add_option("--request-rate", s->rate,
                    "open loop: requests per second with Poisson/gamma gaps on absolute times (inf: closed loop)")
        ->capture_default_str();
    app->add_option("--burstiness", s->burstiness, "gamma shape of the gaps (1: Poisson)")->capture_default_str();
    CLI::Option* max_conc_opt =
        app->add_option("--max-concurrency", s->max_concurrency,
                        "most requests in flight (vLLM's); an open loop has no cap unless this or --num-concurrent-requests is given");
    app->add_option("--num-warmups", s->warmups, "warm-up requests sent first and not counted")->capture_default_str();
    app->add_option("--seed", s->seed, "seed of prompts, lengths and arrivals")->capture_default_str();
    app->add_flag("--ignore-eos", s->ignore_eos, "ask vLLM to generate exactly max_tokens (ignore_eos)");
    app->add_flag("--no-tokenize", s->no_tokenize, "do not size prompts with the server's /tokenize (estimate instead)");
    app->add_option("--output-tokens", s->output_tokens,
                    "how output tokens are counted: usage (the server's usage, default) or tokenize (the server's /tokenize of "
                    "each request's generated text, as tokenizer-based clients count)")
        ->check(CLI::IsMember({"usage", "tokenize"}));
    app->add_option("--percentile-metrics", s->percentile_metrics, "metrics with percentiles: ttft,tpot,itl,e2el")
        ->capture_default_str();
    app->add_option("--metric-percentiles", s->metric_percentiles, "percentiles to report, e.g. 50,90,99")
        ->capture_default_str();
    app->add_option("--goodput", s->goodput, "SLOs in ms for goodput, e.g. ttft:200,tpot:50,e2el:2000");
    app->add_option("--sweep", s->sweep, "concurrency sweep, e.g. 1,4,16,64 (one run per value)");
    app->add_option("--report", s->report, "HTML report path (default: <results-dir>/report.html)");
    app->add_flag("--save-result", s->save_result, "also write vLLM bench serve's result JSON into --results-dir");
    app->add_flag("--save-detailed", s->save_detailed,
                  "with --save-result: also the per-request arrays (input_lens, output_lens, ttfts, itls, start_times, ...)");
    app->add_option("--progress-interval", s->progress_interval, "seconds between progress lines (0: none)")
        ->capture_default_str();
    app->add_flag("--json", o.json, "print one JSON object per run instead of the text summary");
    app->footer(
        "Environment: OPENAI_API_BASE (llmperf's) or OPENAI_BASE_URL, and OPENAI_API_KEY (or --api-key-env).\n"
        "With -i/--inventory (the deployment's), the performance model's prediction for the same workload is printed\n"
        "beside the measurement (text, --json, report.html, <results-dir>/reconciliation.json).\n"
        "Ctrl-C or --timeout writes the results gathered so far.\n"
        "Exit status: 0 every request succeeded, 1 some failed or the run was interrupted, 2 invalid input, 3 the "
        "server could not be reached or the results not written.");
    app->add_option("--link-gbit", s->link_gbit,
                    "with --inventory: inter-node bandwidth per GPU in Gbit/s for the prediction (default: by fabric and GPU)");
    return {app, [s, &o, concurrent_opt, max_conc_opt]() {
                // -i/--inventory: the deployment's plan through the one gate (a bad inventory is exit
                // 2 before any request), to put the performance model's prediction beside the run.
                std::optional<dsdeploy::plan> plan;
                dsdeploy::perf_network net;
                if (!o.inventory_path.empty()) {
                    const dsdeploy::validated_inventory v = load_validated_inventory(o);
                    plan = v.plan();
                    net = dsdeploy::perf_network_for(v.inv().network, s->link_gbit);
                }
                if (s->llm_api != "openai")
                    dsdeploy::raise(dsdeploy::errc::bench_config, "llm_api",
                                    "\"" + s->llm_api + "\" is not supported; dsdeploy bench speaks the OpenAI API (openai)");
                if (s->endpoint != "chat" && s->endpoint != "completions")
                    dsdeploy::raise(dsdeploy::errc::bench_config, "endpoint", "\"" + s->endpoint + "\"; use chat or completions");
                if (!(s->timeout > 0)) dsdeploy::raise(dsdeploy::errc::bench_config, "timeout", "must be a positive number of seconds");
                if (!(s->request_timeout > 0))
                    dsdeploy::raise(dsdeploy::errc::bench_config, "request_timeout", "must be a positive number of seconds");
                b::summary_options so;
                so.percentile_metrics = b::parse_percentile_metrics(s->percentile_metrics);
                so.metric_percentiles = b::parse_metric_percentiles(s->metric_percentiles);
                if (!s->goodput.empty()) so.goodput = b::parse_goodput(s->goodput);
                const auto metadata = b::parse_metadata(s->metadata);
                nlohmann::json sampling = nlohmann::json::parse(s->sampling, nullptr, false);
                if (sampling.is_discarded())
                    dsdeploy::raise(dsdeploy::errc::bench_config, "additional_sampling_params", "is not JSON: " + s->sampling);
                double rate = std::numeric_limits<double>::infinity();
                if (s->rate != "inf") {
                    char* end = nullptr;
                    rate = std::strtod(s->rate.c_str(), &end);
                    if (*end != '\0' || !(rate > 0))
                        dsdeploy::raise(dsdeploy::errc::bench_config, "request_rate", "\"" + s->rate + "\" is not a positive number or inf");
                }
                // As vLLM: --request-rate alone sends on its schedule with no cap on requests in flight.
                const std::size_t cap = b::concurrency_cap(
                    rate, max_conc_opt->count() ? std::optional<std::size_t>(s->max_concurrency) : std::nullopt,
                    concurrent_opt->count() ? std::optional<std::size_t>(s->concurrent) : std::nullopt);
                const std::vector<std::size_t> points = s->sweep.empty() ? std::vector<std::size_t>{cap} : parse_sweep(s->sweep);

                // The model predicts GPU deployments with a datasheet; for any other (CPU-only nodes, a GPU
                // it has no figures for) the benchmark still runs, and says why nothing is beside it.
                if (plan) {
                    dsdeploy::workload asked;
                    asked.input_len = std::max(1, s->mean_in);
                    asked.output_len = std::max(1, s->mean_out);
                    asked.load = std::isinf(rate) ? dsdeploy::load_kind::closed : dsdeploy::load_kind::open;
                    asked.concurrency = static_cast<double>(std::max<std::size_t>(1, points.front()));
                    asked.request_rate = std::isinf(rate) ? 0 : rate;
                    std::string why;
                    if (plan->gpus_per_node <= 0) {
                        why = "the inventory's nodes have no GPUs; the performance model predicts GPU deployments";
                    } else {
                        try {
                            (void)dsdeploy::predict_performance(*plan, net, asked);
                        } catch (const dsdeploy::error& e) {
                            why = e.what();
                        }
                    }
                    if (!why.empty()) {
                        std::cerr << "dsdeploy bench: no prediction beside this run: " << why << "\n";
                        plan.reset();
                    }
                }
                dsdeploy::openai::client_options co;
                co.base_url = bench_base_url(s->base_url);
                co.api_key_env = s->api_key_env;
                co.read_timeout = std::chrono::milliseconds(static_cast<long long>(s->request_timeout * 1000));
                dsdeploy::openai::client c(co);
                b::workload_options wo;
                wo.model = model_or_first_served(c, s->model);
                wo.endpoint = s->endpoint == "chat" ? b::endpoint::chat : b::endpoint::completions;
                wo.mean_input_tokens = s->mean_in;
                wo.stddev_input_tokens = s->sd_in;
                wo.mean_output_tokens = s->mean_out;
                wo.stddev_output_tokens = s->sd_out;
                wo.num_requests = s->max_completed;
                wo.warmup_requests = s->warmups;
                wo.seed = s->seed;
                wo.ignore_eos = s->ignore_eos;
                wo.additional_sampling_params = sampling;
                const b::token_counter counter = s->no_tokenize ? b::token_counter{} : b::server_token_counter(c, wo.model);
                std::cerr << "dsdeploy bench: " << wo.model << " at " << c.url().to_string() << "; building "
                          << wo.num_requests + wo.warmup_requests << " prompt(s), sized by "
                          << (counter ? counter.source : std::string("an estimate (4 characters per token)")) << "\n";
                const b::workload load = b::make_workload(wo, counter);
                b::token_counter output_counter;  // --output-tokens tokenize
                if (s->output_tokens == "tokenize") {
                    output_counter = counter ? counter : b::server_token_counter(c, wo.model);
                    if (!output_counter)
                        dsdeploy::raise(dsdeploy::errc::bench_config, "--output-tokens",
                                        "tokenize: the server at " + c.url().to_string() + " has no /tokenize; use --output-tokens usage");
                }
                const std::string key = c.has_api_key() ? std::string(std::getenv(s->api_key_env.c_str())) : std::string();

                b::interrupt_guard guard;
                std::vector<std::unique_ptr<b::run_result>> results;
                std::vector<std::unique_ptr<b::run_summary>> summaries;
                std::vector<std::string> reconciled;  // report fragments, one per point
                bool any_failed = false;
                for (const std::size_t conc : points) {
                    if (guard.interrupted()) break;
                    b::run_options ro;
                    ro.request_rate = rate;
                    ro.burstiness = s->burstiness;
                    ro.max_concurrency = conc;
                    ro.seed = s->seed;
                    ro.time_limit = std::chrono::milliseconds(static_cast<long long>(s->timeout * 1000));
                    ro.request_timeout = std::chrono::milliseconds(static_cast<long long>(s->request_timeout * 1000));
                    ro.stop = guard.flag();
                    ro.keep_text = output_counter || s->save_detailed;  // vLLM's generated_texts with --save-detailed
                    if (s->progress_interval > 0) {
                        ro.progress_interval = std::chrono::milliseconds(static_cast<long long>(s->progress_interval * 1000));
                        ro.on_progress = [conc](const b::progress& p) {
                            std::cerr << fmt::format("dsdeploy bench: {}c={} {}/{} done, {:.2f} req/s, {} error(s), {} in flight, {:.1f} s\n",
                                                     p.warmup ? "warm-up " : "", conc, p.done, p.total, p.requests_per_s,
                                                     p.failed, p.in_flight, p.elapsed);
                        };
                    }
                    auto res = std::make_unique<b::run_result>();
                    if (c.url().scheme == "http") {
                        b::epoll_engine engine(c.url());
                        *res = b::run(engine, load, ro, key, c.url().to_string());
                    } else {
                        b::transport_engine<dsdeploy::openai::httplib_transport> engine(c.transport());
                        *res = b::run(engine, load, ro, key, c.url().to_string());
                    }
                    if (output_counter) b::count_output_tokens(*res, output_counter);
                    auto sum = std::make_unique<b::run_summary>(b::summarize(*res, so));
                    any_failed = any_failed || sum->failed > 0 || res->interrupted;
                    std::optional<b::reconciliation> rec;  // predicted beside measured, for the same workload
                    if (plan) {
                        const dsdeploy::workload w = b::perf_workload_for(*res, *sum);
                        rec = b::reconcile(dsdeploy::predict_performance(*plan, net, w), w, *sum, b::deployment_label(*plan));
                        rec->notes.push_back("measured: " + wo.model + " at " + c.url().to_string());
                    }
                    if (o.json) {
                        auto j = b::to_json(*res, *sum);
                        if (rec) j["reconciliation"] = nlohmann::json(*rec);
                        std::cout << j.dump(2) << "\n";
                    } else {
                        std::cout << (points.size() > 1 ? fmt::format("\nConcurrency {}\n", conc) : std::string()) << b::to_text(*res, *sum);
                        if (rec) std::cout << b::to_text(*rec);
                    }
                    std::cout.flush();
                    if (!s->results_dir.empty()) {
                        const std::string dir = points.size() > 1 ? s->results_dir + "/concurrency-" + std::to_string(conc) : s->results_dir;
                        for (const auto& f : b::write_llmperf_files(dir, *res, metadata)) std::cerr << "dsdeploy bench: wrote " << f << "\n";
                        std::cerr << "dsdeploy bench: wrote " << b::write_aiperf_export(dir, *res, *sum) << "\n";
                        if (rec) {
                            const std::string f = dir + "/reconciliation.json";
                            b::write_file(f, nlohmann::json(*rec).dump(2) + "\n");
                            std::cerr << "dsdeploy bench: wrote " << f << "\n";
                        }
                        if (s->save_result) {
                            const std::string f = dir + "/" + b::vllm_result_filename(*res);
                            b::write_file(f, b::vllm_result(*res, *sum, "dsdeploy", metadata, s->save_detailed).dump(2) + "\n");
                            std::cerr << "dsdeploy bench: wrote " << f << "\n";
                        }
                    }
                    results.push_back(std::move(res));
                    summaries.push_back(std::move(sum));
                    reconciled.push_back(rec ? b::to_html(*rec) : std::string());
                }
                const std::string report = !s->report.empty() ? s->report
                                           : !s->results_dir.empty() ? s->results_dir + "/report.html"
                                                                     : std::string();
                if (!report.empty() && !results.empty()) {
                    std::vector<b::report_point> rp;
                    for (std::size_t i = 0; i < results.size(); ++i)
                        rp.push_back({point_label(*results[i]), results[i].get(), summaries[i].get(), reconciled[i]});
                    b::write_file(report, b::html_report(rp, "dsdeploy bench: " + wo.model));
                    std::cerr << "dsdeploy bench: wrote " << report << "\n";
                }
                if (guard.interrupted()) std::cerr << "dsdeploy bench: interrupted; the results above cover what finished.\n";
                return any_failed ? exit_check_failed : exit_ok;
            }};
}

}  // namespace dsdeploy_cli
