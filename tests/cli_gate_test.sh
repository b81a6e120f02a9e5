#!/usr/bin/env bash
# One gate for every command that reads an inventory (issue 12, item 2): for each inventory
# render refuses, plan refuses it too, with exit 2 and the same message (file, line, field),
# and so do up, status, down, netcheck and chat before they touch anything, and doctor when it
# compares a vLLM log with the inventory's plan.
# Usage: cli_gate_test.sh DSDEPLOY_TOOL WORK_DIR
set -euo pipefail
tool=$1 work=$2
rm -rf "$work"
mkdir -p "$work"
cd "$work"
export DSDEPLOY_API_KEY=
fail() { echo "FAIL: $*" >&2; exit 1; }
# run WANT_RC OUT_PREFIX CMD...: runs CMD, keeps stdout/stderr in OUT_PREFIX.out/.err, checks the exit status.
run() {
    local want=$1 out=$2; shift 2
    set +e; "$@" >"$out.out" 2>"$out.err"; local rc=$?; set -e
    [ "$rc" = "$want" ] || { cat "$out.out" "$out.err"; fail "$* exited $rc, expected $want"; }
}

run 0 init "$tool" init --out inv.toml
run 1 plan-ok "$tool" --inventory inv.toml plan   # valid, but does not fit: 1, not 2
printf '%s\n' "INFO [gpu_model_runner.py:2653] Model loading took 40.8800 GiB and 100.000000 seconds" >mem.log
run 0 doctor-ok "$tool" --inventory inv.toml doctor --vllm-log mem.log

# case NAME SED-EXPRESSION EXPECTED-FRAGMENT: an invalid inventory made from the valid one.
case_() {
    local name=$1 expr=$2 fragment=$3
    sed -e "$expr" inv.toml >"$name.toml"
    cmp -s inv.toml "$name.toml" && fail "$name: the edit '$expr' changed nothing"
    run 2 "$name-render" "$tool" --inventory "$name.toml" render --out "bundle-$name"
    [ ! -e "bundle-$name" ] || fail "$name: render wrote a bundle for an invalid inventory"
    grep -qF -- "$fragment" "$name-render.err" || { cat "$name-render.err"; fail "$name: render did not say '$fragment'"; }
    grep -qE "$name\.toml:[0-9]+: " "$name-render.err" || { cat "$name-render.err"; fail "$name: the error names no file and line"; }
    run 2 "$name-plan" "$tool" --inventory "$name.toml" plan
    cmp -s "$name-render.err" "$name-plan.err" || { diff "$name-render.err" "$name-plan.err" || true; fail "$name: plan and render disagree"; }
    [ ! -s "$name-plan.out" ] || { cat "$name-plan.out"; fail "$name: plan printed a plan for an invalid inventory"; }
    run 2 "$name-plan-json" "$tool" --inventory "$name.toml" plan --json
    cmp -s "$name-render.err" "$name-plan-json.err" || fail "$name: plan --json and render disagree"
    for cmd in up status down netcheck; do
        run 2 "$name-$cmd" "$tool" --inventory "$name.toml" "$cmd" --local --state-dir "state-$name"
        cmp -s "$name-render.err" "$name-$cmd.err" || { diff "$name-render.err" "$name-$cmd.err" || true; fail "$name: $cmd and render disagree"; }
    done
    [ ! -e "state-$name" ] || fail "$name: up wrote state for an invalid inventory"
    # chat takes its URL and key variable from the inventory: the same gate, before any request.
    run 2 "$name-chat" "$tool" --inventory "$name.toml" chat --max-tokens 1 hello
    cmp -s "$name-render.err" "$name-chat.err" || { diff "$name-render.err" "$name-chat.err" || true; fail "$name: chat and render disagree"; }
    # doctor compares a vLLM log's memory lines with the inventory's plan: the same gate
    run 2 "$name-doctor" "$tool" --inventory "$name.toml" doctor --vllm-log mem.log
    cmp -s "$name-render.err" "$name-doctor.err" || { diff "$name-render.err" "$name-doctor.err" || true; fail "$name: doctor and render disagree"; }
    # and doctor comparing tool output with what the inventory expects (nodes, GPUs, fabric)
    run 2 "$name-doctor-expect" "$tool" --inventory "$name.toml" doctor --expect-inventory --nccl-log mem.log
    cmp -s "$name-render.err" "$name-doctor-expect.err" || fail "$name: doctor --expect-inventory and render disagree"
}

case_ port_collision 's/^api = 8000/api = 6379/' 'inventory.ports] port_collision.toml:'
case_ name '0,/^name = .*/s//name = "bad name!"/' 'is not a deployment name'
case_ image 's|^image = .*|image = "vllm/vllm openai"|' 'is not an image reference'
case_ restart 's/^restart = .*/restart = "sometimes"/' 'is not a restart policy'
case_ shm_size 's/^shm_size = .*/shm_size = "lots"/' 'is not a size'
case_ api_key 's/^# key = .*/key = "short"/' 'api.key: the API key must be'
case_ api_host 's/^host = .*/host = "not an address"/' 'is not an address to bind'
case_ served_name 's/^served_model_name = .*/served_model_name = "two\\nlines"/' 'must be one line of printable text'
case_ extra_port 's/^# extra_args = .*/extra_args = ["--port", "9000"]/' '--port is derived from the inventory; set ports.api instead'
case_ old_vllm 's/^vllm_version = .*/vllm_version = "0.6.0"/' 'is older than'

# The API key named by api.key_env: render refuses an unusable one, and so does plan.
DSDEPLOY_API_KEY="not a key" run 2 env-render "$tool" --inventory inv.toml render --out bundle-env
grep -qF 'is set but is not a usable API key' env-render.err || { cat env-render.err; fail "render took an unusable \$DSDEPLOY_API_KEY"; }
DSDEPLOY_API_KEY="not a key" run 2 env-plan "$tool" --inventory inv.toml plan
cmp -s env-render.err env-plan.err || { diff env-render.err env-plan.err || true; fail "plan and render disagree about \$DSDEPLOY_API_KEY"; }

# A command-line override goes through the same gate.
run 2 override "$tool" --inventory inv.toml plan --model /not/a/model
echo "dsdeploy plan/render/up/status/down/netcheck/chat/doctor: one gate, all checks passed"
