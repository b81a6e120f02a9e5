#!/usr/bin/env bash
# The e2e_hosts ctest fixture: hosts.sh up|down STATE_DIR, skipped (77) when not root.
# usage: ctest_hosts.sh up|down STATE_DIR
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "[e2e] skipped: the namespace hosts need root" >&2
  exit 77
fi
exec "$(dirname "${BASH_SOURCE[0]}")/hosts.sh" "$@"
