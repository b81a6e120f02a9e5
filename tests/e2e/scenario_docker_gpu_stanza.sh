#!/usr/bin/env bash
# Scenario F (FAKE GPU: a no-op NVIDIA runtime hook, docker/engines.sh): the compose file rendered
# for a GPU node of the built-in default (2 x 8 L20 over InfiniBand) is accepted and started by a
# real engine: the GPU reservation (deploy.resources.reservations.devices, driver nvidia, device
# ids 0-7) reaches the container's DeviceRequests, and IPC_LOCK (RDMA) is in its effective
# capabilities. Nothing is passed through: there are no GPUs here. Only what this machine cannot
# provide is overridden: /dev/infiniband (absent), the memlock/nofile caps, and the entrypoint.
#
# usage: scenario_docker_gpu_stanza.sh DSDEPLOY HOSTS_STATE WORK_DIR E2E_VENV   (as root)
# shellcheck source=tests/e2e/scenario_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/scenario_lib.sh"
project=dsdeploy-gpu-stanza
gpu_teardown() {
  local rc=$?
  hssh h1 "cd '$REMOTE_DIR/gpu/node1' && docker compose --project-name $project -f compose.yaml -f override.yaml down -t 1" >/dev/null 2>&1 || true
  scenario_teardown "$rc"
}
trap gpu_teardown EXIT

rm -rf "$WORK/default.toml" "$WORK/bundle"
"$DSDEPLOY" init --out "$WORK/default.toml" > "$WORK/init.out" 2>&1 || fail "dsdeploy init failed: $(cat "$WORK/init.out")"
sed -i "s|^image = .*|image = \"$DOCKER_IMAGE\"|" "$WORK/default.toml"
DSDEPLOY_API_KEY="$DSDEPLOY_API_KEY" "$DSDEPLOY" -i "$WORK/default.toml" render --out "$WORK/bundle" > "$WORK/render.out" 2>&1 || true
[ -s "$WORK/bundle/node1/compose.yaml" ] || fail "no compose.yaml for node1: $(tail -n 20 "$WORK/render.out")"
grep -q 'driver: nvidia' "$WORK/bundle/node1/compose.yaml" || fail "the rendered compose file has no GPU reservation"
cat > "$WORK/bundle/node1/override.yaml" <<OVR
services:
  ray-head:
    devices: !reset []
    ulimits:
      memlock: {soft: 8388608, hard: 8388608}
      nofile: {soft: 20000, hard: 20000}
    entrypoint: ["sleep", "300"]
    healthcheck: !reset {}
    volumes: !reset []
OVR
hssh h1 "mkdir -p '$REMOTE_DIR/gpu'"
tar -C "$WORK/bundle" -c node1 | hssh h1 "tar -x -C '$REMOTE_DIR/gpu'"
hssh h1 "cd '$REMOTE_DIR/gpu/node1' && docker compose --project-name $project -f compose.yaml -f override.yaml up -d --pull never" \
  > "$WORK/up.out" 2>&1 || fail "the engine refused the GPU node's compose file: $(cat "$WORK/up.out")"
cid="$(engine h1 ps -q --filter "label=com.docker.compose.project=$project")"
[ -n "$cid" ] || fail "no running container for the GPU node"
engine h1 inspect --format '{{json .HostConfig.DeviceRequests}}' "$cid" > "$WORK/device_requests.json"
grep -q '"Driver":"nvidia"' "$WORK/device_requests.json" || fail "no nvidia device request: $(cat "$WORK/device_requests.json")"
grep -q '"DeviceIDs":\["0","1","2","3","4","5","6","7"\]' "$WORK/device_requests.json" || fail "not GPUs 0-7: $(cat "$WORK/device_requests.json")"
capeff="$(engine h1 exec "$cid" grep '^CapEff' /proc/1/status | awk '{print $2}')"
[ "$(( 0x$capeff & (1 << 14) ))" -ne 0 ] || fail "no IPC_LOCK in the RDMA container (CapEff $capeff)"
log "GPU node container: DeviceRequests $(cat "$WORK/device_requests.json"), CapEff $capeff (IPC_LOCK set)"
hssh h1 "cd '$REMOTE_DIR/gpu/node1' && docker compose --project-name $project -f compose.yaml -f override.yaml down -t 1" >/dev/null 2>&1 ||
  fail "down of the GPU node's project failed"
[ -z "$(engine h1 ps -aq)" ] || fail "containers left after down"
log "PASSED: the GPU reservation stanza through the fake NVIDIA hook"
