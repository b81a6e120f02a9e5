// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/cluster.hpp>
#include <dsdeploy/detail/address.hpp>
#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE std::string_view to_string(node_role role) { return role == node_role::head ? "head" : "worker"; }

DSDEPLOY_INLINE std::vector<int> node::device_ids() const {
    if (!gpu_ids.empty()) return gpu_ids;
    std::vector<int> ids;
    for (int i = 0; i < gpu_count; ++i) ids.push_back(i);
    return ids;
}

DSDEPLOY_INLINE int cluster::total_gpus() const {
    int total = 0;
    for (const auto& n : nodes) total += n.gpus();
    return total;
}

DSDEPLOY_INLINE std::size_t cluster::head_index() const {
    std::vector<std::size_t> heads;
    for (std::size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].role == node_role::head) heads.push_back(i);
    if (heads.size() == 1) return heads.front();
    if (heads.empty())
        raise(errc::cluster_head, "nodes", "no node has role \"head\"; mark exactly one node (the one that runs the Ray head and the API server) as head");
    raise(errc::cluster_head, "nodes[" + std::to_string(heads[1]) + "].role",
          "nodes[" + std::to_string(heads[0]) + "] is already the head; exactly one node may have role \"head\", the others \"worker\"");
}

namespace detail {
inline bool is_hostname(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    if (s.back() == '.') s.remove_suffix(1);
    bool all_numeric_last = true;
    for (auto label : split(s, '.')) {
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        all_numeric_last = true;
        for (unsigned char c : label) {
            if (!std::isalnum(c) && c != '-') return false;
            if (!std::isdigit(c)) all_numeric_last = false;
        }
    }
    return !all_numeric_last;  // "10.0.0.300" is a broken IPv4 address, not a hostname
}

// Dotted-quad IPv4 with a leading zero in a part ("010.0.0.1"): inet_aton, ping and ssh read
// such a part as octal (8.0.0.1), inet_pton and Python's ipaddress refuse it, others read it
// as decimal. Returns the decimal reading without the zeros ("10.0.0.1"), or "" when `s` is not
// of that form (or a part is over 255 either way).
inline std::string ipv4_without_leading_zeros(std::string_view s) {
    const auto parts = split(s, '.');
    if (parts.size() != 4) return {};
    bool zero_led = false;
    std::string out;
    for (auto part : parts) {
        if (part.empty() || part.size() > 3 ||
            !std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); }))
            return {};
        if (part.size() > 1 && part.front() == '0') zero_led = true;
        const int v = std::stoi(std::string(part));
        if (v > 255) return {};
        if (!out.empty()) out += '.';
        out += std::to_string(v);
    }
    return zero_led ? out : std::string();
}


}  // namespace detail

