// SPDX-License-Identifier: Apache-2.0
// dsdeploy up: renders the bundle and brings the deployment up over SSH, step by step
// (preflight, copy, netcheck, Ray head, workers, cluster, serve, /health, smoke), stopping at the first
// failing step with the step, the node, the exit status, the log tail and a diagnosis.
#include "cli.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace dsdeploy_cli {

command add_up_command(CLI::App& root, options& o) {
    struct args {
        deploy_args deploy;
        std::string until = "smoke";
        int health_timeout = 3600;
        int cluster_timeout = 600;
        bool no_port_check = false;
        bool skip_netcheck = false;
        double netcheck_min_link_fraction = 0.25;
    };
    auto a = std::make_shared<args>();
    CLI::App* app = root.add_subcommand("up", "render the bundle and bring the deployment up on every node over SSH");
    add_deploy_options(app, a->deploy, true);
    app->add_option("--until", a->until,
                    "stop after this step: preflight, copy, netcheck (the network proven), cluster (Ray up, no vLLM), serve (/health "
                    "answers), smoke")
        ->capture_default_str()
        ->check(CLI::IsMember({"preflight", "copy", "netcheck", "cluster", "serve", "smoke"}));
    app->add_flag("--skip-netcheck", a->skip_netcheck,
                  "do not run the netcheck step (one all-reduce across every planned rank, on deployments of two nodes or more)");
    app->add_option("--netcheck-min-link-fraction", a->netcheck_min_link_fraction,
                    "netcheck: bus bandwidth below this fraction of the slowest link rate is netcheck.low_bandwidth")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    app->add_option("--health-timeout", a->health_timeout, "seconds to wait for /health (loading the weights can take long)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app->add_option("--cluster-timeout", a->cluster_timeout, "seconds to wait for every node and GPU in the Ray cluster")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app->add_flag("--no-port-check", a->no_port_check, "preflight: do not fail when a port of the bundle is already in use");
    app->add_flag("--json", o.json, "print the report as JSON (progress goes to stderr)");
    app->footer("Exit status: 0 up (to --until), 1 a step failed (step, node, exit status and log tail printed), 2 invalid input, "
                "3 a node could not be reached.");
    return {app, [a, &o]() {
                deploy_context c = prepare_deployment(load_validated_inventory(o), o, a->deploy, true);
                save_state(c, a->until);
                dsdeploy::up_options uo;
                uo.until = *dsdeploy::parse_until(a->until);
                uo.health_timeout = std::chrono::seconds(a->health_timeout);
                uo.cluster_timeout = std::chrono::seconds(a->cluster_timeout);
                uo.check_ports = !a->no_port_check;
                uo.netcheck = !a->skip_netcheck;
                uo.netcheck_min_link_fraction = a->netcheck_min_link_fraction;
                const bool json = o.json;
                uo.progress = [json](const std::string& line) { (json ? std::cerr : std::cout) << "[up] " << line << std::endl; };
                if (!json)
                    std::cout << "[up] deployment " << c.d.inv.name << ": " << c.d.inv.cluster.nodes.size() << " nodes, bundle "
                              << c.d.bundle_dir << ", remote folder " << c.d.remote_dir << std::endl;
                const dsdeploy::up_report r = dsdeploy::up(c.d, c.executor(), uo);
                if (json) {
                    nlohmann::json j = r;
                    j["state_dir"] = c.state_dir.string();
                    j["remote_dir"] = c.d.remote_dir;
                    std::cout << j.dump(2) << std::endl;
                } else {
                    (r.ok() ? std::cout : std::cerr) << "\n" << dsdeploy::to_text(r);
                }
                return r.exit_code();
            }};
}

}  // namespace dsdeploy_cli
