// SPDX-License-Identifier: Apache-2.0
// Renders the bundles whose `vllm serve` argv vLLM's own parser judges (issue 14 item 5;
// tests/validate/vllm_parser_judge.py): the bundle matrix's inventories (tests/bundle/matrix.hpp,
// without the hostile ones, whose values are meant to be refused) with runtime.vllm_version set to
// VERSION, each with launcher ray, mp and auto, plus data-parallel x expert-parallel (internal and
// hybrid load balancing, API servers, EPLB) and a case whose
// serving.extra_args carry options of that release. Writes OUT/<case>/ (bundle.json holds every
// node's argv) and OUT/judge.json: the version, the bundles, what dsdeploy refused to render, the
// options dsdeploy's flag table says VERSION accepts, and the negative checks: options the table
// says VERSION lacks (one that appears later, one that was removed), each refused by make_launch
// with launch.flag_unsupported naming the release, and the argv the parser must reject.
// Usage: vllm_judge_bundles VERSION OUT_DIR
#include "matrix.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>

namespace {
using namespace dsdeploy;

// Options with their values, each used when dsdeploy's table says the release accepts it: the
// judge then proves the release's parser agrees (a table row that is wrong fails it).
const std::vector<std::vector<std::string>>& version_option_candidates() {
    static const std::vector<std::vector<std::string>> c = {
        {"--enforce-eager"},
        {"--max-num-seqs", "16"},
        {"--max-num-batched-tokens", "2048"},
        {"--trust_remote_code"},
        {"--seed", "0"},
        {"--no-enable-prefix-caching"},
        {"--async-scheduling"},
        {"--disable-frontend-multiprocessing"},      // removed in 0.19.1 (the table)
        {"--cpu-distributed-timeout-seconds", "600"},  // 0.22.1
        {"--sse-keep-alive-interval", "15"},           // 0.29.0
        {"--enable-per-request-metrics"},              // 0.25.1
    };
    return c;
}

std::string image_for(const inventory& inv, const engine_version& v) {
    // The image tags name the release alone ("0.11.0.post2+cpu" -> v0.11.0).
    const std::string tag = std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch);
    // The official image has no Ray from 0.18 (launch refuses launcher ray with it): a custom image
    // that installs Ray, as an operator would build.
    if (inv.runtime.launcher == launcher_kind::ray && !(v < engine_version{0, 18, 0, "0.18.0"}))
        return "registry.example:5000/vllm-openai-ray:v" + tag;
    return "vllm/vllm-openai:v" + tag;
}

