#!/usr/bin/env python3
"""Roofline-style serving performance model for dsdeploy, fitted on published measurements.

Prototype for the C++ port (issue 16). Standard library only.

    python3 scripts/dev/perf_model_fit.py                 # fit, print errors and the default-plan predictions
    python3 scripts/dev/perf_model_fit.py --rows          # also print every row's prediction
    python3 scripts/dev/perf_model_fit.py --json out.json # machine-readable result (fitted factors, errors)

Inputs: tests/fixtures/perf/measurements.tsv (rows with split=calib are fitted on, split=heldout never).

What is modelled (formulas in docs/performance-model.md):
  * decode step per pipeline stage = per-layer overhead + max(HBM time, tensor-core time) + TP all-reduces;
    HBM bytes = dense weights/TP + routed-expert weights x (expected distinct experts for m tokens)/E/TP
    + KV read (MLA latent replicated on every TP rank, GQA heads split by TP);
  * pipeline: a request's token goes through every stage with a micro-batch of ceil(b/PP), plus
    PP-1 hand-offs over the inter-node link; bubbles appear when b < PP;
  * prefill = tensor-core FLOPs (linear + attention) at an efficiency, FP8 only on GPUs that compute in FP8;
    chunked prefill is charged to the decode of the requests running beside it;
  * workload: closed loop (fixed concurrency) or burst (N prompts at once), batch capped by the engine's
    max sequences and by the KV-cache capacity.
"""
import argparse
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "tests", "fixtures", "perf", "measurements.tsv")

GB = 1e9
GiB = 1024 ** 3

# --------------------------------------------------------------------------------------------------
# GPU datasheet table. Dense (non-sparse) tensor TFLOPS. Sources are those cited in
# ../shared/reference/model-hw-facts.md section 3 unless marked otherwise.
#   bw      HBM/GDDR bandwidth, GB/s          mem   memory, GiB usable by torch (or nominal GB/1.0737)
#   bf16    dense BF16 TFLOPS                 fp8   dense FP8 TFLOPS (0 = no FP8 tensor cores)
#   link    GPU<->GPU path inside a node      link_bw  per-direction GB/s used for TP all-reduce
#   family  efficiency-factor group
GPUS = {
    "L20": dict(bw=864, mem=44.53, bf16=119.5, fp8=239, link="PCIe", link_bw=32, family="gddr",
                src="citsjtu2020/LLM-Prof:hardware_spec.md; technical.city L20 page (864 GB/s, PCIe 4.0 x16); "
                    "44.53 GiB from CUDA OOM messages (model-hw-facts 2.3)"),
    "L40S": dict(bw=864, mem=44.53, bf16=362, fp8=733, link="PCIe", link_bw=32, family="gddr",
                 src="NVIDIA L40S datasheet (733 FP8 / 362 BF16 dense)"),
    "A40": dict(bw=696, mem=44.5, bf16=149.7, fp8=0, link="PCIe", link_bw=32, family="gddr",
                src="NVIDIA A40 datasheet (696 GB/s, 149.7 dense FP16/BF16 TFLOPS) - NOT in model-hw-facts.md, "
                    "quoted from the vendor datasheet, unverified here"),
    "A100-80G": dict(bw=2039, mem=79.15, bf16=312, fp8=0, link="NVLink", link_bw=300, family="ampere",
                     src="NVIDIA A100 datasheet nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf (SXM 80GB)"),
    "A100-40G": dict(bw=1555, mem=39.4, bf16=312, fp8=0, link="NVLink", link_bw=300, family="ampere",
                     src="same A100 datasheet (40GB SXM: 1,555 GB/s) - 40GB value not in model-hw-facts.md"),
    "H100": dict(bw=3350, mem=79.1, bf16=989, fp8=1979, link="NVLink", link_bw=450, family="hopper",
                 src="NVIDIA H100 datasheet (SXM 80GB, 3.35 TB/s, 1,979 FP8 dense)"),
    "H200": dict(bw=4800, mem=140.4, bf16=989, fp8=1979, link="NVLink", link_bw=450, family="hopper",
                 src="NVIDIA H200 datasheet (4.8 TB/s, 141 GB; 140.4 GiB from nvidia-smi)"),
    "H20": dict(bw=4000, mem=95.0, bf16=148, fp8=296, link="NVLink", link_bw=450, family="hopper",
                src="lmsys.org/blog/2025-09-26-sglang-ant-group; LLM-Prof hardware_spec.md"),
    "H800": dict(bw=3350, mem=79.1, bf16=989, fp8=1979, link="NVLink", link_bw=200, family="hopper",
                 src="lmsys.org 2025-09-26 table; LLM-Prof (NVLink 400 GB/s)"),
}
# Inter-node link per GPU, GB/s per direction (model-hw-facts 4.1). H100/H200 nodes: one 400G NIC per GPU
# (assumption); 48 GB-class nodes: one 200G NIC per node shared by 8 GPUs for TP traffic (assumption).
FABRIC_BW = {"IB400": 50.0, "IB200": 25.0, "RoCE200": 25.0, "RoCE100": 12.5, "TCP100": 4.0, "TCP25": 1.5}

