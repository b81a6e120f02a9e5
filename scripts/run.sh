#!/usr/bin/env bash
# The main job: build dsdeploy, then plan the built-in default deployment (DeepSeek-V3 on two
# servers of 8 x L20 over InfiniBand, as in the original write-up) and render its bundle, every
# node's compose file, .env and scripts, into out/default-bundle (or $DSDEPLOY_BUNDLE_DIR).
# Extra arguments go to `dsdeploy render` (e.g. --inventory my.toml).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$DSDEPLOY_ROOT" || exit
ensure_apt "${BUILD_PACKAGES[@]}"
# Only what the main job runs: the CLI and the compiled library it links, not the tests.
cmake --preset dev -S "$DSDEPLOY_ROOT" >/dev/null
cmake --build --preset dev --target dsdeploy_cli -j "$(nproc)" >/dev/null
tool="$DSDEPLOY_ROOT/build/dev/examples/dsdeploy"
out="${DSDEPLOY_BUNDLE_DIR:-$DSDEPLOY_ROOT/out/default-bundle}"
set +e
"$tool" render --out "$out" "$@"
rc=$?
set -e
case $rc in
  0) log "the deployment fits; the bundle is in $out (what to run on each node is printed above)";;
  1) log "rendered $out, but the plan DOES NOT FIT as written: vLLM would fail after loading the weights;"
     log "see the verdict and the options that would fit above, change the inventory (dsdeploy init) and render again"
     rc=0;;
esac
[ "$rc" -eq 0 ] && log "the bundle's operator guide: $out/README.md; the tool: $tool --help"
exit $rc
