#!/usr/bin/env bash
# clang-tidy with the repository's .clang-tidy over the compiled library's translation units
# (src/*.cpp: every room's impl/ files and, through HeaderFilterRegex, its public and detail/
# headers), with the flags of a CMake build's compile_commands.json (the dev and ci presets
# export one). Every warning fails the run.
#
#   scripts/clang-tidy.sh [--all | --changed[=REF]] [BUILD_DIR]       (default: --all build/ci)
#
# --all       every src/*.cpp (the ctest clang_tidy_src runs this).
# --changed   only the translation units that include a file changed since the merge base with
#             REF (default: main), working-tree changes included, as the build's own dependency
#             list says (ninja -t deps); a change to a .clang-tidy file checks everything.
# JOBS        clang-tidy processes at a time (default: nproc).
#
# The compile database is filtered first: src/*.cpp only (a unity batch of the compiled library,
# DSDEPLOY_UNITY_BATCHES in the ci preset, becomes one entry per room it includes, with its
# flags), with -std=c++17 added (GCC 12 compiles C++17 by default, so the database carries no
# -std, and clang 14 would assume C++14), and without CMake's precompiled-header flags
# (-include .../cmake_pch.hxx: GCC's .gch is not a file clang can read, and the check should see
# each file's own includes).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

mode=all ref=main
case "${1:-}" in
  --all) shift ;;
  --changed) mode=changed; shift ;;
  --changed=*) mode=changed ref="${1#--changed=}"; shift ;;
  -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
esac
build="${1:-$DSDEPLOY_ROOT/build/ci}"
build="$(cd "$build" && pwd)"
jobs="${JOBS:-$(nproc)}"
tidy="$(command -v clang-tidy-14 || command -v clang-tidy || true)"
# 77: skipped (ctest's SKIP_RETURN_CODE); scripts/test.sh installs it.
[ -n "$tidy" ] || { log "clang-tidy not found (Debian: apt-get install clang-tidy)"; exit 77; }
[ -f "$build/compile_commands.json" ] || { log "$build/compile_commands.json missing: configure with the dev or ci preset"; exit 1; }

work="$build/clang-tidy"
mkdir -p "$work"
rm -f "$work"/*.log
python3 - "$build/compile_commands.json" "$work/compile_commands.json" "$DSDEPLOY_ROOT/src/" <<'PY'
import json, os, re, shlex, sys
source, target, src_dir = sys.argv[1:4]
entries = []
for e in json.load(open(source)):
    args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
    path = os.path.join(e["directory"], e["file"])
    if "/dsdeploy_compiled.dir/Unity/" in path:
        # A unity batch (DSDEPLOY_UNITY_BATCHES, the ci preset): each room it includes is checked on
        # its own, with the batch's flags.
        for room in re.findall(r'^#include "([^"]+)"', open(path).read(), re.M):
            entries.append((e["directory"], room, [room if a in (e["file"], path) else a for a in args]))
    else:
        entries.append((e["directory"], e["file"], args))
out = []
for directory, file, args in entries:
    if not file.startswith(src_dir) or not file.endswith(".cpp"):
        continue
    kept, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a == "-include" or a == "-Winvalid-pch":
            skip = a == "-include"
        elif a.startswith("-include") and a.endswith("cmake_pch.hxx"):
            pass
        else:
            kept.append(a)
    kept.insert(1, "-std=c++17")
    # "output": the object the build made from this file (a unity batch's for its rooms), whose
    # dependency list --changed reads.
    output = args[args.index("-o") + 1] if "-o" in args[:-1] else ""
    out.append({"directory": directory, "file": file, "arguments": kept, "output": output})
json.dump(out, open(target, "w"), indent=1)
PY

# Each room and the object the build made from it, read once.
all_files=()
declare -A object_of=()
while IFS=$'\t' read -r f o; do all_files+=("$f"); object_of["$f"]="$o"; done < <(python3 -c 'import json, sys
for e in sorted(json.load(open(sys.argv[1])), key=lambda e: e["file"]): print(e["file"] + "\t" + e["output"])' \
  "$work/compile_commands.json")
[ ${#all_files[@]} -gt 0 ] || { log "no src/*.cpp in $build/compile_commands.json (DSDEPLOY_PRECOMPILED off?)"; exit 1; }

files=("${all_files[@]}")
if [ "$mode" = changed ]; then
  base="$(git -C "$DSDEPLOY_ROOT" merge-base HEAD "$ref")"
  mapfile -t changed < <(cd "$DSDEPLOY_ROOT" && { git diff --name-only "$base" --; git ls-files --others --exclude-standard; } | sort -u)
  if printf '%s\n' "${changed[@]}" | grep -q '\.clang-tidy$'; then
    log "a .clang-tidy file changed since $ref: checking every translation unit"
  else
    files=()
    for f in "${all_files[@]}"; do
      obj="${object_of[$f]}"
      deps="$(ninja -C "$build" -t deps "$obj" 2>/dev/null | sed -n 's/^ *//p')"
      if [ -z "$deps" ]; then files+=("$f"); continue; fi  # not built yet: check it
      for c in "${changed[@]}"; do
        if grep -qxF "$DSDEPLOY_ROOT/$c" <<<"$deps" || grep -qxF "$c" <<<"$deps"; then files+=("$f"); break; fi
      done
    done
    log "${#changed[@]} files changed since the merge base with $ref (${base:0:10}): ${#files[@]} of ${#all_files[@]} translation units include one"
    [ ${#files[@]} -gt 0 ] || { log "nothing to check"; exit 0; }
  fi
fi

log "clang-tidy ($("$tidy" --version | sed -n 's/.*LLVM version //p')) on ${#files[@]} translation units, $jobs at a time"
status=0
# shellcheck disable=SC2016 # $1..$3 are the inner shell's arguments
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} sh -c \
  'exec "$1" -p "$2" --quiet --warnings-as-errors="*" "$3" > "$2/$(basename "$3").log" 2>&1' \
  clang-tidy "$tidy" "$work" {} || status=$?
for f in "${files[@]}"; do
  grep -v -e '^[0-9]* warnings\? generated\.$' -e '^[0-9]* warnings\? and [0-9]* errors\? generated\.$' \
    -e '^Suppressed [0-9]* warnings' -e '^Use -header-filter=' "$work/$(basename "$f").log" || true
done
if [ "$status" -ne 0 ]; then
  log "clang-tidy found problems (above; each file's output is in $work/)"
  exit 1
fi
log "clang-tidy: ${#files[@]} translation units clean"
