// SPDX-License-Identifier: Apache-2.0
// The local record of a deployment: what `up` brought up, where, and how it reached the nodes,
// kept as <state folder>/state.json next to the rendered bundle (<state folder>/bundle), so that
// status, down and logs later use the same folder on the nodes, the same ssh_config and the step
// up was asked to reach. The default state folder is .dsdeploy/<deployment name> under the working
// directory. Reading never throws (no file, or one that is not a JSON object, is an empty
// record); writing replaces the file in one rename and keeps keys this version does not know.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/orchestrate.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

// One node as recorded: its inventory name, its SSH target and its folder on the node.
struct deployed_node {
    std::string name;
    std::string target;
    std::string dir;
};

// state.json. A key that is absent, or not a string, reads as nullopt.
struct deployment_state {
    std::optional<std::string> deployment;  // the inventory's name
    std::optional<std::string> remote_dir;  // the folder on every node
    std::optional<std::string> until;       // what up was asked to reach: preflight, copy, cluster, serve, smoke
    std::optional<std::string> ssh_config;  // the ssh_config file given to ssh -F (absolute); empty: the user's
    std::optional<std::string> bundle;      // the rendered bundle (absolute)
    std::vector<deployed_node> nodes;
    std::map<std::string, std::string> other;  // keys this version does not know, as JSON text; written back unchanged

    // `requested` when not empty, else the recorded folder, else default_remote_dir(inv).
    std::string remote_dir_or(const std::string& requested, const inventory& inv) const;
    // `requested` when not empty, else the recorded ssh_config (empty when none).
    std::string ssh_config_or(const std::string& requested) const;
    // The step up was asked to reach (parse_until), when recorded and valid.
    std::optional<step> recorded_until() const;
};

// ".dsdeploy/<inventory name>", relative to the working directory.
std::filesystem::path default_state_dir(const inventory& inv);
// <state_dir>/bundle: where the rendered bundle is written.
std::filesystem::path state_bundle_dir(const std::filesystem::path& state_dir);
// <state_dir>/state.json.
std::filesystem::path state_file(const std::filesystem::path& state_dir);

// Makes the state folder (and its parents) and leaves it readable by its owner only (0700): the
// bundle in it holds the API key. Throws std::filesystem::filesystem_error.
void make_state_dir(const std::filesystem::path& state_dir);

// <state_dir>/state.json as an earlier up left it; an empty record when there is none or it cannot
// be read. Never throws.
deployment_state read_deployment_state(const std::filesystem::path& state_dir);

// The record of `d` brought up to `until` over `ssh_config` (empty: the user's): its name, the
// folder on the nodes, the bundle and every node's target and folder. Keys of `previous` this
// version does not know are kept.
deployment_state record_deployment(const deployment& d, const std::string& until, const std::string& ssh_config,
                                   const deployment_state& previous = {});

// Writes <state_dir>/state.json (JSON, keys sorted, 2-space indent) through state.json.tmp and a
// rename, making the folder when missing. Throws std::filesystem::filesystem_error.
void write_deployment_state(const std::filesystem::path& state_dir, const deployment_state& s);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/deployment_state_inl.hpp>
#endif
