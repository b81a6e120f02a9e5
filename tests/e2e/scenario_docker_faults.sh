#!/usr/bin/env bash
# Scenario E: faults of the docker runtime, each reported by `dsdeploy up` with the node and the
# step, in bounded time, before anything is started: the image missing on one host (preflight
# names h2), a port already taken on the head (preflight names h1 and the port), the Docker
# engine stopped on the worker (preflight names h2 and the engine). No vLLM starts here.
#
# usage: scenario_docker_faults.sh DSDEPLOY HOSTS_STATE WORK_DIR E2E_VENV   (as root; see scenario_lib.sh)
# shellcheck source=tests/e2e/scenario_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/scenario_lib.sh"
ENGINES="$E2E_DIR/docker/engines.sh"
IMAGE_TAR="$(cat "$HOSTS/image-tar.path" 2>/dev/null)" || true
[ -s "$IMAGE_TAR" ] || fail "no test image tar recorded in $HOSTS/image-tar.path (fixture e2e_docker_engines_up)"
listener=""
faults_teardown() {
  local rc=$?
  if [ -n "$listener" ]; then kill "$listener" 2>/dev/null || true; fi
  # Whatever a fault left (a removed image, a stopped engine) is restored for the next scenario.
  "$ENGINES" up "$HOSTS" "$IMAGE_TAR" >/dev/null 2>&1 || log "teardown: engines.sh up failed"
  scenario_teardown "$rc"
}
trap faults_teardown EXIT

make_model
INV="$WORK/inventory.toml"
write_docker_inventory "$INV" e2e-docker-faults mp

# 1. The image missing on h2: preflight names h2 and the image; nothing starts anywhere.
engine h2 rmi -f "$DOCKER_IMAGE" >/dev/null
dsd image_missing 120 up --until preflight
[ "$RC" -ne 0 ] || fail "up with the image missing on h2 exited 0"
expect_text 'h2.*not on this node.*never' "preflight names h2 and the missing image"
expect_within 60 "preflight with the image missing"
for h in h1 h2; do [ -z "$(engine "$h" ps -aq)" ] || fail "$h: a container was started although preflight failed"; done
"$ENGINES" up "$HOSTS" "$IMAGE_TAR" >/dev/null

# 2. A port the head needs already taken (the API port 8000 on h1).
ip netns exec "$NS_PREFIX-h1" "$VENV/bin/python" -m http.server 8000 --bind "$HEAD_ADDR" >/dev/null 2>&1 &
listener=$!
for _ in $(seq 1 50); do ip netns exec "$NS_PREFIX-h1" ss -Hltn | grep ":8000 " >/dev/null && break; sleep 0.1; done
dsd port_taken 120 up --until preflight
[ "$RC" -ne 0 ] || fail "up with port 8000 taken on h1 exited 0"
expect_text 'h1.*port 8000' "preflight names h1 and the port"
expect_within 60 "preflight with a port taken"
kill "$listener"; wait "$listener" 2>/dev/null || true; listener=""

# 3. The engine stopped on the worker: preflight names h2 and the engine, in bounded time.
dpid="$(cat "$HOSTS/h2/docker/docker.pid")"
kill "$dpid"
for _ in $(seq 1 100); do [ -d "/proc/$dpid" ] || break; sleep 0.1; done
dsd engine_stopped 180 up --until preflight
[ "$RC" -ne 0 ] || fail "up with h2's engine stopped exited 0"
expect_text 'h2.*(Docker engine does not answer|docker)' "preflight names h2 and its engine"
expect_within 90 "preflight with h2's engine stopped"
"$ENGINES" up "$HOSTS" "$IMAGE_TAR" >/dev/null

dsd down 120 down
expect_rc 0 "down after the faults"
TEARDOWN_DONE=1
