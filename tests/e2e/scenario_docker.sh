#!/usr/bin/env bash
# Scenario D: the docker runtime brought up for real on two hosts, each with its own Docker
# engine (docker/engines.sh; fixture e2e_docker_engines). `dsdeploy up` with runtime docker,
# launcher mp and vLLM 0.20 (CPU), the model split across the hosts (pipeline parallel 2, the
# strongest mode vLLM's CPU backend runs across hosts, FINDINGS.md): preflight, start.sh on each
# node (one container per host, network_mode host), /health, the smoke request; then from
# inside the running containers: VLLM_HOST_IP, GLOO/NCCL interface, /dev/shm size, memlock and
# nofile limits, no capability beyond Docker's defaults; `dsdeploy chat` (the typed client), a
# short `dsdeploy bench`, `status` (containers and vLLM), `logs` (container logs), `down`, and
# nothing of the deployment left on either engine or host.
#
# usage: scenario_docker.sh DSDEPLOY HOSTS_STATE WORK_DIR E2E_VENV   (as root; see scenario_lib.sh)
# Environment: DSD_E2E_COMPOSE=v2 (default; the Compose v2 plugin) or v1 (docker-compose 1.29
# only: the hosts' v2 plugin is hidden for the run); DSD_E2E_HEALTH_TIMEOUT (s, default 900).
# shellcheck source=tests/e2e/scenario_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/scenario_lib.sh"
COMPOSE="${DSD_E2E_COMPOSE:-v2}"
docker_teardown() {
  local rc=$?
  compose_teardown
  scenario_teardown "$rc"
}
trap docker_teardown EXIT

use_compose "$COMPOSE"

HEALTH_TIMEOUT="${DSD_E2E_HEALTH_TIMEOUT:-900}"
make_model
INV="$WORK/inventory.toml"
NAME="e2e-docker-$COMPOSE"
write_docker_inventory "$INV" "$NAME" mp

dsd up $((HEALTH_TIMEOUT + 300)) up --health-timeout "$HEALTH_TIMEOUT"
expect_rc 0 "up (docker, compose $COMPOSE, vLLM mp, pipeline parallel 2)"
expect_text "$API_URL" "up prints the endpoint"
T_UP="$SECS"

# One container per host, running, from the same image; h2's vLLM holds pipeline rank 1.
for h in h1 h2; do
  cid="$(engine "$h" ps -q --filter "label=dev.dsdeploy.node=$h" --filter "label=dev.dsdeploy.deployment=$NAME")"
  [ -n "$cid" ] || fail "$h: no running container of the deployment"
  echo "$cid" > "$WORK/$h.cid"
done
engine h2 logs "$(cat "$WORK/h2.cid")" 2>&1 | grep -ao 'rank 1 in world size 2 is assigned as [^,]*, PP rank 1' | head -n 1 > "$WORK/h2-rank.txt" ||
  true
[ -s "$WORK/h2-rank.txt" ] || fail "h2's container log does not say it holds pipeline rank 1"
log "h2: $(cat "$WORK/h2-rank.txt")"

# What the write-up did by hand inside the container, checked inside the running containers.
for h in h1 h2; do
  cid="$(cat "$WORK/$h.cid")"
  addr="$SUBNET.${h#h}"
  env_out="$(engine "$h" exec "$cid" env)"
  grep -qx "VLLM_HOST_IP=$addr" <<<"$env_out" || fail "$h: VLLM_HOST_IP is not $addr inside the container"
  grep -qx "GLOO_SOCKET_IFNAME=eth0" <<<"$env_out" || fail "$h: GLOO_SOCKET_IFNAME is not eth0 inside the container"
  grep -qx "NCCL_SOCKET_IFNAME==eth0" <<<"$env_out" || fail "$h: NCCL_SOCKET_IFNAME is not =eth0 inside the container"
  # The key is the head's alone (its .env, mode 0600): the API server runs there.
  if [ "$h" = h1 ]; then
    grep -q "^VLLM_API_KEY=." <<<"$env_out" || fail "h1: no VLLM_API_KEY inside the head's container"
  else
    ! grep -q "^VLLM_API_KEY=" <<<"$env_out" || fail "$h: the API key reached a worker's container"
  fi
  shm_kb="$(engine "$h" exec "$cid" df -Pk /dev/shm | awk 'NR==2 {print $2}')"
  [ "$shm_kb" = 1048576 ] || fail "$h: /dev/shm is $shm_kb KiB inside the container, not 1g"
  limits="$(engine "$h" exec "$cid" cat /proc/1/limits)"
  grep -Eq '^Max locked memory +8388608 +8388608' <<<"$limits" || fail "$h: memlock is not the inventory's 8388608: $(grep locked <<<"$limits")"
  grep -Eq '^Max open files +20000 +20000' <<<"$limits" || fail "$h: nofile is not the inventory's 20000: $(grep 'open files' <<<"$limits")"
  capeff="$(engine "$h" exec "$cid" grep '^CapEff' /proc/1/status | awk '{print $2}')"
  # TCP fabric: no IPC_LOCK (bit 14) asked for, and never more than Docker's default set.
  [ "$(( 0x$capeff & (1 << 14) ))" -eq 0 ] || fail "$h: the container has IPC_LOCK on a TCP fabric"
  [ "$(( 0x$capeff & (1 << 21) ))" -eq 0 ] || fail "$h: the container has CAP_SYS_ADMIN"
  ss_out="$(ip netns exec "$NS_PREFIX-$h" ss -Hltn)"
  if [ "$h" = h1 ]; then grep -q "$HEAD_ADDR:8000\|\*:8000\|0.0.0.0:8000" <<<"$ss_out" || fail "h1: nothing listens on port 8000 in the host's namespace"; fi
  log "$h: container $cid: VLLM_HOST_IP=$addr, /dev/shm ${shm_kb} KiB, memlock/nofile as asked, CapEff $capeff"
