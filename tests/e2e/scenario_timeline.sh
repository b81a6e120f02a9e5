#!/usr/bin/env bash
# Scenario: the per-rank stage timeline names a hang (issue 15 item 4). `dsdeploy up` with launcher
# mp and vLLM 0.20 (CPU), pipeline parallel 2 (rank 0 + API server on h1, headless rank 1 on h2),
# runs in the background; the moment h2's worker (Worker_PP1) logs "Starting to load model", it is
# stopped with SIGSTOP. `dsdeploy status --timeline` must then name rank 1, h2, the stage its log
# stopped in (weight loading, or the warm-up right after it when the stop came late), how long it
# has been silent, the evidence line (the worker's own last line) and exit 1, within a bound.
# Then the stopped worker is killed (SIGKILL): `--timeline` names rank 1 on h2 as gone, within a
# bound. `up` is stopped (it would wait for /health), `down` leaves nothing behind.
#
# usage: scenario_timeline.sh DSDEPLOY HOSTS_STATE WORK_DIR E2E_VENV   (as root; see scenario_lib.sh)
# Environment: DSD_E2E_TIMELINE_BOUND (s, default 90): how long the timeline may take to name each fault.
# shellcheck source=tests/e2e/scenario_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/scenario_lib.sh"

UP_PID=""
TAIL_PID=""
on_exit() {
  local rc=$?
  if [ -n "$TAIL_PID" ]; then kill "$TAIL_PID" 2>/dev/null || true; fi
  if [ -n "$UP_PID" ]; then kill "$UP_PID" 2>/dev/null || true; wait "$UP_PID" 2>/dev/null || true; fi
  scenario_teardown "$rc"
}
trap on_exit EXIT

BOUND="${DSD_E2E_TIMELINE_BOUND:-90}"
make_model
INV="$WORK/inventory.toml"
write_inventory "$INV" e2e-tl mp
# Each host's /tmp is a bind of HOSTS/hN/tmp (hosts.sh): h2's log is readable here as it is written.
# start.sh appends to it: an earlier scenario's run may be there (the timeline must skip it).
host_log() { echo "$HOSTS/$1/tmp${REMOTE_DIR#/tmp}/$1/logs/vllm.log"; }
H2_LOG="$(host_log h2)"
SKIP=1
if [ -f "$H2_LOG" ]; then SKIP=$(( $(wc -l < "$H2_LOG") + 1 )); fi
log "h2's log has $((SKIP - 1)) lines of earlier runs"

# up in the background: it waits for /health, which never comes while rank 1 is stopped.
log "dsdeploy up in the background (output: $WORK/up.out)"
"$DSDEPLOY" -i "$INV" up --ssh-config "$SSH_CONFIG" --state-dir "$WORK/state" --remote-dir "$REMOTE_DIR" \
  --netcheck-min-link-fraction 0.05 --health-timeout 900 > "$WORK/up.out" 2>&1 &
UP_PID=$!
T_UP="$(now)"

# The worker's first loading line, as soon as it is written (tail -F follows the file as it appears).
FIFO="$WORK/h2-log.fifo"
rm -f "$FIFO"
mkfifo "$FIFO"
tail -n "+$SKIP" -F "$H2_LOG" > "$FIFO" 2>/dev/null &
TAIL_PID=$!
LINE="$(timeout 600 grep -m1 -E '^\(Worker_PP1 pid=[0-9]+\) .*Starting to load model' < "$FIFO" || true)"
[[ "$LINE" =~ pid=([0-9]+) ]] || fail "h2's worker never logged 'Starting to load model' within 600 s: $(tail -n 5 "$H2_LOG" 2>/dev/null)"
PID="${BASH_REMATCH[1]}"
kill -STOP "$PID"   # the same PID namespace: no ssh round trip between the line and the stop
T_STOP="$(now)"
kill "$TAIL_PID" 2>/dev/null || true
TAIL_PID=""
rm -f "$FIFO"
sleep 0.2   # the signal is delivered asynchronously
log "stopped h2's worker (pid $PID, state $(awk '{print $3}' "/proc/$PID/stat")) $(since "$T_UP") s after up started"
kill -0 "$UP_PID" 2>/dev/null || fail "up ended before the fault: $(tail -n 20 "$WORK/up.out")"

# What the worker last wrote before the stop: the stage the timeline must name.
LAST="$(tail -n "+$SKIP" "$H2_LOG" | grep -E "^\(Worker_PP1 pid=$PID\) " | tail -n 1)"
case "$LAST" in
  *"Starting to load model"*) STAGE="weight loading" ;;
  *"Warming up model"* | *"Warming up done"*) STAGE="compile / warm-up" ;;
  *"for KV cache"*) STAGE="KV-cache sizing" ;;
  *) fail "unexpected last line of the stopped worker: $LAST" ;;
