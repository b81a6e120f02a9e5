// SPDX-License-Identifier: Apache-2.0
// dsdeploy render: plans the inventory and writes the deployment bundle (compose files,
// .env files, scripts, operator README) for every node; --dry-run lists what it would write.
#include "cli.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace dsdeploy_cli {

command add_render_command(CLI::App& root, options& o) {
    struct args {
        std::string out;
        bool dry_run = false;
    };
    auto a = std::make_shared<args>();
    CLI::App* app = root.add_subcommand("render", "plan the inventory and write every node's files (compose, .env, scripts, README)");
    app->add_option("-o,--out", a->out, "bundle folder: created, or replaced if it is an earlier bundle")->required();
    app->add_flag("--dry-run", a->dry_run, "print what would be written, write nothing");
    app->add_flag("--json", o.json, "print the plan and the bundle summary as JSON");
    app->footer("Exit status: 0 written and the model fits, 1 written but the plan does not fit, 2 invalid input "
                "(nothing written), 3 environment failure.");
    return {app, [a, &o]() {
                const dsdeploy::validated_inventory v = load_validated_inventory(o);
                const dsdeploy::plan& p = v.plan();
                dsdeploy::bundle_options bo;
                bo.inventory_file = o.inventory_path;
                bo.api_key = v.located([&] { return dsdeploy::resolve_api_key(v.inv(), a->out, &bo.api_key_source); });
                const dsdeploy::bundle b = dsdeploy::render_bundle(v, bo);

                dsdeploy::write_result written;
                if (!a->dry_run) written = dsdeploy::write_bundle(b, a->out);
                const int rc = p.fits() ? exit_ok : exit_check_failed;
                if (o.json) {
                    nlohmann::json j = {{"plan", p}, {"bundle", b}, {"written", !a->dry_run}};
                    j["out"] = a->dry_run ? a->out : written.root.string();
                    std::cout << j.dump(2) << "\n";
                    return rc;
                }
                std::cout << dsdeploy::to_text(p);
                if (!p.fits())
                    std::cout << "\n*** The plan DOES NOT FIT as written: the bundle is rendered anyway, but vLLM would fail after loading the "
                                 "weights. Pick one of the options above, change the inventory and render again. ***\n";
                if (!b.warnings.empty()) {
                    std::cout << "\nWarnings:\n";
                    for (const auto& w : b.warnings) std::cout << "  - " << w << "\n";
                }
                std::cout << "\nAPI key: " << (bo.api_key.empty() ? std::string("none") : bo.api_key_source) << "\n\n";
                if (a->dry_run) std::cout << dsdeploy::describe(b, a->out) << "(dry run: nothing written)\n";
                else std::cout << (written.replaced ? "Replaced the earlier bundle. " : "") << dsdeploy::next_steps(b, written.root);
                return rc;
            }};
}

}  // namespace dsdeploy_cli
