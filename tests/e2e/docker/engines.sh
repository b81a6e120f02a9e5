#!/usr/bin/env bash
# One real Docker engine per test host of hosts.sh: dockerd runs "on" host hN, i.e. in the
# network and mount namespaces of hN's sshd (docker-engine.md §5, fix B), so that a compose file
# started over ssh on hN binds hN's own /tmp, and a `network_mode: host` container listens on
# hN's address. Each engine has its own data-root, exec-root, socket and PID file under
# STATE_DIR/hN/docker/; ssh sessions on hN reach it through DOCKER_HOST and find the Compose v2
# plugin through DOCKER_CONFIG, both set by hosts.sh's sshd_config (SetEnv). A no-op
# nvidia-container-runtime-hook in dockerd's PATH and `--add-runtime nvidia=runc` let the
# engine accept the GPU reservation stanza on a machine without GPUs (a FAKE: nothing is
# passed through).
#
# usage: engines.sh up STATE_DIR IMAGE_TAR [COMPOSE_PLUGIN]   loads the image into every engine
#        engines.sh down STATE_DIR                             removes every container, network
#                                                              and volume, stops dockerd by PID
#        engines.sh compose STATE_DIR v1|v2                    which Compose the hosts' `docker`
#                                                              finds: v2 plugin, or only v1
set -euo pipefail

HOSTS=(h1 h2)
log() { printf '[engines] %s\n' "$*" >&2; }
die() { printf '[engines] error: %s\n' "$*" >&2; exit 1; }

sshd_pid() {
  local f="$1/sshd.pid" pid
  [ -s "$f" ] || return 1
  pid="$(cat "$f")"
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sshd ] || return 1
  echo "$pid"
}

dockerd_pid() {
  local f="$1/docker/docker.pid" pid
  [ -s "$f" ] || return 0
  pid="$(cat "$f")"
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then echo "$pid"; fi
}

engine() { local hd="$1"; shift; DOCKER_HOST="unix://$hd/docker/docker.sock" timeout 120 docker "$@"; }

# The cgroup hierarchies, re-mounted inside hN's mount namespace: `ip netns exec` gave it a
# fresh /sys without them, and dockerd refuses to start without the devices cgroup.
# shellcheck disable=SC2016  # expanded by the inner shell
CGROUP_MOUNTS='
if ! mountpoint -q /sys/fs/cgroup/devices; then
  mount -t tmpfs -o mode=755 cgroup_root /sys/fs/cgroup
  for s in cpu cpuacct cpuset memory devices freezer blkio pids; do
    mkdir -p /sys/fs/cgroup/$s && mount -t cgroup -o $s cgroup /sys/fs/cgroup/$s
  done
  mkdir -p /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
  mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 none /sys/fs/cgroup/unified 2>/dev/null || true
fi'

cmd_up() {
  local state="$1" tar="$2" plugin="${3:-}" h hd pid dpid
  [ -s "$tar" ] || die "no image tar at $tar"
  for h in "${HOSTS[@]}"; do
    hd="$state/$h"
    pid="$(sshd_pid "$hd")" || die "$h: its sshd is not running (hosts.sh up first)"
    mkdir -p "$hd/docker/bin" "$hd/docker/config/cli-plugins"
    printf '#!/bin/sh\n# FAKE: accepts the GPU reservation without GPUs (engines.sh)\ncat >/dev/null\nexit 0\n' \
      > "$hd/docker/bin/nvidia-container-runtime-hook"
    chmod 755 "$hd/docker/bin/nvidia-container-runtime-hook"
    if [ -n "$plugin" ]; then install -m 755 "$plugin" "$hd/docker/config/cli-plugins/docker-compose"; fi
    dpid="$(dockerd_pid "$hd")"
    if [ -z "$dpid" ]; then
      # shellcheck disable=SC2016
      nsenter -t "$pid" -m -n -- sh -c "$CGROUP_MOUNTS"'
        PATH="$1/docker/bin:$PATH" exec dockerd --iptables=false --ip6tables=false --bridge=none \
          --storage-driver=overlay2 --add-runtime nvidia=runc --cgroup-parent="/dsd-$2" \
          --data-root="$1/docker/data" --exec-root="$1/docker/exec" --pidfile="$1/docker/docker.pid" \
          -H "unix://$1/docker/docker.sock"' sh "$hd" "$h" > "$hd/docker/dockerd.log" 2>&1 &
      for _ in $(seq 1 100); do engine "$hd" version >/dev/null 2>&1 && break; sleep 0.2; done
      engine "$hd" version >/dev/null 2>&1 || { tail -n 20 "$hd/docker/dockerd.log" >&2; die "$h: dockerd did not start"; }
    fi
    engine "$hd" load -q -i "$tar" >/dev/null
    log "$h: dockerd $(dockerd_pid "$hd") ready, image loaded ($(engine "$hd" images -q | wc -l) image(s))"
  done
}

cmd_down() {
  local state="$1" h hd dpid ids
  for h in "${HOSTS[@]}"; do
    hd="$state/$h"
    dpid="$(dockerd_pid "$hd")"
    [ -n "$dpid" ] || continue
    ids="$(engine "$hd" ps -aq 2>/dev/null | tr '\n' ' ')"
    # shellcheck disable=SC2086
    if [ -n "${ids// /}" ]; then log "$h: removing containers $ids"; engine "$hd" rm -f $ids >/dev/null || true; fi
    engine "$hd" network prune -f >/dev/null 2>&1 || true
    engine "$hd" volume prune -f >/dev/null 2>&1 || true
    kill "$dpid"
    for _ in $(seq 1 150); do [ -d "/proc/$dpid" ] || break; sleep 0.1; done
    if [ -d "/proc/$dpid" ]; then log "$h: dockerd $dpid did not stop, killing it"; kill -9 "$dpid" 2>/dev/null || true; fi
    rm -f "$hd/docker/docker.pid"
    log "$h: dockerd stopped"
  done
}

cmd_compose() {
  local state="$1" which="$2" h hd plugin
  for h in "${HOSTS[@]}"; do
    plugin="$state/$h/docker/config/cli-plugins/docker-compose"
    case "$which" in
      v1) [ ! -e "$plugin" ] || mv "$plugin" "$plugin.off" ;;
      v2) [ ! -e "$plugin.off" ] || mv "$plugin.off" "$plugin" ;;
      *) die "compose v1|v2" ;;
    esac
  done
}

[ $# -ge 2 ] || die "usage: engines.sh up|down|compose STATE_DIR ..."
[ "$(id -u)" -eq 0 ] || die "must run as root"
state="$(cd "$2" && pwd)"
case "$1" in
  up) [ $# -ge 3 ] || die "usage: engines.sh up STATE_DIR IMAGE_TAR [COMPOSE_PLUGIN]"; cmd_up "$state" "$3" "${4:-}" ;;
  down) cmd_down "$state" ;;
  compose) [ $# -eq 3 ] || die "usage: engines.sh compose STATE_DIR v1|v2"; cmd_compose "$state" "$3" ;;
  *) die "usage: engines.sh up|down|compose STATE_DIR ..." ;;
esac
