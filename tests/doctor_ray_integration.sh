#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# dsdeploy doctor probing a real Ray cluster: a one-node Ray head (CPU only, 2 declared GPUs)
# started here on ports 18360-18399, then stopped by its process group.
#   doctor_ray_integration.sh DSDEPLOY VENV
set -euo pipefail
dsdeploy=$1
venv=$2
ray="$venv/bin/ray"
[ -x "$ray" ] || { echo "no Ray in $venv: skipped"; exit 77; }
work=$(mktemp -d /tmp/dsd-doctor.XXXXXX)  # short: Ray's socket paths must stay under 107 bytes
export RAY_USAGE_STATS_ENABLED=0
port=18391
setsid "$ray" start --head --block --port $port --num-cpus 1 --num-gpus 2 --temp-dir "$work/ray" --disable-usage-stats \
    --include-dashboard false --dashboard-port 18399 --object-manager-port 18392 --node-manager-port 18393 \
    --ray-client-server-port 18394 --dashboard-agent-listen-port 18395 --dashboard-agent-grpc-port 18396 \
    --runtime-env-agent-port 18397 --metrics-export-port 18398 --min-worker-port 18360 --max-worker-port 18379 \
    > "$work/head.log" 2>&1 &
head=$!
cleanup() {
    kill -TERM -- -"$head" 2>/dev/null || true
    wait "$head" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "waiting for the Ray head (pid $head) on port $port"
for _ in $(seq 1 60); do
    # before the autoscaler reports, `ray status` prints "No cluster status" (exit status 0)
    if "$ray" status --address 127.0.0.1:$port > "$work/status.txt" 2>&1 && grep -q "Usage:" "$work/status.txt"; then break; fi
    kill -0 "$head" 2>/dev/null || { cat "$work/head.log"; echo "ray start exited"; exit 1; }
    sleep 2
done
grep -q "Total Usage" "$work/status.txt" || { cat "$work/status.txt"; echo "the head never answered"; exit 1; }

fail() { echo "FAIL: $*"; echo "$out"; exit 1; }

# The plan wants 2 nodes and 16 GPUs; the cluster has 1 node and 2 GPUs.
set +e
out=$("$dsdeploy" doctor --ray "$ray" --ray-address 127.0.0.1:$port --expect-nodes 2 --expect-gpus 16 --probe-timeout 60)
rc=$?
set -e
echo "$out"
[ "$rc" -eq 1 ] || fail "exit status $rc, expected 1"
grep -q "ERROR  ray.too_few_nodes" <<<"$out" || fail "no ray.too_few_nodes"
grep -q "Ray has 1 node(s); the plan needs 2" <<<"$out" || fail "node count not reported"
grep -q "Ray sees 2 GPU(s); the plan needs 16" <<<"$out" || fail "GPU total not reported"
grep -q "evidence: 0.0/2.0 GPU" <<<"$out" || fail "GPU line not quoted"

# What the cluster has: no Ray finding, and ray status was probed.
out=$("$dsdeploy" doctor --ray "$ray" --ray-address 127.0.0.1:$port --expect-nodes 1 --expect-gpus 2 --json --probe-timeout 60) || true
echo "$out"
grep -q '"id": "ray\.' <<<"$out" && fail "a Ray finding for a cluster that matches the plan"
grep -q 'ray status' <<<"$out" && fail "ray status reported as not probed"
echo "PASS"
