// SPDX-License-Identifier: Apache-2.0
// What up, status, down and logs share: the options that reach the nodes (SSH config, host-key
// policy, the folder on the nodes), the local state folder (the rendered bundle and a record
// of where it went: dsdeploy/deployment_state.hpp), and the executor.
#include "cli.hpp"

namespace dsdeploy_cli {

namespace fs = std::filesystem;

void add_deploy_options(CLI::App* app, deploy_args& a, bool for_up) {
    app->add_option("--ssh-config", a.ssh_config, "ssh_config file for every ssh call (ssh -F); default: the user's ~/.ssh/config");
    app->add_option("--host-key-policy", a.host_key_policy,
                    "unknown host keys: strict (refuse; the default) or accept-new (record them on first contact)")
        ->check(CLI::IsMember({"strict", "accept-new"}));
    app->add_option("--remote-dir", a.remote_dir,
                    for_up ? "folder on every node for the bundle (default: ~/.dsdeploy/<deployment name>)"
                           : "folder on every node (default: what up recorded, else ~/.dsdeploy/<deployment name>)");
    app->add_option("--state-dir", a.state_dir, "local folder for the rendered bundle and the record of the remote folder (default: .dsdeploy/<name>)");
    app->add_option("--connect-timeout", a.connect_timeout, "SSH ConnectTimeout in seconds")->capture_default_str()->check(CLI::PositiveNumber);
    app->add_flag("--local", a.local, "run every node's commands on this machine instead of over SSH (single-host or testing)");
}

deploy_context prepare_deployment(const dsdeploy::validated_inventory& v, const options& o, const deploy_args& a, bool write) {
    deploy_context c;
    c.d.inv = v.inv();
    const auto& inv = c.d.inv;
    c.state_dir = a.state_dir.empty() ? dsdeploy::default_state_dir(inv) : fs::path(a.state_dir);
    const fs::path bundle_dir = dsdeploy::state_bundle_dir(c.state_dir);
    c.state = dsdeploy::read_deployment_state(c.state_dir);
    dsdeploy::bundle_options bo;
    bo.inventory_file = o.inventory_path;
    bo.api_key = v.located([&] { return dsdeploy::resolve_api_key(inv, bundle_dir, &bo.api_key_source); });
    c.d.bundle = dsdeploy::render_bundle(v, bo);
    c.d.api_key = bo.api_key;
    if (write) {
        dsdeploy::make_state_dir(c.state_dir);
        dsdeploy::write_bundle(c.d.bundle, bundle_dir);
    }
    c.d.bundle_dir = fs::absolute(bundle_dir).string();
    c.d.remote_dir = c.state.remote_dir_or(a.remote_dir, inv);

    const std::string ssh_config = c.state.ssh_config_or(a.ssh_config);
    dsdeploy::ssh_options so;
    if (!ssh_config.empty()) so.config_file = fs::absolute(ssh_config).string();
    so.host_keys = *dsdeploy::parse_host_key_policy(a.host_key_policy);
    so.connect_timeout = std::chrono::seconds(a.connect_timeout);
    c.ssh_config = so.config_file;
    if (!a.local) c.ssh = std::make_unique<dsdeploy::ssh_executor>(so);
    return c;
}

dsdeploy::executor_fn deploy_context::executor() {
    if (ssh) return dsdeploy::erase_executor(*ssh);
    return dsdeploy::erase_executor(local);
}

void save_state(const deploy_context& c, const std::string& until) {
    dsdeploy::write_deployment_state(c.state_dir, dsdeploy::record_deployment(c.d, until, c.ssh_config, c.state));
}

}  // namespace dsdeploy_cli
