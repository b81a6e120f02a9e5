#!/usr/bin/env bash
# Shared set-up steps for scripts/run.sh and scripts/test.sh. Each step is idempotent:
# it checks first and installs only what is missing.
set -euo pipefail

DSDEPLOY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DSDEPLOY_ROOT

log() { printf '[dsdeploy] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

# Packages from Debian 12 that building dsdeploy needs.
BUILD_PACKAGES=(build-essential cmake ninja-build pkg-config
  libcpp-httplib-dev nlohmann-json3-dev libfmt-dev libtomlplusplus-dev libcli11-dev catch2)

ensure_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Configures and builds one CMake preset.
build_preset() {
  local preset="$1"
  cmake --preset "$preset" -S "$DSDEPLOY_ROOT" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
}
