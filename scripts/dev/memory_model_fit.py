#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Prototype of the memory verdict of issue 17: predicts, for every public start-up log under
tests/fixtures/vllm-memory/, the KV-cache memory vLLM reported ("Available KV cache memory" /
"the rest of the memory reserved for KV Cache"), fits the few constants those logs pin down on
the calibration split, and prints per-fixture errors and the goal check (|error| <= max(1 GiB,
3 % of the logged value)) for the calibration and held-out splits.

The formulas and where each term comes from are in docs/memory-model.md. In short, for one GPU:

    requested  = total_gpu_memory * gpu_memory_utilization
    available  = requested - weights - non_torch - activation_peak - cudagraph_applied

* weights: taken from the log ("Model loading took" / "model weights take"); dsdeploy's own
  weight estimate is validated separately (issue 17: within 0-3 %), so it is not re-fitted here.
* non_torch: a constant per accounting era (the snapshot the increase is measured from moved
  between releases, see ERA below) - fitted.
* activation_peak = ALPHA * T * (h + 2 * i_local) * 2 B  +  BETA * S * V * 4 B
    T = max_num_batched_tokens (the profile run's token count), h = hidden size,
    i_local = intermediate size per rank (dense: I / tp; MoE: top_k * moe_I / tp, the fused-MoE
    intermediate cache), S = max_num_seqs (requests of the dummy sampler run), V = vocabulary.
  ALPHA, BETA - fitted.
* cudagraph_applied: the "Estimated CUDA graph memory" when the release subtracts it (>= 0.20.0
  by default), else 0. Taken from the log when present (no fixture here has it applied).

Only the standard library is used. Run: python3 scripts/dev/memory_model_fit.py
"""
import csv
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "vllm-memory"
GiB = float(1 << 30)

# Model shapes (config.json of each checkpoint on Hugging Face; the URL is the source).
MODELS = {
    # https://huggingface.co/meta-llama/Meta-Llama-3-8B/blob/main/config.json
    "llama3-8b": dict(h=4096, i=14336, v=128256, moe_i=0, top_k=0),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-14B/blob/main/config.json
    "qwen2.5-14b": dict(h=5120, i=13824, v=152064, moe_i=0, top_k=0),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1/blob/main/config.json (58 of 61 layers MoE)
    "deepseek-r1": dict(h=7168, i=18432, v=129280, moe_i=2048, top_k=8),
    # https://huggingface.co/openai/gpt-oss-20b/blob/main/config.json (all layers MoE)
    "gpt-oss-20b": dict(h=2880, i=2880, v=201088, moe_i=2880, top_k=4),
    # https://huggingface.co/openai/gpt-oss-120b/blob/main/config.json (all layers MoE)
    "gpt-oss-120b": dict(h=2880, i=2880, v=201088, moe_i=2880, top_k=4),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B/blob/main/config.json
    "qwen2-1.5b": dict(h=1536, i=8960, v=151936, moe_i=0, top_k=0),
    # https://huggingface.co/Qwen/Qwen2-7B-Instruct/blob/main/config.json
    "qwen2-7b": dict(h=3584, i=18944, v=152064, moe_i=0, top_k=0),
    # https://huggingface.co/Qwen/Qwen3-0.6B/blob/main/config.json
    "qwen3-0.6b": dict(h=1024, i=3072, v=151936, moe_i=0, top_k=0),
    # https://huggingface.co/Qwen/Qwen3-8B/blob/main/config.json
    "qwen3-8b": dict(h=4096, i=12288, v=151936, moe_i=0, top_k=0),
    # https://huggingface.co/Qwen/Qwen3-32B/blob/main/config.json
    "qwen3-32b": dict(h=5120, i=25600, v=151936, moe_i=0, top_k=0),
    # https://huggingface.co/meta-llama/Llama-3.3-70B-Instruct/blob/main/config.json
    "llama3-70b": dict(h=8192, i=28672, v=128256, moe_i=0, top_k=0),
    # https://huggingface.co/mistralai/Mistral-Small-3.2-24B-Instruct-2506 (text_config)
    "mistral-small-3.2": dict(h=5120, i=32768, v=131072, moe_i=0, top_k=0),
    # https://huggingface.co/Qwen/Qwen3-Coder-480B-A35B-Instruct/blob/main/config.json
    "qwen3-coder-480b": dict(h=6144, i=8192, v=151936, moe_i=2560, top_k=8),
}

# Accounting eras (docs/memory-model.md, section 2):
#  v0-old   : V0 before PR #10511 (<= 0.6.4): "Memory profiling results: ... non_torch_memory="
#  v0-10511 : V0 with PR #10511 (0.6.5.dev-0.6.6): baseline taken before the device is set up,
#             so CUDA context + NCCL count as non-torch
#  v0-post  : V0 0.7-0.10 ("Memory profiling takes ..."): baseline after NCCL init
#  v1-old   : V1 before PR #19312 (0.8.x-0.9.0): own formula, only token counts printed
#  v1       : V1 0.9.1-0.19 (memory_profiling from the post-NCCL snapshot, graphs outside)
#  v1-cg    : V1 0.20-0.2x (same, CUDA-graph estimate subtracted)
ERAS = ("v0-old", "v0-10511", "v0-post", "v1-old", "v1", "v1-cg")
# An era without a fitted constant borrows one with the same snapshot semantics.
FALLBACK = {"v1-cg": ["v1", "v0-post"], "v1": ["v1-cg", "v0-post"], "v1-old": ["v1", "v0-post"],
            "v0-post": ["v1", "v1-cg"], "v0-old": ["v0-post"], "v0-10511": ["v0-old", "v0-post"]}


def read_index():
    rows = []
    with open(FIXTURES / "INDEX.tsv", newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows.append(r)
    return rows


def num(x):
    return None if x in ("", "unknown", "-") else float(x)


def shape(r):
    """The model's shape: INDEX.tsv's columns (copied from MODELS / config.json)."""
    if r.get("hidden") not in (None, "", "-"):
        return dict(h=int(r["hidden"]), i=int(r["intermediate"]), v=int(r["vocab"]),
                    moe_i=int(r["moe_intermediate"]), top_k=int(r["top_k"]))
    return MODELS[r["model_key"]]


def act_features(r):
    """(token term, sampler term) in GiB for ALPHA = BETA = 1."""
    m = shape(r)
    tp = int(r["tp_model"])
    T = num(r["batched_tokens"])
    S = num(r["max_num_seqs"])
    if m["top_k"]:
        i_local = m["top_k"] * m["moe_i"] / tp
    else:
        i_local = m["i"] / tp
    tok = T * (m["h"] + 2 * i_local) * 2 / GiB
    samp = S * m["v"] * 4 / GiB
    return tok, samp


def lstsq2(xs, ys):
    """Least squares y = a*x0 + b*x1 without intercept (normal equations)."""
    s00 = sum(x[0] * x[0] for x in xs)
    s01 = sum(x[0] * x[1] for x in xs)
    s11 = sum(x[1] * x[1] for x in xs)
    t0 = sum(x[0] * y for x, y in zip(xs, ys))
    t1 = sum(x[1] * y for x, y in zip(xs, ys))
    det = s00 * s11 - s01 * s01
    if abs(det) < 1e-12:
        return t0 / s00, 0.0
    return (t0 * s11 - t1 * s01) / det, (s00 * t1 - s01 * t0) / det


def fit(cal):
    """Fits ALPHA, BETA, non_torch per era and the NVLink TP>1 increment on the rows given."""
    # 1) activation: only the logs that print it separately (V0 breakdown) pin ALPHA and BETA.
    v1_rows = [r for r in cal if r["era"] in V1_ERAS]
    cal_all, cal = cal, [r for r in cal if r["era"] not in V1_ERAS]
    xs, ys = [], []
    for r in cal:
        a = num(r["activation_gib"])
        if a is None or num(r["batched_tokens"]) is None:
            continue
        xs.append(act_features(r))
        ys.append(a)
    alpha, beta = lstsq2(xs, ys)
    beta = max(beta, 0.0)
    resid = [y - (alpha * x[0] + beta * x[1]) for x, y in zip(xs, ys)]
    act_sd = math.sqrt(sum(e * e for e in resid) / max(len(resid) - 2, 1))
    # 2) non-torch per era: mean of the logged value, or (V1, where only the sum is logged)
    #    what is left once weights, predicted activation and graphs are taken away.
    per_era, link = {}, []
    for r in cal:
        nt = num(r["non_torch_gib"])
        if nt is None:
            tok, samp = act_features(r)
            other = (num(r["total_gib"]) * float(r["util"]) - num(r["weights_gib"])
                     - num(r["available_kv_gib"]) - (num(r["cg_applied_gib"]) or 0.0))
            nt = other - (alpha * tok + beta * samp)
        if int(r["tp_model"]) > 1 and r["nvlink"] == "yes":
            link.append((r["era"], nt))
        else:
            per_era.setdefault(r["era"], []).append(nt)
    nt_era = {e: sum(v) / len(v) for e, v in per_era.items()}
    incr = [nt - nt_era[e] for e, nt in link if e in nt_era]
    nt_link = sum(incr) / len(incr) if incr else 0.0
    cal = cal_all
    c = dict(alpha=alpha, beta=beta, act_sd=act_sd, nt_era=nt_era, per_era=per_era,
             nt_link=nt_link, n_link=len(incr), n_act=len(ys))
    return fit_v1(cal, c)


V1_ERAS = ("v1", "v1-cg")


def ks_of(S, c):
    """Sampler-peak factor at max_num_seqs S: linear between the two fitted points."""
    lo, hi = c["ks_lo"], c["ks_hi"]
    t = min(max((S - 256.0) / (1024.0 - 256.0), 0.0), 1.0)
    return lo + (hi - lo) * t


def v1_activation(r, c):
    """V1 profile run: the forward pass and the dummy sampler run are separate, so the torch
    peak is the larger of the two (not their sum, as in V0)."""
    tok, samp = act_features(r)
    return max(c["alpha"] * tok, ks_of(float(r["max_num_seqs"]), c) * samp)


def v1_non_torch(r, c):
    nt = c["nt0"]
    if int(r["tp_model"]) > 1:
        nt += c["nt_nvl"] if r["nvlink"] == "yes" else c["nt_pcie"]
    if r.get("cross_node") == "yes":
        nt += c["nt_x"]
    return nt


def fit_v1(cal, c):
    """The V1 terms (0.9.1 and later), on the V1 calibration logs."""
    v1 = [r for r in cal if r["era"] in V1_ERAS and num(r["weights_gib"]) is not None]
    tp1 = [num(r["non_torch_gib"]) for r in v1 if num(r["non_torch_gib"]) is not None and int(r["tp_model"]) == 1]
    c["nt0"] = sum(tp1) / len(tp1) if tp1 else 0.13
    nvl = [num(r["non_torch_gib"]) - c["nt0"] for r in v1 if num(r["non_torch_gib"]) is not None
           and int(r["tp_model"]) > 1 and r["nvlink"] == "yes"]
    c["nt_nvl"] = sum(nvl) / len(nvl) if nvl else 0.0
    hi = [num(r["activation_gib"]) / act_features(r)[1] for r in v1
          if num(r["activation_gib"]) is not None and float(r["max_num_seqs"]) >= 1024]
    c["ks_hi"] = sum(hi) / len(hi) if hi else 9.6
    def rest(r):  # activation + non-torch, as the log implies it
        return (num(r["total_gib"]) * float(r["util"]) - num(r["weights_gib"]) - num(r["available_kv_gib"])
                - (num(r["cg_applied_gib"]) or 0.0))
    lo = [(rest(r) - c["nt0"]) / act_features(r)[1] for r in v1 if float(r["max_num_seqs"]) < 1024
          and int(r["tp_model"]) == 1 and r.get("cross_node") != "yes" and num(r["activation_gib"]) is None]
    c["ks_lo"] = sum(lo) / len(lo) if lo else c["ks_hi"]
    c["n_ks"] = (len(hi), len(lo))
    pcie = [rest(r) - v1_activation(r, c) - c["nt0"] for r in v1 if int(r["tp_model"]) > 1
            and r["nvlink"] != "yes" and r.get("cross_node") != "yes"]
    c["nt_pcie"] = max(sum(pcie) / len(pcie), 0.0) if pcie else 0.0  # no custom all-reduce: not below 0
    xs = [rest(r) - v1_activation(r, c) - c["nt0"] - (c["nt_pcie"] if int(r["tp_model"]) > 1 and r["nvlink"] != "yes" else 0.0)
          for r in v1 if r.get("cross_node") == "yes"]
    c["nt_x"] = sum(xs) / len(xs) if xs else 0.0
    # CUDA graphs (measured at capture, "Graph capturing finished ... took X GiB"): X = CG1 x tp
    g = [(int(r["tp_model"]), num(r["graph_gib"])) for r in cal if num(r.get("graph_gib")) is not None]
    c["cg1"] = sum(t * x for t, x in g) / sum(t * t for t, x in g) if g else 0.5
    # Pre-snapshot memory: total - free at the init snapshot ("Free memory on device ... on startup")
    pre = [(int(r["tp_model"]), num(r["total_gib"]) - num(r["free_at_start_gib"])) for r in cal
           if num(r.get("free_at_start_gib")) is not None]
    ctx = [x for t, x in pre if t == 1]
    c["ctx"] = sum(ctx) / len(ctx) if ctx else 0.6
    comm = [x - c["ctx"] for t, x in pre if t == 2]
    c["comm2"] = sum(comm) / len(comm) if comm else 0.0
    return c


def predict(r, c):
    if r["era"] in V1_ERAS:
        nt = v1_non_torch(r, c)
        act = v1_activation(r, c)
        cg = num(r["cg_applied_gib"]) or 0.0
        return num(r["total_gib"]) * float(r["util"]) - num(r["weights_gib"]) - nt - act - cg, nt, act
    alpha, beta, nt_era = c["alpha"], c["beta"], c["nt_era"]
    requested = num(r["total_gib"]) * float(r["util"])
    tok, samp = act_features(r)
    act = alpha * tok + beta * samp
    era = r["era"]
    nt = nt_era.get(era)
    if nt is None:  # an era without a calibration point: one with the same snapshot semantics
        nt = next(nt_era[e] for e in FALLBACK[era] + list(nt_era) if e in nt_era)
    if int(r["tp_model"]) > 1 and r["nvlink"] == "yes":
        nt += c["nt_link"]
    cg = num(r["cg_applied_gib"]) or 0.0
    return requested - num(r["weights_gib"]) - nt - act - cg, nt, act


def report(rows, c, title):
    hdr = f"{'fixture':38} {'split':11} {'era':8} {'logged':>7} {'pred':>7} {'err':>6} {'tol':>5}  ok"
    print(title)
    print(hdr)
    print("-" * len(hdr))
    summary = {}
    for r in rows:
        if num(r["weights_gib"]) is None:
            continue  # weights not logged: only the utilization-rule check below uses it
        cc = c(r) if callable(c) else c
        obs = num(r["available_kv_gib"])
        pred, nt, act = predict(r, cc)
        err = pred - obs
        tol = max(1.0, 0.03 * abs(obs))
        ok = abs(err) <= tol
        key = r["split"] if not callable(c) else "leave-one-out"
        s = summary.setdefault(key, dict(n=0, ok=0, abs=[], worst=0.0))
        s["n"] += 1
        s["ok"] += ok
        s["abs"].append(abs(err))
        s["worst"] = max(s["worst"], abs(err))
        print(f"{r['name']:38} {r['split']:11} {r['era']:8} {obs:7.2f} {pred:7.2f} {err:+6.2f} "
              f"{tol:5.2f}  {'yes' if ok else 'NO'}")
    for split in ("calibration", "heldout", "leave-one-out"):
        s = summary.get(split)
        if not s:
            continue
        mae = sum(s["abs"]) / len(s["abs"])
        print(f"  {split:13}: {s['ok']}/{s['n']} within max(1 GiB, 3 %); "
              f"mean |error| {mae:.2f} GiB; worst {s['worst']:.2f} GiB")
    print()


def pair_check(rows):
    """Runs that differ only in gpu_memory_utilization: the KV memory must move by
    delta_util x total (everything else in the budget is unchanged)."""
    pairs = {}
    for r in rows:
        if r.get("pair"):
            pairs.setdefault(r["pair"], []).append(r)
    for name, rs in pairs.items():
        rs.sort(key=lambda r: float(r["util"]))
        lo, hi = rs[0], rs[-1]
        d_obs = num(hi["available_kv_gib"]) - num(lo["available_kv_gib"])
        d_pred = (float(hi["util"]) - float(lo["util"])) * num(lo["total_gib"])
        print(f"utilization rule, pair {name}: util {lo['util']} -> {hi['util']}: KV "
              f"{num(lo['available_kv_gib']):.2f} -> {num(hi['available_kv_gib']):.2f} GiB, "
              f"logged delta {d_obs:.2f}, predicted {d_pred:.2f} GiB (error {d_pred - d_obs:+.2f})")
    print()


def main():
    rows = read_index()
    c = fit([r for r in rows if r["split"] == "calibration" and num(r["weights_gib"]) is not None])
    print("fitted constants (calibration split):")
    print(f"  ALPHA (x T*(h+2*i_local)*2 B) = {c['alpha']:.3f}")
    print(f"  BETA  (x S*V*4 B)             = {c['beta']:.3f}")
    print(f"  activation residual s.d.      = {c['act_sd']:.2f} GiB ({c['n_act']} logs with T known)")
    for e in ERAS:
        if e in c["nt_era"]:
            v = c["per_era"][e]
            print(f"  non_torch[{e}] = {c['nt_era'][e]:.2f} GiB from {len(v)} log(s): "
                  + ", ".join(f"{x:.2f}" for x in v))
    print(f"  non_torch NVLink TP>1 increment = {c['nt_link']:.2f} GiB from {c['n_link']} log(s)")
    print("V1 (0.9.1 and later; era v1 = graphs outside the budget, v1-cg = estimate subtracted):")
    print(f"  non_torch base (after the snapshot)  = {c['nt0']:.2f} GiB")
    print(f"  + NVLink TP>1 (custom all-reduce)    = {c['nt_nvl']:.2f} GiB")
    print(f"  + PCIe TP>1                          = {c['nt_pcie']:.2f} GiB")
    print(f"  + TP/PP group across nodes           = {c['nt_x']:.2f} GiB")
    print(f"  sampler factor KS (x S*V*4 B): S>=1024 {c['ks_hi']:.2f} ({c['n_ks'][0]} logs), S=256 {c['ks_lo']:.2f} ({c['n_ks'][1]} logs)")
    print(f"  activation = max(ALPHA x token term, KS(S) x sampler term)")
    print(f"  CUDA graphs at capture = {c['cg1']:.2f} GiB x TP")
    print(f"  pre-snapshot: CUDA context {c['ctx']:.2f} GiB, + NCCL/custom all-reduce at TP 2 (NVLink) {c['comm2']:.2f} GiB")
    print()
    pair_check(rows)
    report(rows, c, "calibration / held-out split:")
    # Leave-one-out: every fixture predicted by constants fitted on all the others. With this
    # few logs it says more about how well the terms generalise than one fixed split.
    def others(r):  # every other fixture, without r's utilization-pair partner (the same run)
        return [x for x in rows if x is not r and x["era"] != "v1-old"
                and not (r.get("pair") and x.get("pair") == r["pair"])]
    report(rows, lambda r: fit(others(r)),
           "leave-one-out (fit on all other fixtures, without the same run at another utilization and the pre-#19312 V1 one):")
    return 0


if __name__ == "__main__":
    sys.exit(main())
