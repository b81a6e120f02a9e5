#!/usr/bin/env bash
# Every test: unit, integration (real servers) and e2e (whole bring-ups) in the dev build,
# then the unit tests under ASan + UBSan, then a short libFuzzer run of every parser.
source "$(dirname "$0")/lib.sh"
cd "$DSDEPLOY_ROOT"
ensure_apt "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_node
VALIDATE_NODE_PREFIX="$(ensure_validators)"
DSDEPLOY_VENV="$("$DSDEPLOY_ROOT/scripts/python-env.sh")"
export VALIDATE_NODE_PREFIX DSDEPLOY_VENV

log "build (preset dev)"
build_preset dev -DDSDEPLOY_VENV="$DSDEPLOY_VENV" -DDSDEPLOY_VALIDATE_NODE_PREFIX="$VALIDATE_NODE_PREFIX"
log "test: all labels (unit, integration, e2e)"
ctest --preset dev -j "$(nproc)"

log "build (preset sanitize: ASan + UBSan)"
build_preset sanitize
log "test: unit tests under the sanitizers"
ctest --preset sanitize -j "$(nproc)"

log "build (preset fuzz: clang, libFuzzer + ASan + UBSan)"
build_preset fuzz
log "test: every fuzz target for a short run"
ctest --preset fuzz -j "$(nproc)"
log "all tests passed"
