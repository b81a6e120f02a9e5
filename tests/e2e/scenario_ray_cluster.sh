#!/usr/bin/env bash
# Scenario A: `dsdeploy up --until cluster` with launcher ray (process runtime, the e2e venv)
# brings up a real two-node Ray cluster on the namespace hosts; `status` sees 2 nodes; `down`
# leaves no process in either namespace; `down` again is fine. Saves the real `ray status`.
#
# usage: scenario_ray_cluster.sh DSDEPLOY HOSTS_STATE WORK_DIR E2E_VENV   (as root; see scenario_lib.sh)
# shellcheck source=tests/e2e/scenario_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/scenario_lib.sh"
trap scenario_teardown EXIT

make_model
INV="$WORK/inventory.toml"
write_inventory "$INV" e2e-ray ray

dsd up 300 up --until cluster
expect_rc 0 "up --until cluster"
expect_within 240 "up --until cluster"
T_UP="$SECS"
# Both hosts run their part of the cluster: a raylet in each namespace.
for h in h1 h2; do
  ip netns pids "$NS_PREFIX-$h" | xargs -r ps -o comm= -p | grep raylet >/dev/null || fail "$h: no raylet in $NS_PREFIX-$h after up"
done

# The cluster as Ray itself reports it, from the head (saved: real output for the parsers).
hssh h1 "$(printf '%q ' "$VENV/bin/ray" status --address "$HEAD_ADDR:6379")" > "$WORK/ray_status.txt" 2>&1 ||
  fail "ray status on h1 failed: $(cat "$WORK/ray_status.txt")"
active="$(sed -n '/^Active:/,/^Pending:/p' "$WORK/ray_status.txt" | grep -c '^ 1 node_' || true)"
[ "$active" = 2 ] || fail "ray status shows $active active nodes, not 2: $(cat "$WORK/ray_status.txt")"

dsd status 120 status --json
expect_rc 0 "status after up --until cluster"
"$VENV/bin/python" - "$WORK/status.out" <<'PY' || fail "status --json does not show 2 Ray nodes with both hosts up: $OUT"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["ray"]["nodes"] == 2, s["ray"]
names = sorted(n["name"] for n in s["nodes"])
assert names == ["h1", "h2"], names
assert all(n["reachable"] for n in s["nodes"]), s["nodes"]
PY
dsd status_text 120 status
expect_rc 0 "status (text)"
expect_text 'ray: 2 nodes' "status names the Ray node count"

dsd down 240 down
expect_rc 0 "down"
expect_within 180 "down"
T_DOWN="$SECS"
expect_nothing_left "after down"
dsd down_again 120 down
expect_rc 0 "down a second time"
expect_nothing_left "after the second down"
TEARDOWN_DONE=1
log "timings: up --until cluster $T_UP s, down $T_DOWN s"
