#!/usr/bin/env bash
# The main job: build dsdeploy and plan the built-in default deployment (DeepSeek-V3 on
# two servers of 8 x L20 over InfiniBand, as in the original write-up).
source "$(dirname "$0")/lib.sh"
cd "$DSDEPLOY_ROOT"
ensure_apt "${BUILD_PACKAGES[@]}"
build_preset dev >/dev/null
tool="$DSDEPLOY_ROOT/build/dev/examples/dsdeploy"
set +e
"$tool" plan "$@"
rc=$?
set -e
case $rc in
  0) log "the default deployment fits (exit 0)";;
  1) log "planned: the default deployment does not fit as written; see the options above (dsdeploy plan exits 1)"; rc=0;;
esac
log "the tool is $tool; try: $tool --help"
exit $rc
