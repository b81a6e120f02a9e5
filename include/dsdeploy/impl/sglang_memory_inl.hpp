// SPDX-License-Identifier: Apache-2.0
// The definitions of sglang_memory.hpp.
#pragma once

#include <dsdeploy/sglang_memory.hpp>

#include <algorithm>
#include <cmath>
#include <string>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE double sglang_default_mem_fraction(double total_gib, int tp, int pp) {
    const double mib = total_gib * 1024.0;  // get_device_memory_capacity: MiB
    const double chunked = mib < 20 * 1024 ? 2048 : mib < 60 * 1024 ? 4096 : mib < 160 * 1024 ? 8192 : 16384;
    const double decode_bs = mib < 20 * 1024    ? 8
                             : mib < 35 * 1024  ? (tp < 4 ? 48 : 160)
                             : mib < 60 * 1024  ? (tp < 4 ? 32 : 160)
                             : mib < 160 * 1024 ? (tp < 4 ? 256 : 512)
                                                : 512;
    double reserved = 512.0 + 1.5 * std::max(chunked, 2048.0) + tp * pp / 8.0 * 1024.0 + 2.0 * decode_bs;
    if (mib > 60 * 1024) reserved = std::max(reserved, 10240.0);
    return std::round((mib - reserved) / mib * 1000.0) / 1000.0;
}

DSDEPLOY_INLINE vllm_rank_memory sglang_rank_account(const vllm_rank_input& in, double mem_fraction) {
    vllm_rank_input v = in;
    v.era = vllm_era::v1;  // graphs captured after the pool is sized, outside it, as SGLang does
    v.utilization = mem_fraction;
    const vllm_rank_memory est = vllm_rank_account(v);
    double pre = 0, activation = 0, graphs = 0, non_torch = 0;
    for (const auto& t : est.terms) {
        if (t.name == "pre_snapshot") pre = t.gib;
        else if (t.name == "activation") activation = t.gib;
        else if (t.name == "cuda_graphs") graphs = t.gib;
        else if (t.name == "non_torch") non_torch = t.gib;
    }
    vllm_rank_memory out;
    out.max_num_batched_tokens = est.max_num_batched_tokens;
    out.max_num_seqs = est.max_num_seqs;
    const double before = in.total_gib - pre;  // free once CUDA and the communicators are up
    out.requested_gib = mem_fraction * before;
    out.pre_snapshot_gib = pre;
    const std::string src = "sglang 0.5.23 kv_cache_configurator.py _profile_available_bytes: KV = free after loading - (1 - "
                            "mem_fraction_static) x free before";
    out.terms.push_back({"weights", in.weights_gib, "the rank's weights, loaded inside mem_fraction_static x free memory (" + src + ")", true});
    out.terms.push_back({"non_torch", non_torch, "allocations outside torch during loading (vLLM's estimate for the same rank)", true});
    out.terms.push_back({"activation", activation,
                         "forward peak, in the (1 - mem_fraction_static) SGLang leaves free (vLLM's estimate for the same batch)", false});
    out.terms.push_back({"cuda_graphs", graphs, "captured after the KV pool, in the (1 - mem_fraction_static) (vLLM's size estimate)", false});
    out.terms.push_back({"pre_snapshot", pre, "CUDA context and communicators before SGLang's 'before' measurement (vLLM's estimate)", false});
    out.available_kv_gib = out.requested_gib - in.weights_gib - non_torch;
    out.outside_budget_gib = pre + activation + graphs;
    out.slack_gib = (1.0 - mem_fraction) * before - activation - graphs;
    return out;
}

DSDEPLOY_NAMESPACE_END
