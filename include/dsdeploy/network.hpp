// SPDX-License-Identifier: Apache-2.0
// Network profiles (InfiniBand, RoCE, TCP), the NCCL/GLOO environment each implies per node,
// and detection of the fabric from ibv_devinfo output or a /sys/class/infiniband tree.
#pragma once

#include <dsdeploy/cluster.hpp>
#include <dsdeploy/config.hpp>
#include <dsdeploy/error.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

enum class fabric { infiniband, roce, tcp };
std::string_view to_string(fabric f);
// "infiniband"/"ib", "roce", "tcp"/"ethernet"/"socket"; nullopt when unknown.
std::optional<fabric> parse_fabric(std::string_view s);

using env_list = std::vector<std::pair<std::string, std::string>>;

struct network_profile {
    fabric kind = fabric::tcp;
    std::string interface;            // socket interface for NCCL/Gloo bootstrap, e.g. "bond0"
    std::vector<std::string> hcas;    // RDMA devices for NCCL_IB_HCA, e.g. {"mlx5_0", "mlx5_3"}
    std::optional<int> gid_index;     // RoCE v2 GID index (NCCL_IB_GID_INDEX)
    std::optional<int> ib_timeout;    // NCCL_IB_TIMEOUT (4.096 us * 2^value)
    bool nccl_debug = false;          // NCCL_DEBUG=INFO, to confirm NET/IB in the logs
    env_list extra_env;               // added verbatim after the derived variables
};

// Throws config_error naming "network.<field>".
void validate(const network_profile& p);

// The environment for one node: VLLM_HOST_IP (the node's address, which must be an IP),
// NCCL_SOCKET_IFNAME, GLOO_SOCKET_IFNAME, TP_SOCKET_IFNAME, and per fabric NCCL_IB_DISABLE,
// NCCL_IB_HCA, NCCL_IB_GID_INDEX, NCCL_IB_TIMEOUT, UCX_NET_DEVICES; then extra_env.
// `node_field` names the node in errors (e.g. "nodes[1]").
env_list node_environment(const network_profile& p, const node& n, const std::string& node_field = "node");

// The interface the node uses: its own override, else the profile's.
std::string node_interface(const network_profile& p, const node& n);

// --- detection ---------------------------------------------------------------------------

struct rdma_port {
    std::string device;      // "mlx5_0"
    int port = 1;
    std::string state;       // "ACTIVE", "DOWN", "INIT", "ARMED", "ACTIVE_DEFER"
    std::string link_layer;  // "InfiniBand", "Ethernet", "Unknown"
    std::string netdev;      // associated network interface when known ("ens1f0")
    std::optional<int> roce_v2_gid_index;  // lowest GID index of type "RoCE v2", when known
};

struct rdma_report {
    std::vector<rdma_port> ports;
    bool no_devices = false;   // the tool said so ("No IB devices found") or the tree is empty
    bool tool_missing = false; // ibv_devinfo was not installed
};

// Parses `ibv_devinfo` (or `ibv_devinfo -v`) text. Never throws; unknown lines are ignored.
rdma_report parse_ibv_devinfo(std::string_view text);

// Reads /sys/class/infiniband/<dev>/ports/<n>/{state,link_layer,gid_attrs/types/*,gid_attrs/ndevs/*}.
// A missing root means no RDMA devices; an unreadable one throws network.sysfs.
rdma_report read_sysfs_infiniband(const std::filesystem::path& root = "/sys/class/infiniband");

struct detection {
    network_profile profile;
    std::vector<std::string> notes;  // why this profile was chosen
};

// IB when an ACTIVE port has link layer InfiniBand; RoCE when an ACTIVE Ethernet port exists
// (with its RoCE v2 GID index when known); TCP otherwise. Only ACTIVE ports become HCAs.
detection detect_profile(const rdma_report& report, std::string interface);

struct node_detection {
    std::string node;  // node name
    detection found;
};

struct agreement {
    network_profile profile;
    std::vector<std::string> warnings;  // each names the nodes that disagreed and why
};

// The profile every node supports: IB if all have IB, RoCE if all have RoCE, else TCP.
// HCAs are those present on every node; the GID index must be the same everywhere.
agreement agree(const std::vector<node_detection>& nodes);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/network_inl.hpp>
#endif
