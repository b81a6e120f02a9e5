// SPDX-License-Identifier: Apache-2.0
// dsdeploy netcheck: prove the network before loading the weights. Preflight and copy as `up`
// does them, then one all-reduce across every planned rank from inside the deployment's runtime,
// with vLLM's environment (dsdeploy/netcheck.hpp), and the verdict.
#include "cli.hpp"

#include <dsdeploy/netcheck.hpp>

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace dsdeploy_cli {

command add_netcheck_command(CLI::App& root, options& o) {
    struct args {
        deploy_args deploy;
        std::vector<std::uint64_t> sizes;
        int iterations = 5;
        int join_timeout = 60;
        int port = 0;
        double min_link_fraction = 0.25;
        bool no_port_check = false;
    };
    auto a = std::make_shared<args>();
    CLI::App* app = root.add_subcommand(
        "netcheck", "prove the network before loading the weights: one all-reduce across every planned rank, inside the runtime");
    add_deploy_options(app, a->deploy, true);
    app->add_option("--sizes", a->sizes, "bytes per all-reduce, comma-separated (default 4,1048576,16777216,67108864)")
        ->delimiter(',')
        ->check(CLI::Range(std::uint64_t{4}, std::uint64_t{1} << 34));
    app->add_option("--iterations", a->iterations, "timed all-reduces per size")->capture_default_str()->check(CLI::Range(1, 1000));
    app->add_option("--join-timeout", a->join_timeout, "seconds a rank may take to join before it counts as missing")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600));
    app->add_option("--port", a->port, "rendezvous port on the head (default: ports.master)")->check(CLI::Range(1, 65535));
    app->add_option("--min-link-fraction", a->min_link_fraction,
                    "netcheck.low_bandwidth below this fraction of the slowest link rate the nodes report")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    app->add_flag("--no-port-check", a->no_port_check, "preflight: do not fail when a port of the bundle is already in use");
    app->add_flag("--json", o.json, "print the report as JSON (progress goes to stderr)");
    app->footer("Runs preflight and copy (as `up --until copy`), then the check. Exit status: 0 the network carries the "
                "collective, 1 a finding with severity error (or a failed step), 2 invalid input, 3 a node could not be reached.");
    return {app, [a, &o]() {
                deploy_context c = prepare_deployment(load_validated_inventory(o), o, a->deploy, true);
                save_state(c, "copy");
                const bool json = o.json;
                auto say = [json](const std::string& line) { (json ? std::cerr : std::cout) << "[netcheck] " << line << std::endl; };
                dsdeploy::up_options uo;
                uo.until = dsdeploy::step::copy;
                uo.check_ports = !a->no_port_check;
                uo.progress = say;
                const dsdeploy::up_report up = dsdeploy::up(c.d, c.executor(), uo);
                if (!up.ok()) {
                    if (json) {
                        nlohmann::json j = up;
                        std::cout << j.dump(2) << std::endl;
                    } else {
                        std::cerr << "\n" << dsdeploy::to_text(up);
                    }
                    return up.exit_code();
                }
                dsdeploy::netcheck_options no;
                if (!a->sizes.empty()) no.sizes = a->sizes;
                no.iterations = a->iterations;
                no.join_timeout = std::chrono::seconds(a->join_timeout);
                no.port = a->port;
                no.min_link_fraction = a->min_link_fraction;
                no.progress = say;
                const dsdeploy::netcheck_report r = dsdeploy::run_netcheck(c.d, c.executor(), no);
                if (json) {
                    nlohmann::json j;
                    to_json(j, r);
                    std::cout << j.dump(2) << std::endl;
                } else {
                    std::cout << "\n" << dsdeploy::to_text(r);
                }
                return r.exit_code();
            }};
}

}  // namespace dsdeploy_cli
