// SPDX-License-Identifier: Apache-2.0
// Writing an inventory: the commented TOML `dsdeploy init` writes and the JSON form, both
// table by table as the schema describes them (inventory_schema_inl.hpp).
#pragma once

#include <dsdeploy/impl/inventory_schema_inl.hpp>
#include <dsdeploy/inventory.hpp>

#include <nlohmann/json.hpp>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
// "key = value" padded so the comments line up.
inline std::string toml_line(const std::string& assignment, std::string_view comment, bool commented_out = false) {
    std::string line = (commented_out ? "# " : "") + assignment;
    if (!comment.empty()) {
        if (line.size() < 34) line += std::string(34 - line.size(), ' ');
        else line += "  ";
        line += "# ";
        line += comment;
    }
    return line + "\n";
}

// One line per field: optional settings that are not set are commented out with an example.
template <class S>
std::string toml_fields(const schema::table<S>& t, const S& s) {
    std::string out;
    for (const auto& f : t.fields) out += toml_line(f.key + " = " + f.toml_value(s), f.doc, f.is_unset(s));
    return out;
}

template <class S>
std::string toml_table(const schema::table<S>& t, const S& s) {
    return t.intro + toml_fields(t, s);
}

template <class S>
nlohmann::json json_table(const schema::table<S>& t, const S& s) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& f : t.fields)
        if (auto v = f.to_json(s)) o[f.key] = std::move(*v);
    return o;
}
}  // namespace detail

DSDEPLOY_INLINE std::string to_toml(const inventory& inv) {
    const detail::schema::inventory_schema& s = detail::schema::inventory_fields();
    std::string out = detail::toml_table(s.top, inv);
    out += detail::toml_table(s.runtime, inv.runtime);
    out += detail::toml_table(s.ports, inv.ports);
    out += detail::toml_table(s.api, inv.api);
    out += detail::toml_table(s.network, inv.network);
    out += detail::toml_table(s.serving, inv.serving);
    out += s.nodes.intro;
    for (const auto& n : inv.cluster.nodes) out += "[[" + s.nodes.key + "]]\n" + detail::toml_fields(s.nodes, n) + "\n";
    return out;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const inventory& inv) {
    const detail::schema::inventory_schema& s = detail::schema::inventory_fields();
    j = detail::json_table(s.top, inv);
    j[s.runtime.key] = detail::json_table(s.runtime, inv.runtime);
    j[s.ports.key] = detail::json_table(s.ports, inv.ports);
    j[s.api.key] = detail::json_table(s.api, inv.api);
    j[s.network.key] = detail::json_table(s.network, inv.network);
    j[s.serving.key] = detail::json_table(s.serving, inv.serving);
    nlohmann::json nodes = nlohmann::json::array();
    for (const auto& n : inv.cluster.nodes) nodes.push_back(detail::json_table(s.nodes, n));
    j[s.nodes.key] = std::move(nodes);
}

DSDEPLOY_NAMESPACE_END
