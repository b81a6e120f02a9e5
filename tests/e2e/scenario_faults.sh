#!/usr/bin/env bash
# Scenario C: faults, each bounded in time, the message naming the node and the step.
#   1. h2's sshd stopped           -> up fails fast (exit 3, unreachable), naming h2
#   2. the head's GCS port (6379) dropped inside h2 (nftables in its namespace)
#                                  -> up fails within the bound, naming h2 and the reachability step
# (The vLLM process killed after start is part of scenario_vllm_pp.sh.) Launcher ray, so no
# vLLM has to load: each case costs seconds.
#
# usage: scenario_faults.sh DSDEPLOY HOSTS_STATE WORK_DIR E2E_VENV   (as root; see scenario_lib.sh)
# shellcheck source=tests/e2e/scenario_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/scenario_lib.sh"

NFT_TABLE=dsd_e2e_fault
restore() {
  ip netns exec "$NS_PREFIX-h2" nft delete table inet "$NFT_TABLE" 2>/dev/null || true
  DSD_E2E_NO_INSTALL=1 "$E2E_DIR/hosts.sh" up "$HOSTS" >/dev/null 2>&1 || log "hosts.sh up failed while restoring h2's sshd"
}
on_exit() { local rc=$?; restore; scenario_teardown "$rc"; }
trap on_exit EXIT

make_model
INV="$WORK/inventory.toml"
write_inventory "$INV" e2e-faults ray

# --- 1. h2's sshd stopped ----------------------------------------------------------------------
sshd_pid="$(cat "$HOSTS/h2/sshd.pid")"
kill "$sshd_pid"
for _ in $(seq 1 50); do [ -d "/proc/$sshd_pid" ] || break; sleep 0.1; done
[ ! -d "/proc/$sshd_pid" ] || fail "h2's sshd (pid $sshd_pid) did not stop"
dsd sshd_stopped 180 up --until cluster
[ "$RC" -eq 3 ] || fail "up with h2's sshd stopped: expected exit 3 (unreachable), got $RC: $OUT"
expect_text 'h2' "the unreachable node is named"
expect_text 'step [a-z_-]+ failed on h2' "the failing step and node are named"
expect_within 60 "up with h2's sshd stopped"
T_SSHD="$SECS"
expect_nothing_left "after the failed up (sshd stopped)"   # preflight failed: nothing started anywhere
restore

# --- 2. the head's GCS port dropped inside h2 ---------------------------------------------------
ip netns exec "$NS_PREFIX-h2" nft -f - <<EOF
table inet $NFT_TABLE {
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr $HEAD_ADDR tcp dport 6379 drop
  }
}
EOF
dsd port_blocked 300 up --until cluster
expect_rc 1 "up with 6379 blocked from h2"
expect_text 'step reach[_-]head failed on h2' "the reachability step and the node are named"
expect_text '6379' "the blocked port is named"
expect_within 120 "up with the head's port blocked from h2"
T_PORT="$SECS"
ip netns exec "$NS_PREFIX-h2" nft delete table inet "$NFT_TABLE"
# The head was started before the check failed: down stops it, and nothing is left.
dsd down 240 down
expect_rc 0 "down after the failed up"
expect_nothing_left "after down (port blocked)"
TEARDOWN_DONE=1
log "timings: sshd stopped -> failed in $T_SSHD s; GCS port blocked -> failed in $T_PORT s"
