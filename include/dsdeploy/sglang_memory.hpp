// SPDX-License-Identifier: Apache-2.0
// What SGLang's start-up does with one GPU's memory (serving.engine = "sglang"): it measures the
// free memory once CUDA and the communicators are up ("before"), loads the weights, and gives the
// KV cache pool what is free then minus (1 - mem_fraction_static) x before (sglang 0.5.23
// srt/mem_cache/kv_cache_configurator.py _profile_available_bytes). So weights + KV cache live in
// mem_fraction_static x before; activations, CUDA graphs and communication buffers must fit in the
// rest. The terms are vLLM's estimates (vllm_memory.hpp) for the same model and rank, placed where
// SGLang puts them; docs/memory-model.md section 8 says what that borrows.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/vllm_memory.hpp>

DSDEPLOY_NAMESPACE_BEGIN

// SGLang's default --mem-fraction-static for a GPU of total_gib and a deployment of TP tp x PP pp
// (sglang 0.5.23 srt/arg_groups/memory_hook.py handle_gpu_memory_settings, reserve_for_graph_mb):
// by GPU memory in MiB the chunked-prefill size (2048 below 20 Ki, 4096 below 60 Ki, 8192 below
// 160 Ki, else 16384) and the decode CUDA-graph batch (8; 48 or 160 below 35 Ki; 32 or 160 below
// 60 Ki; 256 or 512 below 160 Ki, the larger from TP 4; else 512); reserved = 512 + 1.5 x
// max(chunked, 2048) + tp x pp / 8 x 1024 + 2 x decode batch MiB, at least 10240 above 60 GiB;
// f = round((total - reserved) / total, 3). Not modelled: DeepEP's 2 GiB, prefill CUDA graphs
// (off by default), vision models. It reproduces SGLang 0.5.23's own value exactly at TP 1 / 8 /
// 16 on an 81559 MiB H100 (0.835 / 0.818 / 0.805, its ServerArgs with the GPU query patched).
double sglang_default_mem_fraction(double total_gib, int tp, int pp = 1);

// The per-rank account: in.utilization is ignored, mem_fraction is --mem-fraction-static.
vllm_rank_memory sglang_rank_account(const vllm_rank_input& in, double mem_fraction);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/sglang_memory_inl.hpp>
#endif
