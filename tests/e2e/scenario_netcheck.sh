#!/usr/bin/env bash
# The network proven before any weights load (issue 15): `dsdeploy netcheck` runs preflight and
# copy, then one Gloo all-reduce across the two namespace hosts from the deployment's Python
# environment with vLLM's environment. Three runs: the healthy link (exit 0, both ranks joined,
# Gloo over eth0, a bus bandwidth per size); h2's eth0 throttled to 20 Mbit/s with tc (exit 1,
# netcheck.low_bandwidth); h2 told to use lo, which does not hold its address (exit 1, the error
# names h2). The bandwidth is judged against 5% of the veth pair's nominal 10 Gb/s: two shared
# cores move about 0.3-0.6 GB/s through it (tests/e2e/FINDINGS.md), a 20 Mbit/s link 0.0025.
#
# usage: scenario_netcheck.sh DSDEPLOY HOSTS_STATE WORK_DIR E2E_VENV   (as root; see scenario_lib.sh)
# shellcheck source=tests/e2e/scenario_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/scenario_lib.sh"

throttled=""
netcheck_teardown() {
  local rc=$?
  [ -z "$throttled" ] || ip netns exec "$NS_PREFIX-h2" tc qdisc del dev eth0 root 2>/dev/null || true
  scenario_teardown "$rc"
}
trap netcheck_teardown EXIT

make_model
INV="$WORK/inventory.toml"
write_inventory "$INV" e2e-netcheck mp
SIZES=4,1048576,4194304

dsd netcheck_ok 300 netcheck --sizes "$SIZES" --min-link-fraction 0.05 --json
expect_rc 0 "netcheck on the healthy link"
"$VENV/bin/python" - "$WORK/netcheck_ok.out" <<'PY' || fail "netcheck's JSON report does not say what it measured: $(tail -n 40 "$WORK/netcheck_ok.out")"
import json, sys
text = open(sys.argv[1]).read()
j = json.loads(text[text.index("\n{") + 1:] if not text.startswith("{") else text)
assert j["backend"] == "gloo" and j["world"] == 2, j
assert [n["name"] for n in j["nodes"]] == ["h1", "h2"]
for n in j["nodes"]:
    assert n["transport"] == "Gloo over TCP (eth0)", n["transport"]
    assert n["interface_exists"] and n["link_mbps"] == 10000, n
    (r,) = n["ranks"]
    assert r["joined"] and r["done"] and not r["error"], r
    assert [s["bytes"] for s in r["sizes"]] == [4, 1048576, 4194304], r["sizes"]
    assert all(s["busbw_gbs"] > 0 for s in r["sizes"][1:]), r["sizes"]
assert j["min_busbw_gbs"] > 0.0625, j["min_busbw_gbs"]  # 5% of 10 Gb/s
assert j["findings"] == [] and j["exit_code"] == 0, j["findings"]
print("netcheck: busbw at 4 MiB %.3f GB/s" % j["min_busbw_gbs"])
PY
log "healthy: $(grep -o '"min_busbw_gbs": [0-9.e-]*' "$WORK/netcheck_ok.out")"
expect_nothing_left "after netcheck"

ip netns exec "$NS_PREFIX-h2" tc qdisc add dev eth0 root tbf rate 20mbit burst 32kbit latency 400ms
throttled=1
dsd netcheck_slow 300 netcheck --sizes "$SIZES" --min-link-fraction 0.05
expect_rc 1 "netcheck with h2's link throttled to 20 Mbit/s"
expect_text 'ERROR +netcheck\.low_bandwidth' "the throttled link is netcheck.low_bandwidth"
expect_text 'below 5%' "the finding says the threshold"
ip netns exec "$NS_PREFIX-h2" tc qdisc del dev eth0 root
throttled=""

sed 's/^address = "\(.*\)\.2"$/address = "\1.2"\ninterface = "lo"/' "$INV" > "$WORK/inventory-lo.toml"
grep -q '^interface = "lo"' "$WORK/inventory-lo.toml" || fail "could not give h2 the interface lo"
INV_OK="$INV"
INV="$WORK/inventory-lo.toml"
dsd netcheck_lo 120 netcheck --sizes "$SIZES" --min-link-fraction 0.05
expect_rc 1 "netcheck with h2 told to use lo"
expect_text 'h2: the interface lo does not hold' "the wrong interface names h2"
INV="$INV_OK"
expect_nothing_left "after the three runs"
TEARDOWN_DONE=1
