#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Starts and stops a real vLLM OpenAI-compatible server on this machine's CPU, serving a tiny
# model made locally (tests/server/make_tiny_model.py, dummy weights). Integration tests share
# one server through a CTest fixture; other work (benchmark, bring-up) can use it too.
#
# usage: vllm_server.sh start STATE_DIR [options] [-- extra vllm serve arguments]
#        vllm_server.sh stop STATE_DIR
#        vllm_server.sh status STATE_DIR
#
# start options:
#   --arch deepseek_v3|llama  the tiny model's architecture (default deepseek_v3)
#   --ports LO-HI             ports to choose a free one from (default $DSDEPLOY_TEST_PORTS or 18100-18199)
#   --name NAME               --served-model-name (default dsdeploy-tiny-<arch>)
#   --timeout SECONDS         how long to wait for /health (default $DSDEPLOY_SERVER_TIMEOUT or 600)
#   --compile                 let vLLM compile the model (default: --enforce-eager, which starts
#                             about 5-30 s sooner; the tiny model's speed does not matter)
#
# Environment: DSDEPLOY_VENV (the Python environment with vLLM; scripts/python-env.sh makes it),
# DSDEPLOY_MODEL_CACHE (where tiny models are kept; default STATE_DIR/../tiny-models).
#
# start writes to STATE_DIR: port, pid (the server's process group), log, base_url (ending in
# /v1), model (the served name) and server.env (the same as shell assignments). It is
# idempotent: when STATE_DIR already describes a healthy server, it does nothing. stop ends
# only that process group, and only if it still is the vllm server that start recorded.
# The tiny model and vLLM's compile cache (VLLM_CACHE_ROOT) stay in the model cache between runs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

die() { printf 'vllm_server.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '[vllm_server] %s\n' "$*" >&2; }

[ $# -ge 2 ] || die "usage: vllm_server.sh start|stop|status STATE_DIR [options] [-- vllm args]"
cmd="$1"; state="$2"; shift 2
mkdir -p "$state"
state="$(cd "$state" && pwd)"

healthy() {  # healthy PORT
  python3 - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

port_free() {  # port_free PORT: nothing listens and we can bind it
  python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

# Prints the recorded process group id if it is still our vllm server.
our_pgid() {
  [ -f "$state/pid" ] || return 1
  local pid; pid="$(cat "$state/pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  local pgid; pgid="$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" || return 1
  [ "$pgid" = "$pid" ] || return 1
  grep -q "vllm" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

stop_server() {
  local pgid
  if ! pgid="$(our_pgid)"; then
    rm -f "$state/pid"
    say "no server of ours is running for $state"
    return 0
  fi
  say "stopping vLLM (process group $pgid)"
  kill -TERM -- "-$pgid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 -- "-$pgid" 2>/dev/null || { rm -f "$state/pid"; return 0; }
    sleep 0.5
  done
  say "vLLM did not stop within 20 s; killing process group $pgid"
  kill -KILL -- "-$pgid" 2>/dev/null || true
  rm -f "$state/pid"
}

case "$cmd" in
  stop) stop_server; exit 0 ;;
  status)
    if pgid="$(our_pgid)" && healthy "$(cat "$state/port")"; then
      echo "running: pid $pgid, $(cat "$state/base_url")"; exit 0
    fi
    echo "not running"; exit 1 ;;
  start) ;;
  *) die "unknown command '$cmd' (start, stop or status)" ;;
esac

arch=deepseek_v3
ports="${DSDEPLOY_TEST_PORTS:-18100-18199}"
name=""
timeout="${DSDEPLOY_SERVER_TIMEOUT:-600}"
eager=(--enforce-eager)
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="$2"; shift 2 ;;
    --ports) ports="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --compile) eager=(); shift ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown option '$1'" ;;
  esac
done
case "$arch" in deepseek_v3|llama) ;; *) die "--arch must be deepseek_v3 or llama, not '$arch'" ;; esac
[[ "$ports" =~ ^([0-9]+)-([0-9]+)$ ]] || die "--ports must look like 18100-18199, not '$ports'"
port_lo="${BASH_REMATCH[1]}"; port_hi="${BASH_REMATCH[2]}"
[ -n "$name" ] || name="dsdeploy-tiny-${arch//_/-}"

