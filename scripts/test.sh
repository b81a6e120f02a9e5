#!/usr/bin/env bash
# Every test: unit, integration (real servers) and e2e (whole bring-ups), then the unit
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
source "$(dirname "$0")/lib.sh"
cd "$DSDEPLOY_ROOT"
ensure_apt "${BUILD_PACKAGES[@]}"

log "build (preset dev)"
build_preset dev
log "test: all labels (unit, integration, e2e)"
ctest --preset dev -j "$(nproc)"

log "build (preset sanitize: ASan + UBSan)"
build_preset sanitize
log "test: unit tests under the sanitizers"
ctest --preset sanitize -j "$(nproc)"
log "all tests passed"
