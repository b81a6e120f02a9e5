#!/usr/bin/env bash
# The two-host bring-up with the model SPLIT across the hosts: pipeline parallel 2, layers 0-1 on
# h1 and 2-3 on h2, with vLLM's own multi-node launcher (mp executor, --nnodes 2 --node-rank R
# --master-addr h1, --headless on h2), with vLLM 0.20 (FINDINGS.md: 0.11.0 has no multi-node mp,
# 0.11.1-0.12 fail on CPU; older ones that run need another CPU binding list) and a model whose
# head_dim vLLM 0.20's CPU attention supports (32; the shared tiny model has 16). Steps: hosts up, Ray head + worker and 2 Ray nodes
# (as manual_bringup.sh, although vLLM does not use Ray in this mode), vLLM rank 0 + API server on
# h1 and rank 1 on h2, /health, a chat reply, each rank's layers, teardown, leftover check.
# Exits non-zero on any failure (teardown still runs).
#
# usage: manual_bringup_pp.sh STATE_DIR        (as root)
# Environment: DSD_VENV (default REPO/build/venv-e2e, made by scripts/python-env-e2e.sh);
#   DSD_HEALTH_TIMEOUT (s, default 900); DSD_SKIP_RAY=1 leaves Ray out; DSD_KEEP_HOSTS=1 leaves
#   the namespaces and sshds up afterwards.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: manual_bringup_pp.sh STATE_DIR" >&2; exit 2; }
mkdir -p "$1"
STATE="$(cd "$1" && pwd)"
DSD_VENV="${DSD_VENV:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/venv-e2e}"
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODEL_DIR="$STATE/model-pp"
HEALTH_TIMEOUT="${DSD_HEALTH_TIMEOUT:-900}"
SKIP_RAY="${DSD_SKIP_RAY:-0}"

if [ ! -x "$VENV/bin/python" ] || [ ! -x "$VENV/bin/ray" ]; then fail "no python/ray in $VENV (set DSD_VENV)"; fi
vllm_version="$("$VENV/bin/python" -c 'import vllm; print(vllm.__version__)' 2>/dev/null)" || fail "no vllm in $VENV"
log "vLLM $vllm_version from $VENV"

teardown() { manual_teardown $? h1 "pipeline-parallel bring-up, chat and teardown"; }
trap teardown EXIT

T_ALL="$(now)"
"$E2E_DIR/hosts.sh" up "$STATE"

if [ ! -s "$MODEL_DIR/config.json" ]; then
  log "making the tiny model in $MODEL_DIR (head_dim 32)"
  HF_HUB_OFFLINE=1 "$VENV/bin/python" "$REPO_ROOT/tests/server/make_tiny_model.py" "$MODEL_DIR" >/dev/null
  # vLLM 0.20's CPU attention supports head sizes 32, 64, 80, ... (cpu_attn.py
  # get_supported_head_sizes); the shared tiny model's 16 fails at the first request with
  # "Unsupported CPU attention configuration: head_dim=16 isa=2". 4 heads x 32 = hidden 128.
  "$VENV/bin/python" - "$MODEL_DIR/config.json" <<'PY'
import json, sys
path = sys.argv[1]
cfg = json.load(open(path))
cfg.update(hidden_size=128, intermediate_size=256, head_dim=32)
json.dump(cfg, open(path, "w"), indent=1)
PY
fi

for h in h1 h2; do
  [ -z "$(leftovers "$h")" ] || fail "$h: processes already running in dsd-$h: $(leftovers "$h")"
done

T_RAY2=skipped
if [ "$SKIP_RAY" != 1 ]; then
  log "starting the Ray head on h1 ($HEAD_ADDR:$GCS_PORT)"
  T_RAY="$(now)"
  ray_start_head || fail "h1: ray start --head failed: $(tail -n 5 "$STATE/h1.ray.out")"
  hssh h2 "timeout 5 bash -c '</dev/tcp/$HEAD_ADDR/$GCS_PORT'" ||
    fail "h2: cannot reach the Ray head's GCS at $HEAD_ADDR:$GCS_PORT (step: ray worker)"
  ray_start_worker || fail "h2: ray start --address $HEAD_ADDR:$GCS_PORT failed: $(grep -v '^ ' "$STATE/h2.ray.out" | tail -n 3)"
  n=0
  until ray_status_nodes 2 > "$STATE/ray_status_2nodes.txt"; do
    n=$((n + 1)); [ "$n" -ge 24 ] && fail "ray status does not show 2 nodes: $(cat "$STATE/ray_status_2nodes.txt")"
    sleep 5
  done
  T_RAY2="$(since "$T_RAY")"
  log "Ray cluster has 2 nodes, $T_RAY2 s after ray start --head"
