#!/usr/bin/env bash
# Builds the docker e2e test image once per content and prints the path of its saved tar:
#   1. a Debian 12 minbase root filesystem (debootstrap from Debian's mirror, no registry),
#      imported as dsdeploy-e2e/debian:bookworm-slim;
#   2. tests/e2e/docker/Dockerfile on top (docker build --network host), with bin/ wrappers that
#      run the given Python environment's vllm, ray and python;
#   3. `docker save` of the result, tagged TAG, into the cache.
# A temporary dockerd (own data-root, no bridge, no iptables) does the work and is stopped by
# PID afterwards. The cache key is the hash of everything that goes into the image (this
# script, the Dockerfile, the venv's path and lock, the interpreter's path), so a second run
# costs nothing; DSDEPLOY_CACHE (default ~/.cache/dsdeploy) holds it.
#
# usage: image.sh VENV TAG     (as root; prints the tar's path on stdout)
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: image.sh VENV TAG" >&2; exit 2; }
VENV="$(cd "$1" && pwd)"
TAG="$2"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../../.." && pwd)"
CACHE="${DSDEPLOY_CACHE:-$HOME/.cache/dsdeploy}/docker-e2e"
MIRROR="${DSD_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
log() { printf '[image %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf '[image] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (dockerd, debootstrap)"
[ -x "$VENV/bin/python" ] || die "no Python environment at $VENV"
PY_PREFIX="$("$VENV/bin/python" -c 'import sys; print(sys.base_prefix)')"

key="$( { cat "$HERE/image.sh" "$HERE/Dockerfile"; echo "$VENV $PY_PREFIX $TAG $MIRROR";
          cat "$REPO_ROOT/scripts/python/requirements-e2e.lock"; } | sha256sum | cut -c1-16)"
out="$CACHE/image-$key.tar"
if [ -s "$out" ]; then log "cached: $out"; echo "$out"; exit 0; fi
mkdir -p "$CACHE"

# 1. The root filesystem, cached on its own (its recipe rarely changes).
rootfs_key="$(echo "bookworm minbase $MIRROR v1" | sha256sum | cut -c1-12)"
rootfs_tar="$CACHE/debian-bookworm-slim-$rootfs_key.tar"
if [ ! -s "$rootfs_tar" ]; then
  log "debootstrap Debian 12 minbase from $MIRROR (about a minute)"
  tmp="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  debootstrap --variant=minbase bookworm "$tmp/rootfs" "$MIRROR" > "$tmp/debootstrap.log" 2>&1 ||
    { tail -n 20 "$tmp/debootstrap.log" >&2; rm -rf "$tmp"; die "debootstrap failed"; }
  tar -C "$tmp/rootfs" --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*_Packages' \
    --exclude='./var/lib/apt/lists/*_InRelease' -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$tmp"
fi

# 2. A builder engine of our own, stopped by PID on every exit.
work="$(mktemp -d "$CACHE/build.XXXXXX")"
dpid=""
cleanup() {
  if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
    kill "$dpid"
    for _ in $(seq 1 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$dpid" 2>/dev/null || true
  fi
  umount "$work/exec/netns/default" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=overlay2 \
  --data-root="$work/data" --exec-root="$work/exec" --pidfile="$work/docker.pid" \
  -H "unix://$work/docker.sock" > "$work/dockerd.log" 2>&1 &
dpid=$!
export DOCKER_HOST="unix://$work/docker.sock" DOCKER_BUILDKIT=0
for _ in $(seq 1 100); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null 2>&1 || { tail -n 20 "$work/dockerd.log" >&2; die "the builder dockerd did not start"; }

log "building $TAG (venv $VENV, interpreter $PY_PREFIX)"
docker import - dsdeploy-e2e/debian:bookworm-slim < "$rootfs_tar" >/dev/null
ctx="$work/context"
mkdir -p "$ctx/bin"
cp "$HERE/Dockerfile" "$ctx/"
# The wrappers exec the bind-mounted environment's programs (a symlink would not activate it).
for p in vllm ray; do
  printf '#!/bin/sh\nexec %q "$@"\n' "$VENV/bin/$p" > "$ctx/bin/$p"
done
printf '#!/bin/sh\nexec %q "$@"\n' "$VENV/bin/python" > "$ctx/bin/python3"
chmod 755 "$ctx/bin/"*
docker build --network host -q -t "$TAG" "$ctx" > "$work/build.log" 2>&1 ||
  { tail -n 30 "$work/build.log" >&2; die "docker build failed"; }
docker save -o "$out.tmp" "$TAG"
mv "$out.tmp" "$out"
log "saved $TAG to $out ($(du -h "$out" | cut -f1))"
echo "$out"
