// SPDX-License-Identifier: Apache-2.0
// Reading an inventory: TOML or JSON text to the JSON form with the line of every value, then
// that form to an inventory, strictly, table by table as the schema describes them
// (inventory_schema_inl.hpp): unknown keys are errors with a "did you mean" hint.
#pragma once

#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/impl/inventory_schema_inl.hpp>
#include <dsdeploy/inventory.hpp>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {

// Line numbers of every value in a JSON text that nlohmann already accepted; stops quietly
// at nesting deeper than any inventory has.
class json_line_scanner {
public:
    json_line_scanner(std::string_view text, std::map<std::string, int>& lines) : s_(text), lines_(lines) {}
    void run() {
        try {
            value("", 0);
        } catch (const too_deep&) {
        }
    }

private:
    struct too_deep {};
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) {
            if (s_[i_] == '\n') ++line_;
            ++i_;
        }
    }
    std::string str() {
        std::string out;
        ++i_;  // opening quote
        while (i_ < s_.size() && s_[i_] != '"') {
            if (s_[i_] == '\\' && i_ + 1 < s_.size()) {
                const char e = s_[i_ + 1];
                if (e == 'u') {
                    out += '?';
                    i_ += 6;
                    continue;
                }
                out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
                i_ += 2;
                continue;
            }
            out += s_[i_++];
        }
        ++i_;  // closing quote
        return out;
    }
    void value(const std::string& path, int depth) {
        if (depth > 64) throw too_deep{};
        ws();
        if (i_ >= s_.size()) return;
        if (!path.empty() && !lines_.count(path)) lines_[path] = line_;
        const char c = s_[i_];
        if (c == '{') {
            ++i_;
            ws();
            if (i_ < s_.size() && s_[i_] == '}') {
                ++i_;
                return;
            }
            while (i_ < s_.size()) {
                ws();
                const int key_line = line_;
                const std::string key = str();
                const std::string child = path.empty() ? key : path + "." + key;
                if (!lines_.count(child)) lines_[child] = key_line;
                ws();
                ++i_;  // ':'
                value(child, depth + 1);
                ws();
                if (i_ < s_.size() && s_[i_] == ',') {
                    ++i_;
                    continue;
                }
                ++i_;  // '}'
                break;
            }
        } else if (c == '[') {
            ++i_;
            ws();
            if (i_ < s_.size() && s_[i_] == ']') {
                ++i_;
                return;
            }
            for (std::size_t k = 0; i_ < s_.size(); ++k) {
                value(path + "[" + std::to_string(k) + "]", depth + 1);
                ws();
                if (i_ < s_.size() && s_[i_] == ',') {
                    ++i_;
                    continue;
                }
                ++i_;  // ']'
                break;
            }
        } else if (c == '"') {
            (void)str();
        } else {
            while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']' && s_[i_] != ' ' && s_[i_] != '\n' && s_[i_] != '\t' &&
                   s_[i_] != '\r')
                ++i_;
        }
    }

    std::string_view s_;
    std::map<std::string, int>& lines_;
    std::size_t i_ = 0;
    int line_ = 1;
};

inline void toml_to_json(const toml::node& n, const std::string& path, nlohmann::json& out, source_map& src) {
    const int line = static_cast<int>(n.source().begin.line);
    if (!path.empty() && line > 0 && !src.lines.count(path)) src.lines[path] = line;
    if (const auto* t = n.as_table()) {
        out = nlohmann::json::object();
        for (auto&& [k, v] : *t) {
            const std::string key(k.str());
            const std::string child = path.empty() ? key : path + "." + key;
            const int key_line = static_cast<int>(k.source().begin.line);
            if (key_line > 0 && !src.lines.count(child)) src.lines[child] = key_line;
            toml_to_json(v, child, out[key], src);
        }
    } else if (const auto* a = n.as_array()) {
        out = nlohmann::json::array();
        for (std::size_t i = 0; i < a->size(); ++i) {
            nlohmann::json item;
            toml_to_json(*a->get(i), path + "[" + std::to_string(i) + "]", item, src);
            out.push_back(std::move(item));
        }
    } else if (const auto* s = n.as_string()) {
        out = s->get();
    } else if (const auto* i = n.as_integer()) {
        out = i->get();
    } else if (const auto* f = n.as_floating_point()) {
        out = f->get();
    } else if (const auto* b = n.as_boolean()) {
        out = b->get();
    } else {
        raise(errc::inventory_field, src.locate(path), "dates and times are not inventory values; use a string or a number");
    }
}

// Levenshtein distance, for the "did you mean" hints.
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

// Reads the JSON form of an inventory (TOML is converted to it first), strictly: each table
// allows the keys its schema lists and reads them in that order.
class inventory_reader {
public:
    explicit inventory_reader(const source_map& src) : r_(src) {}

