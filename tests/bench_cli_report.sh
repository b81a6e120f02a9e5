#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# dsdeploy bench as llmperf users call it (OPENAI_API_BASE/OPENAI_API_KEY, llmperf's flags)
# against the real vLLM server of the vllm_plain fixture: a two-point sweep writes llmperf's
# files with every key, vLLM's result JSON and report.html; headless Chromium renders the report
# and the screenshot must not be blank; SIGINT mid-run writes the results gathered so far.
#   bench_cli_report.sh DSDEPLOY_EXE VLLM_STATE_DIR WORK_DIR
set -euo pipefail
exe=$1 state=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
OPENAI_API_BASE="$(cat "$state/base_url")"
export OPENAI_API_BASE
export OPENAI_API_KEY=not-checked-by-this-server
model=$(cat "$state/model")

"$exe" bench --model "$model" --mean-input-tokens 40 --stddev-input-tokens 5 --mean-output-tokens 6 \
  --stddev-output-tokens 1 --max-num-completed-requests 6 --num-concurrent-requests 2 --timeout 600 \
  --results-dir "$work/out" --additional-sampling-params '{"ignore_eos": true, "temperature": 0}' \
  --metadata run=ci --sweep 1,2 --save-result --num-warmups 1 --progress-interval 0.05 > "$work/stdout.txt" 2> "$work/stderr.txt" || {
  echo "dsdeploy bench failed:"; cat "$work/stderr.txt"; exit 1; }
cat "$work/stdout.txt"
grep -q "Serving Benchmark Result" "$work/stdout.txt"
grep -q "Prompt tokens sized:  server /tokenize" "$work/stdout.txt"
# progress lines name the sweep point (a tiny model on an idle machine answers a point in < 1 s)
grep -q "^dsdeploy bench: c=2 [0-9]*/6 done, " "$work/stderr.txt"

python3 - "$work/out" "$model" <<'PY'
import glob, json, os, re, sys
out, model = sys.argv[1], sys.argv[2]
stem = re.sub(r"-+", "-", re.sub(r"[^\w-]", "-", f"{model}_40_6"))
metrics = ["inter_token_latency_s", "ttft_s", "end_to_end_latency_s", "request_output_throughput_token_per_s",
           "number_input_tokens", "number_output_tokens"]
want = ["version", "name", "model", "mean_input_tokens", "stddev_input_tokens", "mean_output_tokens",
        "stddev_output_tokens", "num_concurrent_requests", "additional_sampling_params_ignore_eos",
        "additional_sampling_params_temperature"]
for m in metrics:
    want += [f"results_{m}_quantiles_p{q}" for q in (25, 50, 75, 90, 95, 99)]
    want += [f"results_{m}_{k}" for k in ("mean", "min", "max", "stddev")]
want += ["results_num_requests_started", "results_error_rate", "results_number_errors", "results_error_code_frequency",
         "results_mean_output_throughput_token_per_s", "results_num_completed_requests",
         "results_num_completed_requests_per_min", "output_token_source", "prompt_token_source", "run", "timestamp"]
for c in (1, 2):
    d = f"{out}/concurrency-{c}"
    s = json.load(open(f"{d}/{stem}_summary.json"))
    assert list(s) == want, (list(s), want)
    assert s["num_concurrent_requests"] == c and s["results_num_completed_requests"] == 6, s
    ind = json.load(open(f"{d}/{stem}_individual_responses.json"))
    assert len(ind) == 6 and all(r["error_code"] is None for r in ind), ind
    assert sum(r["number_output_tokens"] for r in ind) == s["results_number_output_tokens_mean"] * 6
    v = glob.glob(f"{d}/dsdeploy-infqps-concurrency{c}-*.json")
    assert len(v) == 1, v
    vj = json.load(open(v[0]))
    assert vj["completed"] == 6 and vj["total_output_tokens"] == sum(r["number_output_tokens"] for r in ind)
print("llmperf keys and counts: ok")
PY

