// SPDX-License-Identifier: Apache-2.0
// dsdeploy: plan, render and bring up multi-node vLLM serving from one inventory.
#include "cli.hpp"

#include <fmt/format.h>

#include <iostream>
#include <vector>

namespace dsdeploy_cli {
namespace {
dsdeploy::loaded_inventory read_inventory(const options& o) {
    if (o.inventory_path.empty()) {
        dsdeploy::loaded_inventory l;
        l.inv = dsdeploy::default_inventory();
        l.source.file = "the built-in default inventory";
        return l;
    }
    return dsdeploy::load_inventory_file(o.inventory_path);  // .toml, .json, or by content
}
}  // namespace


dsdeploy::validated_inventory load_validated_inventory(const options& o, const std::function<void(dsdeploy::inventory&)>& adjust) {
    dsdeploy::loaded_inventory loaded = read_inventory(o);
    if (adjust) adjust(loaded.inv);
    return dsdeploy::validate_inventory(std::move(loaded));
}

std::string model_or_first_served(dsdeploy::openai::client& c, const std::string& model) {
    if (!model.empty()) return model;
    const auto models = c.models();
    if (models.data.empty())
        throw dsdeploy::environment_error(dsdeploy::errc::client_decode, "models",
                                          "the server at " + c.url().to_string() + " lists no model");
    return models.data.front().id;
}
}  // namespace dsdeploy_cli

int main(int argc, char** argv) {
    using namespace dsdeploy_cli;
    CLI::App app{"dsdeploy " DSDEPLOY_VERSION ": plan, render and bring up multi-node LLM serving (vLLM + Ray) from one inventory"};
    app.require_subcommand(1);
    app.fallthrough();  // --inventory may also come after the command
    app.set_version_flag("--version", DSDEPLOY_VERSION);
    options opts;
    app.add_option("-i,--inventory", opts.inventory_path, "inventory file (TOML or JSON); default: the built-in two-node DeepSeek-V3 example");
    std::vector<command> commands = {add_init_command(app, opts), add_plan_command(app, opts), add_render_command(app, opts),
                                     add_chat_command(app, opts), add_doctor_command(app, opts),
                                     add_netcheck_command(app, opts), add_up_command(app, opts), add_status_command(app, opts), add_down_command(app, opts),
                                     add_logs_command(app, opts), add_bench_command(app, opts)};
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? exit_ok : exit_usage;
    }
    try {
        for (auto& c : commands)
            if (c.app->parsed()) return c.run();
    } catch (const dsdeploy::config_error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return exit_usage;
    } catch (const dsdeploy::error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return exit_environment;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return exit_environment;
    }
    return exit_usage;
}
