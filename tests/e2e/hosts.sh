#!/usr/bin/env bash
# Two test hosts for the end-to-end bring-up: network namespaces dsd-h1 (10.77.0.1 and
# fd00:0:77::1) and dsd-h2 (10.77.0.2, fd00:0:77::2) on a bridge dsd-br0 that the root namespace
# also joins (10.77.0.254, fd00:0:77::fe): dual-stack, as most real hosts are,
# each running its own sshd on its own address with host keys, config and PID file under
# STATE_DIR. The operator reaches them with `ssh -F STATE_DIR/ssh_config h1 CMD` (BatchMode,
# strict host-key checking, nothing written to ~/.ssh).
#
# usage: hosts.sh up|down|status STATE_DIR      (as root; every action is idempotent)
#
# Environment: DSD_E2E_NO_INSTALL=1 skips the apt-get step (fail instead if a tool is missing);
# DSD_E2E_NAME (default dsd) and DSD_E2E_SUBNET (default 10.77.0) give a second test bed its own
# namespace/link names and /24, so two can run at once; the IPv6 /64 follows from the /24
# (10.X.0 -> fd00:0:X::/64) unless DSD_E2E_SUBNET6 gives its prefix (e.g. fd00:0:77:).
set -euo pipefail

readonly NAME="${DSD_E2E_NAME:-dsd}"
readonly HOSTS=(h1 h2)
readonly BRIDGE="$NAME-br0"
readonly SUBNET_PREFIX="${DSD_E2E_SUBNET:-10.77.0}"
readonly OPERATOR_ADDR="$SUBNET_PREFIX.254"
readonly SUBNET6_PREFIX="${DSD_E2E_SUBNET6:-fd00:0:$(cut -d. -f2 <<<"$SUBNET_PREFIX"):}"
readonly OPERATOR_ADDR6="${SUBNET6_PREFIX}:fe"
# Debian 12 packages this test bed needs (keep in sync with scripts/lib.sh TEST_PACKAGES).
readonly PACKAGES=(openssh-server openssh-client iproute2 nftables procps)

log() { printf '[hosts] %s\n' "$*" >&2; }
die() { printf '[hosts] error: %s\n' "$*" >&2; exit 1; }

host_ns() { printf '%s-%s' "$NAME" "$1"; }
host_addr() { printf '%s.%s' "$SUBNET_PREFIX" "${1#h}"; }
host_addr6() { printf '%s:%s' "$SUBNET6_PREFIX" "${1#h}"; }
host_veth() { printf '%s-%s-br' "$NAME" "$1"; }   # root-namespace end of the host's veth pair

ns_exists() { ip netns list | awk '{print $1}' | grep -x "$1" >/dev/null; }

ensure_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "${DSD_E2E_NO_INSTALL:-0}" = 1 ] && die "missing Debian packages: ${missing[*]}"
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# PID from a PID file if that process is alive and is an sshd; empty otherwise.
live_sshd_pid() {
  local pidfile="$1" pid
  [ -s "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sshd ]; then echo "$pid"; fi
}

net_up() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$OPERATOR_ADDR/24" dev "$BRIDGE"
  # nodad: the address is usable at once (no duplicate address detection: nothing else is here).
  ip addr replace "$OPERATOR_ADDR6/64" dev "$BRIDGE" nodad
  ip link set "$BRIDGE" up
  local h ns veth
  for h in "${HOSTS[@]}"; do
    ns="$(host_ns "$h")"; veth="$(host_veth "$h")"
    ns_exists "$ns" || ip netns add "$ns"
    if ! ip link show "$veth" >/dev/null 2>&1; then
      # The namespace end is called eth0, as on a real host (GLOO/NCCL_SOCKET_IFNAME=eth0).
      ip netns exec "$ns" ip link del eth0 2>/dev/null || true
      ip link add "$veth" type veth peer name eth0 netns "$ns"
    fi
    ip link set "$veth" master "$BRIDGE"
    ip link set "$veth" up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip addr replace "$(host_addr "$h")/24" dev eth0
    ip netns exec "$ns" ip addr replace "$(host_addr6 "$h")/64" dev eth0 nodad
    ip netns exec "$ns" ip link set eth0 up
  done
}

