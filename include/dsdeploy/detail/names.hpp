// SPDX-License-Identifier: Apache-2.0
// The grammars of values that several rooms check: node, interface and environment names,
// API key text, a vLLM flag's canonical spelling, small integers. Not part of the stable API.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/detail/text.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {

inline bool is_valid_node_name(std::string_view s) {
    if (s.empty() || s.size() > 63) return false;
    if (!std::isalnum(static_cast<unsigned char>(s.front()))) return false;
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; });
}

// Linux interface names: 1..15 bytes, no '/', ':' or whitespace (dev_valid_name in the kernel).
inline bool is_valid_interface_name(std::string_view s) {
    if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isgraph(c) && c != '/' && c != ':'; });
}

inline std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// "10.0.0.1:6379", "[fd00::1]:29501": an address and port as people, URLs, --address and
// --master-addr write them (an IPv6 address in brackets). The one spelling every room uses.
inline std::string host_port(const std::string& host, int port) {
    const bool v6 = host.find(':') != std::string::npos && host.front() != '[';
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

inline bool is_env_name(std::string_view s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s.front()))) return false;
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

// Variables dsdeploy derives from the profile and the node; extra_env may not override them.
inline const std::set<std::string>& derived_env_names() {
    static const std::set<std::string> names = {
        "VLLM_HOST_IP",     "NCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME",  "NCCL_IB_DISABLE",
        "NCCL_IB_HCA",      "NCCL_IB_GID_INDEX",  "NCCL_IB_TIMEOUT",    "UCX_NET_DEVICES",   "NCCL_DEBUG",
    };
    return names;
}

inline std::optional<int> parse_int(std::string_view s) {
    s = trim(s);
    if (s.empty() || s.size() > 9) return std::nullopt;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

inline bool is_api_key_text(std::string_view s) {
    return s.size() >= 16 && s.size() <= 512 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
               return std::isalnum(c) || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=' || c == '-';
           });
}

// `--tensor_parallel_size=8` -> "--tensor-parallel-size" (vLLM rewrites '_' before the first '.').
inline std::string normalize_flag(std::string_view arg) {
    std::string key(arg.substr(0, arg.find('=')));
    if (!starts_with(key, "--")) return key;
    const auto dot = key.find('.');
    for (std::size_t i = 2; i < key.size() && i < dot; ++i)
        if (key[i] == '_') key[i] = '-';
    return key;
}

// A bind mount "HOST:CONTAINER[:ro|:rw]" with absolute paths and no control characters.
struct volume_spec {
    std::string source;
    std::string target;
    bool read_only = false;
};
inline std::optional<volume_spec> parse_volume(std::string_view s) {
    if (s.empty() || s.size() > 4096) return std::nullopt;
    if (std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; })) return std::nullopt;
    volume_spec v;
    const auto first = s.find(':');
    if (first == std::string_view::npos) return std::nullopt;
    v.source = std::string(s.substr(0, first));
    std::string_view rest = s.substr(first + 1);
    const auto second = rest.find(':');
    if (second != std::string_view::npos) {
        const auto mode = rest.substr(second + 1);
        if (mode == "ro") v.read_only = true;
        else if (mode != "rw") return std::nullopt;
        rest = rest.substr(0, second);
    }
    v.target = std::string(rest);
    if (v.source.empty() || v.source.front() != '/' || v.target.empty() || v.target.front() != '/') return std::nullopt;
    return v;
}

// --- versions and image references ------------------------------------------------------------

namespace names_impl {
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_lower_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); }
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
inline bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
inline bool is_word(char c) { return is_alnum(c) || c == '_'; }

// Consumes 1..max digits at `i`; false when there are none.
inline bool digits(std::string_view s, std::size_t& i, std::size_t max = 9) {
    const std::size_t start = i;
    while (i < s.size() && is_digit(s[i]) && i - start < max) ++i;
    return i > start && (i == s.size() || !is_digit(s[i]));
}

// A Docker path component: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
inline bool is_path_component(std::string_view c) {
    std::size_t i = 0;
    auto alnums = [&] {
        const std::size_t start = i;
        while (i < c.size() && is_lower_alnum(c[i])) ++i;
        return i > start;
    };
    if (!alnums()) return false;
    while (i < c.size()) {
        if (c[i] == '.') {
            ++i;
        } else if (c[i] == '_') {
            i += (i + 1 < c.size() && c[i + 1] == '_') ? 2 : 1;
        } else if (c[i] == '-') {
            while (i < c.size() && c[i] == '-') ++i;
        } else {
            return false;
        }
        if (!alnums()) return false;
    }
    return true;
}

