#!/usr/bin/env bash
# Renders the bundle matrix and checks every generated file with the real tools:
#   compose files: validate_compose.mjs --strict --check-flags, then the invariants
#                  (check_compose.mjs: VLLM_HOST_IP = --node-ip-address = the node's address,
#                  workers join the head, one image and one model path, hostile values intact);
#   command lines: every `ray start` / `vllm serve` line through check_cli.mjs (check_lines.mjs);
#   scripts:       bash -n on all, shellcheck on one of each template.
# Usage: check_bundles.sh BUNDLE_MATRIX_PROGRAM OUT_DIR VALIDATE_NODE_PREFIX
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
validate="$here/../validate"
program=$1 out=$2
export VALIDATE_NODE_PREFIX=$3

"$program" "$out"
mapfile -t composes <"$out/compose-files.txt"
mapfile -t newer <"$out/compose-files-newer.txt"
mapfile -t scripts <"$out/scripts.txt"
mapfile -t unique <"$out/scripts-unique.txt"
echo "checking $((${#composes[@]} + ${#newer[@]})) compose files, ${#scripts[@]} scripts, $(wc -l <"$out/command-lines.txt") command lines"

# Compose interpolation must not see the test environment, only the files.
env -i PATH="$PATH" VALIDATE_NODE_PREFIX="$VALIDATE_NODE_PREFIX" \
    node "$validate/validate_compose.mjs" --strict --check-flags --quiet "${composes[@]}"
# For vLLM >= 0.12 (the mp launcher) the validator has no flag list; the C++ tests check those
# flags against dsdeploy's table.
env -i PATH="$PATH" VALIDATE_NODE_PREFIX="$VALIDATE_NODE_PREFIX" \
    node "$validate/validate_compose.mjs" --strict --quiet "${newer[@]}"
node "$here/check_compose.mjs" "$out/expect.json"
node "$here/check_lines.mjs" "$out/command-lines.txt"

for s in "${scripts[@]}"; do
    bash -n "$s"
done
# Scripts that differ only in numbers and names share a template: shellcheck one of each.
echo "shellcheck on ${#unique[@]} distinct scripts"
shellcheck --severity=style "${unique[@]}"
echo "all bundle checks passed"
