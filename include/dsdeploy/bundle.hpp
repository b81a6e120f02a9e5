// SPDX-License-Identifier: Apache-2.0
// The deployment bundle: every file every node needs (compose.yaml, .env, start/stop/wait/
// serve/smoke scripts), an operator README, the inventory and the plan, rendered by a pure
// function; and the one writer that touches disk: a temporary folder beside the target, then
// a rename, secrets with mode 0600, an invalid inventory never touching the output.
#pragma once

#include <dsdeploy/compose.hpp>
#include <dsdeploy/config.hpp>
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/launch.hpp>
#include <dsdeploy/plan.hpp>

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

struct bundle_file {
    std::string path;      // relative to the bundle root: "node1/compose.yaml"
    std::string content;
    unsigned mode = 0644;  // 0755 for scripts, 0600 for .env files
    bool secret = false;   // holds the API key: never printed
};

struct bundle_options {
    std::string api_key;          // required when api.auth is true (resolve_api_key finds or makes one)
    std::string api_key_source;   // for the README: "generated", "inventory", "$DSDEPLOY_API_KEY", ...
    std::string inventory_file;   // for the README; empty: the built-in default
};

struct bundle {
    std::string name;                // the deployment
    dsdeploy::plan plan;
    launch_plan launch;
    std::vector<bundle_file> files;
    std::vector<std::string> warnings;

    const bundle_file* find(std::string_view path) const;
};

// Renders every file; no I/O. Throws what make_launch throws, and inventory.field (api.key)
// when api.auth is set but no key was given.
bundle render_bundle(const inventory& inv, const plan& p, const bundle_options& o = {});

// 24 random bytes from /dev/urandom as "dsd-" + 48 hex digits.
std::string generate_api_key();

// The key the bundle will use: api.key; else $api.key_env; else the VLLM_API_KEY already in
// <out>/<head>/.env (so re-rendering keeps clients working); else a new one. Empty when
// api.auth is false. `source` says which.
std::string resolve_api_key(const inventory& inv, const std::filesystem::path& out, std::string* source = nullptr);

struct write_result {
    std::filesystem::path root;   // absolute
    bool replaced = false;        // an earlier bundle was replaced
    std::size_t files = 0;
};

// Writes the bundle to `out` atomically: everything goes to a temporary folder beside it, then
// one rename (an exchange when an earlier bundle is there). `out` may be missing, empty, or an
// earlier bundle (its nodes' run/, logs/ and ray/ state folders are carried over); anything else
// is bundle.exists and nothing is touched. I/O failures are bundle.write.
write_result write_bundle(const bundle& b, const std::filesystem::path& out);

// What write_bundle would write: one line per file (mode, size, path); secrets are not shown.
std::string describe(const bundle& b, const std::filesystem::path& out);
// What to run on each node, for people.
std::string next_steps(const bundle& b, const std::filesystem::path& out);
// A summary for machines: files (path, mode, bytes), nodes, commands, warnings, the plan's verdict.
void to_json(nlohmann::json& j, const bundle& b);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/bundle_inl.hpp>
#endif