fi

log "starting vLLM pipeline parallel 2: rank 0 + API server on h1, headless rank 1 on h2"
T_V="$(now)"
start_vllm_pp_head
start_vllm_pp_worker
T_HEALTH="$(wait_health "$HEALTH_TIMEOUT")"
log "vLLM /health is 200 after $T_HEALTH s"

H1LOG="$STATE/h1/tmp${REMOTE_RUN#/tmp}/vllm.log"
H2LOG="$STATE/h2/tmp${REMOTE_RUN#/tmp}/vllm.log"

# Every token needs both ranks: h1 runs the embedding and layers 0-1, h2 layers 2-3, the final
# norm and lm_head, so any completion has passed through h2.
reply="$(chat "Hello from the pipeline test" 8)"
printf '%s\n' "$reply" | grep -q '"choices":\[{"index":0,"message":{"role":"assistant","content":' ||
  fail "chat request did not return a completion: $reply"
log "chat: $(printf '%s' "$reply" | grep -o '"usage":{[^}]*}')"
for i in 1 2 3 4; do chat "request $i" 16 > "$STATE/chat.$i.json" & done
wait
for i in 1 2 3 4; do grep -q '"finish_reason"' "$STATE/chat.$i.json" || fail "parallel request $i failed: $(cat "$STATE/chat.$i.json")"; done
log "4 parallel chat requests answered"

# Which layers each rank holds, asked from the ranks themselves.
model_inspection > "$STATE/model_inspection.json" || fail "POST /collective_rpc failed"
"$VENV/bin/python" - "$STATE/model_inspection.json" <<'PY' || fail "the model is not split across the ranks (see $STATE/model_inspection.json)"
import json, re, sys
results = json.load(open(sys.argv[1]))["results"]
assert len(results) == 2, f"expected 2 ranks, got {len(results)}"
held = []
for rank, text in enumerate(results):
    layers = set()
    for first, last, kind in re.findall(r"\((\d+)(?:-(\d+))?\): (?:\d+ x )?(\w+)", text):
        if kind.endswith("DecoderLayer"):
            layers.update(range(int(first), int(last or first) + 1))
    lines = [l.strip() for l in text.splitlines() if re.search(r"DecoderLayer|PPMissingLayer|embed_tokens|lm_head", l)]
    print(f"rank {rank}: decoder layers {sorted(layers)}; " + " | ".join(lines))
    held.append(layers)
assert held[0] and held[1], "a rank holds no decoder layer"
assert not held[0] & held[1], "ranks hold the same layers"
PY
grep -aq 'PP rank 0' "$H1LOG" || fail "h1 log has no 'PP rank 0'"
grep -aq 'PP rank 1' "$H2LOG" || fail "h2 log has no 'PP rank 1'"
workers_h2="$(ip netns pids dsd-h2 | xargs -r ps -o comm= -p | grep -c 'VLLM::Worker_PP' || true)"
[ "$workers_h2" -ge 1 ] || fail "no vLLM pipeline worker process in dsd-h2"
log "h1: $(grep -a -o 'rank 0 in world size 2 is assigned as .*' "$H1LOG" | head -n 1)"
log "h2: $(grep -a -o 'rank 1 in world size 2 is assigned as .*' "$H2LOG" | head -n 1)"

log "memory (PSS): h1 $(pss_mib h1) MiB, h2 $(pss_mib h2) MiB"
log "timings: Ray 2 nodes $T_RAY2 s, vLLM /health $T_HEALTH s after launch ($(since "$T_V") s incl. checks), total $(since "$T_ALL") s"
