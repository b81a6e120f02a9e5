#!/usr/bin/env bash
# Shared set-up steps for scripts/run.sh and scripts/test.sh. Each step is idempotent:
# it checks first and installs only what is missing.
set -euo pipefail

DSDEPLOY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DSDEPLOY_ROOT

# Each line carries the seconds since the script started, so a CI log shows what took long.
log() { printf '[dsdeploy %4ds] %s\n' "$SECONDS" "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

# Packages from Debian 12 that building dsdeploy needs.
BUILD_PACKAGES=(build-essential cmake ninja-build pkg-config
  libcpp-httplib-dev nlohmann-json3-dev libfmt-dev libtomlplusplus-dev libcli11-dev catch2)

# What the tests need besides: clang/libFuzzer, shellcheck, sshd, iproute2 and nftables for the
# network-namespace hosts (tests/e2e/hosts.sh), Node.js for the Compose/CLI validators, Chromium
# for the report.
TEST_PACKAGES=(clang libclang-rt-14-dev shellcheck openssh-server openssh-client iproute2 nftables
  python3-venv python3-dev curl procps psmisc openssl chromium)

# Node.js and npm: machines that carry NodeSource's nodejs (which bundles npm) cannot take
# Debian's npm package beside it, so Debian's pair is installed only when a command is missing.
ensure_node() {
  if command -v node >/dev/null && command -v npm >/dev/null; then return 0; fi
  ensure_apt nodejs npm
}

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

# Installs the validators' npm packages (tests/validate/node) into build/validate-node and
# prints that folder. Skipped when the lock file has not changed.
ensure_validators() {
  local prefix="$DSDEPLOY_ROOT/build/validate-node"
  local lock="$DSDEPLOY_ROOT/tests/validate/node/package-lock.json"
  local want; want="$(sha256sum "$lock" | cut -d' ' -f1)"
  if [ "$(cat "$prefix/.dsdeploy-stamp" 2>/dev/null)" != "$want" ]; then
    log "installing the Compose validator's npm packages into $prefix"
    rm -rf "$prefix"; mkdir -p "$prefix"
    cp "$DSDEPLOY_ROOT/tests/validate/node/package.json" "$lock" "$prefix/"
    npm ci --prefix "$prefix" --ignore-scripts --no-audit --no-fund >&2
    echo "$want" > "$prefix/.dsdeploy-stamp"
  fi
  echo "$prefix"
}

# Configures and builds one CMake preset; extra arguments go to the configure step.
build_preset() {
  local preset="$1"; shift
  cmake --preset "$preset" -S "$DSDEPLOY_ROOT" "$@" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
}
