// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/network.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <system_error>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE std::string_view to_string(fabric f) {
    switch (f) {
        case fabric::infiniband: return "infiniband";
        case fabric::roce: return "roce";
        case fabric::tcp: return "tcp";
    }
    return "tcp";
}

DSDEPLOY_INLINE std::optional<fabric> parse_fabric(std::string_view s) {
    const std::string k = detail::to_lower(detail::trim(s));
    if (k == "infiniband" || k == "ib") return fabric::infiniband;
    if (k == "roce" || k == "rocev2" || k == "roce_v2") return fabric::roce;
    if (k == "tcp" || k == "ethernet" || k == "socket") return fabric::tcp;
    return std::nullopt;
}

namespace detail {
inline bool is_valid_hca(std::string_view s) {
    auto colon = s.find(':');
    auto dev = s.substr(0, colon);
    if (dev.empty() || dev.size() > 63) return false;
    if (!std::all_of(dev.begin(), dev.end(), [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; })) return false;
    if (colon == std::string_view::npos) return true;
    auto port = s.substr(colon + 1);
    return !port.empty() && port.size() <= 3 && std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); });
}


}  // namespace detail

DSDEPLOY_INLINE void validate(const network_profile& p) {
    if (!p.interface.empty() && !detail::is_valid_interface_name(p.interface))
        raise(errc::network_interface, "network.interface",
              "\"" + p.interface + "\" is not a Linux interface name; use 1-15 characters without '/', ':' or spaces (e.g. \"bond0\")");
    for (std::size_t i = 0; i < p.hcas.size(); ++i)
        if (!detail::is_valid_hca(p.hcas[i]))
            raise(errc::network_hca, "network.hcas[" + std::to_string(i) + "]",
                  "\"" + p.hcas[i] + "\" is not an RDMA device name; use the names ibv_devinfo prints as hca_id, optionally with a port (e.g. \"mlx5_0\" or \"mlx5_0:1\")");
    if (p.kind == fabric::tcp && !p.hcas.empty())
        raise(errc::network_hca, "network.hcas",
              "HCAs are listed but the fabric is \"tcp\"; set fabric to \"infiniband\" or \"roce\", or remove the HCAs");
    if (p.gid_index && (*p.gid_index < 0 || *p.gid_index > 255))
        raise(errc::network_gid_index, "network.gid_index",
              std::to_string(*p.gid_index) + " is not a GID index; use 0..255 (the RoCE v2 entry that show_gids lists, often 3)");
    if (p.gid_index && p.kind != fabric::roce)
        raise(errc::network_gid_index, "network.gid_index",
              "a GID index only applies to RoCE; set fabric to \"roce\" or remove gid_index");
    if (p.ib_timeout && (*p.ib_timeout < 1 || *p.ib_timeout > 31))
        raise(errc::network_ib_timeout, "network.ib_timeout",
              std::to_string(*p.ib_timeout) + " is not an NCCL_IB_TIMEOUT; use 1..31 (NCCL's default is 20, about 4.3 s per try)");
    for (std::size_t i = 0; i < p.extra_env.size(); ++i) {
        const auto& [name, value] = p.extra_env[i];
        const std::string f = "network.env." + name;
        if (!detail::is_env_name(name))
            raise(errc::network_env_name, "network.env[" + std::to_string(i) + "]",
                  "\"" + name + "\" is not an environment variable name; use letters, digits and '_', not starting with a digit");
        if (value.find('\n') != std::string::npos || value.find('\r') != std::string::npos || value.find('\0') != std::string::npos)
            raise(errc::network_env_name, f, "the value contains a line break or NUL, which env files cannot carry; use a single line");
        if (detail::derived_env_names().count(name))
            raise(errc::network_env_reserved, f,
                  name + " is derived from the inventory (node address, interface, HCAs, fabric); set the corresponding network field instead");
    }
}

DSDEPLOY_INLINE std::string node_interface(const network_profile& p, const node& n) {
    return n.interface.empty() ? p.interface : n.interface;
}