# --------------------------------------------------------------------------------------------------
# Model architecture table. DeepSeek-V3 and Qwen3-235B/Qwen2.5-72B from model-hw-facts.md section 1;
# Qwen3-14B/32B dims confirmed against config.json copies; Qwen3-8B, Qwen2.5-7B/14B, Llama-3.1-8B from memory.
def dense(L, h, nq, nkv, hd, ffn, vocab):
    attn = h * nq * hd * 2 + 2 * h * nkv * hd
    return dict(L=L, h=h, vocab=vocab, moe=False, mla=False, nq=nq, nkv=nkv, hd=hd,
                attn=attn, mlp=3 * h * ffn, n_dense=L, E=0, k=0, expert=0, shared=0)

MODELS = {
    "DeepSeek-V3": dict(L=61, h=7168, vocab=129280, moe=True, mla=True, nq=128, nkv=1, hd=0,
                        attn=187.1e6, mlp=3 * 7168 * 18432, n_dense=3, E=256, k=8, expert=3 * 7168 * 2048,
                        shared=1, router=7168 * 256, kv_elems=576, repl=7168 * 1536 + 7168 * 576 + 7168 * 256),
    "Qwen3-235B-A22B": dict(L=94, h=4096, vocab=151936, moe=True, mla=False, nq=64, nkv=4, hd=128,
                            attn=4096 * 8192 * 2 + 2 * 4096 * 512, mlp=0, n_dense=0, E=128, k=8,
                            expert=3 * 4096 * 1536, shared=0, router=4096 * 128),
    "Qwen2.5-72B": dense(80, 8192, 64, 8, 128, 29568, 152064),
    "Qwen3-32B": dense(64, 5120, 64, 8, 128, 25600, 151936),
    "Qwen3-14B": dense(40, 5120, 40, 8, 128, 17408, 151936),
    "Qwen2.5-14B": dense(48, 5120, 40, 8, 128, 13824, 152064),
    "Qwen3-8B": dense(36, 4096, 32, 8, 128, 12288, 151936),
    "Qwen2.5-7B": dense(28, 3584, 28, 4, 128, 18944, 152064),
    "Llama-3.1-8B": dense(32, 4096, 32, 8, 128, 14336, 128256),
}
ALIASES = {"DeepSeek-R1": "DeepSeek-V3", "DeepSeek-R1-0528": "DeepSeek-V3",
           "DeepSeek-R1-Distill-Llama-8B": "Llama-3.1-8B", "DeepSeek-R1-Distill-Qwen-14B": "Qwen2.5-14B"}

# --------------------------------------------------------------------------------------------------
# Parameters. value = prior (used when no calibration row constrains it); fitted ones move.
PRIOR = {
    "eta_bw_hopper": 0.70,   # achieved fraction of datasheet HBM bandwidth in decode, Hopper
    "eta_bw_ampere": 0.70,   # same, A100
    "eta_bw_gddr": 0.70,     # same, GDDR6 boards (L20, L40S, A40)
    "eta_moe_bw": 0.60,      # extra factor on routed-expert weight streaming (fused-MoE kernels)
    "w4_moe_bw": 0.50,       # extra factor on routed-expert streaming for W4A16 (AWQ/Marlin MoE) checkpoints
    "eta_f_dense": 0.45,     # achieved fraction of datasheet tensor FLOPS, dense layers
    "eta_f_moe": 0.10,       # same for MoE layers (grouped GEMMs, block-FP8 scaling, routing)
    "t_layer_us": 25.0,      # per layer per decode step: launches, norms, rope, small kernels (us)
    "t_step_ms": 3.0,        # per decode step: scheduler, sampling, detokenise (ms)
    "t_step_v0_ms": 10.0,    # extra per-step host overhead of vLLM's V0 engine (< 0.8, or PP before V1 had it)
    "a_inter_us": 60.0,      # latency of one collective / hand-off crossing nodes (us)
    "t_ttft0_ms": 30.0,      # fixed part of TTFT: HTTP, tokenise, schedule, first step (ms)
    "sharegpt_tail": 3.0,    # ShareGPT bursts: longest output / mean output (one wave drains at the tail)
}
FIXED = {
    "a_nvlink_us": 8.0,      # NCCL all-reduce latency inside an NVLink node (extrapolated, not fitted)
    "a_pcie_us": 25.0,       # NCCL all-reduce latency over PCIe P2P (extrapolated, not fitted)
    "eta_link": 0.7,         # achieved fraction of link bandwidth for all-reduce bus traffic
    "mem_util": 0.90,        # vLLM --gpu-memory-utilization default
    "act_reserve_gib": 2.0,  # activations + CUDA graphs outside the KV pool, per GPU
}
FIT_KEYS = list(PRIOR.keys())
PRIOR_SIGMA = 0.7  # log-space width of the prior penalty (keeps thinly constrained factors sane)


