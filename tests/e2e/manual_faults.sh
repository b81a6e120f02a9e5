#!/usr/bin/env bash
# The three faults of the end-to-end test done by hand over SSH, each checked for its symptom
# and for the time it takes to show (see FINDINGS.md for the figures):
#   1. a worker host whose sshd is stopped;
#   2. a worker that cannot reach the head's GCS port (dropped inside its namespace with nft);
#   3. the vLLM API server killed after start;
# plus a Ray worker killed outright (ray status with a node missing). Teardown as in
# manual_bringup.sh; exits non-zero when a symptom is not as expected.
#
# usage: manual_faults.sh STATE_DIR        (as root)
# Environment: as manual_bringup.sh (DSD_VENV, DSD_HEALTH_TIMEOUT, DSD_FIXTURES, DSD_KEEP_HOSTS).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: manual_faults.sh STATE_DIR" >&2; exit 2; }
mkdir -p "$1"
STATE="$(cd "$1" && pwd)"
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODEL_DIR="$STATE/model"
HEALTH_TIMEOUT="${DSD_HEALTH_TIMEOUT:-900}"

# Lifts the faults this script injects: the nftables drop on h2 and a stopped sshd.
lift_faults() {
  ip netns exec dsd-h2 nft delete table inet dsd_fault 2>/dev/null || true
  if [ -s "$STATE/ssh_config" ]; then "$E2E_DIR/hosts.sh" up "$STATE" >/dev/null 2>&1 || true; fi
}
teardown() { manual_teardown $? h2 "all fault symptoms as expected" lift_faults; }
trap teardown EXIT

save_fixture() { if [ -n "${DSD_FIXTURES:-}" ]; then mkdir -p "$DSD_FIXTURES"; cp "$1" "$DSD_FIXTURES/$2"; fi; }

"$E2E_DIR/hosts.sh" up "$STATE"
if [ ! -s "$MODEL_DIR/config.json" ]; then
  HF_HUB_OFFLINE=1 "$VENV/bin/python" "$REPO_ROOT/tests/server/make_tiny_model.py" "$MODEL_DIR" >/dev/null
fi

# --- 1. sshd on h2 stopped: refused at once; a host that drops port 22 takes ConnectTimeout.
kill "$(cat "$STATE/h2/sshd.pid")"
sleep 0.5
t0="$(now)"; rc=0; msg="$(hssh h2 true 2>&1)" || rc=$?
el="$(since "$t0")"
log "fault 1 (sshd stopped): ssh h2 exit $rc after $el s: $msg"
if [ "$rc" != 255 ] || [[ "$msg" != *"Connection refused"* ]]; then fail "fault 1: expected exit 255 and 'Connection refused'"; fi
"$E2E_DIR/hosts.sh" up "$STATE" 2>/dev/null   # restarts the stopped sshd
ip netns exec dsd-h2 nft -f - <<'EOF'
table inet dsd_fault {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 22 drop
  }
}
EOF
t0="$(now)"; rc=0; msg="$(hssh -o ConnectTimeout=3 h2 true 2>&1)" || rc=$?
el="$(since "$t0")"
ip netns exec dsd-h2 nft delete table inet dsd_fault
log "fault 1b (port 22 dropped, ConnectTimeout=3): ssh h2 exit $rc after $el s: $msg"
if [ "$rc" != 255 ] || [[ "$msg" != *"timed out"* ]]; then fail "fault 1b: expected exit 255 and 'timed out'"; fi