# The report in headless Chromium: a screenshot that is not blank.
report="$work/out/report.html"
test -s "$report"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,1900 \
  --user-data-dir="$work/chromium-profile" --screenshot="$work/report.png" "file://$report" > "$work/chromium.log" 2>&1 || {
  cat "$work/chromium.log"; exit 1; }
python3 "$(dirname "$0")/png_ink.py" "$work/report.png" --min-ink 0.02 --min-colors 4

# Open loop, --request-rate alone: no cap on requests in flight (as vLLM; it was 10 before), per-
# request scheduled and actual send times kept, the rate in the summary, tokens from server usage.
"$exe" bench --model "$model" --mean-input-tokens 30 --stddev-input-tokens 0 --mean-output-tokens 8 \
  --stddev-output-tokens 0 --max-num-completed-requests 24 --request-rate 2000 --timeout 600 \
  --additional-sampling-params '{"ignore_eos": true}' --results-dir "$work/open" --save-result \
  --progress-interval 0 > "$work/open-stdout.txt" 2> "$work/open-stderr.txt" || {
  echo "open-loop dsdeploy bench failed:"; cat "$work/open-stderr.txt"; exit 1; }
cat "$work/open-stdout.txt"
grep -q "Mean TTFT from scheduled (ms):" "$work/open-stdout.txt"
grep -q "Request rate configured (RPS):           2000.00" "$work/open-stdout.txt"
if grep -q "Maximum request concurrency:" "$work/open-stdout.txt"; then echo "an uncapped open loop printed a cap"; exit 1; fi
python3 - "$work/open" <<'PY'
import glob, json, sys
d = sys.argv[1]
s = json.load(open(glob.glob(f"{d}/*_summary.json")[0]))
assert s["request_rate"] == 2000 and s["max_concurrency"] is None, s
assert s["output_token_source"].startswith("server usage"), s["output_token_source"]
assert s["results_num_completed_requests"] == 24, s
ind = json.load(open(glob.glob(f"{d}/*_individual_responses.json")[0]))
assert len(ind) == 24
for r in ind:
    assert r["send_time_s"] >= r["scheduled_time_s"] - 1e-9, r
    assert abs(r["ttft_from_scheduled_s"] - (r["ttft_s"] + r["send_lag_s"])) < 1e-6, r
    assert r["output_token_source"] == "server usage", r
# 24 requests scheduled within ~12 ms, each taking far longer on a CPU server: with no cap more
# than the old silent 10 are in flight at once
v = json.load(open(glob.glob(f"{d}/dsdeploy-2000.0qps-*.json")[0]))
assert v["max_concurrency"] is None, v["max_concurrency"]
assert v["max_concurrent_requests"] > 10, v["max_concurrent_requests"]
print(f"open loop: {v['max_concurrent_requests']} in flight at once, rate {s['request_rate']} req/s, no cap")
PY

# Ctrl-C mid-run: the results gathered so far are written, exit status 1.
"$exe" bench --model "$model" --mean-input-tokens 30 --stddev-input-tokens 0 --mean-output-tokens 8 \
  --stddev-output-tokens 0 --max-num-completed-requests 400 --num-concurrent-requests 2 --progress-interval 0.2 \
  --results-dir "$work/interrupted" > "$work/int-stdout.txt" 2> "$work/int-stderr.txt" &
pid=$!
# A background job of a non-interactive shell starts with SIGINT ignored, so the signal must come
# once the run (and its handler) has started; and a first request on a new prompt length can take
# seconds on CPU: wait for a progress line with at least one request finished.
for _ in $(seq 1 600); do
  grep -q "c=2 [1-9][0-9]*/400 done, " "$work/int-stderr.txt" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
cat "$work/int-stdout.txt"
test "$rc" -eq 1
grep -q "Interrupted: the results cover the requests finished before the stop." "$work/int-stdout.txt"
python3 - "$work/interrupted" <<'PY'
import glob, json, sys
s = json.load(open(glob.glob(f"{sys.argv[1]}/*_summary.json")[0]))
n = s["results_num_completed_requests"]
assert 0 < n < 400, n
assert s["results_number_errors"] == 0, s
print(f"interrupted run: {n} request(s) written")
PY
echo "bench CLI against vLLM: ok"
