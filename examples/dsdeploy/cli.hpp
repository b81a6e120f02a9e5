// SPDX-License-Identifier: Apache-2.0
// Shared plumbing of the dsdeploy command-line tool: exit codes, error reporting, inventory.
#pragma once

#include <dsdeploy/dsdeploy.hpp>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace dsdeploy_cli {

// Exit codes, the same for every command.
enum exit_code : int {
    exit_ok = 0,           // done; the check passed
    exit_check_failed = 1, // done, and the answer is "no" (does not fit, findings, a failed step)
    exit_usage = 2,        // the command line or the inventory is wrong
    exit_environment = 3,  // the environment failed (I/O, network, a tool)
};

struct options {
    std::string inventory_path;  // empty: the built-in default
    bool json = false;
};

// The inventory named on the command line (TOML or JSON), or the built-in default, with `adjust`
// (command-line overrides) applied, through the one gate: every check render applies, errors as
// "file:line: field" (config_error, exit 2). Every command that reads an inventory (plan, render,
// up, netcheck, status, down, logs, chat, doctor) takes only this: there is no unvalidated read.
dsdeploy::validated_inventory load_validated_inventory(const options& o,
                                                       const std::function<void(dsdeploy::inventory&)>& adjust = {});

// A command registers its subcommand and returns the function that runs it.
using command_runner = std::function<int()>;
struct command {
    CLI::App* app;
    command_runner run;
};

command add_plan_command(CLI::App& root, options& o);
command add_chat_command(CLI::App& root, options& o);
command add_init_command(CLI::App& root, options& o);
command add_render_command(CLI::App& root, options& o);
command add_doctor_command(CLI::App& root, options& o);
command add_up_command(CLI::App& root, options& o);
command add_status_command(CLI::App& root, options& o);
command add_down_command(CLI::App& root, options& o);
command add_logs_command(CLI::App& root, options& o);
command add_netcheck_command(CLI::App& root, options& o);

// up, status, down, logs: how the nodes are reached and where the state lives.
struct deploy_args {
    std::string ssh_config;
    std::string host_key_policy = "strict";
    std::string remote_dir;
    std::string state_dir;
    int connect_timeout = 10;
    bool local = false;
};
void add_deploy_options(CLI::App* app, deploy_args& a, bool for_up);

struct deploy_context {
    dsdeploy::deployment d;
    std::filesystem::path state_dir;   // .dsdeploy/<name>: bundle/ and state.json
    dsdeploy::deployment_state state;  // state.json as up left it (empty when none)
    std::string ssh_config;
    std::unique_ptr<dsdeploy::ssh_executor> ssh;  // null with --local
    dsdeploy::local_executor local;
    dsdeploy::executor_fn executor();
};
// Loads the state, renders the validated inventory's bundle (and writes it to <state>/bundle when
// `write`), resolves the remote folder and builds the executor.
deploy_context prepare_deployment(const dsdeploy::validated_inventory& v, const options& o, const deploy_args& a, bool write);
// Records the remote folder, targets and ssh config in <state>/state.json for status/down/logs.
void save_state(const deploy_context& c, const std::string& until);
command add_bench_command(CLI::App& root, options& o);

// `model` when given, else the first model the server lists (environment_error client.decode
// when it lists none): chat and bench talk to whatever one model a vLLM serves.
std::string model_or_first_served(dsdeploy::openai::client& c, const std::string& model);

}  // namespace dsdeploy_cli
