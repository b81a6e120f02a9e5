// SPDX-License-Identifier: Apache-2.0
// The grammars of values that several rooms check: node, interface and environment names,
// API key text, a vLLM flag's canonical spelling, small integers. Not part of the stable API.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/detail/text.hpp>

#include <algorithm>
#include <cctype>
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
}  // namespace detail
DSDEPLOY_NAMESPACE_END