done

dsd chat 120 chat --base-url "$API_URL" --api-key-env DSDEPLOY_API_KEY --max-tokens 8 "Hello from the docker e2e test"
expect_rc 0 "dsdeploy chat"
expect_text '--- TTFT [0-9.]+ s, [1-8] tokens' "chat reports its reply"

dsd bench 300 bench --base-url "$API_URL/v1" --api-key-env DSDEPLOY_API_KEY --model tiny \
  --mean-input-tokens 32 --stddev-input-tokens 0 --mean-output-tokens 8 --stddev-output-tokens 0 \
  --max-num-completed-requests 6 --num-concurrent-requests 2 --results-dir "$WORK/bench"
expect_rc 0 "dsdeploy bench"
T_BENCH="$SECS"

dsd status_ok 120 status
expect_rc 0 "status while serving"
expect_text 'h1' "status names the head"
expect_text 'h2' "status names the worker"
dsd status_json 120 status --json
expect_rc 0 "status --json while serving"
"$VENV/bin/python" - "$WORK/status_json.out" <<'PY' || fail "status --json does not show both containers alive: $OUT"
import json, sys
s = json.load(open(sys.argv[1]))
names = sorted(n["name"] for n in s["nodes"])
assert names == ["h1", "h2"], names
assert all(n["reachable"] for n in s["nodes"]), s["nodes"]
PY

dsd logs 120 logs --lines 40
expect_rc 0 "logs"
expect_text 'docker compose logs|docker-compose logs' "logs shows the container logs"
expect_text 'PP rank 1|headless' "logs include h2's vLLM lines"

# The worker's container killed (its main process, as a crash would): the restart policy
# (unless-stopped) brings the container back, and status names what is down meanwhile.
cpid="$(engine h2 inspect --format '{{.State.Pid}}' "$(cat "$WORK/h2.cid")")"
if ! [[ "$cpid" =~ ^[1-9][0-9]*$ ]]; then fail "no PID for h2's container: $cpid"; fi
kill -KILL "$cpid"
log "killed h2's container process $cpid"
restarted=0
for _ in $(seq 1 60); do
  rc_count="$(engine h2 inspect --format '{{.RestartCount}}' "$(cat "$WORK/h2.cid")" 2>/dev/null || echo 0)"
  if [ "${rc_count:-0}" -ge 1 ]; then restarted=1; break; fi
  sleep 1
done
[ "$restarted" = 1 ] || fail "h2's container was not restarted by its restart policy within 60 s"
log "h2's container restarted (RestartCount $rc_count)"
dsd status_after_kill 120 status
expect_within 90 "status after the worker's container was killed"
expect_text 'h2' "status after the kill names the worker"

dsd down 300 down
expect_rc 0 "down"
T_DOWN="$SECS"
expect_nothing_left "after down"
expect_engines_empty "after down"
dsd down_again 120 down
expect_rc 0 "down a second time"
TEARDOWN_DONE=1
log "timings (compose $COMPOSE): up (to smoke) $T_UP s, bench $T_BENCH s, down $T_DOWN s"
