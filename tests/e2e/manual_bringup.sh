#!/usr/bin/env bash
# The whole two-host bring-up done by hand over SSH, start to finish, as the reference for
# `dsdeploy up --runtime process`: test hosts up (hosts.sh), Ray head on h1, Ray worker on h2,
# wait for 2 Ray nodes, vLLM data parallel 2 across the hosts (the strongest multi-node mode of
# vLLM 0.11's CPU backend: see FINDINGS.md), wait for /health with progress, chat requests
# served by both hosts, then teardown per node and a check that nothing is left behind.
# Exits non-zero on any failure (teardown still runs).
#
# usage: manual_bringup.sh STATE_DIR        (as root)
# Environment: DSD_VENV (default REPO/build/venv) with vLLM 0.11 (CPU) and Ray 2.50;
#   DSD_HEALTH_TIMEOUT (s, default 900); DSD_FIXTURES=DIR saves the `ray status` outputs there;
#   DSD_KEEP_HOSTS=1 leaves the namespaces and sshds up afterwards.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: manual_bringup.sh STATE_DIR" >&2; exit 2; }
mkdir -p "$1"
STATE="$(cd "$1" && pwd)"
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODEL_DIR="$STATE/model"
HEALTH_TIMEOUT="${DSD_HEALTH_TIMEOUT:-900}"

if [ ! -x "$VENV/bin/vllm" ] || [ ! -x "$VENV/bin/ray" ]; then fail "no vllm/ray in $VENV (set DSD_VENV)"; fi

teardown() { manual_teardown $? h2 "bring-up, chat and teardown"; }
trap teardown EXIT

T_ALL="$(now)"
"$E2E_DIR/hosts.sh" up "$STATE"

if [ ! -s "$MODEL_DIR/config.json" ]; then
  log "making the tiny model in $MODEL_DIR"
  HF_HUB_OFFLINE=1 "$VENV/bin/python" "$REPO_ROOT/tests/server/make_tiny_model.py" "$MODEL_DIR" >/dev/null
fi

# Leftovers from an earlier run that was killed would make this run's checks meaningless.
for h in h1 h2; do
  [ -z "$(leftovers "$h")" ] || fail "$h: processes already running in dsd-$h: $(leftovers "$h")"
done

log "starting the Ray head on h1 ($HEAD_ADDR:$GCS_PORT)"
T_RAY="$(now)"
ray_start_head || fail "h1: ray start --head failed: $(tail -n 5 "$STATE/h1.ray.out")"
log "h1: Ray head up in $(since "$T_RAY") s (process group $(cat "$STATE/h1.ray.pgid"))"

# A worker that cannot reach the GCS would otherwise retry for minutes: check the port first.
hssh h2 "timeout 5 bash -c '</dev/tcp/$HEAD_ADDR/$GCS_PORT'" ||
  fail "h2: cannot reach the Ray head's GCS at $HEAD_ADDR:$GCS_PORT (step: ray worker)"
T_W="$(now)"
ray_start_worker || fail "h2: ray start --address $HEAD_ADDR:$GCS_PORT failed: $(grep -v '^ ' "$STATE/h2.ray.out" | tail -n 3)"
log "h2: Ray worker started in $(since "$T_W") s (process group $(cat "$STATE/h2.ray.pgid"))"

n=0
until ray_status_nodes 2 > "$STATE/ray_status_2nodes.txt"; do
  n=$((n + 1)); [ "$n" -ge 24 ] && fail "ray status does not show 2 nodes: $(cat "$STATE/ray_status_2nodes.txt")"
  sleep 5
done
T_RAY2="$(since "$T_RAY")"
log "Ray cluster has 2 nodes, $T_RAY2 s after ray start --head"
if [ -n "${DSD_FIXTURES:-}" ]; then
  mkdir -p "$DSD_FIXTURES"; cp "$STATE/ray_status_2nodes.txt" "$DSD_FIXTURES/ray_status_two_nodes.txt"
fi

log "starting vLLM: API server + engine 0 on h1, headless engine 1 on h2 (data parallel 2)"
T_V="$(now)"
start_vllm_head
start_vllm_worker
T_HEALTH="$(wait_health "$HEALTH_TIMEOUT")"
log "vLLM /health is 200 after $T_HEALTH s"

reply="$(chat "Hello from the e2e test" 8)"
printf '%s\n' "$reply" | grep -q '"choices":\[{"index":0,"message":{"role":"assistant","content":' ||
  fail "chat request did not return a completion: $reply"
log "chat: $(printf '%s' "$reply" | grep -o '"usage":{[^}]*}')"

# Several requests at once so the API server balances them over both engines, then the head's
# periodic stats (every 10 s) must show engine 1 - the one on h2 - doing work.
for i in 1 2 3 4 5 6; do chat "request $i" 16 > /dev/null & done
wait
sleep 11
H1LOG="$STATE/h1/tmp${REMOTE_RUN#/tmp}/vllm.log"
grep -a 'Engine 001: Avg prompt throughput' "$H1LOG" | grep -q -v 'Avg prompt throughput: 0.0 tokens/s, Avg generation throughput: 0.0' ||
  fail "engine 1 (h2) served no request (see $H1LOG)"
pgrep_h2="$(ip netns pids dsd-h2 | xargs -r ps -o comm= -p | grep -c 'VLLM::EngineCor' || true)"
[ "$pgrep_h2" -ge 1 ] || fail "no vLLM engine process in dsd-h2"
log "engine 1 runs in dsd-h2 and served requests: $(grep -a 'Engine 001: Avg prompt throughput' "$H1LOG" | grep -v 'throughput: 0.0 tokens/s, Avg generation throughput: 0.0' | tail -n 1 | sed 's/.*Engine 001/Engine 001/' | cut -c1-100)"

log "memory (PSS): h1 $(pss_mib h1) MiB, h2 $(pss_mib h2) MiB"
log "listening in dsd-h1: $(ip netns exec dsd-h1 ss -Hltn | awk '{print $4}' | sort -u | tr '\n' ' ')"
log "timings: Ray 2 nodes $T_RAY2 s, vLLM /health $T_HEALTH s after launch ($(since "$T_V") s incl. checks), total $(since "$T_ALL") s"