venv="${DSDEPLOY_VENV:-$root/build/venv}"
if [ ! -x "$venv/bin/vllm" ]; then
  die "no vLLM at $venv/bin/vllm. Create the environment with scripts/python-env.sh (it prints its path) and pass it as DSDEPLOY_VENV (cmake -DDSDEPLOY_VENV=...)."
fi

# Already running (a previous start in the same STATE_DIR)? Then nothing to do.
if pgid="$(our_pgid)" && [ -f "$state/port" ] && healthy "$(cat "$state/port")"; then
  say "vLLM already running for $state: $(cat "$state/base_url")"
  exit 0
fi
stop_server 2>/dev/null || true

# The tiny model, made once per generator version and architecture.
cache="${DSDEPLOY_MODEL_CACHE:-$(dirname "$state")/tiny-models}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
model="$cache/$arch"
want="$(sha256sum "$here/make_tiny_model.py" | cut -d' ' -f1)"
if [ "$(cat "$model/.dsdeploy-stamp" 2>/dev/null)" != "$want" ]; then
  say "making the tiny $arch model in $model"
  rm -rf "$model"
  "$venv/bin/python" "$here/make_tiny_model.py" "$model" --arch "$arch" >&2
  echo "$want" > "$model/.dsdeploy-stamp"
fi

env_vars=(VLLM_CPU_KVCACHE_SPACE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
          VLLM_CACHE_ROOT="$cache/vllm-cache")
args=(serve "$model" --served-model-name "$name" --load-format dummy --host 127.0.0.1
      --max-model-len 1024 --max-num-seqs 16 --disable-uvicorn-access-log ${eager[@]+"${eager[@]}"})
if [ "$arch" = deepseek_v3 ]; then
  # vLLM's CPU backend has no MLA kernel: VLLM_MLA_DISABLE=1 runs DeepSeek's attention as plain
  # multi-head attention. Its CPU MoE path (IPEX) needs AVX-512 for bfloat16, so use float32.
  env_vars+=(VLLM_MLA_DISABLE=1)
  args+=(--dtype float32)
else
  args+=(--dtype bfloat16)
fi

log="$state/vllm.log"
started=""
for _ in 1 2 3; do
  port=""
  offset=$(( (RANDOM + $$) % (port_hi - port_lo + 1) ))
  for i in $(seq 0 $((port_hi - port_lo))); do
    p=$(( port_lo + (offset + i) % (port_hi - port_lo + 1) ))
    if port_free "$p"; then port="$p"; break; fi
  done
  [ -n "$port" ] || die "no free port in $ports"
  say "starting vLLM ($arch, served as $name) on 127.0.0.1:$port; log: $log"
  : > "$log"
  # setsid: the server and its engine process form their own process group, which stop ends.
  env "${env_vars[@]}" setsid "$venv/bin/vllm" "${args[@]}" --port "$port" ${extra[@]+"${extra[@]}"} \
    >"$log" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" > "$state/pid"
  echo "$port" > "$state/port"
  echo "$log" > "$state/log"
  t0=$SECONDS; last=$t0
  while true; do
    if healthy "$port"; then started=1; break; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      if grep -q "Address already in use\|address already in use" "$log"; then
        say "port $port was taken meanwhile; trying another"; break
      fi
      tail -n 40 "$log" >&2
      rm -f "$state/pid"
      die "vLLM exited during start-up (log above, full log: $log)"
    fi
    if [ $((SECONDS - t0)) -ge "$timeout" ]; then
      tail -n 20 "$log" >&2
      stop_server
      die "vLLM did not answer /health within $timeout s (log: $log)"
    fi
    if [ $((SECONDS - last)) -ge 10 ]; then
      last=$SECONDS
      say "waiting for /health ($((SECONDS - t0)) s): $(tail -n 1 "$log" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-120)"
    fi
    sleep 1
  done
  [ -n "$started" ] && break
done
[ -n "$started" ] || die "could not start vLLM on a free port in $ports"

base_url="http://127.0.0.1:$port/v1"
echo "$base_url" > "$state/base_url"
echo "$name" > "$state/model"
cat > "$state/server.env" <<EOF
DSDEPLOY_TEST_BASE_URL='$base_url'
DSDEPLOY_TEST_MODEL='$name'
DSDEPLOY_TEST_PID='$pid'
DSDEPLOY_TEST_LOG='$log'
EOF
say "vLLM is up at $base_url after $((SECONDS - t0)) s (pid $pid)"
