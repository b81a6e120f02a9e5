// SPDX-License-Identifier: Apache-2.0
// The definitions of engine_version.hpp: included by it in header-only mode, compiled once by
// src/engine_version.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/engine_version.hpp>

#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/detail/vllm_flags.hpp>

#include <cctype>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE std::string_view to_string(engine_kind e) { return e == engine_kind::sglang ? "sglang" : "vllm"; }

DSDEPLOY_INLINE std::optional<engine_kind> parse_engine_kind(std::string_view s) {
    if (s == "vllm") return engine_kind::vllm;
    if (s == "sglang") return engine_kind::sglang;
    return std::nullopt;
}

DSDEPLOY_INLINE engine_version parse_engine_version(std::string_view text, const std::string& field) {
    engine_version v;
    const std::string_view trimmed = detail::trim(text);
    // The grammar first: a value that is not a version (shell or template text, a 1 MB string)
    // never reaches a README, bundle.json or a message whole.
    if (!detail::is_version_text(trimmed))
        raise(errc::launch_version, field,
              detail::echo(trimmed) + " is not a version; use the release of the vLLM in the image or environment as pip prints it, "
              "e.g. \"0.11.0\", \"0.11.0.post2\" or \"0.20.0rc1\" (pip show vllm)");
    v.text = std::string(trimmed);
    std::string_view s = v.text;
    if (!s.empty() && (s.front() == 'v' || s.front() == 'V')) s.remove_prefix(1);
    int parts[3] = {0, 0, 0};
    int count = 0;
    std::size_t i = 0;
    while (count < 3) {
        const std::size_t start = i;
        long value = 0;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i - start < 6) value = value * 10 + (s[i++] - '0');
        if (i == start) break;
        parts[count++] = static_cast<int>(value);
        if (count < 3 && i + 1 < s.size() && s[i] == '.' && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
            ++i;
            continue;
        }
        break;
    }
    const bool suffix_ok = i == s.size() || !std::isdigit(static_cast<unsigned char>(s[i]));
    if (count < 2 || !suffix_ok)
        raise(errc::launch_version, field,
              "\"" + v.text + "\" is not a version; use the release of the vLLM in the image or environment, e.g. \"0.11.0\" (pip show vllm)");
    v.major = parts[0];
    v.minor = parts[1];
    v.patch = parts[2];
    return v;
}

DSDEPLOY_INLINE engine_version min_vllm_version() { return engine_version{0, 8, 5, "0.8.5"}; }
DSDEPLOY_INLINE engine_version oldest_catalogued_vllm_version() {
    static const engine_version v = parse_engine_version(detail::vllm_flag_releases().front(), "vllm_flag_releases");
    return v;
}
DSDEPLOY_INLINE engine_version newest_catalogued_vllm_version() {
    static const engine_version v = parse_engine_version(detail::vllm_flag_releases().back(), "vllm_flag_releases");
    return v;
}
DSDEPLOY_INLINE engine_version catalogued_vllm_version() { return oldest_catalogued_vllm_version(); }
DSDEPLOY_INLINE engine_version mp_multinode_version() { return engine_version{0, 11, 1, "0.11.1"}; }
// Ray left vLLM's default dependencies and the official vllm/vllm-openai images in v0.18
// (vllm-project/vllm #36170 and #33445; ../shared/reference/field-2026-12.md §1).
DSDEPLOY_INLINE engine_version ray_dropped_version() { return engine_version{0, 18, 0, "0.18.0"}; }
DSDEPLOY_INLINE engine_version ray_executor_v2_default_version() { return engine_version{0, 23, 0, "0.23.0"}; }

namespace detail {
DSDEPLOY_INLINE bool official_vllm_image(std::string_view image) {
    for (std::string_view prefix : {"docker.io/", "registry-1.docker.io/", "index.docker.io/"})
        if (image.substr(0, prefix.size()) == prefix) image.remove_prefix(prefix.size());
    const auto end = image.find_first_of(":@");
    return image.substr(0, end) == "vllm/vllm-openai";
}
}  // namespace detail
DSDEPLOY_INLINE engine_version mp_multinode_cpu_version() { return engine_version{0, 13, 0, "0.13.0"}; }

DSDEPLOY_NAMESPACE_END
