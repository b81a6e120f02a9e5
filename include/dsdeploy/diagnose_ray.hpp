// SPDX-License-Identifier: Apache-2.0
// Ray evidence for the diagnosis: parsers for `ray status` (old "Usage:" and newer "Total
// Usage:" layouts, `-v` per-node sections, pending demands and failures) and `ray list nodes`
// (table or yaml). They take any text and never throw; the Ray rule set that judges these reports
// (node and GPU counts, pending demands, node IPs) is impl/diagnose_ray_rules_inl.hpp, run by
// diagnose() (diagnose.hpp).
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/log_line.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

struct ray_resource {
    std::string name;   // "CPU", "GPU", "memory", "accelerator_type:P100"
    double used = 0;    // bytes for memory-like resources, else the count Ray prints
    double total = 0;
};

struct ray_node_group {
    int count = 1;
    std::string name;  // "node_<id>" (Ray >= 2.x) or a node type ("ray.worker.default")
    std::string line;
};

struct ray_node_usage {
    std::string name;  // as printed after "Node:" (an id, or an IP in older versions)
    std::string ip;    // set when the name (or its label) is an IP address
    std::vector<ray_resource> resources;
};

struct ray_status {
    bool recognised = false;     // the text is `ray status` output
    std::string layout;          // "usage" (old "Usage:"/"Demands:") or "total_usage"
    std::vector<ray_node_group> active;    // "Active:" (or "Healthy:") nodes
    std::vector<ray_node_group> idle;      // "Idle:" nodes (Ray >= 2.8)
    std::vector<log_line> pending_nodes;   // "Pending:" entries
    std::vector<log_line> recent_failures; // "Recent failures:" entries
    std::vector<ray_resource> resources;   // cluster totals
    std::optional<log_line> usage_header;  // the "Usage:"/"Total Usage:" line
    std::vector<log_line> resource_lines;  // one per resource, same order as `resources`
    std::vector<log_line> pending_demands; // demands other than "(no resource demands)"
    std::vector<ray_node_usage> nodes;     // `ray status -v` per-node sections
    std::optional<log_line> connection_error;  // no cluster could be reached

    // Nodes in Active plus Idle (each entry counts its number).
    int node_count() const;
    const ray_resource* resource(std::string_view name) const;
};
ray_status parse_ray_status(std::string_view text);

struct ray_node_row {
    std::string node_id;
    std::string node_ip;
    std::string state;    // "ALIVE", "DEAD"
    bool is_head = false;
    std::optional<double> gpus;  // GPU in RESOURCES_TOTAL
    std::string line;
};
// `ray list nodes` (table or yaml): one row per node.
std::vector<ray_node_row> parse_ray_list_nodes(std::string_view text);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/diagnose_ray_inl.hpp>
#endif
