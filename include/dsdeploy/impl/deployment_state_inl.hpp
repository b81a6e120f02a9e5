// SPDX-License-Identifier: Apache-2.0
// Implementation of deployment_state.hpp.
#pragma once

#include <dsdeploy/deployment_state.hpp>

#include <nlohmann/json.hpp>

#include <exception>
#include <fstream>
#include <utility>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE std::string deployment_state::remote_dir_or(const std::string& requested, const inventory& inv) const {
    if (!requested.empty()) return requested;
    if (remote_dir) return *remote_dir;
    return default_remote_dir(inv);
}

DSDEPLOY_INLINE std::string deployment_state::ssh_config_or(const std::string& requested) const {
    if (!requested.empty()) return requested;
    return ssh_config ? *ssh_config : std::string();
}

DSDEPLOY_INLINE std::optional<step> deployment_state::recorded_until() const {
    if (!until) return std::nullopt;
    return parse_until(*until);
}

DSDEPLOY_INLINE std::filesystem::path default_state_dir(const inventory& inv) { return std::filesystem::path(".dsdeploy") / inv.name; }

DSDEPLOY_INLINE std::filesystem::path state_bundle_dir(const std::filesystem::path& state_dir) { return state_dir / "bundle"; }

DSDEPLOY_INLINE std::filesystem::path state_file(const std::filesystem::path& state_dir) { return state_dir / "state.json"; }

DSDEPLOY_INLINE void make_state_dir(const std::filesystem::path& state_dir) {
    std::filesystem::create_directories(state_dir);
    std::filesystem::permissions(state_dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
}

namespace detail {
namespace state {

inline const char* const known_keys[] = {"deployment", "remote_dir", "until", "ssh_config", "bundle", "nodes"};

inline std::optional<std::string> string_at(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

}  // namespace state
}  // namespace detail

DSDEPLOY_INLINE deployment_state read_deployment_state(const std::filesystem::path& state_dir) {
    namespace st = detail::state;
    deployment_state s;
    nlohmann::json j;
    try {
        std::ifstream in(state_file(state_dir));
        if (!in) return s;
        in >> j;
    } catch (const std::exception&) {
        return s;
    }
    if (!j.is_object()) return s;
    s.deployment = st::string_at(j, "deployment");
    s.remote_dir = st::string_at(j, "remote_dir");
    s.until = st::string_at(j, "until");
    s.ssh_config = st::string_at(j, "ssh_config");
    s.bundle = st::string_at(j, "bundle");
    if (auto it = j.find("nodes"); it != j.end() && it->is_array())
        for (const auto& n : *it) {
            if (!n.is_object()) continue;
            s.nodes.push_back(deployed_node{st::string_at(n, "name").value_or(""), st::string_at(n, "target").value_or(""),
                                            st::string_at(n, "dir").value_or("")});
        }
    for (auto it = j.begin(); it != j.end(); ++it) {
        bool known = false;
        for (const char* k : st::known_keys) known = known || it.key() == k;
        if (!known) s.other[it.key()] = it.value().dump();
    }
    return s;
}

DSDEPLOY_INLINE deployment_state record_deployment(const deployment& d, const std::string& until, const std::string& ssh_config,
                                                   const deployment_state& previous) {
    deployment_state s;
    s.other = previous.other;
    s.deployment = d.inv.name;
    s.remote_dir = d.remote_dir;
    s.until = until;
    s.ssh_config = ssh_config;
    s.bundle = d.bundle_dir;
    for (std::size_t i = 0; i < d.inv.cluster.nodes.size(); ++i)
        s.nodes.push_back(deployed_node{d.inv.cluster.nodes[i].name, d.target(i), d.node_dir(i)});
    return s;
}

DSDEPLOY_INLINE void write_deployment_state(const std::filesystem::path& state_dir, const deployment_state& s) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [key, text] : s.other) j[key] = nlohmann::json::parse(text, nullptr, false);
    auto put = [&j](const char* key, const std::optional<std::string>& v) { j[key] = v ? *v : std::string(); };
    put("deployment", s.deployment);
    put("remote_dir", s.remote_dir);
    put("until", s.until);
    put("ssh_config", s.ssh_config);
    put("bundle", s.bundle);
    j["nodes"] = nlohmann::json::array();
    for (const auto& n : s.nodes) j["nodes"].push_back({{"name", n.name}, {"target", n.target}, {"dir", n.dir}});
    std::filesystem::create_directories(state_dir);
    const std::filesystem::path tmp = state_dir / "state.json.tmp";
    {
        std::ofstream out(tmp);
        out << j.dump(2) << "\n";
    }
    std::filesystem::rename(tmp, state_file(state_dir));
}

DSDEPLOY_NAMESPACE_END
