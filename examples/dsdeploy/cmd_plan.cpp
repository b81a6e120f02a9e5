// SPDX-License-Identifier: Apache-2.0
// dsdeploy plan: does the model fit, with which layout, and what would fit if not.
#include "cli.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <optional>

namespace dsdeploy_cli {

command add_plan_command(CLI::App& root, options& o) {
    struct overrides {
        std::string model;
        std::optional<int> tp, pp, dp;
        std::optional<double> utilization, headroom;
        std::optional<int> max_model_len;
        std::string kv_cache_dtype;
        std::string workload, rank_by = "throughput";  // performance model (dsdeploy/perf.hpp)
        std::optional<double> slo_tpot_ms, link_gbit;
    };
    auto ov = std::make_shared<overrides>();
    CLI::App* app = root.add_subcommand("plan", "check TP x PP against the GPUs and the model, and whether the model fits in memory");
    app->add_flag("--json", o.json, "print the plan as JSON");
    app->add_option("--model", ov->model, "catalog model or local Hugging Face model directory");
    app->add_option("--tp,--tensor-parallel-size", ov->tp, "tensor-parallel size");
    app->add_option("--pp,--pipeline-parallel-size", ov->pp, "pipeline-parallel size");
    app->add_option("--dp,--data-parallel-size", ov->dp, "data-parallel size");
    app->add_option("--gpu-memory-utilization", ov->utilization, "fraction of GPU memory vLLM may use");
    app->add_option("--max-model-len", ov->max_model_len, "context length to plan for");
    app->add_option("--kv-cache-dtype", ov->kv_cache_dtype, "auto or fp8");
    app->add_option("--headroom-gib", ov->headroom, "per-GPU memory kept for activations, NCCL and CUDA graphs");
    app->add_option("--workload", ov->workload, "predict and rank layouts for a workload, e.g. in=4096,out=1024,concurrency=16 (or rate=2, burst=500)");
    app->add_option("--rank-by", ov->rank_by, "with --workload: throughput, ttft or tpot")->check(CLI::IsMember({"throughput", "ttft", "tpot"}));
    app->add_option("--slo-tpot-ms", ov->slo_tpot_ms, "with --workload: rank the layouts with a predicted TPOT under this first");
    app->add_option("--link-gbit", ov->link_gbit, "with --workload: inter-node bandwidth per GPU in Gbit/s (default: by fabric and GPU)");
    app->footer("Exit status: 0 the model fits, 1 it does not, 2 invalid input, 3 environment failure.");
    return {app, [ov, &o]() {
                // The overrides change the inventory before the gate, which checks it as render would.
                const dsdeploy::validated_inventory v = load_validated_inventory(o, [&](dsdeploy::inventory& inv) {
                    auto& s = inv.serving;
                    if (!ov->model.empty()) s.model = ov->model;
                    if (ov->tp) s.tensor_parallel_size = *ov->tp;
                    if (ov->pp) s.pipeline_parallel_size = *ov->pp;
                    if (ov->dp) s.data_parallel_size = *ov->dp;
                    if (ov->utilization) s.gpu_memory_utilization = *ov->utilization;
                    if (ov->max_model_len) s.max_model_len = *ov->max_model_len;
                    if (ov->headroom) s.headroom_gib = *ov->headroom;
                    if (!ov->kv_cache_dtype.empty() && ov->kv_cache_dtype != "auto") {
                        auto t = dsdeploy::parse_dtype(ov->kv_cache_dtype);
                        if (!t) throw dsdeploy::config_error(dsdeploy::errc::cli_usage, "--kv-cache-dtype", "\"" + ov->kv_cache_dtype + "\" is not a dtype; use auto or fp8");
                        s.kv_cache_dtype = *t;
                    }
                });
                const dsdeploy::inventory& inv = v.inv();
                const dsdeploy::plan& p = v.plan();
                std::optional<dsdeploy::layout_ranking> perf;  // --workload: predicted performance, layouts ranked
                dsdeploy::plan_options po = p.options;
                po.parallel = p.parallel;  // reported as the plan's own layout
                if (!ov->workload.empty())
                    perf = dsdeploy::rank_layouts(inv.cluster, p.model, po,
                                                  dsdeploy::perf_network_for(inv.network, ov->link_gbit.value_or(0)),
                                                  dsdeploy::parse_workload(ov->workload), *dsdeploy::parse_rank_metric(ov->rank_by), ov->slo_tpot_ms);
                const dsdeploy::launch_plan& l = v.launch();
                if (o.json) {
                    nlohmann::json j = p;
                    j["launch"] = {{"vllm_version", l.version.text},
                                   {"launcher", std::string(dsdeploy::to_string(l.launcher))},
                                   {"launcher_why", l.launcher_why},
                                   {"layout_advice", l.layout_advice},
                                   {"warnings", l.warnings}};
                    if (perf) j["performance"] = *perf;
                    std::cout << j.dump(2) << "\n";
                } else {
                    std::cout << dsdeploy::to_text(p);
                    std::cout << "\nLaunch: " << (l.engine == dsdeploy::engine_kind::sglang ? "SGLang " : "vLLM ") << l.version.text << ", launcher " << dsdeploy::to_string(l.launcher) << " ("
                              << l.launcher_why << ")\n";
                    std::cout << "Layout: " << l.layout_advice << "\n";
                    for (const auto& w : l.warnings) std::cout << "  warning: " << w << "\n";
                    if (perf) std::cout << "\n" << dsdeploy::to_text(*perf);
                }
                return p.fits() ? exit_ok : exit_check_failed;
            }};
}

}  // namespace dsdeploy_cli
