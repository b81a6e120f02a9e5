#!/usr/bin/env bash
# dsdeploy's SSH orchestration against two real sshd hosts (hosts.sh, own test bed "dso" on
# 10.78.0.0/24 so it never touches the default dsd/10.77.0 one).
#
# usage: orchestrate_ssh.sh executor|bringup DSDEPLOY SSH_TEST_BIN VENV STATE_DIR
#   executor  the ssh executor's own tests (orchestrate_ssh_test): commands, stdin, exit codes,
#             time limits, host-key policy                                   (ctest: integration)
#   bringup   dsdeploy up --until cluster (real Ray 2.50.1 over SSH on both hosts), status, down
#             twice with nothing left in either namespace, then the faults: a worker that cannot
#             reach the head's GCS port, and a worker whose sshd is stopped     (ctest: e2e)
# Needs root (network namespaces); exits 77 (skipped) otherwise. Every namespace, sshd and
# process it starts is stopped on any exit.
set -euo pipefail

mode=${1:?mode}
dsdeploy=${2:?dsdeploy binary}
ssh_test=${3:?orchestrate_ssh_test binary}
venv=${4:?python environment with ray}
state=${5:?state dir}

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root for network namespaces"
    exit 77
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DSD_E2E_NAME=dso DSD_E2E_SUBNET=10.78.0
mkdir -p "$state"
state=$(cd "$state" && pwd)
hosts="$state/hosts"
work="$state/work"
up_done=0

log() { printf '[orchestrate_ssh] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

cleanup() {
    local rc=$?
    set +e
    if [ "$up_done" = 1 ] && [ -f "$work/inv.toml" ]; then
        # Bring h2's sshd back if a fault test stopped it, so down can reach it.
        bash "$here/hosts.sh" up "$hosts" >/dev/null 2>&1
        (cd "$work" && "$dsdeploy" -i inv.toml down >/dev/null 2>&1)
    fi
    bash "$here/hosts.sh" down "$hosts" >/dev/null 2>&1
    ip netns exec dso-h2 true 2>/dev/null && log "warning: namespace dso-h2 still there"
    exit "$rc"
}
trap cleanup EXIT INT TERM

log "test bed up ($DSD_E2E_NAME, $DSD_E2E_SUBNET.0/24)"
bash "$here/hosts.sh" up "$hosts"

# Processes in a host's namespace other than its sshd.
leftovers() {
    local ns=$1 pid out=""
    for pid in $(ip netns pids "$ns"); do
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sshd ] && continue
        out="$out $pid:$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c 1-80)"
    done
    printf '%s' "$out"
}

if [ "$mode" = executor ]; then
    DSD_ORCH_STATE="$hosts" DSD_ORCH_NS=dso DSD_ORCH_SUBNET=10.78.0 "$ssh_test" -w NoTests
    exit $?
fi
[ "$mode" = bringup ] || fail "unknown mode $mode"

# The deployment: both hosts, Ray over the process runtime from the shared venv, a tiny model.
rm -rf "$work"
mkdir -p "$work"
"$venv/bin/python" "$here/../server/make_tiny_model.py" --arch llama "$work/model" >/dev/null
cat >"$work/inv.toml" <<EOF
name = "dso-it"
[runtime]
kind = "process"
vllm_version = "0.11.0"
launcher = "ray"
python_env = "$venv"
num_cpus = 2
[api]
auth = true
[network]
fabric = "tcp"
interface = "eth0"
[serving]
model = "$work/model"
model_path = "$work/model"
served_model_name = "tiny"
tensor_parallel_size = 1
pipeline_parallel_size = 2
max_model_len = 1024
[[nodes]]
name = "h1"
address = "10.78.0.1"
ssh = "h1"
role = "head"
gpu_type = ""
gpu_count = 0
[[nodes]]
name = "h2"
address = "10.78.0.2"
ssh = "h2"
role = "worker"
gpu_type = ""
gpu_count = 0
EOF
export DSDEPLOY_API_KEY="sk-test-orch-$RANDOM$RANDOM$RANDOM"
cd "$work"
# Both hosts share this machine's file system: the remote folder is under the test's state (its
# path is long enough that each node's Ray temp folder goes to that host's private /tmp).
# --netcheck-min-link-fraction 0.05: the veth pair's nominal 10 Gb/s is not what two shared cores move.
up_args=(-i inv.toml up --ssh-config "$hosts/ssh_config" --remote-dir "$work/remote" --until cluster --cluster-timeout 240
  --netcheck-min-link-fraction 0.05)

log "up --until cluster"
t0=$SECONDS
up_done=1
if ! "$dsdeploy" "${up_args[@]}" >"$work/up.out" 2>&1; then
    cat "$work/up.out" >&2
    fail "up --until cluster failed"
