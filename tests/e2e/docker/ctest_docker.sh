#!/usr/bin/env bash
# The e2e_docker ctest fixture: a test bed of two namespace hosts of its own (hosts.sh with
# DSD_E2E_NAME/DSD_E2E_SUBNET from the test's environment), each with its own Docker engine
# (engines.sh), the test image (image.sh, cached by content hash) loaded into both, and the
# Compose v2 plugin (scripts/lib.sh ensure_compose_v2, cached). Skipped (77) when not root.
# usage: ctest_docker.sh up STATE_DIR E2E_VENV | down STATE_DIR
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "[e2e] skipped: the docker hosts need root" >&2
  exit 77
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
case "${1:-}" in
  up)
    [ $# -eq 3 ] || { echo "usage: ctest_docker.sh up STATE_DIR E2E_VENV" >&2; exit 2; }
    for t in dockerd docker docker-compose debootstrap; do
      command -v "$t" >/dev/null || { echo "[e2e] no $t: scripts/test.sh installs the docker packages (scripts/lib.sh DOCKER_PACKAGES)" >&2; exit 1; }
    done
    mkdir -p "$2"
    tar="$("$here/image.sh" "$3" dsdeploy-e2e/vllm-cpu:0.20.0)"
    # shellcheck source=scripts/lib.sh
    plugin="$(. "$here/../../../scripts/lib.sh" && ensure_compose_v2)"
    "$here/../hosts.sh" up "$2"
    "$here/engines.sh" up "$2" "$tar" "$plugin"
    echo "$tar" > "$2/image-tar.path"
    ;;
  down)
    [ $# -eq 2 ] || { echo "usage: ctest_docker.sh down STATE_DIR" >&2; exit 2; }
    exec "$here/../hosts.sh" down "$2"
    ;;
  *) echo "usage: ctest_docker.sh up|down ..." >&2; exit 2 ;;
esac
