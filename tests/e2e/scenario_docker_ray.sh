#!/usr/bin/env bash
# Scenario G: the write-up's docker path with launcher ray: `dsdeploy up --until cluster` starts
# the Ray head container on h1 and the Ray worker container on h2 (network_mode host, each on its
# own engine), the head's wait-cluster step sees 2 nodes; `status --json` reports both hosts and
# Ray's node count; `down` leaves no container, network, volume or process on either host. (On
# CPU, vLLM cannot run over Ray, FINDINGS.md; the vLLM bring-ups use launcher mp.)
#
# usage: scenario_docker_ray.sh DSDEPLOY HOSTS_STATE WORK_DIR E2E_VENV   (as root; see scenario_lib.sh)
# shellcheck source=tests/e2e/scenario_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/scenario_lib.sh"
trap scenario_teardown EXIT

make_model
INV="$WORK/inventory.toml"

# First an image without Ray (issue 14: the official images have none from vLLM 0.18): the test
# image finds Ray only in the bind-mounted venv, so without that mount `ray` is missing. start.sh
# asks the service for `ray --version` before it leaves a container running: up stops at
# start-head on h1 with the reason and the fix (exit 1, a step failed), nothing left on the engines.
write_docker_inventory "$INV" e2e-docker-ray ray
"$VENV/bin/python" - "$INV" "$VENV" <<'PY'
import sys
path, venv = sys.argv[1:]
text = open(path).read().replace(f'"{venv}:{venv}:ro", ', "")
assert venv + ":" not in text
open(path, "w").write(text)
PY
dsd up-noray 240 up --until cluster --skip-netcheck
expect_rc 1 "up --until cluster with an image that has no Ray"
grep -q "the image has no working Ray" "$WORK/up-noray.out" || fail "up did not say the image has no Ray: $OUT"
grep -q 'use launcher = "mp"' "$WORK/up-noray.out" || fail "up did not give the fix: $OUT"
grep -q "start-head" "$WORK/up-noray.out" || fail "up did not name the step: $OUT"
grep -q "h1" "$WORK/up-noray.out" || fail "up did not name the node: $OUT"
dsd down-noray 240 down
expect_rc 0 "down after the refused start"
expect_engines_empty "after the refused start"
log "an image without Ray: refused at start-head on h1 (exit 1), nothing left"

write_docker_inventory "$INV" e2e-docker-ray ray

dsd up 420 up --until cluster
expect_rc 0 "up --until cluster (docker, launcher ray)"
T_UP="$SECS"
for h in h1 h2; do
  [ -n "$(engine "$h" ps -q --filter "label=dev.dsdeploy.node=$h")" ] || fail "$h: no running Ray container"
done
role1="$(engine h1 ps --format '{{.Label "dev.dsdeploy.role"}}' --filter "label=dev.dsdeploy.node=h1")"
[ "$role1" = head ] || fail "h1's container is not the head: $role1"

dsd status 120 status --json
expect_rc 0 "status after up --until cluster"
"$VENV/bin/python" - "$WORK/status.out" <<'PY' || fail "status --json does not show 2 Ray nodes with both hosts up: $OUT"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["ray"]["nodes"] == 2, s["ray"]
assert sorted(n["name"] for n in s["nodes"]) == ["h1", "h2"], s["nodes"]
assert all(n["reachable"] for n in s["nodes"]), s["nodes"]
PY

dsd down 240 down
expect_rc 0 "down"
T_DOWN="$SECS"
expect_nothing_left "after down"
expect_engines_empty "after down"
TEARDOWN_DONE=1
log "timings (docker, ray): up --until cluster $T_UP s, down $T_DOWN s"
