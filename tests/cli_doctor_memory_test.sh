#!/usr/bin/env bash
# dsdeploy doctor --vllm-log with --inventory (issue 17, item 4): vLLM's memory lines beside what
# the plan predicted for that rank, the term that differed most, in text and --json; without an
# inventory the logged lines alone; an invalid inventory exits 2 before anything is read.
# Usage: cli_doctor_memory_test.sh DSDEPLOY_TOOL FIXTURES_DIR WORK_DIR
set -euo pipefail
tool=$1 fx=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
cd "$work"
export DSDEPLOY_API_KEY=
fail() { echo "FAIL: $*" >&2; exit 1; }
run() {
    local want=$1 out=$2; shift 2
    set +e; "$@" >"$out.out" 2>"$out.err"; local rc=$?; set -e
    [ "$rc" = "$want" ] || { cat "$out.out" "$out.err"; fail "$* exited $rc, expected $want"; }
}
expect() {  # expect FILE REGEX: an extended regex that must match a line of FILE
    grep -qE -- "$2" "$1" || { cat "$1"; fail "$1 has no line matching: $2"; }
}
json() {  # json FILE PYTHON-EXPRESSION: the expression over j (the parsed file) must be true
    python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" || { cat "$1"; fail "$1: not ($2)"; }
}

# dennislee22's run: Qwen2-7B-Instruct, TP 2 on one node of 2 x A100-80GB, utilization 0.25,
# 16,384 tokens, vLLM 0.10.1.1 (tests/fixtures/vllm-memory/dl-a100-qwen2-7b-tp2-u025.log).
cat >qwen.toml <<EOF
name = "qwen2-7b"
[network]
fabric = "tcp"
interface = "eth0"
[serving]
model = "$fx/vllm-memory/models/qwen2-7b-instruct"
model_path = "/data/models/Qwen2-7B-Instruct"
served_model_name = "qwen2-7b"
tensor_parallel_size = 2
pipeline_parallel_size = 1
gpu_memory_utilization = 0.25
max_model_len = 16384
[runtime]
vllm_version = "0.10.1.1"
[[nodes]]
name = "node1"
address = "10.0.0.1"
role = "head"
gpu_type = "A100-80GB"
gpu_count = 2
EOF
log="$fx/vllm-memory/dl-a100-qwen2-7b-tp2-u025.log"

# The plan matches what ran: every term within the model's uncertainty, no finding, exit 0.
run 0 match "$tool" --inventory qwen.toml doctor --node node1 --vllm-log "$log"
expect match.out "vLLM's start-up beside the plan \(vLLM 0\.10\.1\.1 logged, vLLM 0\.10\.1\.1 planned; stage 1 of 1\)"
expect match.out "^  weights +7\.12 GiB +7\.[0-9]{2} GiB +[+-]0\.[0-9]{2} GiB"
expect match.out "^  non_torch_and_activation +0\.[0-9]{2} GiB +[0-9.]+ GiB +[+-][0-9.]+ GiB"
expect match.out "^  cuda_graphs +0\.65 GiB +1\.00 GiB +-0\.35 GiB"
expect match.out "^  available_kv +12\.02 GiB +[0-9.]+ GiB +[+-]0\.[0-9]{2} GiB"
expect match.out "^  kv_tokens +450,192 +[0-9,]+ +[+-][0-9,]+"
expect match.out "^  max_concurrency +27\.48x"
expect match.out "<- differed most"
expect match.out "largest difference: (weights|non_torch_and_activation|cuda_graphs) \([+-]0\.[0-9]{2} GiB\); within the model's uncertainty"
expect match.out "non_torch_and_activation: derived: requested 79\.15 x 0\.25"
expect match.out "0 finding\(s\)"
# the same in JSON: the rows, the named term, no finding
run 0 match-json "$tool" --inventory qwen.toml doctor --json --node node1 --vllm-log "$log"
json match-json.out "j['findings'] == [] and len(j['vllm_memory']) == 1"
json match-json.out "j['vllm_memory'][0]['node'] == 'node1' and j['vllm_memory'][0]['logged']['weights']['value'] == 7.1217"
json match-json.out "j['vllm_memory'][0]['logged']['kv_tokens']['value'] == 450192 and j['vllm_memory'][0]['logged']['kv_tokens']['lines'] == 2"
json match-json.out "[r['name'] for r in j['vllm_memory'][0]['plan']['rows']] == ['weights', 'non_torch_and_activation', 'cuda_graphs', 'pre_snapshot', 'available_kv', 'kv_tokens', 'max_concurrency']"
json match-json.out "j['vllm_memory'][0]['plan']['largest'] in ('weights', 'non_torch_and_activation', 'cuda_graphs') and not j['vllm_memory'][0]['plan']['differs']"
json match-json.out "max((abs(r['difference']) for r in j['vllm_memory'][0]['plan']['rows'] if r['term'] and r['difference'] is not None)) == abs(next(r['difference'] for r in j['vllm_memory'][0]['plan']['rows'] if r['name'] == j['vllm_memory'][0]['plan']['largest']))"