// A registry host: domain components ([a-zA-Z0-9] or [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]) joined
// by '.', or a bracketed IPv6 address; then an optional ":port".
inline bool is_registry(std::string_view d) {
    std::string_view host = d;
    if (!d.empty() && d.front() == '[') {
        const auto close = d.find(']');
        if (close == std::string_view::npos || close < 3) return false;
        const auto inner = d.substr(1, close - 1);
        if (!std::all_of(inner.begin(), inner.end(), [](char c) { return is_hex(c) || c == ':' || c == '.'; }) ||
            inner.find(':') == std::string_view::npos)
            return false;
        host = {};
        d.remove_prefix(close + 1);
    } else {
        const auto colon = d.find(':');
        host = d.substr(0, colon);
        d = colon == std::string_view::npos ? std::string_view{} : d.substr(colon);
    }
    if (!d.empty()) {  // ":port"
        if (d.front() != ':') return false;
        std::size_t i = 1;
        if (!digits(d, i, 5) || i != d.size()) return false;
    }
    if (host.empty()) return true;  // the bracketed form was checked above
    for (auto label : split(host, '.')) {
        if (label.empty() || !is_alnum(label.front()) || !is_alnum(label.back())) return false;
        if (!std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; })) return false;
    }
    return true;
}
}  // namespace names_impl

// A vLLM release as `pip show vllm` prints it, PEP 440's public form with an optional local
// label: [v]N.N[.N[.N]] [aN|bN|rcN] [.postN] [.devN] [+local], e.g. "0.11.0", "0.11.0.post2",
// "0.20.0rc1", "0.11.0+cpu", "v0.12.0+cu128". Nothing else: no spaces, quotes, shell or
// template text ("0.11.0;touch x", "${VLLM}"), at most 64 bytes.
inline bool is_version_text(std::string_view s) {
    using namespace names_impl;
    if (s.empty() || s.size() > 64) return false;
    std::size_t i = 0;
    if (s[i] == 'v') ++i;
    int parts = 0;
    while (true) {
        if (!digits(s, i)) return false;
        ++parts;
        if (parts < 4 && i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
            ++i;
            continue;
        }
        break;
    }
    if (parts < 2) return false;
    auto word = [&](std::string_view w) {
        if (s.substr(i, w.size()) != w) return false;
        std::size_t j = i + w.size();
        if (!digits(s, j)) return false;
        i = j;
        return true;
    };
    (void)(word("rc") || word("a") || word("b"));
    (void)word(".post");
    (void)word(".dev");
    if (i < s.size() && s[i] == '+') {  // local label: [a-z0-9]+ ([._][a-z0-9]+)*
        ++i;
        bool need = true;
        for (; i < s.size(); ++i) {
            if (is_lower_alnum(s[i])) need = false;
            else if ((s[i] == '.' || s[i] == '_') && !need) need = true;
            else return false;
        }
        if (need) return false;
    }
    return i == s.size();
}

// Docker's image reference grammar (github.com/distribution/reference, reference.go):
//   [registry[:port]/]path[:tag][@digest]
//   registry  domain components ([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?) joined by '.', or [IPv6];
//             the first '/'-separated part is the registry when it holds '.' or ':', is
//             "localhost" or has an upper-case letter (splitDockerDomain, normalize.go)
//   path      components [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* joined by '/'; the name is at most 255
//   tag       [\w][\w.-]{0,127}
//   digest    algorithm ([A-Za-z][A-Za-z0-9]* joined by [+._-]) ':' at least 32 hex digits
// "vllm/vllm-openai:v0.11.0", "registry.local:5000/ml/vllm@sha256:<64 hex>" are; "repo/img:${TAG}",
// "vllm/X", "img:tag;rm" are not.
inline bool is_image_reference(std::string_view s) {
    using namespace names_impl;
    if (s.empty() || s.size() > 512) return false;
    std::string_view name = s;
    if (const auto at = s.find('@'); at != std::string_view::npos) {
        const std::string_view digest = s.substr(at + 1);
        name = s.substr(0, at);
        const auto colon = digest.find(':');
        if (colon == std::string_view::npos || colon == 0) return false;
        const std::string_view algo = digest.substr(0, colon), hex = digest.substr(colon + 1);
        bool need_alpha = true;
        for (char c : algo) {
            if (need_alpha) {
                if (!is_alpha(c)) return false;
                need_alpha = false;
            } else if (c == '+' || c == '.' || c == '_' || c == '-') {
                need_alpha = true;
            } else if (!is_alnum(c)) {
                return false;
            }
        }
        if (need_alpha || hex.size() < 32 || !std::all_of(hex.begin(), hex.end(), names_impl::is_hex)) return false;
    }
    const auto last_slash = name.rfind('/');
    if (const auto colon = name.rfind(':'); colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
        const std::string_view tag = name.substr(colon + 1);
        name = name.substr(0, colon);
        if (tag.empty() || tag.size() > 128 || !is_word(tag.front()) ||
            !std::all_of(tag.begin(), tag.end(), [](char c) { return is_word(c) || c == '.' || c == '-'; }))
            return false;
    }
    if (name.empty() || name.size() > 255) return false;
    auto parts = split(name, '/');
    std::size_t first = 0;
    const auto has_upper = [](std::string_view c) { return std::any_of(c.begin(), c.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; }); };
    if (parts.size() > 1 && !parts[0].empty() &&
        (parts[0].find_first_of(".:[") != std::string_view::npos || parts[0] == "localhost" || has_upper(parts[0]))) {
        if (!is_registry(parts[0])) return false;
        first = 1;
    }
    for (std::size_t k = first; k < parts.size(); ++k)
        if (!is_path_component(parts[k])) return false;
    return true;
}