# --- 2. h2 cannot reach the head's GCS port.
ray_start_head || fail "h1: ray start --head failed: $(tail -n 5 "$STATE/h1.ray.out")"
ip netns exec dsd-h2 nft -f - <<EOF
table inet dsd_fault {
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr $HEAD_ADDR tcp dport $GCS_PORT drop
  }
}
EOF
t0="$(now)"; rc=0
hssh h2 "timeout 5 bash -c '</dev/tcp/$HEAD_ADDR/$GCS_PORT'" || rc=$?
log "fault 2 (GCS port dropped in dsd-h2): TCP pre-check from h2 exit $rc after $(since "$t0") s"
[ "$rc" = 124 ] || fail "fault 2: the pre-check should time out (exit 124)"
t0="$(now)"; rc=0
ray_start_worker || rc=$?
el="$(since "$t0")"
log "fault 2: ray start --address (RAY_NUM_REDIS_GET_RETRIES=3 RAY_py_gcs_connect_timeout_s=5) exit $rc after $el s: $(grep -E '^(RuntimeError|ray.exceptions)' "$STATE/h2.ray.out" | tail -n 2 | tr '\n' ' ')"
[ "$rc" != 0 ] || fail "fault 2: ray start should fail"
grep -q 'Failed to connect to GCS at address' "$STATE/h2.ray.out" || fail "fault 2: no GCS message in $STATE/h2.ray.out"
[ -z "$(leftovers h2)" ] || fail "fault 2: the failed ray start left processes: $(leftovers h2)"
ip netns exec dsd-h2 nft delete table inet dsd_fault

# --- Bring the rest up for the next faults.
ray_start_worker || fail "h2: ray start failed: $(tail -n 3 "$STATE/h2.ray.out")"
n=0
until ray_status_nodes 2 > "$STATE/ray_status_2nodes.txt"; do
  n=$((n + 1)); [ "$n" -ge 24 ] && fail "ray status does not show 2 nodes"
  sleep 5
done
start_vllm_head
start_vllm_worker
log "vLLM /health after $(wait_health "$HEALTH_TIMEOUT") s"
chat "before the fault" 4 | grep -q '"choices"' || fail "no chat reply before fault 3"

# --- 3. vLLM API server killed (SIGKILL) after start.
pgid="$(cat "$STATE/h1.vllm.pgid")"
api_pid="$(hssh h1 "pgrep -g $pgid -f 'bin/vllm serve'")"
hssh h1 "kill -KILL $api_pid"
t0="$(now)"
code="$(health_code)"
log "fault 3 (vLLM API server pid $api_pid killed): /health -> HTTP '$code' after $(since "$t0") s"
[ "$code" = 000 ] || fail "fault 3: /health should refuse connections (curl code 000), got $code"
sleep 30
log "fault 3: 30 s later, left in vLLM's group on h1: $(hssh h1 "pgrep -g $pgid -l | tr '\n' ' '")"
log "fault 3: 30 s later, left in vLLM's group on h2: $(hssh h2 "pgrep -g $(cat "$STATE/h2.vllm.pgid") -l | tr '\n' ' '")"
ray_status_nodes 2 > "$STATE/ray_status_after_vllm_killed.txt" || fail "fault 3: Ray lost a node"
log "fault 3: ray status still shows 2 nodes (vLLM does not use Ray in this mode)"
stop_group h2 vllm 20
stop_group h1 vllm 20

# --- 4. Ray worker stopped (SIGTERM: graceful) and killed (SIGKILL): ray status with a node missing.
stop_group h2 ray 16
t0="$(now)"
until ray_status_nodes 1 > "$STATE/ray_status_worker_stopped.txt"; do
  [ "$(since "$t0" | cut -d. -f1)" -ge 120 ] && fail "ray status still shows 2 nodes 120 s after the worker stopped"
  sleep 2
done
log "Ray worker stopped (SIGTERM): ray status shows 1 node after $(since "$t0") s"
save_fixture "$STATE/ray_status_worker_stopped.txt" ray_status_worker_stopped.txt
ray_start_worker || fail "h2: ray start failed again"
until ray_status_nodes 2 > "$STATE/ray_status_2nodes.txt"; do sleep 2; done
hssh h2 "kill -KILL -- -$(cat "$STATE/h2.ray.pgid")"
t0="$(now)"
until ray_status_nodes 1 > "$STATE/ray_status_worker_killed.txt"; do
  [ "$(since "$t0" | cut -d. -f1)" -ge 180 ] && fail "ray status still shows 2 nodes 180 s after the worker was killed"
  sleep 2
done
log "Ray worker killed (SIGKILL): ray status shows 1 node after $(since "$t0") s"
sleep 5
ray_status_nodes 1 > "$STATE/ray_status_worker_killed.txt" || true
save_fixture "$STATE/ray_status_worker_killed.txt" ray_status_worker_killed.txt
rm -f "$STATE/h2.ray.pgid"
