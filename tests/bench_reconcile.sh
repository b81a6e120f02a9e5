#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# dsdeploy -i INVENTORY bench against the real CPU vLLM of the vllm_plain fixture: the
# reconciliation PATH (the deployment's plan through the inventory gate, the performance model's
# prediction for the workload the run sent, predicted beside measured with the error in the text
# summary, --json, reconciliation.json and report.html). It asserts the path and that the figures
# are the run's own, NOT the model's accuracy: the model is for GPUs (the plan is 2 x 8 L20), the
# server a tiny model on CPU. A bad inventory exits 2 before any request.
#   bench_reconcile.sh DSDEPLOY_EXE VLLM_STATE_DIR WORK_DIR
set -euo pipefail
exe=$1 state=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
base_url="$(cat "$state/base_url")"
model="$(cat "$state/model")"

# The deployment: the built-in inventory (2 nodes x 8 L20) serving a model that fits.
"$exe" init -o "$work/inventory.toml" > /dev/null
sed 's#^model = "deepseek-ai/DeepSeek-V3"#model = "meta-llama/Llama-3.1-70B-Instruct"#' "$work/inventory.toml" > "$work/llama.toml"
grep -q '^model = "meta-llama/Llama-3.1-70B-Instruct"' "$work/llama.toml"

# A bad inventory: exit 2 from the gate, nothing sent, nothing written.
sed '0,/^gpu_count = 8 /s//gpu_count = -3 /' "$work/llama.toml" > "$work/bad.toml"
rc=0
"$exe" -i "$work/bad.toml" bench --base-url "$base_url" --model "$model" --max-num-completed-requests 2 \
  --results-dir "$work/bad-out" > "$work/bad-stdout.txt" 2> "$work/bad-stderr.txt" || rc=$?
cat "$work/bad-stderr.txt"
test "$rc" -eq 2 || { echo "a bad inventory gave exit $rc, not 2"; exit 1; }
grep -q "bad.toml" "$work/bad-stderr.txt"
test ! -e "$work/bad-out" || { echo "a bad inventory still ran the benchmark"; exit 1; }

# The run, text summary and files.
"$exe" -i "$work/llama.toml" bench --base-url "$base_url" --model "$model" --mean-input-tokens 40 --stddev-input-tokens 0 \
  --mean-output-tokens 6 --stddev-output-tokens 0 --max-num-completed-requests 6 --num-concurrent-requests 2 \
  --additional-sampling-params '{"ignore_eos": true}' --results-dir "$work/out" --progress-interval 0 \
  > "$work/stdout.txt" 2> "$work/stderr.txt" || { cat "$work/stderr.txt"; exit 1; }
cat "$work/stdout.txt"
grep -q "=============== Predicted beside measured ===============" "$work/stdout.txt"
grep -q "^Deployment:           meta-llama/Llama-3.1-70B-Instruct on 2 x 8 L20, TP 8 x PP 2" "$work/stdout.txt"
for m in "TTFT (mean) ms" "TPOT (mean) ms" "ITL (mean) ms" "output tokens/s tok/s" "requests/s req/s"; do
  grep -q "^$m " "$work/stdout.txt" || { echo "no row for $m"; exit 1; }
done
grep -q "Predicted beside measured" "$work/out/report.html"
grep -q "TTFT (mean) (ms)" "$work/out/report.html"

# --json: the same object under "reconciliation"
"$exe" -i "$work/llama.toml" bench --base-url "$base_url" --model "$model" --mean-input-tokens 40 --stddev-input-tokens 0 \
  --mean-output-tokens 6 --stddev-output-tokens 0 --max-num-completed-requests 4 --num-concurrent-requests 2 \
  --additional-sampling-params '{"ignore_eos": true}' --json --progress-interval 0 > "$work/json.txt" 2> "$work/json-stderr.txt" || {
  cat "$work/json-stderr.txt"; exit 1; }

python3 - "$work" <<'PY'
import glob, json, sys
work = sys.argv[1]
def check(rec, measured, label):
    keys = [m["metric"] for m in rec["metrics"]]
    assert keys == ["ttft_ms", "tpot_ms", "itl_ms", "output_tok_s", "requests_s"], keys
    assert rec["deployment"].startswith("meta-llama/Llama-3.1-70B-Instruct on 2 x 8 L20"), rec["deployment"]
    assert rec["workload"].endswith(",out=6,concurrency=2"), rec["workload"]
    for m in rec["metrics"]:
        p = m["predicted"]
        assert p["value"] > 0 and p["low"] <= p["value"] <= p["high"], m
        assert p["provenance"] in ("datasheet", "calibrated", "extrapolated"), m
        assert m["measured"] is not None and m["measured"] > 0, m
        # the error is the measurement's against the prediction, as printed
        assert abs(m["error"] - (m["measured"] - p["value"]) / p["value"]) < 1e-9, m
        assert m["within_range"] == (p["low"] <= m["measured"] <= p["high"]), m
    got = {m["metric"]: m["measured"] for m in rec["metrics"]}
    # the measured side is the run's own figures, not recomputed elsewhere
    for k, v in measured.items():
        assert abs(got[k] - v) < 1e-6 * max(1, abs(v)), (label, k, got[k], v)
    print(f"{label}: " + ", ".join(f"{m['metric']} predicted {m['predicted']['value']:.3g} measured {m['measured']:.3g} "
                                     f"({m['error']:+.0%})" for m in rec["metrics"]))

rec = json.load(open(f"{work}/out/reconciliation.json"))
s = json.load(open(glob.glob(f"{work}/out/*_summary.json")[0]))
a = json.load(open(f"{work}/out/profile_export_aiperf.json"))
check(rec, {"ttft_ms": s["results_ttft_s_mean"] * 1000, "output_tok_s": a["output_token_throughput"]["avg"],
            "requests_s": a["request_throughput"]["avg"]}, "text run")
j = json.load(open(f"{work}/json.txt"))
check(j["reconciliation"], {"ttft_ms": j["mean_ttft_ms"], "tpot_ms": j["mean_tpot_ms"], "itl_ms": j["mean_itl_ms"],
                            "output_tok_s": j["output_throughput"], "requests_s": j["request_throughput"]}, "--json run")
print("reconciliation path (not accuracy): ok")
PY
