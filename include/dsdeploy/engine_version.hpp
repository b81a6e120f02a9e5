// SPDX-License-Identifier: Apache-2.0
// Engine versions: parsing "0.11.0", "v0.12.0rc1", "0.11.0+cpu" into an ordered value, and the
// vLLM releases that change how dsdeploy launches (the oldest it renders for, the first with
// multi-node without Ray, the first whose images have no Ray, the range its flag table covers).
// Used by the inventory (which launcher "auto" picks) and the launch plan (which flags exist).
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/error.hpp>

#include <optional>
#include <string>
#include <string_view>

DSDEPLOY_NAMESPACE_BEGIN

// The serving engine: vLLM (`vllm serve`), or SGLang (`python3 -m sglang.launch_server`: every
// node runs it with --nnodes/--node-rank/--dist-init-addr, node rank 0 serves HTTP, no Ray;
// sgl-project/sglang docs/basic_usage/deepseek_v3.md).
enum class engine_kind { vllm, sglang };
std::string_view to_string(engine_kind e);
std::optional<engine_kind> parse_engine_kind(std::string_view s);

struct engine_version {
    int major = 0;
    int minor = 0;
    int patch = 0;
    std::string text;  // as given ("0.11.1rc2", "v0.12.0+cu128"); suffixes do not change the order

    friend bool operator<(const engine_version& a, const engine_version& b) {
        if (a.major != b.major) return a.major < b.major;
        if (a.minor != b.minor) return a.minor < b.minor;
        return a.patch < b.patch;
    }
    friend bool operator>=(const engine_version& a, const engine_version& b) { return !(a < b); }
    friend bool operator>(const engine_version& a, const engine_version& b) { return b < a; }
    friend bool operator<=(const engine_version& a, const engine_version& b) { return !(b < a); }
    friend bool operator==(const engine_version& a, const engine_version& b) { return !(a < b) && !(b < a); }
};

// "0.11.0", "v0.11.1", "0.12.0rc1", "0.11.0+cpu"; throws launch.version naming `field`.
engine_version parse_engine_version(std::string_view text, const std::string& field = "runtime.vllm_version");

// The oldest vLLM dsdeploy renders for (the V1-era multi-node procedure).
engine_version min_vllm_version();
// The oldest and the newest release whose complete `vllm serve` option list the flag table holds
// (detail/vllm_flags.hpp, generated from each release's PyPI artifact; docs/engine-flags.md).
// Between them an option missing from the table does not exist; past the newest, the table
// cannot tell.
engine_version oldest_catalogued_vllm_version();
engine_version newest_catalogued_vllm_version();
// Kept for callers of 0.x: the oldest catalogued release.
engine_version catalogued_vllm_version();
// The first release with multi-node without Ray (--nnodes/--node-rank/--master-addr/--master-port).
engine_version mp_multinode_version();
// The first release whose CPU backend runs that mode across hosts (tests/e2e/FINDINGS.md).
engine_version mp_multinode_cpu_version();
// The first release whose default dependencies and official vllm/vllm-openai images have no Ray.
engine_version ray_dropped_version();
// The first release whose Ray path is RayExecutorV2 by default (vllm-project/vllm #36836: vLLM's own
// MessageQueue/ZMQ control plane, Ray Compiled Graph dropped; field notes: "the default by 0.23",
// NovaSky-AI/SkyRL#1653). Read from the wheels here: in 0.20.0 it is opt-in
// (vllm/envs.py VLLM_USE_RAY_V2_EXECUTOR_BACKEND defaults to "0"), in 0.32.0 the default ("1").
engine_version ray_executor_v2_default_version();

namespace detail {
// The official image, from Docker Hub under any of its spellings, any tag or digest.
bool official_vllm_image(std::string_view image);
}  // namespace detail

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/engine_version_inl.hpp>
#endif