DSDEPLOY_INLINE env_list node_environment(const network_profile& p, const node& n, const std::string& node_field) {
    validate(p);
    if (!is_ip_address(n.address))
        raise(errc::network_host_ip, node_field + ".address",
              "\"" + n.address + "\" is a hostname; VLLM_HOST_IP and ray --node-ip-address need the IP address this node has on the cluster network (e.g. \"10.0.0.2\")");
    const std::string ifname = node_interface(p, n);
    if (ifname.empty())
        raise(errc::network_interface, "network.interface",
              "no socket interface for node " + n.name +
                  "; set network.interface (or " + node_field + ".interface) to the NIC that holds " + n.address + " (e.g. \"bond0\")");

    env_list env;
    env.emplace_back("VLLM_HOST_IP", n.address);
    // NCCL matches interface names by prefix unless they start with '='; Gloo and TensorPipe
    // take the name literally.
    env.emplace_back("NCCL_SOCKET_IFNAME", "=" + ifname);
    env.emplace_back("GLOO_SOCKET_IFNAME", ifname);
    env.emplace_back("TP_SOCKET_IFNAME", ifname);
    if (p.kind == fabric::tcp) {
        env.emplace_back("NCCL_IB_DISABLE", "1");
        env.emplace_back("UCX_NET_DEVICES", ifname);
    } else {
        env.emplace_back("NCCL_IB_DISABLE", "0");
        if (!p.hcas.empty()) {
            env.emplace_back("NCCL_IB_HCA", "=" + detail::join(p.hcas, ","));
            std::vector<std::string> ucx;
            for (const auto& h : p.hcas) ucx.push_back(h.find(':') == std::string::npos ? h + ":1" : h);
            env.emplace_back("UCX_NET_DEVICES", detail::join(ucx, ","));
        }
        if (p.kind == fabric::roce && p.gid_index) env.emplace_back("NCCL_IB_GID_INDEX", std::to_string(*p.gid_index));
        if (p.ib_timeout) env.emplace_back("NCCL_IB_TIMEOUT", std::to_string(*p.ib_timeout));
    }
    if (p.nccl_debug) env.emplace_back("NCCL_DEBUG", "INFO");
    for (const auto& kv : p.extra_env) env.push_back(kv);
    return env;
}

// --- detection ---------------------------------------------------------------------------