// --- length limits and echoed values -----------------------------------------------------------

// The longest value each free-text inventory field may hold, in bytes. Fields that end up as
// one argument of a command line stay far below Linux's 128 KiB per argument (MAX_ARG_STRLEN)
// and 2 MiB per command (ARG_MAX), so no rendered script can die with "Argument list too long".
// Paths are "[]" for every index ("nodes[].address", "serving.extra_args[]").
struct field_limit {
    std::string_view field;
    std::size_t max_bytes;
    std::string_view why;
};

inline constexpr field_limit field_limits[] = {
    {"name", 63, "a compose project and folder name"},
    {"nodes[].name", 63, "a folder and host-style name"},
    {"nodes[].address", 253, "a DNS name is at most 253 bytes"},
    {"nodes[].ssh", 255, "user@host"},
    {"nodes[].interface", 15, "Linux IFNAMSIZ - 1"},
    {"nodes[].gpu_type", 64, "a catalog name"},
    {"network.interface", 15, "Linux IFNAMSIZ - 1"},
    {"network.hcas[]", 64, "an RDMA device name"},
    {"serving.model", 1024, "a catalog id, or a local folder"},
    {"serving.model_path", 4095, "PATH_MAX - 1"},
    {"serving.served_model_name", 256, "an API model id clients type"},
    {"serving.extra_args[]", 4096, "one vllm serve argument (JSON configs included)"},
    {"serving.env[].name", 128, "an environment variable name"},
    {"serving.env[].value", 4096, "one environment value"},
    {"runtime.image", 512, "a Docker reference (name at most 255, tag 128, digest)"},
    {"runtime.vllm_version", 64, "a PEP 440 version"},
    {"runtime.python_env", 4095, "PATH_MAX - 1"},
    {"runtime.shm_size", 32, "a size such as 64g"},
    {"runtime.restart", 32, "a restart policy"},
    {"runtime.model_mount", 4095, "PATH_MAX - 1"},
    {"api.host", 253, "an address or DNS name"},
    {"api.key", 512, "an API key"},
    {"api.key_env", 128, "an environment variable name"},
};

// The limit of `field` ("nodes[3].address" matches "nodes[].address"); 0 when it has none.
inline std::size_t max_length(std::string_view field) {
    std::string generic;
    for (std::size_t i = 0; i < field.size(); ++i) {
        generic += field[i];
        if (field[i] == '[') {
            const auto close = field.find(']', i);
            if (close == std::string_view::npos) break;
            i = close - 1;
        }
    }
    for (const auto& l : field_limits)
        if (l.field == generic) return l.max_bytes;
    return 0;
}

// A value for an error message, on one line and short: quoted, control characters as \n, \t or
// \xNN, and when longer than `keep` bytes, its first `keep` bytes, "…" and its length:
// "\"aaaa…\" (1048576 bytes)".
inline std::string echo(std::string_view value, std::size_t keep = 40) {
    static const char* hex = "0123456789abcdef";
    const bool cut = value.size() > keep;
    std::string out = "\"";
    const std::string_view shown = cut ? value.substr(0, keep) : value;
    for (unsigned char c : shown) {
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if (c == '"' || c == '\\') (out += '\\') += static_cast<char>(c);
        else if (c < 0x20 || c == 0x7f) (out += "\\x") += std::string{hex[c >> 4], hex[c & 15]};
        else out += static_cast<char>(c);
    }
    if (cut) {
        // Do not end inside a UTF-8 sequence.
        while (out.size() > 1 && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
        if (out.size() > 1 && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
        out += "\xE2\x80\xA6\" (" + std::to_string(value.size()) + " bytes)";
    } else {
        out += "\"";
    }
    return out;
}

// The error detail for a value over its field's limit ("" when within it, or the field has none).
inline std::string length_problem(std::string_view field, std::string_view value) {
    const std::size_t max = max_length(field);
    if (max == 0 || value.size() <= max) return {};
    return echo(value) + " is too long; " + std::string(field) + " holds at most " + std::to_string(max) + " bytes";
}
}  // namespace detail
DSDEPLOY_NAMESPACE_END
