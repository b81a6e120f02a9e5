// SPDX-License-Identifier: Apache-2.0
// dsdeploy status: per node, whether the bundle's processes are alive; the Ray cluster's
// nodes, GPUs and CPUs; /health and vLLM's key metrics; the head's vLLM memory lines beside the plan.
#include "cli.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace dsdeploy_cli {

command add_status_command(CLI::App& root, options& o) {
    auto a = std::make_shared<deploy_args>();
    CLI::App* app = root.add_subcommand("status", "show whether every node's processes, the Ray cluster and the API are up");
    add_deploy_options(app, *a, false);
    app->add_flag("--json", o.json, "print the status as JSON");
    app->footer("Exit status: 0 everything up, 1 something is down (named), 2 invalid input, 3 a node could not be reached.");
    return {app, [a, &o]() {
                deploy_context c = prepare_deployment(load_validated_inventory(o), o, *a, false);
                dsdeploy::status_options so;
                if (auto u = c.state.recorded_until()) so.until = *u;
                const auto s = dsdeploy::status(c.d, c.executor(), so);
                if (o.json) {
                    nlohmann::json j = s;
                    std::cout << j.dump(2) << std::endl;
                } else {
                    std::cout << dsdeploy::to_text(s);
                }
                return s.exit_code();
            }};
}

}  // namespace dsdeploy_cli