namespace detail {
// "PORT_ACTIVE (4)" -> "ACTIVE"; "4: ACTIVE" -> "ACTIVE".
inline std::string normalize_port_state(std::string_view s) {
    s = trim(s);
    if (auto colon = s.find(':'); colon != std::string_view::npos && colon < 3) s = trim(s.substr(colon + 1));
    if (auto paren = s.find('('); paren != std::string_view::npos) s = trim(s.substr(0, paren));
    if (starts_with(s, "PORT_")) s.remove_prefix(5);
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace detail

DSDEPLOY_INLINE rdma_report parse_ibv_devinfo(std::string_view text) {
    rdma_report report;
    std::string device;
    rdma_port* current = nullptr;
    for (auto raw : detail::split_lines(text)) {
        auto line = detail::trim(raw);
        if (line.empty()) continue;
        // rdma-core prints "No IB devices found" when the list is empty, and perror("Failed to get IB
        // devices list") when it cannot be read (no kernel modules, or no /dev/infiniband in a container)
        if (line.find("No IB devices found") != std::string_view::npos || line.find("Failed to get IB devices list") != std::string_view::npos)
            report.no_devices = true;
        if ((line.find("ibv_devinfo") != std::string_view::npos &&
             (line.find("not found") != std::string_view::npos || line.find("No such file") != std::string_view::npos)) ||
            line.find("libibverbs: Warning: couldn't load driver") != std::string_view::npos) {
            if (line.find("not found") != std::string_view::npos || line.find("No such file") != std::string_view::npos)
                report.tool_missing = true;
            continue;
        }
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        auto key = detail::trim(line.substr(0, colon));
        auto value = detail::trim(line.substr(colon + 1));
        if (key == "hca_id") {
            device = std::string(value);
            current = nullptr;
        } else if (key == "port" && !device.empty()) {
            if (auto n = detail::parse_int(value)) {
                report.ports.push_back(rdma_port{device, *n, "", "", "", std::nullopt});
                current = &report.ports.back();
            }
        } else if (current && key == "state") {
            current->state = detail::normalize_port_state(value);
        } else if (current && key == "link_layer") {
            current->link_layer = std::string(value);
        } else if (current && detail::starts_with(key, "GID[")) {
            // "GID[  3]:  0000:0000:...:0a00:0001, RoCE v2" (rdma-core >= 38 prints the type)
            auto close = key.find(']');
            auto idx = detail::parse_int(key.substr(4, close == std::string_view::npos ? std::string_view::npos : close - 4));
            if (idx && value.find("RoCE v2") != std::string_view::npos &&
                (!current->roce_v2_gid_index || *idx < *current->roce_v2_gid_index))
                current->roce_v2_gid_index = *idx;
        }
    }
    if (!report.ports.empty()) report.no_devices = false;
    return report;
}

namespace detail {
inline std::optional<std::string> read_small_file(const std::filesystem::path& p) {
    std::ifstream in(p);
    if (!in) return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return std::nullopt;
    return std::string(trim(ss.str()));
}
}  // namespace detail

DSDEPLOY_INLINE rdma_report read_sysfs_infiniband(const std::filesystem::path& root) {
    namespace fs = std::filesystem;
    rdma_report report;
    std::error_code ec;
    if (!fs::exists(root, ec)) {
        report.no_devices = true;
        return report;
    }
    std::vector<fs::path> devices;
    for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) devices.push_back(it->path());
    if (ec) raise(errc::network_sysfs, root.string(), "cannot list the RDMA devices: " + ec.message());
    std::sort(devices.begin(), devices.end());
    for (const auto& dev : devices) {
        std::vector<fs::path> ports;
        std::error_code pec;
        for (fs::directory_iterator it(dev / "ports", pec), end; !pec && it != end; it.increment(pec)) ports.push_back(it->path());
        std::sort(ports.begin(), ports.end());
        for (const auto& port_dir : ports) {
            auto number = detail::parse_int(port_dir.filename().string());
            if (!number) continue;
            rdma_port port{dev.filename().string(), *number, "", "", "", std::nullopt};
            if (auto s = detail::read_small_file(port_dir / "state")) port.state = detail::normalize_port_state(*s);
            if (auto s = detail::read_small_file(port_dir / "link_layer")) port.link_layer = *s;
            std::error_code gec;
            for (fs::directory_iterator it(port_dir / "gid_attrs" / "types", gec), end; !gec && it != end; it.increment(gec)) {
                auto idx = detail::parse_int(it->path().filename().string());
                auto type = detail::read_small_file(it->path());  // unset entries fail to read (EINVAL)
                if (!idx || !type || type->find("RoCE v2") == std::string::npos) continue;
                if (!port.roce_v2_gid_index || *idx < *port.roce_v2_gid_index) {
                    port.roce_v2_gid_index = *idx;
                    if (auto nd = detail::read_small_file(port_dir / "gid_attrs" / "ndevs" / it->path().filename())) port.netdev = *nd;
                }
            }
            report.ports.push_back(std::move(port));
        }
    }
    report.no_devices = report.ports.empty();
    return report;
}

DSDEPLOY_INLINE detection detect_profile(const rdma_report& report, std::string interface) {
    detection d;
    d.profile.interface = std::move(interface);
    std::vector<const rdma_port*> ib, roce;
    std::vector<std::string> inactive;
    for (const auto& p : report.ports) {
        const std::string where = p.device + " port " + std::to_string(p.port);
        if (p.state != "ACTIVE") {
            inactive.push_back(where + " is " + (p.state.empty() ? "in an unknown state" : p.state));
            continue;
        }
        if (p.link_layer == "InfiniBand") ib.push_back(&p);
        else if (p.link_layer == "Ethernet") roce.push_back(&p);
        else inactive.push_back(where + " has link layer \"" + p.link_layer + "\"");
    }
    auto add_hcas = [&](const std::vector<const rdma_port*>& ports) {
        for (const auto* p : ports)
            if (std::find(d.profile.hcas.begin(), d.profile.hcas.end(), p->device) == d.profile.hcas.end())
                d.profile.hcas.push_back(p->device);
    };
    if (!ib.empty()) {
        d.profile.kind = fabric::infiniband;
        add_hcas(ib);
        d.notes.push_back("InfiniBand: ACTIVE port(s) with link layer InfiniBand on " + detail::join(d.profile.hcas, ", "));
    } else if (!roce.empty()) {
        d.profile.kind = fabric::roce;
        add_hcas(roce);
        d.notes.push_back("RoCE: ACTIVE port(s) with link layer Ethernet on " + detail::join(d.profile.hcas, ", "));
        std::set<int> gids;
        for (const auto* p : roce)
            if (p->roce_v2_gid_index) gids.insert(*p->roce_v2_gid_index);
        if (gids.size() == 1) {
            d.profile.gid_index = *gids.begin();
            d.notes.push_back("RoCE v2 GID index " + std::to_string(*gids.begin()));
        } else {
            d.notes.push_back(gids.empty() ? "no RoCE v2 GID index found; NCCL >= 2.21 picks one itself, older NCCL needs network.gid_index"
                                           : "the RoCE v2 GID index differs between ports; set network.gid_index");
        }
    } else {
        d.profile.kind = fabric::tcp;
        if (report.tool_missing) d.notes.push_back("TCP: ibv_devinfo is not installed (rdma-core), so no RDMA device was seen");
        else if (report.ports.empty()) d.notes.push_back("TCP: no RDMA devices found");
        else d.notes.push_back("TCP: no ACTIVE RDMA port");
    }
    for (const auto& s : inactive) d.notes.push_back("ignored: " + s);
    return d;
}

DSDEPLOY_INLINE agreement agree(const std::vector<node_detection>& nodes) {
    agreement a;
    if (nodes.empty()) return a;
    a.profile = nodes.front().found.profile;
    std::map<fabric, std::vector<std::string>> by_kind;
    for (const auto& n : nodes) by_kind[n.found.profile.kind].push_back(n.node);
    if (by_kind.size() > 1) {
        std::vector<std::string> parts;
        for (const auto& [kind, names] : by_kind) parts.push_back(std::string(to_string(kind)) + " on " + detail::join(names, ", "));
        a.profile.kind = fabric::tcp;
        a.profile.hcas.clear();
        a.profile.gid_index.reset();
        a.warnings.push_back("the nodes disagree (" + detail::join(parts, "; ") +
                             "); using TCP, the only fabric all of them share. Fix the RDMA setup of the odd nodes to get RDMA back");
        return a;
    }
    if (a.profile.kind == fabric::tcp) return a;
    // HCAs present on every node; an empty list lets NCCL use every device it finds.
    std::vector<std::string> common = nodes.front().found.profile.hcas;
    for (const auto& n : nodes) {
        std::vector<std::string> keep;
        for (const auto& h : common)
            if (std::find(n.found.profile.hcas.begin(), n.found.profile.hcas.end(), h) != n.found.profile.hcas.end()) keep.push_back(h);
        common = keep;
    }
    if (common.size() != nodes.front().found.profile.hcas.size() || std::any_of(nodes.begin(), nodes.end(), [&](const node_detection& n) {
            return n.found.profile.hcas.size() != common.size();
        })) {
        a.warnings.push_back(common.empty() ? "the nodes have no RDMA device name in common; NCCL_IB_HCA is left unset so NCCL uses every device"
                                            : "only " + detail::join(common, ", ") + " exist on every node; NCCL_IB_HCA lists just those");
    }
    a.profile.hcas = common;
    if (a.profile.kind == fabric::roce) {
        std::set<std::optional<int>> gids;
        for (const auto& n : nodes) gids.insert(n.found.profile.gid_index);
        if (gids.size() > 1) {
            a.profile.gid_index.reset();
            a.warnings.push_back("the RoCE v2 GID index differs between nodes; NCCL_IB_GID_INDEX is left unset (NCCL >= 2.21 picks one per node)");
        }
    }
    return a;
}

DSDEPLOY_NAMESPACE_END