def num(s):
    s = (s or "").strip()
    if s == "" or s == "inf":
        return None
    return float(s)


def load_rows(path=DATA):
    rows = []
    with open(path) as f:
        lines = [l.rstrip("\n") for l in f if not l.startswith("#")]
    cols = lines[0].split("\t")
    for line in lines[1:]:
        if not line.strip():
            continue
        v = dict(zip(cols, line.split("\t")))
        rows.append(v)
    return rows


def assumed_int(row, key, default):
    if row.get(key, "").strip():
        return int(float(row[key]))
    for part in row.get("assumed", "").replace(";", ",").replace("(", ",").split(","):
        part = part.strip()
        if part.startswith(key + "="):
            return int(part.split("=")[1].split()[0])
    return default


def layout(row):
    tp = assumed_int(row, "tp", None)
    gpn = int(float(row["gpus_per_node"] or 1))
    nodes = int(float(row["nodes"] or 1))
    pp = assumed_int(row, "pp", 1)
    if tp is None:
        tp = gpn * nodes // pp
    dp = assumed_int(row, "dp", 1)
    inter = row.get("fabric_inter", "").strip()
    g = GPUS[row["gpu"]]
    if nodes > 1:
        fabric = {"IB": "IB400" if g["family"] == "hopper" else "IB200"}.get(inter, "IB400" if g["family"] == "hopper" else "IB200")
    else:
        fabric = None
    return dict(tp=tp, pp=pp, dp=dp, gpn=gpn, nodes=nodes, fabric=fabric)


# --------------------------------------------------------------------------------------------------
def weight_bytes(m, quant):
    """bytes per parameter for (attention/dense/shared, routed experts, embedding+head)."""
    if quant.startswith("fp8"):
        return 1.0, 1.0, 2.0
    if quant.startswith("awq") or quant.startswith("int4"):
        return 2.0, 0.53, 2.0   # cognitivecomputations AWQ: experts 4-bit g128, rest 16-bit (~400 GB total)
    return 2.0, 2.0, 2.0