DSDEPLOY_INLINE address_kind classify_address(std::string_view address) {
    std::string a(address);
    unsigned char buf[16];
    if (inet_pton(AF_INET, a.c_str(), buf) == 1) return address_kind::ipv4;
    if (a.size() > 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
    if (inet_pton(AF_INET6, a.c_str(), buf) == 1) return address_kind::ipv6;
    if (detail::is_hostname(address)) return address_kind::hostname;
    return address_kind::invalid;
}

DSDEPLOY_INLINE bool is_ip_address(std::string_view address) {
    auto k = classify_address(address);
    return k == address_kind::ipv4 || k == address_kind::ipv6;
}

DSDEPLOY_INLINE void validate(const cluster& c) {
    using detail::quoted;
    if (c.nodes.empty()) raise(errc::cluster_empty, "nodes", "the cluster has no nodes; declare at least the head node");
    std::map<std::string, std::size_t> names, addresses;  // first node of each name and parsed address (1,000 nodes: no n^2)
    for (std::size_t i = 0; i < c.nodes.size(); ++i) {
        const node& n = c.nodes[i];
        const std::string at = "nodes[" + std::to_string(i) + "]";
        if (!detail::is_valid_node_name(n.name))
            raise(errc::cluster_name, at + ".name",
                  detail::quoted(n.name) + " is not a valid node name; use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. \"gpu-a\")");
        if (const auto [it, fresh] = names.emplace(n.name, i); !fresh)
            raise(errc::cluster_duplicate_name, at + ".name",
                  detail::quoted(n.name) + " is already the name of nodes[" + std::to_string(it->second) + "]; every node needs its own name");
        if (const std::string decimal = detail::ipv4_without_leading_zeros(n.address); !decimal.empty())
            raise(errc::cluster_address, at + ".address",
                  detail::quoted(n.address) + " is ambiguous: a part with a leading zero is octal to inet_aton, ping and ssh and " +
                      "refused by inet_pton and Python's ipaddress; write the address without leading zeros (e.g. " +
                      detail::quoted(decimal) + ")");
        if (classify_address(n.address) == address_kind::invalid)
            raise(errc::cluster_address, at + ".address",
                  detail::quoted(n.address) + " is not an IPv4 address, IPv6 address or hostname (e.g. \"10.0.0.2\")");
        if (const auto [it, fresh] = addresses.emplace(detail::address_key(n.address), i); !fresh) {
            const node& other = c.nodes[it->second];
            raise(errc::cluster_duplicate_address, at + ".address",
                  detail::quoted(n.address) + " is already the address of nodes[" + std::to_string(it->second) + "] (" + other.name +
                      (other.address == n.address ? std::string() : ", written " + detail::quoted(other.address)) +
                      "); every node needs its own address on the cluster network");
        }
        if (n.gpu_count < 0 || n.gpu_count > max_gpus_per_node)
            raise(errc::cluster_gpu_count, at + ".gpu_count",
                  std::to_string(n.gpu_count) + " is not a GPU count; use 0 (CPU only) to " + std::to_string(max_gpus_per_node));
        if (!n.gpu_ids.empty()) {
            if (n.gpu_count != 0 && n.gpu_count != static_cast<int>(n.gpu_ids.size()))
                raise(errc::cluster_gpu_count, at + ".gpu_count",
                      std::to_string(n.gpu_count) + " disagrees with the " + std::to_string(n.gpu_ids.size()) +
                          " device ids in gpu_ids; give one of them, or make them agree");
            if (static_cast<int>(n.gpu_ids.size()) > max_gpus_per_node)
                raise(errc::cluster_gpu_count, at + ".gpu_ids", "more than " + std::to_string(max_gpus_per_node) + " device ids");
            std::set<int> seen;
            for (std::size_t k = 0; k < n.gpu_ids.size(); ++k) {
                int id = n.gpu_ids[k];
                const std::string f = at + ".gpu_ids[" + std::to_string(k) + "]";
                if (id < 0 || id >= max_gpus_per_node)
                    raise(errc::cluster_gpu_ids, f, std::to_string(id) + " is not a CUDA device id; use 0.." + std::to_string(max_gpus_per_node - 1));
                if (!seen.insert(id).second)
                    raise(errc::cluster_gpu_ids, f, "device " + std::to_string(id) + " is listed twice; list each device once");
            }
        }
        if (n.gpus() > 0 && detail::trim(n.gpu_type).empty())
            raise(errc::cluster_gpu_count, at + ".gpu_type",
                  "the node has " + std::to_string(n.gpus()) + " GPUs but no gpu_type; name the GPU model (e.g. \"L20\", \"H100-SXM\")");
        if (!n.ssh.empty()) {
            bool bad = n.ssh.front() == '-' ||
                       std::any_of(n.ssh.begin(), n.ssh.end(), [](unsigned char ch) { return std::isspace(ch) || std::iscntrl(ch); });
            if (bad)
                raise(errc::cluster_ssh, at + ".ssh",
                      detail::quoted(n.ssh) + " is not an SSH target; use \"user@host\", \"host\" or an ssh_config alias, without spaces and not starting with '-'");
        }
        if (!n.interface.empty() && !detail::is_valid_interface_name(n.interface))
            raise(errc::cluster_interface, at + ".interface",
                  detail::quoted(n.interface) + " is not a Linux interface name; use 1-15 characters without '/', ':' or spaces (e.g. \"bond0\")");
    }
    (void)c.head_index();
}

DSDEPLOY_NAMESPACE_END
