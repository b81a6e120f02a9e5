// SPDX-License-Identifier: Apache-2.0
// Writes the bundle of every matrix inventory (tests/bundle/matrix.hpp) under OUT, and beside
// them the lists the checks need: compose files, scripts, every `ray start`/`vllm serve` line,
// and what each hostile compose file must read back as (tests/bundle/check_bundles.sh).
#include "matrix.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <set>

namespace {
// Scripts that differ only in numbers and names are the same template: shellcheck one of each.
std::string template_of(const std::string& text, const std::string& deployment, const std::string& node) {
    std::string t;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text.compare(i, deployment.size(), deployment) == 0) {
            t += "@D";
            i += deployment.size() - 1;
        } else if (text.compare(i, node.size(), node) == 0) {
            t += "@N";
            i += node.size() - 1;
        } else if (text[i] >= '0' && text[i] <= '9') {
            if (t.empty() || t.back() != '#') t += '#';
        } else {
            t += text[i];
        }
    }
    return t;
}
}  // namespace

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    if (argc != 2) {
        std::cerr << "usage: bundle_matrix OUT_DIR\n";
        return 2;
    }
    const fs::path out = fs::absolute(argv[1]);
    fs::remove_all(out);
    fs::create_directories(out);
    // Compose files for vLLM 0.11.0 (whose full flag list the validator has) and for newer vLLM.
    std::ofstream composes(out / "compose-files.txt"), newer(out / "compose-files-newer.txt"), scripts(out / "scripts.txt"),
        lines(out / "command-lines.txt"), unique_scripts(out / "scripts-unique.txt");
    std::set<std::string> templates;
    nlohmann::json expect = nlohmann::json::array();
    // SGLang's own parser judges these (tests/validate/sglang_parser_judge.sh): every node's argv
    // after `python3 -m sglang.launch_server`, the head's with the --api-key its script appends.
    nlohmann::json sglang_cases = nlohmann::json::object(), sglang_hostile = nlohmann::json::object();
    auto cases = dsdeploy_test::matrix_cases();
    for (auto r : {dsdeploy::runtime_kind::docker, dsdeploy::runtime_kind::process}) {
        auto inv = dsdeploy_test::hostile_inventory(r, "/opt/env $(touch PWNED_env)");
        cases.push_back({inv.name, inv});
        // The same values through SGLang's command line (and its sh -c key wrapper in compose).
        inv.name = "sglang-" + inv.name;
        inv.serving.engine = dsdeploy::engine_kind::sglang;
        inv.runtime.sglang_version = "0.5.23";
        cases.push_back({inv.name, inv});
    }
    for (const auto& c : cases) {
        const dsdeploy::plan p = dsdeploy::plan_for(c.inv);
        dsdeploy::bundle_options o;
        o.api_key = "dsd-0123456789abcdef0123456789abcdef";
        o.api_key_source = "test";
        const dsdeploy::bundle b = dsdeploy::render_bundle(c.inv, p, o);
        const auto written = dsdeploy::write_bundle(b, out / c.id);
        for (const auto& f : b.files) {
            const fs::path path = written.root / f.path;
            const bool vllm_0_11_0 = c.inv.serving.engine == dsdeploy::engine_kind::vllm && c.inv.runtime.vllm_version == "0.11.0";
            if (path.extension() == ".yaml") (vllm_0_11_0 ? composes : newer) << path.string() << "\n";
            if (path.extension() == ".sh") {
                scripts << path.string() << "\n";
                const std::string node = f.path.substr(0, f.path.find('/'));
                if (templates.insert(template_of(f.content, c.inv.name, node)).second) unique_scripts << path.string() << "\n";
            }
        }
        nlohmann::json nodes = nlohmann::json::array();
        for (std::size_t i = 0; i < b.launch.nodes.size(); ++i) {
            const auto& n = b.launch.nodes[i];
            // One line per command, newlines escaped so each stays on one line of the list.
            const bool sglang = c.inv.serving.engine == dsdeploy::engine_kind::sglang;  // SGLang's own parser judges those
            if (sglang) {
                std::vector<std::string> words(n.vllm_serve.begin() + 3, n.vllm_serve.end());
                if (i == b.launch.head && b.launch.api_key) words.insert(words.end(), {"--api-key", o.api_key});
                (c.id.find("hostile") != std::string::npos ? sglang_hostile : sglang_cases)[c.id + "/" + n.name] = words;
            }
            for (const auto* argv_ : {&n.ray_start, &n.vllm_serve})
                if (!argv_->empty() && !sglang) {
                    std::string line = dsdeploy::command_line(*argv_);
                    std::string escaped;
                    for (char ch : line) escaped += ch == '\n' ? std::string("\\n") : std::string(1, ch);
                    lines << escaped << "\n";
                }
            nlohmann::json env = nlohmann::json::object();
            for (const auto& [k, v] : n.env) env[k] = v;
            std::vector<std::string> entrypoint =
                dsdeploy::effective_launcher(c.inv).kind == dsdeploy::launcher_kind::ray ? n.ray_start : n.vllm_serve;
            if (sglang && i == b.launch.head && b.launch.api_key)
                entrypoint.insert(entrypoint.begin(), {"sh", "-c", "exec \"$@\" --api-key \"$VLLM_API_KEY\"", "sglang"});
            nodes.push_back({{"compose", (written.root / n.name / "compose.yaml").string()},
                             {"role", std::string(dsdeploy::to_string(n.role))},
                             {"address", n.address},
                             {"entrypoint", entrypoint},
                             {"environment", env}});
        }
        if (c.inv.runtime.kind == dsdeploy::runtime_kind::docker)
            expect.push_back({{"bundle", c.id},
                              {"image", c.inv.runtime.image},
                              {"model_source", dsdeploy::model_path(c.inv)},
                              {"model_target", b.launch.model_path},
                              {"head_ray", b.launch.ray_address},
                              {"launcher", std::string(dsdeploy::to_string(dsdeploy::effective_launcher(c.inv).kind))},
                              {"nodes", nodes}});
    }
    std::ofstream(out / "expect.json") << expect.dump(2) << "\n";
    std::ofstream(out / "sglang-argv.json") << nlohmann::json{{"cases", sglang_cases}}.dump(2) << "\n";
    std::ofstream(out / "sglang-argv-hostile.json") << nlohmann::json{{"cases", sglang_hostile}}.dump(2) << "\n";
    // What dsdeploy's table says SGLang 0.5.23 accepts, and what it says 0.5.23 refuses (each
    // alone after a model path): the parser must agree with both.
    const dsdeploy::engine_version newest = dsdeploy::newest_catalogued_sglang_version();
    std::ofstream options(out / "sglang-options.txt");
    for (const auto& opt : dsdeploy::sglang_options_at(newest)) options << opt << "\n";
    nlohmann::json refused = nlohmann::json::object();
    for (const auto& f : dsdeploy::sglang_flag_table())
        if (f.removed && newest >= *f.removed) refused[f.flag] = {"--model-path", "/m", f.flag};
    std::ofstream(out / "sglang-refused.json") << nlohmann::json{{"cases", refused}}.dump(2) << "\n";
    std::cout << "wrote " << cases.size() << " bundles to " << out.string() << "\n";
    return 0;
}
