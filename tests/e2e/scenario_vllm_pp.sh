#!/usr/bin/env bash
# Scenario B: the whole bring-up with the model split across the hosts. `dsdeploy up` with
# launcher mp and vLLM 0.20 (CPU): pipeline parallel 2, rank 0 + API server on h1, headless
# rank 1 on h2 -> /health and the smoke request; then `dsdeploy chat` and a short
# `dsdeploy bench` against it; `status` OK; the vLLM process on h2 killed -> `status` exits 1
# naming h2; `down` -> nothing left on either host. The one vLLM bring-up of the e2e tests.
#
# usage: scenario_vllm_pp.sh DSDEPLOY HOSTS_STATE WORK_DIR E2E_VENV   (as root; see scenario_lib.sh)
# Environment: DSD_E2E_HEALTH_TIMEOUT (s, default 900).
# shellcheck source=tests/e2e/scenario_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/scenario_lib.sh"
trap scenario_teardown EXIT

HEALTH_TIMEOUT="${DSD_E2E_HEALTH_TIMEOUT:-900}"
make_model
INV="$WORK/inventory.toml"
write_inventory "$INV" e2e-pp mp

dsd up $((HEALTH_TIMEOUT + 300)) up --health-timeout "$HEALTH_TIMEOUT"
expect_rc 0 "up (vLLM mp, pipeline parallel 2)"
expect_text "$(re_escape "$API_URL")" "up prints the endpoint"
T_UP="$SECS"

# Over IPv6 (DSD_E2E_FAMILY=6): h2's vLLM reached the head's rendezvous on its IPv6 address, and
# the API server listens on every address ("::", which serve.sh derives from the IPv6 head).
if [ "$FAMILY" = 6 ]; then
  ip netns exec "$NS_PREFIX-h2" ss -Htn state established dst "[$H1_ADDR]" > "$WORK/h2-v6-conns.txt"
  [ -s "$WORK/h2-v6-conns.txt" ] || fail "h2 has no TCP connection to the head's IPv6 address $H1_ADDR"
  log "h2 -> [$H1_ADDR]: $(wc -l < "$WORK/h2-v6-conns.txt") established connections"
  ip netns exec "$NS_PREFIX-h1" ss -Hltn 'sport = :8000' | grep -Eq '(\*|\[::\]):8000' ||
    fail "h1's API server does not listen on every address: $(ip netns exec "$NS_PREFIX-h1" ss -Hltn 'sport = :8000')"
fi

# The model is split: a pipeline worker runs in each namespace, h2's log says PP rank 1.
for h in h1 h2; do
  ip netns pids "$NS_PREFIX-$h" | xargs -r ps -o comm= -p | grep 'VLLM::Worker' >/dev/null || fail "$h: no vLLM worker process in $NS_PREFIX-$h"
done
hssh h2 "grep -rhao 'rank 1 in world size 2 is assigned as [^,]*, PP rank 1' $REMOTE_DIR/h2/logs" > "$WORK/h2-rank.txt" ||
  fail "h2's vLLM log does not say it holds pipeline rank 1"
log "h2: $(head -n 1 "$WORK/h2-rank.txt")"

# dsdeploy chat against the deployment, told nothing but the inventory: the URL the deployment
# advertises and the key from the variable api.key_env names.
unset OPENAI_BASE_URL OPENAI_API_BASE
dsd chat 120 chat --max-tokens 8 "Hello from the e2e test"
expect_rc 0 "dsdeploy chat"
expect_text "$(re_escape "tiny at $API_URL/v1")" "chat talks to the endpoint the inventory advertises"
expect_text '--- TTFT [0-9.]+ s, [1-8] tokens' "chat reports its reply"

# A short dsdeploy bench, when this build has the command (it comes from the bench branch).
T_BENCH=absent
# (`dsdeploy bench --help` exits 0 even without the command: CLI11 prints the main help. Not
# `grep -q`: it stops reading at the match, the help's writer dies of SIGPIPE, and pipefail
# then says "absent"; seen twice on a loaded machine.)
if "$DSDEPLOY" bench --help 2>&1 | grep -- '--max-num-completed-requests' >/dev/null; then
  dsd bench 300 bench --base-url "$API_URL/v1" --api-key-env DSDEPLOY_API_KEY --model tiny \
    --mean-input-tokens 32 --stddev-input-tokens 0 --mean-output-tokens 8 --stddev-output-tokens 0 \
    --max-num-completed-requests 8 --num-concurrent-requests 2 --results-dir "$WORK/bench"
  expect_rc 0 "dsdeploy bench"
  T_BENCH="$SECS"
else
  log "dsdeploy bench is not in this build: the bench step did not run"
fi

dsd status_ok 120 status
expect_rc 0 "status while serving"

# Kill the vLLM process of h2 (the headless rank's main process, as its PID file names it).
pid="$(hssh h2 "cat $REMOTE_DIR/h2/run/vllm.pid")"
[[ "$pid" =~ ^[0-9]+$ ]] || fail "no vLLM PID file on h2: $pid"
hssh h2 "kill -KILL $pid"
log "killed vLLM on h2 (pid $pid)"
sleep 2
dsd status_killed 120 status
expect_rc 1 "status with h2's vLLM killed"
expect_text 'h2' "status names the node whose vLLM is gone"
expect_text 'vllm' "status names what is gone"
expect_within 90 "status with h2's vLLM killed"

dsd down 300 down
expect_rc 0 "down"
T_DOWN="$SECS"
expect_nothing_left "after down"
dsd down_again 120 down
expect_rc 0 "down a second time"
TEARDOWN_DONE=1
log "timings: up (to smoke) $T_UP s, bench $T_BENCH s, down $T_DOWN s"