keys_up() {
  local state="$1" h hd
  mkdir -p "$state"
  chmod 700 "$state"
  [ -s "$state/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C dsdeploy-e2e -f "$state/id_ed25519"
  cp "$state/id_ed25519.pub" "$state/authorized_keys"
  chmod 600 "$state/authorized_keys"
  : > "$state/known_hosts.new"
  for h in "${HOSTS[@]}"; do
    hd="$state/$h"
    mkdir -p "$hd"
    chmod 700 "$hd"
    [ -s "$hd/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "$NAME-$h" -f "$hd/ssh_host_ed25519_key"
    printf '%s,%s,%s %s\n' "$h" "$(host_addr "$h")" "$(host_addr6 "$h")" "$(cut -d' ' -f1,2 "$hd/ssh_host_ed25519_key.pub")" >> "$state/known_hosts.new"
  done
  mv "$state/known_hosts.new" "$state/known_hosts"
  {
    for h in "${HOSTS[@]}"; do
      cat <<EOF
Host $h
  HostName $(host_addr "$h")
EOF
    done
    cat <<EOF
Host *
  User root
  IdentityFile $state/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $state/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  UpdateHostKeys no
  CheckHostIP no
  BatchMode yes
  ConnectTimeout 5
  ServerAliveInterval 5
  ServerAliveCountMax 3
  LogLevel ERROR
EOF
  } > "$state/ssh_config"
}

sshd_up() {
  local state="$1" h hd ns pid
  mkdir -p /run/sshd   # the privilege-separation directory sshd insists on (shared by all namespaces)
  chmod 755 /run/sshd
  for h in "${HOSTS[@]}"; do
    hd="$state/$h"; ns="$(host_ns "$h")"
    cat > "$hd/sshd_config" <<EOF
ListenAddress $(host_addr "$h"):22
ListenAddress [$(host_addr6 "$h")]:22
HostKey $hd/ssh_host_ed25519_key
PidFile $hd/sshd.pid
AuthorizedKeysFile $state/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 64:30:128
MaxSessions 64
ClientAliveInterval 10
ClientAliveCountMax 3
# The host's own Docker engine and Compose plugin, when docker/engines.sh has started them.
SetEnv DOCKER_HOST=unix://$hd/docker/docker.sock DOCKER_CONFIG=$hd/docker/config
EOF
    pid="$(live_sshd_pid "$hd/sshd.pid")"
    if [ -n "$pid" ]; then continue; fi
    /usr/sbin/sshd -t -f "$hd/sshd_config" || die "sshd config for $h does not validate"
    mkdir -p "$hd/tmp"
    chmod 1777 "$hd/tmp"
    # Each host gets its own /tmp (STATE_DIR/hN/tmp) and /dev/shm (a fresh tmpfs), as real
    # hosts have: Ray keeps per-node state in /tmp/ray (workers ignore --temp-dir and use the
    # head's path), so a shared /tmp makes the nodes overwrite each other's files.
    # `ip netns exec` already runs in a new mount namespace with / as a slave, so these
    # mounts are private to it and to everything sshd starts; they vanish with the last
    # process. -E: log to a file; sshd daemonises and writes PidFile once it listens.
    # shellcheck disable=SC2016  # $1..$3 are expanded by the inner sh
    ip netns exec "$ns" sh -c 'mount --bind "$1" /tmp && mount -t tmpfs -o mode=1777,size=2g dsd-shm /dev/shm &&
      exec /usr/sbin/sshd -f "$2" -E "$3"' sh "$hd/tmp" "$hd/sshd_config" "$hd/sshd.log"
    for _ in $(seq 1 50); do
      [ -n "$(live_sshd_pid "$hd/sshd.pid")" ] && break
      sleep 0.1
    done
    [ -n "$(live_sshd_pid "$hd/sshd.pid")" ] || die "sshd for $h did not start (see $hd/sshd.log)"
  done
}

check_ssh() {
  local state="$1" h out
  for h in "${HOSTS[@]}"; do
    if ! out="$(ssh -F "$state/ssh_config" "$h" 'ip -4 -o addr show dev eth0' 2>&1)"; then
      die "ssh to $h failed: $out (sshd log: $state/$h/sshd.log)"
    fi
    grep -q "$(host_addr "$h")/" <<<"$out" || die "ssh $h landed on the wrong host: $out"
    # And over IPv6, by address (the IPv6 bring-up's inventory names its nodes that way).
    if ! out="$(ssh -F "$state/ssh_config" "$(host_addr6 "$h")" 'ip -6 -o addr show dev eth0' 2>&1)"; then
      die "ssh to $h over IPv6 ($(host_addr6 "$h")) failed: $out (sshd log: $state/$h/sshd.log)"
    fi
    grep -q "$(host_addr6 "$h")/" <<<"$out" || die "ssh $(host_addr6 "$h") landed on the wrong host: $out"
  done
}

cmd_up() {
  local state="$1"
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  ensure_packages
  net_up
  keys_up "$state"
  sshd_up "$state"
  check_ssh "$state"
  log "up: h1=$(host_addr h1) $(host_addr6 h1) h2=$(host_addr h2) $(host_addr6 h2) operator=$OPERATOR_ADDR $OPERATOR_ADDR6; ssh -F $state/ssh_config h1"
}

cmd_down() {
  local state="$1" h hd ns pid pids
  # Docker engines first (docker/engines.sh), so that no restart policy brings a container back.
  for h in "${HOSTS[@]}"; do
    if [ -s "$state/$h/docker/docker.pid" ]; then
      "$(dirname "${BASH_SOURCE[0]}")/docker/engines.sh" down "$state" || log "warning: engines.sh down failed"
      break
    fi
  done
  for h in "${HOSTS[@]}"; do
    hd="$state/$h"; ns="$(host_ns "$h")"
    pid="$(live_sshd_pid "$hd/sshd.pid")"
    if [ -n "$pid" ]; then
      kill "$pid"
      for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    fi
    rm -f "$hd/sshd.pid"
    if ns_exists "$ns"; then
      # Only processes started inside our own namespace can be here. They should have been
      # stopped by whoever started them: report them, then end them so the namespace can go.
      pids="$(ip netns pids "$ns" | tr '\n' ' ')"
      if [ -n "${pids// /}" ]; then
        log "warning: processes left in $ns, killing: $pids"
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null || true
        sleep 1
        pids="$(ip netns pids "$ns" | tr '\n' ' ')"
        # shellcheck disable=SC2086
        if [ -n "${pids// /}" ]; then kill -KILL $pids 2>/dev/null || true; fi
      fi
      ip netns del "$ns"
    fi
    ip link del "$(host_veth "$h")" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  log "down"
}

cmd_status() {
  local state="$1" h hd ns pid rc=0
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    echo "bridge $BRIDGE: up ($OPERATOR_ADDR)"
  else
    echo "bridge $BRIDGE: absent"; rc=1
  fi
  for h in "${HOSTS[@]}"; do
    hd="$state/$h"; ns="$(host_ns "$h")"
    if ns_exists "$ns"; then
      pid="$(live_sshd_pid "$hd/sshd.pid")"
      echo "$h: namespace $ns $(host_addr "$h"), sshd ${pid:-not running}," \
        "processes in namespace: $(ip netns pids "$ns" | wc -l)"
      [ -n "$pid" ] || rc=1
    else
      echo "$h: namespace $ns absent"; rc=1
    fi
  done
  return "$rc"
}

main() {
  [ $# -eq 2 ] || die "usage: hosts.sh up|down|status STATE_DIR"
  local state
  mkdir -p "$2"
  state="$(cd "$2" && pwd)"
  case "$state/" in
    /tmp/*) die "STATE_DIR $state is under /tmp, which each host replaces with its own; use a folder elsewhere (e.g. under build/)" ;;
  esac
  case "$1" in
    up) cmd_up "$state" ;;
    down) cmd_down "$state" ;;
    status) cmd_status "$state" ;;
    *) die "usage: hosts.sh up|down|status STATE_DIR" ;;
  esac
}

main "$@"
