// SPDX-License-Identifier: Apache-2.0
// dsdeploy logs: the last lines of every node's logs (Ray, vLLM), node by node.
#include "cli.hpp"

#include <iostream>
#include <memory>

namespace dsdeploy_cli {

command add_logs_command(CLI::App& root, options& o) {
    struct args {
        deploy_args deploy;
        std::string node;
        int lines = 50;
    };
    auto a = std::make_shared<args>();
    CLI::App* app = root.add_subcommand("logs", "print the last lines of each node's logs");
    add_deploy_options(app, a->deploy, false);
    app->add_option("--node", a->node, "only this node (its inventory name)");
    app->add_option("--lines", a->lines, "lines per log file")->capture_default_str()->check(CLI::PositiveNumber);
    app->footer("Exit status: 0 printed, 1 a node's logs could not be read, 2 invalid input, 3 a node could not be reached.");
    return {app, [a, &o]() {
                deploy_context c = prepare_deployment(load_validated_inventory(o), o, a->deploy, false);
                const auto results = dsdeploy::logs(c.d, c.executor(), a->lines, a->node);
                int rc = exit_ok;
                for (const auto& r : results) {
                    std::cout << "===== " << r.node << " =====\n" << r.output;
                    if (!r.output.empty() && r.output.back() != '\n') std::cout << "\n";
                    if (r.unreachable) rc = exit_environment;
                    else if (!r.ok && rc == exit_ok) rc = exit_check_failed;
                }
                return rc;
            }};
}

}  // namespace dsdeploy_cli
