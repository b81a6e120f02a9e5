// SPDX-License-Identifier: Apache-2.0
// dsdeploy down: runs every node's stop.sh at once (it stops only what the bundle's scripts
// started; never `ray stop`). Safe to run twice.
#include "cli.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <sstream>

namespace dsdeploy_cli {

command add_down_command(CLI::App& root, options& o) {
    auto a = std::make_shared<deploy_args>();
    CLI::App* app = root.add_subcommand("down", "stop what up started, on every node (safe to run twice)");
    add_deploy_options(app, *a, false);
    app->add_flag("--json", o.json, "print the per-node results as JSON");
    app->footer("Exit status: 0 stopped everywhere, 1 stop.sh failed on a node, 2 invalid input, 3 a node could not be reached.");
    return {app, [a, &o]() {
                deploy_context c = prepare_deployment(load_validated_inventory(o), o, *a, false);
                const auto results = dsdeploy::down(c.d, c.executor());
                int rc = exit_ok;
                nlohmann::json j = nlohmann::json::array();
                for (const auto& r : results) {
                    if (r.unreachable) rc = exit_environment;
                    else if (!r.ok && rc == exit_ok) rc = exit_check_failed;
                    j.push_back({{"node", r.node}, {"ok", r.ok}, {"unreachable", r.unreachable}, {"exit_code", r.exit_code}, {"output", r.output}});
                    if (!o.json) {
                        std::cout << r.node << ": " << (r.ok ? "stopped" : r.unreachable ? "UNREACHABLE" : "FAILED") << "\n";
                        std::string line;
                        std::istringstream in(r.output);
                        while (std::getline(in, line)) std::cout << "    " << line << "\n";
                    }
                }
                if (o.json) std::cout << nlohmann::json{{"nodes", j}, {"exit_code", rc}}.dump(2) << std::endl;
                return rc;
            }};
}

}  // namespace dsdeploy_cli