    inventory read(const nlohmann::json& root) const {
        const schema::inventory_schema& s = schema::inventory_fields();
        inventory inv;
        inv.cluster.nodes.clear();
        r_.table(root, "");
        only(root, "", s.top_keys(), s.top.where);
        read_fields(root, "", s.top, inv);
        if (const auto* nodes = find(root, s.nodes.key)) {
            if (!nodes->is_array()) r_.fail(errc::inventory_field, s.nodes.key, "expected [[nodes]] tables (an array), got " + schema::describe_json(*nodes));
            for (std::size_t i = 0; i < nodes->size(); ++i) {
                const std::string at = s.nodes.key + "[" + std::to_string(i) + "]";
                node n;
                read_table((*nodes)[i], at, s.nodes, n);
                inv.cluster.nodes.push_back(std::move(n));
            }
        }
        read_section(root, s.network, inv.network);
        read_section(root, s.serving, inv.serving);
        read_section(root, s.runtime, inv.runtime);
        read_section(root, s.ports, inv.ports);
        read_section(root, s.api, inv.api);
        return inv;
    }

private:
    static std::string join_path(const std::string& base, const std::string& key) { return base.empty() ? key : base + "." + key; }

    static const nlohmann::json* find(const nlohmann::json& obj, const std::string& key) {
        auto it = obj.find(key);
        return it == obj.end() ? nullptr : &*it;
    }

    // Unknown keys are errors naming the known keys, and the closest one when it is near.
    void only(const nlohmann::json& obj, const std::string& path, const std::vector<std::string>& known, const std::string& where) const {
        for (auto it = obj.begin(); it != obj.end(); ++it) {
            if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
            std::string best;
            std::size_t best_d = 3;
            for (const auto& k : known) {
                const std::size_t d = edit_distance(to_lower(it.key()), k);
                if (d < best_d) {
                    best_d = d;
                    best = k;
                }
            }
            std::string msg = "unknown key \"" + it.key() + "\" in " + where + ";";
            if (!best.empty()) msg += " did you mean \"" + best + "\"?";
            msg += " Known keys: " + join(known, ", ");
            r_.fail(errc::inventory_unknown_key, join_path(path, it.key()), msg);
        }
    }

    template <class S>
    void read_fields(const nlohmann::json& obj, const std::string& path, const schema::table<S>& t, S& out) const {
        for (const auto& f : t.fields)
            if (const auto* v = find(obj, f.key)) f.read(r_, *v, join_path(path, f.key), out);
    }

    template <class S>
    void read_table(const nlohmann::json& obj, const std::string& path, const schema::table<S>& t, S& out) const {
        r_.table(obj, path);
        only(obj, path, t.keys(), t.where);
        read_fields(obj, path, t, out);
    }

    template <class S>
    void read_section(const nlohmann::json& root, const schema::table<S>& t, S& out) const {
        if (const auto* v = find(root, t.key)) read_table(*v, t.key, t, out);
    }

    schema::reader r_;
};

inline int line_of_offset(std::string_view text, std::size_t offset) {
    offset = std::min(offset, text.size());
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

inline bool looks_like_json(std::string_view text) {
    const auto t = trim(text);
    return !t.empty() && t.front() == '{';
}
}  // namespace detail

DSDEPLOY_INLINE loaded_inventory parse_inventory(std::string_view text, const std::string& file, inventory_format format) {
    loaded_inventory out;
    out.source.file = file;
    if (format == inventory_format::automatic) format = detail::looks_like_json(text) ? inventory_format::json : inventory_format::toml;
    nlohmann::json root;
    if (format == inventory_format::json) {
        try {
            root = nlohmann::json::parse(text.begin(), text.end());
        } catch (const nlohmann::json::parse_error& e) {
            const int line = detail::line_of_offset(text, e.byte > 0 ? e.byte - 1 : 0);
            std::string what = e.what();
            if (auto p = what.find("]: "); p != std::string::npos) what = what.substr(p + 3);
            raise(errc::inventory_syntax, file + ":" + std::to_string(line), "not valid JSON: " + what);
        } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double
            std::string what = e.what();
            if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
            raise(errc::inventory_syntax, file, "not valid JSON: " + what);
        }
        detail::json_line_scanner(text, out.source.lines).run();
    } else {
        toml::table t;
        try {
            t = toml::parse(text, file);
        } catch (const toml::parse_error& e) {
            const auto& b = e.source().begin;
            raise(errc::inventory_syntax, file + ":" + std::to_string(b.line),
                  "not valid TOML: " + std::string(e.description()) + " (column " + std::to_string(b.column) + ")");
        }
        detail::toml_to_json(t, "", root, out.source);
    }
    out.inv = detail::inventory_reader(out.source).read(root);
    return out;
}

DSDEPLOY_INLINE loaded_inventory load_inventory_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) raise(errc::inventory_unreadable, path.string(), "cannot open the inventory file (does it exist, can it be read?)");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) raise(errc::inventory_unreadable, path.string(), "reading the inventory file failed");
    const std::string ext = detail::to_lower(path.extension().string());
    const inventory_format f = ext == ".json" ? inventory_format::json : ext == ".toml" ? inventory_format::toml : inventory_format::automatic;
    return parse_inventory(ss.str(), path.string(), f);
}

DSDEPLOY_NAMESPACE_END