# llm-d's Llama-3.3-70B FP8 run on 2 x H100, planned as the bf16 checkpoint: the weights
# differ most, by about 32 GiB, and the finding names them (a warning: exit 0).
sed -e 's|^model = .*|model = "meta-llama/Llama-3.3-70B-Instruct"|' -e 's/^gpu_memory_utilization = .*/gpu_memory_utilization = 0.9/' \
    -e 's/^max_model_len = .*/max_model_len = 16000/' -e 's/^vllm_version = .*/vllm_version = "0.11.0"/' \
    -e 's/^gpu_type = .*/gpu_type = "H100-SXM"/' qwen.toml >llama.toml
llama="$fx/vllm-memory/llmd-h100-llama33-70b-fp8-tp2.log"
run 0 differs "$tool" --inventory llama.toml doctor --node node1 --vllm-log "$llama"
expect differs.out "^  weights +33\.88 GiB +6[0-9]\.[0-9]{2} GiB +-3[0-9]\.[0-9]{2} GiB  <- differed most"
expect differs.out "^  pre_snapshot +1\.54 GiB"
expect differs.out "largest difference: weights \(-3[0-9]\.[0-9]{2} GiB\); beyond the model's uncertainty"
expect differs.out "WARNING  vllm\.memory_differs_from_plan  \[node1, vllm_log\]"
expect differs.out "the term that differed most is weights: logged 33\.88 GiB, predicted 6[0-9]\.[0-9]{2} GiB"
expect differs.out "fix: +Check that the inventory's serving\.model is the checkpoint vLLM loaded"
run 0 differs-json "$tool" --inventory llama.toml doctor --json --node node1 --vllm-log "$llama"
json differs-json.out "[f['id'] for f in j['findings']] == ['vllm.memory_differs_from_plan'] and j['warnings'] == 1"
json differs-json.out "j['vllm_memory'][0]['plan']['largest'] == 'weights' and j['vllm_memory'][0]['plan']['differs']"
json differs-json.out "j['findings'][0]['evidence'].find('Model loading took') >= 0"

# Without an inventory: the logged figures alone, text and JSON.
run 0 alone "$tool" doctor --node node1 --vllm-log "$log"
expect alone.out "^\[node1\] vLLM memory lines \(vLLM 0\.10\.1\.1\):"
expect alone.out "^  available_kv +12\.02 GiB  line 14"
expect alone.out "give the deployment's inventory with --inventory FILE"
grep -q "start-up beside the plan" alone.out && fail "doctor compared with a plan it was not given"
run 0 alone-json "$tool" doctor --json --node node1 --vllm-log "$log"
json alone-json.out "j['vllm_memory'][0]['plan'] is None and j['vllm_memory'][0]['logged']['available_kv']['value'] == 12.02"

# An invalid inventory: exit 2 through the one gate, with plan's message, before reading anything.
sed -e 's/^gpu_type = .*/gpu_type = "A100-80GB"/' -e 's/^tensor_parallel_size = .*/tensor_parallel_size = 3/' qwen.toml >bad.toml
run 2 bad "$tool" --inventory bad.toml doctor --node node1 --vllm-log "$log"
run 2 bad-plan "$tool" --inventory bad.toml plan
cmp -s bad.err bad-plan.err || { diff bad.err bad-plan.err || true; fail "doctor and plan disagree about bad.toml"; }
[ ! -s bad.out ] || { cat bad.out; fail "doctor printed something for an invalid inventory"; }
echo "dsdeploy doctor --vllm-log: memory lines beside the plan, all checks passed"
