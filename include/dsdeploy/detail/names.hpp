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
}  // namespace detail
DSDEPLOY_NAMESPACE_END
