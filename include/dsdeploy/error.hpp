// SPDX-License-Identifier: Apache-2.0
// One exception root with stable error ids.
//
// Every error dsdeploy throws derives from dsdeploy::error and carries an errc whose id
// (for example "cluster.duplicate_name") never changes between releases. what() reads
//   [dsdeploy.<id>] <field path>: <what is wrong and what would be right>
// config_error means the input was wrong (inventory, arguments, plan); environment_error
// means the world was (a tool failed, a node is unreachable, a file cannot be written).
#pragma once

#include <dsdeploy/config.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

enum class error_kind { config, environment };

// Numbered by room so that rooms can grow without renumbering the others.
enum class errc : int {
    // cluster.hpp
    cluster_empty = 100,
    cluster_head,
    cluster_name,
    cluster_duplicate_name,
    cluster_address,
    cluster_duplicate_address,
    cluster_gpu_count,
    cluster_gpu_ids,
    cluster_ssh,
    cluster_interface,
    // gpu.hpp
    gpu_unknown = 200,
    gpu_mixed,
    // network.hpp
    network_interface = 300,
    network_hca,
    network_gid_index,
    network_ib_timeout,
    network_env_name,
    network_env_reserved,
    network_host_ip,
    network_sysfs,
    // model.hpp
    model_unknown = 400,
    model_config_unreadable,
    model_config_field,
    model_unsupported,
    // plan.hpp
    plan_value = 500,
    plan_world_size,
    plan_tp_cross_node,
    plan_tp_heads,
    plan_pp_layers,
    plan_pp_partition,
    plan_fp8_unsupported,
    plan_expert_parallel,
    // inventory.hpp
    inventory_unreadable = 600,
    inventory_syntax,
    inventory_field,
    inventory_unknown_key,
    inventory_ports,
    // compose.hpp, launch.hpp, bundle.hpp
    launch_flag_unsupported = 700,
    launch_version,
    bundle_write = 750,
    bundle_exists,
    // openai.hpp
    client_connection = 800,
    client_timeout,
    client_status,
    client_decode,
    client_stream,
    client_config,
    // bench.hpp
    bench_config = 900,
    bench_write,
    // diagnose.hpp
    diagnose_input = 1000,
    diagnose_expectations,
    // orchestrate.hpp
    orchestrate_step = 1100,
    orchestrate_ssh,
    orchestrate_timeout,
    // command-line programs
    cli_usage = 1200,
};

struct errc_info {
    errc code;
    const char* id;       // stable, dotted: "<room>.<name>"
    error_kind kind;
    const char* summary;  // one line for the table in docs/errors.md
};

// Every errc with its id; the error table of docs/errors.md is checked against this list
// (error_ids_test).
const std::vector<errc_info>& all_errors();
const errc_info& info(errc code);
std::string_view to_id(errc code);

class error : public std::runtime_error {
public:
    error(errc code, std::string field, std::string detail);

    errc code() const noexcept { return code_; }
    std::string_view id() const noexcept { return to_id(code_); }
    // Path of the offending input, e.g. "nodes[1].address"; empty when none applies.
    const std::string& field() const noexcept { return field_; }
    // The message without the "[dsdeploy.<id>] field: " prefix.
    const std::string& detail() const noexcept { return detail_; }

private:
    errc code_;
    std::string field_;
    std::string detail_;
};

// The input was wrong: fix the inventory, the arguments or the plan.
class config_error : public error {
public:
    using error::error;
};

// The environment was wrong: a tool failed, a host was unreachable, a write failed.
class environment_error : public error {
public:
    using error::error;
};

// Throws config_error or environment_error according to the errc's kind.
[[noreturn]] void raise(errc code, std::string field, std::string detail);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/error_inl.hpp>
#endif
