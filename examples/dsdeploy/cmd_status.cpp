// SPDX-License-Identifier: Apache-2.0
// dsdeploy status: per node, whether the bundle's processes are alive; the Ray cluster's
// nodes, GPUs and CPUs; /health and vLLM's key metrics; the head's vLLM memory lines beside the plan.
// --timeline: every node's vLLM log merged into one stage track per rank, and the rank that is
// stuck, stopped or gone named first (dsdeploy/timeline.hpp, docs/timeline.md).
#include "cli.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace dsdeploy_cli {

command add_status_command(CLI::App& root, options& o) {
    auto a = std::make_shared<deploy_args>();
    struct timeline_args {
        bool on = false;
        int stuck_after = 180;
    };
    auto t = std::make_shared<timeline_args>();
    CLI::App* app = root.add_subcommand("status", "show whether every node's processes, the Ray cluster and the API are up");
    add_deploy_options(app, *a, false);
    app->add_flag("--json", o.json, "print the status as JSON");
    app->add_flag("--timeline", t->on,
                  "per rank, the start-up stages from every node's vLLM log (process start, distributed init, weight loading, compile, "
                  "KV cache, API ready, first request), and the rank that is stuck, stopped or gone, first");
    app->add_option("--stuck-after", t->stuck_after,
                    "with --timeline: seconds of silence after which a rank behind the others (or every rank) is stuck")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app->footer("Exit status: 0 everything up (--timeline: nothing stuck), 1 something is down (--timeline: a rank stuck, stopped or gone), "
                "2 invalid input, 3 a node could not be reached.");
    return {app, [a, t, &o]() {
                deploy_context c = prepare_deployment(load_validated_inventory(o), o, *a, false);
                dsdeploy::status_options so;
                if (auto u = c.state.recorded_until()) so.until = *u;
                const auto s = dsdeploy::status(c.d, c.executor(), so);
                if (t->on) {
                    dsdeploy::timeline_options to;
                    to.stuck_after = std::chrono::seconds(t->stuck_after);
                    const auto r = dsdeploy::timeline(c.d, c.executor(), s, to);
                    if (o.json) {
                        nlohmann::json j = r;
                        j["status"] = s;
                        std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
                    } else {
                        std::cout << dsdeploy::to_text(r);
                        if (!s.problems.empty()) {
                            std::cout << "status:\n";
                            for (const auto& p : s.problems) std::cout << "  - " << p << "\n";
                        }
                    }
                    return r.exit_code() == 3 || s.exit_code() == 3 ? 3 : r.exit_code();
                }
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