std::string flag_row_text(const vllm_flag& f) {
    std::string s = f.flag;
    if (f.since) s += " since " + f.since->text;
    if (f.removed) s += " removed " + f.removed->text;
    return s;
}
}  // namespace

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    if (argc != 3) {
        std::cerr << "usage: vllm_judge_bundles VERSION OUT_DIR\n";
        return 2;
    }
    const engine_version v = parse_engine_version(argv[1]);
    const fs::path out = fs::absolute(argv[2]);
    fs::remove_all(out);
    fs::create_directories(out);

    std::vector<dsdeploy_test::matrix_case> cases;
    const launcher_kind launchers[] = {launcher_kind::ray, launcher_kind::mp, launcher_kind::automatic};
    for (const auto& c : dsdeploy_test::matrix_cases()) {
        if (c.inv.serving.engine != engine_kind::vllm) continue;  // SGLang's parser judges those (sglang_parser_judge.sh)
        for (launcher_kind k : launchers) {
            dsdeploy_test::matrix_case m = c;
            m.id = c.id + "-" + std::string(to_string(k));
            m.inv.runtime.launcher = k;
            cases.push_back(m);
        }
    }
    {
        inventory inv = dsdeploy_test::cluster_inventory(2, fabric::infiniband, runtime_kind::process);
        inv.serving.tensor_parallel_size = 8;
        inv.serving.pipeline_parallel_size = 1;
        inv.serving.data_parallel_size = 2;
        inv.serving.enable_expert_parallel = true;
        for (launcher_kind k : launchers) {
            inv.runtime.launcher = k;
            cases.push_back({"dp-ep-" + std::string(to_string(k)), inv});
        }
        // Hybrid load balancing (an API server per node), two API servers each, EPLB replicas.
        inv.runtime.launcher = launcher_kind::mp;
        inv.serving.data_parallel_lb = dp_load_balancing::hybrid;
        inv.serving.api_server_count = 2;
        inv.serving.num_redundant_experts = 2;
        cases.push_back({"dp-ep-hybrid-eplb-mp", inv});
    }
    // The release's own options in serving.extra_args, on two GPU nodes (TP 8 x PP 2). Not on a
    // CPU cluster: there launch refuses --enforce-eager with PP from 0.27 (PR #50547).
    inventory version_case = dsdeploy_test::cluster_inventory(2, fabric::tcp, runtime_kind::process);
    std::vector<std::string> used_options;
    version_case.serving.extra_args = {"--load-format", "dummy", "--dtype", "bfloat16"};
    for (const auto& words : version_option_candidates()) {
        const flag_check fc = check_vllm_flag(words.front(), v);
        if (fc.support != flag_support::yes) continue;
        used_options.push_back(words.front());
        version_case.serving.extra_args.insert(version_case.serving.extra_args.end(), words.begin(), words.end());
    }
    for (launcher_kind k : launchers) {
        version_case.runtime.launcher = k;
        cases.push_back({"version-options-" + std::string(to_string(k)), version_case});
    }

    nlohmann::json bundles = nlohmann::json::array(), refused = nlohmann::json::array();
    nlohmann::json reference_argv;  // a head argv the parser accepts, for the negative checks
    for (auto& c : cases) {
        c.inv.name = c.id;
        c.inv.runtime.vllm_version = v.text;
        if (c.inv.runtime.kind == runtime_kind::docker) c.inv.runtime.image = image_for(c.inv, v);
        try {
            const plan p = plan_for(c.inv);
            bundle_options o;
            o.api_key = "dsd-0123456789abcdef0123456789abcdef";
            o.api_key_source = "test";
            const bundle b = render_bundle(c.inv, p, o);
            write_bundle(b, out / c.id);
            bundles.push_back(c.id);
            if (c.id == "version-options-mp" || (reference_argv.is_null() && c.id == "version-options-ray"))
                reference_argv = b.launch.nodes[b.launch.head].vllm_serve;
        } catch (const error& e) {
            refused.push_back({{"case", c.id}, {"id", std::string(e.id())}, {"field", e.field()}, {"detail", e.detail()}});
        }
    }
    if (reference_argv.is_null()) {
        std::cerr << "vllm_judge_bundles: dsdeploy refused both version-options cases for vLLM " << v.text << "\n";
        return 1;
    }

    // Negative checks: the nearest option the table says appears after v, and the latest one it
    // says was removed at or before v.
    const vllm_flag* later = nullptr;
    const vllm_flag* removed = nullptr;
    for (const auto& f : vllm_flag_table()) {
        // A later minor release: the table samples one patch release per minor, so a row "since
        // 0.20.2" says nothing certain about 0.20.0.
        const bool later_minor = f.since && (f.since->major > v.major || (f.since->major == v.major && f.since->minor > v.minor));
        if (later_minor && f.flag.rfind("--", 0) == 0 && (!later || *f.since < *later->since)) later = &f;
        if (f.removed && !(v < *f.removed) && (!removed || *removed->removed < *f.removed)) removed = &f;
    }
    nlohmann::json negatives = nlohmann::json::array();
    for (const vllm_flag* f : {later, removed}) {
        if (!f) continue;
        const std::string release = f == later ? f->since->text : f->removed->text;
        inventory inv = version_case;
        inv.runtime.launcher = launcher_kind::ray;
        inv.runtime.vllm_version = v.text;
        inv.serving.extra_args = {f->flag};
        std::string dsdeploy_error;
        try {
            (void)make_launch(inv, plan_for(inv));
        } catch (const error& e) {
            if (e.code() == errc::launch_flag_unsupported) dsdeploy_error = e.what();
        }
        if (dsdeploy_error.empty() || dsdeploy_error.find("vLLM " + release) == std::string::npos) {
            std::cerr << "vllm_judge_bundles: dsdeploy did not refuse " << f->flag << " for vLLM " << v.text
                      << " naming vLLM " << release << " (launch.flag_unsupported): got \"" << dsdeploy_error << "\"\n";
            return 1;
        }
        std::vector<std::string> bad = reference_argv.get<std::vector<std::string>>();
        bad.push_back(f->flag);
        negatives.push_back({{"flag", f->flag}, {"row", flag_row_text(*f)}, {"argv", bad}, {"dsdeploy_error", dsdeploy_error}});
    }
    if (negatives.empty()) {
        std::cerr << "vllm_judge_bundles: the flag table has no option that vLLM " << v.text << " lacks\n";
        return 1;
    }

    const nlohmann::json judge = {{"vllm_version", v.text},
                                  {"bundles", bundles},
                                  {"refused", refused},
                                  {"version_options", used_options},
                                  {"table_options", vllm_options_at(v)},
                                  {"negatives", negatives}};
    std::ofstream(out / "judge.json") << judge.dump(2) << "\n";
    std::cout << "vLLM " << v.text << ": rendered " << bundles.size() << " bundles, dsdeploy refused " << refused.size() << ", "
              << used_options.size() << " release options in extra_args, " << negatives.size() << " negative checks\n";
    return 0;
}
