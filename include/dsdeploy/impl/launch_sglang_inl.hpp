// SPDX-License-Identifier: Apache-2.0
// The SGLang half of make_launch (launch.hpp): every node runs SGLang's server,
// `python3 -m sglang.launch_server`, with --nnodes/--node-rank/--dist-init-addr; node rank 0 (the
// head) serves HTTP, the others join its rendezvous; no Ray (sgl-project/sglang
// docs/basic_usage/deepseek_v3.md, "Multi-node"). Each flag is checked against
// runtime.sglang_version with SGLang's flag table (detail/sglang_flags.hpp).
#pragma once

#include <dsdeploy/detail/derived_flags.hpp>
#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/impl/launch_inl.hpp>
#include <dsdeploy/launch.hpp>

#include <string>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {

// Which inventory field a derived SGLang flag comes from, for errors.
inline std::string sglang_field_of(const std::string& flag) {
    for (const auto& [derived, field] : derived_sglang_flags())
        if (flag == derived && field.find('.') != std::string::npos && field.find(' ') == std::string::npos) return field;
    return "runtime.sglang_version";
}

}  // namespace detail

DSDEPLOY_INLINE launch_plan detail::sglang_launch(const inventory& inv, const plan& p, launch_plan l) {
    const auto& ports = inv.ports;
    const int nnodes = static_cast<int>(inv.cluster.nodes.size());
    l.head_port = ports.master;
    l.layout_advice = recommended_layout(inv, p);

    // The arguments every node shares. TP may span nodes (SGLang's DeepSeek recipe: --tp 16 over
    // 2 x 8 GPUs); PP splits the layers over the nodes.
    std::vector<std::string> serve = {"python3", "-m", "sglang.launch_server", "--model-path", l.model_path, "--served-model-name",
                                      l.served_model_name, "--tp-size", std::to_string(p.parallel.tp)};
    if (p.parallel.pp > 1) serve.insert(serve.end(), {"--pp-size", std::to_string(p.parallel.pp)});
    if (const int adp = inv.serving.attention_data_parallel_size; adp > 1) {
        // DP attention: --attn-dp-size from 0.5.22; before, --enable-dp-attention with --dp-size,
        // which 0.5.22 turned into attn_dp_size (sglang server_args.py, 0.5.21 / 0.5.22).
        if (l.version < engine_version{0, 5, 22, "0.5.22"})
            serve.insert(serve.end(), {"--enable-dp-attention", "--dp-size", std::to_string(adp)});
        else
            serve.insert(serve.end(), {"--attn-dp-size", std::to_string(adp)});
    }
    if (p.parallel.ep) {
        // The expert-parallel group is the TP group (ServerArgs: ep_size <= tp_size, dividing it;
        // docs.sglang.io expert_parallelism).
        serve.insert(serve.end(), {"--ep-size", std::to_string(p.parallel.tp)});
        if (inv.serving.num_redundant_experts > 0)
            serve.insert(serve.end(), {"--enable-eplb", "--ep-num-redundant-experts", std::to_string(inv.serving.num_redundant_experts)});
    }
    if (inv.serving.mem_fraction_static > 0)
        serve.insert(serve.end(), {"--mem-fraction-static", detail::shortest(inv.serving.mem_fraction_static)});
    if (p.options.max_model_len > 0) serve.insert(serve.end(), {"--context-length", std::to_string(p.options.max_model_len)});
    if (p.options.kv_cache_dtype) {
        // SGLang's choices (0.5.23): auto, fp8_e5m2, fp8_e4m3, mxfp8, bf16, bfloat16, nvfp4, fp4_mx_block16.
        const dtype d = *p.options.kv_cache_dtype;
        if (d != dtype::fp8 && d != dtype::bf16)
            raise(errc::launch_flag_unsupported, "serving.kv_cache_dtype",
                  std::string(to_string(d)) + " is not a KV-cache type SGLang takes; use \"fp8\" (rendered as fp8_e4m3), \"bf16\" or \"auto\"");
        serve.insert(serve.end(), {"--kv-cache-dtype", d == dtype::fp8 ? "fp8_e4m3" : "bfloat16"});
    }

    auto check_words = [&](const std::vector<std::string>& argv, std::size_t first, bool extra) {
        for (std::size_t i = first; i < argv.size(); ++i) {
            const flag_check c = check_sglang_flag(argv[i], l.version);
            if (c.support == flag_support::yes && c.detail.empty()) continue;
            const std::string name = argv[i].substr(0, argv[i].find('='));
            const std::string field = extra ? "serving.extra_args[" + std::to_string(i - first) + "]" : detail::sglang_field_of(name);
            if (c.support == flag_support::no)
                raise(errc::launch_flag_unsupported, field,
                      c.detail + (extra ? "; remove it or set runtime.sglang_version to the SGLang you run" : "; use a newer SGLang, or change " + field));
            warn_once(l, field + ": " + c.detail);
        }
    };

    int rank = 1;
    for (std::size_t i = 0; i < inv.cluster.nodes.size(); ++i) {
        node_launch nl = detail::node_launch_base(inv, i);
        detail::add_visible_devices(inv, inv.cluster.nodes[i], nl.env);
        const bool is_head = i == l.head;
        nl.vllm_serve = serve;
        if (nnodes > 1)
            nl.vllm_serve.insert(nl.vllm_serve.end(), {"--nnodes", std::to_string(nnodes), "--node-rank", std::to_string(is_head ? 0 : rank++),
                                                       "--dist-init-addr", detail::host_port(l.head_address, ports.master)});
        // Every rank gets --host/--port: rank 0 serves the API there, the others a health-only
        // endpoint (/health, /ping; sglang srt/utils/common.py launch_dummy_health_check_server).
        nl.vllm_serve.insert(nl.vllm_serve.end(), {"--host", l.listen_host, "--port", std::to_string(ports.api)});
        check_words(nl.vllm_serve, 3, false);
        const std::size_t extra_at = nl.vllm_serve.size();
        nl.vllm_serve.insert(nl.vllm_serve.end(), inv.serving.extra_args.begin(), inv.serving.extra_args.end());
        check_words(nl.vllm_serve, extra_at, true);
        l.nodes.push_back(std::move(nl));
    }
    if (l.api_key)
        l.warnings.push_back("api.auth: SGLang " + l.version.text + " takes the API key on its command line (--api-key; the scripts pass it "
                             "from the head's .env at start): anyone who can list the head's processes can read it");
    add_api_warnings(inv, l);
    return l;
}

DSDEPLOY_NAMESPACE_END
