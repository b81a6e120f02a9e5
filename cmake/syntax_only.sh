#!/bin/sh
# syntax_only.sh COMPILER ARGS...: the compiler launcher (CXX_COMPILER_LAUNCHER) of the header
# self-containment check (tests/CMakeLists.txt). Runs the compile command with -fsyntax-only: the
# check is that each header parses and type-checks on its own, and code generation is time spent
# on an object nothing links. Then writes the empty object file the build tool expects, so an
# unchanged header is not checked again.
out=""
prev=""
for arg in "$@"; do
  [ "$prev" = "-o" ] && out="$arg"
  prev="$arg"
done
"$@" -fsyntax-only || exit
if [ -n "$out" ]; then
  : > "$out"
fi