fi
cat "$work/up.out"
log "up took $((SECONDS - t0)) s"
grep -q "wait-cluster: 2/2 nodes" "$work/up.out" || fail "up did not report 2/2 nodes"
[ -n "$(leftovers dso-h1)" ] || fail "nothing runs on h1 after up"
[ -n "$(leftovers dso-h2)" ] || fail "nothing runs on h2 after up"
# The secret kept its mode on the node.
[ "$(stat -c %a "$work/remote/h1/.env")" = 600 ] || fail ".env on h1 is not 0600"
grep -q "$DSDEPLOY_API_KEY" "$work/up.out" && fail "the API key appeared in up's output"

log "status"
"$dsdeploy" -i inv.toml status >"$work/status.out" 2>&1 || { cat "$work/status.out" >&2; fail "status exit $?"; }
cat "$work/status.out"
grep -q "ray: 2 nodes" "$work/status.out" || fail "status does not show 2 Ray nodes"
"$dsdeploy" -i inv.toml status --json >"$work/status.json"
"$venv/bin/python" - "$work/status.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["exit_code"] == 0, s
assert s["ray"]["nodes"] == 2, s["ray"]
assert all(p["alive"] for n in s["nodes"] for p in n["processes"]), s["nodes"]
PY
"$dsdeploy" -i inv.toml logs --node h2 --lines 5 | grep "logs/ray.log" >/dev/null || fail "logs shows no ray.log for h2"

log "down (twice)"
"$dsdeploy" -i inv.toml down | tee "$work/down1.out"
grep -q "h1: stopped" "$work/down1.out" && grep -q "h2: stopped" "$work/down1.out" || fail "down did not stop both"
"$dsdeploy" -i inv.toml down | tee "$work/down2.out"
left1=$(leftovers dso-h1)
left2=$(leftovers dso-h2)
[ -z "$left1" ] || fail "left on h1 after down:$left1"
[ -z "$left2" ] || fail "left on h2 after down:$left2"
set +e
"$dsdeploy" -i inv.toml status >"$work/status-down.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "status after down: exit $rc, expected 1"
grep -q "h1: ray is not running" "$work/status-down.out" || fail "status after down does not name h1's Ray"

log "fault: h2 cannot reach the head's GCS port (dropped inside dso-h2)"
ip netns exec dso-h2 nft add table inet dso_fault
ip netns exec dso-h2 nft add chain inet dso_fault out '{ type filter hook output priority 0; }'
ip netns exec dso-h2 nft add rule inet dso_fault out ip daddr 10.78.0.1 tcp dport 6379 drop
t0=$SECONDS
set +e
"$dsdeploy" "${up_args[@]}" >"$work/fault-reach.out" 2>&1
rc=$?
set -e
took=$((SECONDS - t0))
ip netns exec dso-h2 nft delete table inet dso_fault
cat "$work/fault-reach.out"
[ "$rc" = 1 ] || fail "blocked port: exit $rc, expected 1"
grep -q "step reach-head failed on h2" "$work/fault-reach.out" || fail "blocked port: no 'step reach-head failed on h2'"
grep -q "cannot reach the head h1 at 10.78.0.1:6379" "$work/fault-reach.out" || fail "blocked port: the message does not name the port"
[ "$took" -lt 180 ] || fail "blocked port: took ${took}s, the cluster timeout is 240 s"
log "blocked port reported in ${took}s"
"$dsdeploy" -i inv.toml down >/dev/null
[ -z "$(leftovers dso-h1)" ] || fail "left on h1 after the blocked-port fault and down"

log "fault: h2's sshd stopped"
kill "$(cat "$hosts/h2/sshd.pid")"
sleep 0.5
t0=$SECONDS
set +e
"$dsdeploy" "${up_args[@]}" >"$work/fault-ssh.out" 2>&1
rc=$?
set -e
took=$((SECONDS - t0))
cat "$work/fault-ssh.out"
[ "$rc" = 3 ] || fail "stopped sshd: exit $rc, expected 3"
grep -q "step preflight failed on h2" "$work/fault-ssh.out" || fail "stopped sshd: no 'step preflight failed on h2'"
grep -q "ssh exit 255" "$work/fault-ssh.out" || fail "stopped sshd: no 'ssh exit 255'"
[ "$took" -lt 60 ] || fail "stopped sshd: took ${took}s"
log "unreachable h2 reported in ${took}s"
set +e
"$dsdeploy" -i inv.toml status >"$work/status-unreach.out" 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || fail "status with h2 unreachable: exit $rc, expected 3"
grep -q "h2: UNREACHABLE" "$work/status-unreach.out" || fail "status does not say h2 is unreachable"
log "PASS"