esac
log "the worker's last line: ${LAST:0:160} -> expect '$STAGE'"
LAST_MSG="${LAST#*] }"   # the message after "[file.py:N] "

# status --timeline until it names the fault (bounded).
attempt=0
while :; do
  attempt=$((attempt + 1))
  dsd "timeline_stopped_$attempt" 120 status --timeline
  if [ "$RC" -eq 1 ] && grep -q "rank 1 on h2 (Worker_PP1, pid $PID) is stopped" <<<"$OUT"; then break; fi
  awk -v a="$T_STOP" -v b="$(now)" -v m="$BOUND" 'BEGIN { exit !(b - a > m) }' &&
    fail "status --timeline did not name the stopped rank within $BOUND s: $(head -n 20 <<<"$OUT")"
  sleep 3
done
T_NAMED="$(since "$T_STOP")"
cp "$WORK/timeline_stopped_$attempt.out" "$WORK/timeline_stopped.out"
# The finding comes first, names the stage, the silence and the fix; the evidence is the worker's own line.
head -n 1 <<<"$OUT" | grep -q '^STUCK: rank 1 on h2' || fail "the finding is not the first line: $(head -n 3 <<<"$OUT")"
expect_text "is stopped \(process state T: SIGSTOP or a debugger\) in $(re_escape "$STAGE")" "the timeline names the stage"
expect_text 'silent for [0-9]+ s' "the timeline says how long the rank has been silent"
expect_text "\[timeline.rank_stopped\]" "the finding id"
grep -qF -- "$LAST_MSG" <<<"$OUT" || fail "the evidence is not the worker's last line ($LAST_MSG)"
expect_text "kill -CONT $PID" "the fix"
expect_text "rank 0 +h1 +Worker_PP0" "rank 0 on h1 is listed"
log "status --timeline named the stopped rank $T_NAMED s after the stop (attempt $attempt, last call $SECS s)"

dsd timeline_json 120 status --timeline --json
expect_rc 1 "status --timeline --json with rank 1 stopped"
"$VENV/bin/python" - "$WORK/timeline_json.out" "$PID" <<'PY' || fail "the JSON does not name the stopped rank: $(head -c 2000 "$WORK/timeline_json.out")"
import json, sys
j = json.load(open(sys.argv[1]))
f = j["findings"][0]
assert f["id"] == "timeline.rank_stopped" and f["node"] == "h2", f
r1 = [r for r in j["ranks"] if r["rank"] == 1][0]
assert r1["node"] == "h2" and r1["pid"] == sys.argv[2] and r1["state"] == "stopped", r1
assert r1["silent_seconds"] is not None and r1["silent_seconds"] >= 0, r1
assert j["exit_code"] == 1 and j["status"]["nodes"][1]["name"] == "h2", j["exit_code"]
PY

# Both logs as the stopped-rank JSON read them (its nodes[].log_lines says where to cut).
for h in h1 h2; do cp "$(host_log "$h")" "$WORK/$h-vllm-stopped.log" 2>/dev/null || true; done

# Killed: the stopped worker is ended; the timeline names the rank as gone.
kill -KILL "$PID"
T_KILL="$(now)"
attempt=0
while :; do
  attempt=$((attempt + 1))
  dsd "timeline_gone_$attempt" 120 status --timeline
  if [ "$RC" -eq 1 ] && grep -q "rank 1 on h2 (Worker_PP1, pid $PID) is gone" <<<"$OUT"; then break; fi
  awk -v a="$T_KILL" -v b="$(now)" -v m="$BOUND" 'BEGIN { exit !(b - a > m) }' &&
    fail "status --timeline did not name the killed rank within $BOUND s: $(head -n 20 <<<"$OUT")"
  sleep 3
done
cp "$WORK/timeline_gone_$attempt.out" "$WORK/timeline_gone.out"
expect_text "\[timeline.rank_gone\]" "the finding id of a killed rank"
expect_text "in $(re_escape "$STAGE")" "the killed rank's stage"
log "status --timeline named the killed rank $(since "$T_KILL") s after the kill (attempt $attempt)"

# Keep the logs of both hosts for reading (and as fixtures, tests/fixtures/timeline/README.md).
for h in h1 h2; do cp "$(host_log "$h")" "$WORK/$h-vllm.log" 2>/dev/null || true; done

kill "$UP_PID" 2>/dev/null || true
wait "$UP_PID" 2>/dev/null || true
UP_PID=""
dsd down 300 down
expect_rc 0 "down"
expect_nothing_left "after down"
TEARDOWN_DONE=1
log "timings: stop $(awk -v a="$T_UP" -v b="$T_STOP" 'BEGIN { printf "%.1f", b - a }') s after up started, stopped rank named in $T_NAMED s"