def stage_layers(m, pp):
    """vLLM's default split: equal parts, the remainder on the second-to-last stage(s)."""
    L = m["L"]
    base = [L // pp] * pp
    for i in range(L - sum(base)):
        base[-2 - i if pp > 1 else 0] += 1
    out, start = [], 0
    for n in base:
        dense_n = max(0, min(m["n_dense"], start + n) - start)
        out.append((n, dense_n))
        start += n
    return out


def kv_bytes_token_layer_gpu(m, tp, kv_bytes=2.0):
    if m["mla"]:
        return m["kv_elems"] * kv_bytes                       # replicated on every TP rank
    heads = max(1, m["nkv"] // tp)
    return 2 * heads * m["hd"] * kv_bytes


def stage_weight_bytes_gpu(m, quant, tp, n, n_dense, first, last):
    b_dense, b_exp, b_emb = weight_bytes(m, quant)
    n_moe = n - n_dense
    per = n * m["attn"] * b_dense + n_dense * m["mlp"] * b_dense
    per += n_moe * (m["shared"] * m["expert"] * b_dense + m["E"] * m["expert"] * b_exp)
    emb = ((1 if first else 0) + (1 if last else 0)) * m["vocab"] * m["h"] * b_emb
    w = (per + emb) / tp
    w += n * m.get("repl", 0) * b_dense * (1 - 1.0 / tp)
    return w


def kv_capacity_tokens(m, quant, g, lay):
    cap = None
    stages = stage_layers(m, lay["pp"])
    for i, (n, nd) in enumerate(stages):
        w = stage_weight_bytes_gpu(m, quant, lay["tp"], n, nd, i == 0, i == len(stages) - 1)
        free = g["mem"] * GiB * FIXED["mem_util"] - w - FIXED["act_reserve_gib"] * GiB
        per_tok = n * kv_bytes_token_layer_gpu(m, lay["tp"])
        c = free / per_tok if per_tok > 0 else 1e12
        cap = c if cap is None else min(cap, c)
    return max(cap, 0.0)


def distinct_frac(m, tokens):
    """expected fraction of the E routed experts touched when `tokens` tokens each pick k (uniform routing)."""
    if not m["moe"]:
        return 0.0
    return 1.0 - (1.0 - m["k"] / m["E"]) ** max(tokens, 0)


def flops_f(g, quant):
    """tensor TFLOPS used for linear layers: FP8 only when weights are FP8 and the GPU computes in FP8."""
    if quant.startswith("fp8") and g["fp8"] > 0:
        return g["fp8"] * 1e12
    return g["bf16"] * 1e12


def eta_bw(P, g):
    return P["eta_bw_" + g["family"]] if ("eta_bw_" + g["family"]) in P else P["eta_bw_hopper"]


def link_params(g, lay):
    """(latency s, bandwidth B/s) of one TP all-reduce."""
    if lay["tp"] > lay["gpn"]:
        return None
    if g["link"] == "NVLink":
        return FIXED["a_nvlink_us"] * 1e-6, g["link_bw"] * GB * FIXED["eta_link"]
    return FIXED["a_pcie_us"] * 1e-6, g["link_bw"] * GB * FIXED["eta_link"]


def allreduce_time(P, g, lay, nbytes):
    tp = lay["tp"]
    if tp <= 1:
        return 0.0
    lp = link_params(g, lay)
    if lp is None:  # TP spans nodes: the inter-node hop dominates
        a = P["a_inter_us"] * 1e-6
        bw = FABRIC_BW[lay["fabric"]] * GB * FIXED["eta_link"]
    else:
        a, bw = lp
    return a + 2.0 * (tp - 1) / tp * nbytes / bw


def decode_stage_time(P, m, quant, g, lay, n, n_dense, first, last, mb, ctx):
    """one decode step of micro-batch mb on one stage; returns (time, parts)."""
    tp = lay["tp"]
    b_dense, b_exp, b_emb = weight_bytes(m, quant)
    n_moe = n - n_dense
    always = n * m["attn"] * b_dense + n_dense * m["mlp"] * b_dense + n_moe * m["shared"] * m["expert"] * b_dense
    experts = n_moe * m["E"] * m["expert"] * b_exp * distinct_frac(m, mb)
    head = (1 if last else 0) * m["vocab"] * m["h"] * b_emb
    wbytes = (always + head) / tp + n * m.get("repl", 0) * b_dense * (1 - 1.0 / tp)
    kvbytes = mb * ctx * n * kv_bytes_token_layer_gpu(m, tp)
    bw = g["bw"] * GB * eta_bw(P, g)
    moe_eff = P["eta_moe_bw"] * (P["w4_moe_bw"] if b_exp < 1.0 else 1.0)
    t_mem = (wbytes + kvbytes) / bw + experts / tp / (bw * moe_eff)
    # compute: per-token active params, dense and MoE parts at their own efficiencies
    act_dense = n * m["attn"] + n_dense * m["mlp"] + (1 if last else 0) * m["vocab"] * m["h"]
    act_moe = n_moe * (m["shared"] + m["k"]) * m["expert"]
    if m["mla"]:
        attn_fl = mb * ctx * n * 2 * m["nq"] * (m["kv_elems"] + 512) * 2 / tp
    else:
        attn_fl = mb * ctx * n * 4 * m["nq"] * m["hd"] / tp
    F = flops_f(g, quant)
    t_comp = (2 * act_dense * mb / tp) / (F * P["eta_f_dense"]) + (2 * act_moe * mb / tp) / (F * P["eta_f_moe"]) \
        + attn_fl / (g["bf16"] * 1e12 * P["eta_f_dense"])
    t_ar = n * 2 * allreduce_time(P, g, lay, mb * m["h"] * 2)
    t_ovh = n * P["t_layer_us"] * 1e-6
    return t_ovh + max(t_mem, t_comp) + t_ar, dict(mem=t_mem, comp=t_comp, ar=t_ar, ovh=t_ovh)


def hop_time(P, m, lay, tokens):
    if lay["pp"] <= 1:
        return 0.0
    nb = tokens * m["h"] * 2
    if lay["nodes"] > 1:
        return P["a_inter_us"] * 1e-6 + nb / (FABRIC_BW[lay["fabric"]] * GB * FIXED["eta_link"])
    return FIXED["a_nvlink_us"] * 1e-6 + nb / (100 * GB)


def engine_v0(row):
    if row.get("engine") != "vllm":
        return False
    if "V0 engine" in row.get("assumed", ""):
        return True
    try:
        major, minor = [int(x) for x in row.get("engine_version", "").split(".")[:2]]
    except ValueError:
        return False
    return (major, minor) < (0, 8)


def decode_time(P, m, quant, g, lay, b, ctx, parts=None, v0=False):
    """TPOT without prefill interference: a token's trip through all PP stages."""
    mb = max(1, math.ceil(b / lay["pp"]))
    stages = stage_layers(m, lay["pp"])
    t0 = (P["t_step_ms"] + (P["t_step_v0_ms"] if v0 else 0.0)) * 1e-3
    t = t0
    agg = dict(mem=0.0, comp=0.0, ar=0.0, ovh=t0, hop=0.0)
    for i, (n, nd) in enumerate(stages):
        ts, p = decode_stage_time(P, m, quant, g, lay, n, nd, i == 0, i == len(stages) - 1, mb, ctx)
        t += ts
        for k in ("mem", "comp", "ar", "ovh"):
            agg[k] += p[k]
    h = (lay["pp"] - 1) * hop_time(P, m, lay, mb)
    t += h
    agg["hop"] = h
    if parts is not None:
        parts.update(agg)
    return t


def prefill_time(P, m, quant, g, lay, n_tok, parts=None):
    """marginal time to prefill one request of n_tok tokens (all stages in sequence)."""
    tp = lay["tp"]
    act_dense = m["L"] * m["attn"] + m["n_dense"] * m["mlp"] + m["vocab"] * m["h"] / max(n_tok, 1)  # logits: last token
    act_moe = (m["L"] - m["n_dense"]) * (m["shared"] + m["k"]) * m["expert"]
    F = flops_f(g, quant)
    t_lin = 2 * n_tok / tp * (act_dense / (F * P["eta_f_dense"]) + act_moe / (F * P["eta_f_moe"]))
    if m["mla"]:
        per_pair = 2 * m["nq"] * (192 + 128)
    else:
        per_pair = 2 * m["nq"] * m["hd"] * 2
    t_att = m["L"] * per_pair * n_tok * n_tok / 2 / tp / (g["bf16"] * 1e12 * P["eta_f_dense"])
    t_ar = m["L"] * 2 * allreduce_time(P, g, lay, n_tok * m["h"] * 2)
    t_hop = (lay["pp"] - 1) * hop_time(P, m, lay, n_tok)
    if parts is not None:
        parts.update(dict(lin=t_lin, att=t_att, ar=t_ar, hop=t_hop))
    return t_lin + t_att + t_ar + t_hop


def engine_max_seqs(row, g):
    eng = row.get("engine", "")
    ver = row.get("engine_version", "")
    if eng == "tensorrt-llm":
        return 2048
    if eng == "sglang":
        return 4096
    # vLLM V1 (>= 0.8): 1024 on >= 70 GiB GPUs other than A100, else 256; V0: 256
    try:
        major, minor = [int(x) for x in ver.split(".")[:2]]
    except ValueError:
        major, minor = 0, 8
    if (major, minor) >= (0, 8) and g["mem"] >= 70 and g["family"] != "ampere":
        return 1024
    return 256


def predict(P, row):
    m = MODELS[ALIASES.get(row["model"], row["model"])]
    g = GPUS[row["gpu"]]
    lay = layout(row)
    quant = row["quant"]
    i = num(row["input_len"])
    o = num(row["output_len"])
    N = num(row["num_prompts"])
    C = num(row["concurrency"])
    kvcap = kv_capacity_tokens(m, quant, g, lay)
    bmax = min(engine_max_seqs(row, g), max(1.0, kvcap / (i + o)))
    t_pf = prefill_time(P, m, quant, g, lay, i)
    ctx = i + o / 2
    v0 = engine_v0(row)
    t0 = P["t_ttft0_ms"] * 1e-3
    tail = P["sharegpt_tail"] if "sharegpt" in row["id"] else 1.0
    if row["load"] == "burst":
        n = N if N else C
        B = max(1.0, min(n, bmax))
        t_dec = decode_time(P, m, quant, g, lay, B, ctx, v0=v0)
        T = n * t_pf + n * o / B * t_dec
        if tail > 1.0:  # the last wave drains over the long-output tail at a shrinking batch
            T += (tail - 1.0) * o * decode_time(P, m, quant, g, lay, max(1.0, B / tail), ctx, v0=v0)
        if n <= B:
            k_pf = (B - 1) / 2
        else:
            k_pf = (B - 1) * (n - B) / n + (B - 1) / 2 * B / n
        tpot = t_dec + k_pf * t_pf / o
        first = (B + 1) / 2 * t_pf
        ttft = t0 + first * (B / n) + (1 - B / n) * (first + T / 2)
        out_tps = n * o / T
        b_used = B
    else:
        c = C or 1
        B = max(1.0, min(c, bmax))
        t_dec = decode_time(P, m, quant, g, lay, B, ctx, v0=v0)
        tpot = t_dec + (B - 1) * t_pf / o
        ttft = t0 + t_pf + 0.5 * t_dec
        if N and N > B:  # the first wave's prefills queue behind each other
            ttft += (B / N) * (B - 1) / 2 * t_pf
        t_req = ttft + (o - 1) * tpot
        out_tps = B * o / t_req
        if c > bmax:  # requests beyond the KV pool wait for a slot
            ttft += (c / bmax - 1) * t_req
        b_used = B
    return dict(tpot_ms=tpot * 1e3, out_tps=out_tps, ttft_ms=ttft * 1e3, batch=b_used, kv_tokens=kvcap,
                fits=kvcap >= i + o,
                t_pf_ms=t_pf * 1e3, t_dec_ms=t_dec * 1e3)


def measured(row):
    tpot = num(row["tpot_ms"])
    out = num(row["output_tok_s"])
    lay = layout(row)
    if out is None and num(row["output_tok_s_per_gpu"]) is not None:
        out = num(row["output_tok_s_per_gpu"]) * lay["tp"] * lay["pp"] * lay["dp"]
    if out is None and num(row["req_s"]) is not None and num(row["output_len"]) is not None:
        out = num(row["req_s"]) * num(row["output_len"])
    return dict(tpot_ms=tpot, out_tps=out, ttft_ms=num(row["ttft_ms"]))


# --------------------------------------------------------------------------------------------------
def tpot_weight(r):
    """Mean TPOT of a one-wave burst of hundreds of prompts measures the scheduler's prefill/decode policy more
    than the hardware (same GPUs, same model: SGLang 420 ms, vLLM 227 ms, TRT-LLM 221 ms); weight it down."""
    n = num(r["num_prompts"]) or 0
    return 0.3 if (r["load"] == "burst" and n >= 500) else 1.0


def loss(P, rows):
    s = 0.0
    for r in rows:
        p = predict(P, r)
        mm = r["_meas"]
        for k, w in (("tpot_ms", tpot_weight(r)), ("out_tps", 1.0), ("ttft_ms", 0.3)):
            if mm[k]:
                s += w * math.log(p[k] / mm[k]) ** 2
    for k in FIT_KEYS:
        s += (math.log(P[k] / PRIOR[k]) / PRIOR_SIGMA) ** 2 * 0.5
    return s


def fit(rows, start=None, sweeps=6):
    P = dict(PRIOR)
    if start:
        P.update(start)
    P.update({k: v for k, v in FIXED.items()})
    best = loss(P, rows)
    step = 0.5
    for _ in range(sweeps):
        for k in FIT_KEYS:
            s = step
            while s > 0.01:
                improved = False
                for d in (s, -s):
                    Q = dict(P)
                    Q[k] = P[k] * math.exp(d)
                    if k.startswith("eta"):
                        Q[k] = min(Q[k], 1.0)
                    l = loss(Q, rows)
                    if l < best - 1e-12:
                        P, best, improved = Q, l, True
                        break
                if not improved:
                    s /= 2
        step /= 1.5
    return P, best


def errors(P, rows):
    out = {"tpot_ms": [], "out_tps": [], "ttft_ms": []}
    for r in rows:
        p = predict(P, r)
        for k in out:
            if r["_meas"][k]:
                out[k].append((r["id"], p[k], r["_meas"][k]))
    return out


def summarize(errs):
    res = {}
    for k, lst in errs.items():
        if not lst:
            continue
        ape = sorted(abs(p / m - 1) for _, p, m in lst)
        ratio = [max(p / m, m / p) for _, p, m in lst]
        res[k] = dict(n=len(lst), median_ape=ape[len(ape) // 2] if len(ape) % 2 else (ape[len(ape) // 2 - 1] + ape[len(ape) // 2]) / 2,
                      max_ratio=max(ratio), over_2x=sum(1 for x in ratio if x > 2.0),
                      worst=max(lst, key=lambda t: max(t[1] / t[2], t[2] / t[1]))[0])
    return res


def fmt_summary(name, s):
    lines = []
    for k in ("tpot_ms", "out_tps", "ttft_ms"):
        if k in s:
            x = s[k]
            lines.append(f"  {name:<10} {k:<8} n={x['n']:>2}  median |err| {100 * x['median_ape']:5.1f}%  "
                         f"worst x{x['max_ratio']:.2f} ({x['worst']})  >2x: {x['over_2x']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
DEFAULT_PLAN = dict(id="default-plan", model="DeepSeek-V3", quant="fp8-block", gpu="L20", gpus_per_node="8", nodes="2",
                    tp="8", pp="2", dp="1", ep="1", fabric_intra="PCIe", fabric_inter="IB", engine="vllm",
                    engine_version="0.11.0", input_len="4096", output_len="1024", load="closed", num_prompts="",
                    assumed="")


def default_plan_predictions(P, loo_params, loo_ratios, mem_util, reserve_gib):
    old = FIXED["mem_util"], FIXED["act_reserve_gib"]
    FIXED["mem_util"] = mem_util
    FIXED["act_reserve_gib"] = reserve_gib
    res = []
    try:
        for c in (1, 16, 64):
            row = dict(DEFAULT_PLAN, concurrency=str(c))
            p = predict(P, row)
            spread = [predict(Q, row) for Q in loo_params]
            lo_t = min(x["tpot_ms"] for x in spread)
            hi_t = max(x["tpot_ms"] for x in spread)
            lo_o = min(x["out_tps"] for x in spread)
            hi_o = max(x["out_tps"] for x in spread)
            qt = loo_ratios["tpot_ms"]
            qo = loo_ratios["out_tps"]
            m = MODELS["DeepSeek-V3"]
            g = GPUS["L20"]
            lay = layout(row)
            parts = {}
            decode_time(P, m, "fp8-block", g, lay, p["batch"], 4096 + 512, parts)
            pf = {}
            prefill_time(P, m, "fp8-block", g, lay, 4096, pf)
            res.append(dict(concurrency=c, batch=p["batch"], kv_tokens=p["kv_tokens"], fits=p["fits"],
                            tpot_ms=p["tpot_ms"], tpot_range=(lo_t * qt[0], hi_t * qt[1]),
                            out_tps=p["out_tps"], out_range=(lo_o * qo[0], hi_o * qo[1]),
                            ttft_ms=p["ttft_ms"], decode_parts={k: v * 1e3 for k, v in parts.items()},
                            prefill_parts={k: v * 1e3 for k, v in pf.items()}))
    finally:
        FIXED["mem_util"], FIXED["act_reserve_gib"] = old
    return res


def quantile(xs, q):
    xs = sorted(xs)
    if not xs:
        return 1.0
    i = q * (len(xs) - 1)
    lo, hi = int(math.floor(i)), int(math.ceil(i))
    return xs[lo] + (xs[hi] - xs[lo]) * (i - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", action="store_true", help="print every row's prediction")
    ap.add_argument("--json", help="write results to this file")
    ap.add_argument("--data", default=DATA)
    a = ap.parse_args()

    rows = load_rows(a.data)
    for r in rows:
        r["_meas"] = measured(r)
    calib = [r for r in rows if r["split"] == "calib"]
    held = [r for r in rows if r["split"] == "heldout"]
    print(f"rows: {len(rows)} ({len(calib)} calibration, {len(held)} held out)")

    P, _ = fit(calib)
    print("\nfitted factors (prior -> fitted):")
    for k in FIT_KEYS:
        print(f"  {k:<14} {PRIOR[k]:>8.3f} -> {P[k]:8.3f}")

    ins = summarize(errors(P, calib))
    hold = summarize(errors(P, held))

    # leave-one-out over the calibration rows
    loo_errs = {"tpot_ms": [], "out_tps": [], "ttft_ms": []}
    loo_params = []
    for i, r in enumerate(calib):
        Q, _ = fit(calib[:i] + calib[i + 1:], start=P, sweeps=3)
        loo_params.append(Q)
        e = errors(Q, [r])
        for k in loo_errs:
            loo_errs[k] += e[k]
    loo = summarize(loo_errs)

    print("\nerrors (goal: median |err| <= 25%, none off by more than 2x)")
    print(fmt_summary("in-sample", ins))
    print(fmt_summary("LOO", loo))
    print(fmt_summary("held-out", hold))

    if a.rows:
        print("\nper-row (calibration rows: in-sample fit; held-out rows: never fitted)")
        print(f"  {'id':<52} {'split':<7} {'TPOT ms meas/pred':>20} {'out tok/s meas/pred':>22} {'TTFT ms meas/pred':>22} batch")
        for r in rows:
            p = predict(P, r)
            mm = r["_meas"]
            def f(k):
                return f"{mm[k]:.1f}/{p[k]:.1f}" if mm[k] else f"-/{p[k]:.1f}"
            print(f"  {r['id']:<52} {r['split']:<7} {f('tpot_ms'):>20} {f('out_tps'):>22} {f('ttft_ms'):>22} {p['batch']:.0f}")

    ratios = {}
    for k in ("tpot_ms", "out_tps"):
        rs = [p / m for _, p, m in loo_errs[k]]
        ratios[k] = (1 / quantile([1 / x for x in rs], 0.9), 1 / quantile([1 / x for x in rs], 0.1))
    print("\nLOO error band used for ranges (10th..90th percentile of measured/predicted):")
    for k, (lo, hi) in ratios.items():
        print(f"  {k}: x{lo:.2f} .. x{hi:.2f}")

    results = {}
    for util, reserve in ((0.90, 2.0), (0.95, 1.0), (0.98, 1.0)):
        preds = default_plan_predictions(P, loo_params, ratios, util, reserve)
        results[f"{util}/{reserve}"] = preds
        print(f"\ndefault plan: DeepSeek-V3 FP8, 2 x 8 L20, IB, TP8 x PP2, in=4096 out=1024, "
              f"--gpu-memory-utilization {util}, {reserve} GiB/GPU kept for activations")
        if not preds[0]["fits"]:
            print("  DOES NOT FIT: no KV cache left for one 5,120-token request on the fullest stage")
            continue
        for x in preds:
            print(f"  concurrency {x['concurrency']:>3}: batch held {x['batch']:.1f} (KV pool {x['kv_tokens']:.0f} tokens)  "
                  f"TPOT {x['tpot_ms']:.0f} ms [{x['tpot_range'][0]:.0f}-{x['tpot_range'][1]:.0f}]  "
                  f"output {x['out_tps']:.1f} tok/s [{x['out_range'][0]:.1f}-{x['out_range'][1]:.1f}]  TTFT {x['ttft_ms']:.0f} ms")
            d = x["decode_parts"]
            print(f"      decode step parts (ms): HBM {d['mem']:.1f}  tensor {d['comp']:.1f}  TP all-reduce {d['ar']:.1f}  "
                  f"overhead {d['ovh']:.1f}  PP hand-off {d['hop']:.2f};  prefill(4096) parts: linear {x['prefill_parts']['lin']:.0f} "
                  f"attention {x['prefill_parts']['att']:.0f} all-reduce {x['prefill_parts']['ar']:.0f}")

    aic_path = os.path.join(os.path.dirname(a.data), "aiconfigurator-0.12.tsv")
    aic_rows = []
    if os.path.exists(aic_path):
        byid = {r["id"]: r for r in rows}
        loo_by_id = {r["id"]: loo_params[i] for i, r in enumerate(calib)}
        print("\nbeside NVIDIA AIConfigurator 0.12 (tests/fixtures/perf/aiconfigurator-0.12.tsv); TPOT ms / output tok/s;"
              "\n  this model's figure is its leave-one-out prediction for calibration rows, the plain fit for held-out rows")
        print(f"  {'measurement':<40} {'measured':>16} {'this model':>16} {'AIConfigurator':>16}")
        for r in load_rows(aic_path):
            mr = byid.get(r["meas_id"])
            if not mr or not r["aic_tpot_ms"]:
                print(f"  {r['meas_id']:<40} {r['note']}")
                continue
            p = predict(loo_by_id.get(mr["id"], P), mr)
            mm = mr["_meas"]
            def f2(a, b):
                return f"{a:.1f} / {b:.0f}" if a is not None and b is not None else (f"{a:.1f} / -" if a is not None else f"- / {b:.0f}")
            at, ao = float(r["aic_tpot_ms"]), float(r["aic_tok_s"])
            print(f"  {r['meas_id']:<40} {f2(mm['tpot_ms'], mm['out_tps']):>16} {f2(p['tpot_ms'], p['out_tps']):>16} {f2(at, ao):>16}")
            aic_rows.append(dict(id=r["meas_id"], measured=mm, ours=dict(tpot_ms=p["tpot_ms"], out_tps=p["out_tps"]),
                                 aic=dict(tpot_ms=at, out_tps=ao)))
        for who in ("ours", "aic"):
            e = {"tpot_ms": [], "out_tps": []}
            for x in aic_rows:
                for k in e:
                    if x["measured"][k]:
                        e[k].append((x["id"], x[who][k], x["measured"][k]))
            sm = summarize(e)
            print(fmt_summary("this model" if who == "ours" else "AIC", sm))

    if a.json:
        # Every row's prediction with the fitted factors (tests/perf_test.cpp compares the C++ port with these).
        row_preds = []
        for r in rows:
            p = predict(P, r)
            row_preds.append(dict(id=r["id"], split=r["split"], measured=r["_meas"],
                                  predicted={k: p[k] for k in ("tpot_ms", "out_tps", "ttft_ms", "batch", "kv_tokens",
                                                               "t_pf_ms", "t_dec_ms")}))
        ttft_rs = [p / m for _, p, m in loo_errs["ttft_ms"]]
        loo_band_ttft = (1 / quantile([1 / x for x in ttft_rs], 0.9), 1 / quantile([1 / x for x in ttft_rs], 0.1))
        with open(a.json, "w") as f:
            json.dump(dict(fitted=P, prior=PRIOR, fixed=FIXED, in_sample=ins, loo=loo, heldout=hold,
                           loo_band=ratios, loo_band_ttft_ms=loo_band_ttft, rows=row_preds,
                           default_plan={str(k): v for k, v in results.items()}), f, indent=1, default=str)


if __name__ == "__main__":
    main()
