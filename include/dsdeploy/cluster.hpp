// SPDX-License-Identifier: Apache-2.0
// Nodes, GPUs, roles and addresses, and the rules a cluster must follow.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

enum class node_role { head, worker };
std::string_view to_string(node_role role);

struct node {
    std::string name;          // unique; letters, digits, '.', '_', '-'
    std::string address;       // how the other nodes reach this one: IPv4, IPv6 or hostname
    node_role role = node_role::worker;
    std::string gpu_type;      // GPU catalog name ("L20"); empty for a CPU-only node
    int gpu_count = 0;         // ignored when gpu_ids is set
    std::vector<int> gpu_ids;  // explicit CUDA device ids to use on this node
    std::string ssh;           // SSH target ("user@host" or an ssh_config alias); empty: address
    std::string interface;     // cluster-network interface here; empty: the network profile's

    int gpus() const { return gpu_ids.empty() ? gpu_count : static_cast<int>(gpu_ids.size()); }
    // The device ids to use: gpu_ids, or 0..gpu_count-1.
    std::vector<int> device_ids() const;
};

struct cluster {
    std::vector<node> nodes;

    int total_gpus() const;
    // The index of the head node; throws cluster.head unless there is exactly one.
    std::size_t head_index() const;
    const node& head() const { return nodes[head_index()]; }
};

enum class address_kind { ipv4, ipv6, hostname, invalid };
address_kind classify_address(std::string_view address);
bool is_ip_address(std::string_view address);

// Throws config_error naming the field (e.g. "nodes[1].address") and what would be right.
void validate(const cluster& c);

// The largest number of GPUs a single node may declare.
inline constexpr int max_gpus_per_node = 64;

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/cluster_inl.hpp>
#endif
