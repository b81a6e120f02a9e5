// SPDX-License-Identifier: Apache-2.0
// A small YAML emitter: block mappings and sequences of scalars, with strings quoted whenever
// a YAML 1.1 or 1.2 reader could take them for something else ("yes", "on", "0123", "1e3",
// "null", "~", values with ": " or " #", empty strings, leading or trailing spaces...).
// Plain scalars are used only for a conservative whitelist, so the output reads the same in
// PyYAML (YAML 1.1), js-yaml and Go's yaml.v3 (YAML 1.2). Not part of the stable API.
#pragma once

#include <dsdeploy/config.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {
namespace yaml {

class node;
using mapping = std::vector<std::pair<std::string, node>>;
using sequence = std::vector<node>;

class node {
public:
    enum class kind { null, boolean, integer, number, string, seq, map };

    node() = default;
    node(bool b) : kind_(kind::boolean), bool_(b) {}
    node(int v) : kind_(kind::integer), int_(v) {}
    node(std::int64_t v) : kind_(kind::integer), int_(v) {}
    node(double v) : kind_(kind::number), number_(v) {}
    node(const char* s) : kind_(kind::string), string_(s) {}
    node(std::string s) : kind_(kind::string), string_(std::move(s)) {}
    node(std::string_view s) : kind_(kind::string), string_(s) {}
    node(sequence s) : kind_(kind::seq), children_(std::make_shared<sequence>(std::move(s))) {}
    node(mapping m) : kind_(kind::map), entries_(std::make_shared<mapping>(std::move(m))) {}

    kind type() const { return kind_; }
    bool as_bool() const { return bool_; }
    std::int64_t as_int() const { return int_; }
    double as_number() const { return number_; }
    const std::string& as_string() const { return string_; }
    const sequence& as_sequence() const { return *children_; }
    const mapping& as_mapping() const { return *entries_; }
    // A scalar or an empty collection fits on the key's line.
    bool is_inline() const {
        if (kind_ == kind::seq) return children_->empty();
        if (kind_ == kind::map) return entries_->empty();
        return true;
    }

private:
    kind kind_ = kind::null;
    bool bool_ = false;
    std::int64_t int_ = 0;
    double number_ = 0;
    std::string string_;
    std::shared_ptr<sequence> children_;
    std::shared_ptr<mapping> entries_;
};

inline bool is_special_word(std::string_view s) {
    // YAML 1.1 booleans and nulls (PyYAML, docker-compose 1.x) and YAML 1.2 core schema.
    static const char* const words[] = {"y",     "n",   "yes", "no",  "on",   "off", "true", "false",
                                        "null",  "~",   ".inf", "-.inf", "+.inf", ".nan", "=", "<<"};
    std::string lower;
    for (char c : s) lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    for (const char* w : words)
        if (lower == w) return true;
    return false;
}

// True when `s` may be written as a plain scalar: starts with a letter, '_' or '/', contains
// only letters, digits and "_./-", and is not a word with a special meaning. Everything that
// starts with a digit or a sign is quoted, so no string can be read as a number, a date or
// a sexagesimal (1:20) value.
inline bool is_plain_safe(std::string_view s) {
    if (s.empty()) return false;
    const unsigned char f = static_cast<unsigned char>(s.front());
    if (!((f >= 'a' && f <= 'z') || (f >= 'A' && f <= 'Z') || f == '_' || f == '/')) return false;
    for (unsigned char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '/' ||
              c == '-'))
            return false;
    return !is_special_word(s);
}

// A double-quoted YAML scalar; escapes '\', '"' and every control character.
inline std::string double_quoted(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '"': out += "\\\""; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            case 0: out += "\\0"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\x%02x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += "\"";
    return out;
}

inline std::string scalar(std::string_view s) { return is_plain_safe(s) ? std::string(s) : double_quoted(s); }

inline std::string format_number(double v) {
    if (std::isnan(v)) return ".nan";
    if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    std::string s = buf;
    // Shortest form that reads back the same value.
    for (int precision = 1; precision < 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, v);
        if (std::strtod(buf, nullptr) == v) {
            s = buf;
            break;
        }
    }
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
}

inline std::string inline_value(const node& n) {
    switch (n.type()) {
        case node::kind::null: return "null";
        case node::kind::boolean: return n.as_bool() ? "true" : "false";
        case node::kind::integer: return std::to_string(n.as_int());
        case node::kind::number: return format_number(n.as_number());
        case node::kind::string: return scalar(n.as_string());
        case node::kind::seq: return "[]";
        case node::kind::map: return "{}";
    }
    return "null";
}

inline void emit_block(const node& n, int indent, std::string& out);

inline void emit_mapping(const mapping& m, int indent, std::string& out) {
    const std::string pad(static_cast<std::size_t>(indent), ' ');
    for (const auto& [key, value] : m) {
        out += pad + scalar(key) + ":";
        if (value.is_inline()) {
            out += " " + inline_value(value) + "\n";
        } else {
            out += "\n";
            emit_block(value, indent + 2, out);
        }
    }
}

inline void emit_sequence(const sequence& s, int indent, std::string& out) {
    const std::string pad(static_cast<std::size_t>(indent), ' ');
    for (const auto& item : s) {
        if (item.is_inline()) {
            out += pad + "- " + inline_value(item) + "\n";
        } else if (item.type() == node::kind::map) {
            // "- key: value" then the other keys aligned under the first.
            std::string inner;
            emit_mapping(item.as_mapping(), indent + 2, inner);
            out += pad + "- " + inner.substr(static_cast<std::size_t>(indent) + 2);
        } else {
            out += pad + "-\n";
            emit_block(item, indent + 2, out);
        }
    }
}

inline void emit_block(const node& n, int indent, std::string& out) {
    if (n.type() == node::kind::map) emit_mapping(n.as_mapping(), indent, out);
    else if (n.type() == node::kind::seq) emit_sequence(n.as_sequence(), indent, out);
    else out += std::string(static_cast<std::size_t>(indent), ' ') + inline_value(n) + "\n";
}

// A YAML document for `root`; `header` lines become comments at the top ("# ...").
inline std::string emit(const node& root, const std::vector<std::string>& header = {}) {
    std::string out;
    for (const auto& line : header) {
        out += "#";
        if (!line.empty()) out += " ";
        for (char c : line) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;  // one comment line, always
        out += "\n";
    }
    if (root.is_inline()) out += inline_value(root) + "\n";
    else emit_block(root, 0, out);
    return out;
}

}  // namespace yaml
}  // namespace detail
DSDEPLOY_NAMESPACE_END
