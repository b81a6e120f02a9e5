#!/bin/bash
# one_definition.sh LIBRARY: every strong symbol (T, D, B, R: functions and data that are not
# inline, templates or weak) of the static library is defined by one of its objects only.
#
# An impl/ file compiled by two src/*.cpp defines its functions twice (DSDEPLOY_INLINE is empty in
# the compiled mode). A per-room build mostly hides it, since the linker takes the first object
# that defines a symbol and may never need the other; a program that needs both objects fails to
# link, as the fuzz preset's unity batches did when src/orchestrate.cpp compiled
# impl/timeline_inl.hpp a second time.
set -euo pipefail
lib="$1"
[ -f "$lib" ] || { echo "one_definition.sh: no library at $lib" >&2; exit 1; }
# nm -A: "LIBRARY:MEMBER:ADDRESS TYPE NAME"
defs="$(nm -A --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ { n = split($1, a, ":"); print $3 "\t" a[n - 1] }' | sort -u)"
[ -n "$defs" ] || { echo "one_definition.sh: $lib defines no strong symbol (not a static library?)" >&2; exit 1; }
twice="$(printf '%s\n' "$defs" | awk -F'\t' '{ n[$1]++; o[$1] = o[$1] " " $2 } END { for (s in n) if (n[s] > 1) print s ":" o[s] }' | sort)"
if [ -n "$twice" ]; then
  echo "one_definition.sh: $(printf '%s\n' "$twice" | wc -l) symbols of $lib are defined in more than one object:" >&2
  printf '%s\n' "$twice" | head -20 | sed 's/^/  /' >&2
  echo "(an impl/*_inl.hpp file compiled by two src/*.cpp: include it from one; HACKING.md \"Add a room\")" >&2
  exit 1
fi
echo "one_definition.sh: $(printf '%s\n' "$defs" | wc -l) strong symbols of $lib, each defined once"
