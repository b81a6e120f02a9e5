#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Side by side on this machine, against the same dsdeploy-pacing-server: dsdeploy bench,
# vllm bench serve (vLLM's own venv, used read-only) and guidellm (PyPI, its own venv).
#   (a) 20 ms pacing at concurrency 1, 64, 256, 1024: each tool's mean and p99 ITL and TTFT
#       against the truth (20 ms);
#   (b) as fast as the server can: chunks consumed per CPU-second of each tool.
# Writes $OUT/results.json (one row per run) and prints the rows. BENCHMARKS.md has the results.
#
#   scripts/bench-compare.sh [options passed to scripts/bench_compare.py, e.g. --concurrency 1,64]
#
# dsdeploy's side is examples/bench (the library alone) from an optimised build when there is one:
#   cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF
#   cmake --build build/release --target bench_example pacing_server
# (RELEASE_DIR), else `dsdeploy bench` from BUILD_DIR.
# Environment: BUILD_DIR (build/dev), VLLM_VENV (build/venv, read-only), GUIDELLM_VENV
# (build/venv-guidellm: python3 -m venv ... && pip install guidellm), OUT (build/bench-compare),
# PORT (18250). The tokenizer the Python tools need is the tiny model's
# (tests/server/make_tiny_model.py, written once into $OUT/tiny-model).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build/dev}
vllm_venv=${VLLM_VENV:-$root/build/venv}
guidellm_venv=${GUIDELLM_VENV:-$root/build/venv-guidellm}
out=${OUT:-$root/build/bench-compare}
port=${PORT:-18250}
release=${RELEASE_DIR:-$root/build/release}
pacer=$build/examples/dsdeploy-pacing-server
lib_bench=()
if [[ -x $release/examples/bench && -x $release/examples/dsdeploy-pacing-server ]]; then
  pacer=$release/examples/dsdeploy-pacing-server
  lib_bench=(--dsdeploy-bench "$release/examples/bench")
fi
for f in "$build/examples/dsdeploy" "$pacer" "$vllm_venv/bin/python"; do
  [[ -x $f ]] || { echo "bench-compare: $f is missing (build first; VLLM_VENV from scripts/python-env.sh)" >&2; exit 3; }
done
mkdir -p "$out"
if [[ ! -f $out/tiny-model/tokenizer.json ]]; then
  "$vllm_venv/bin/python" "$root/tests/server/make_tiny_model.py" "$out/tiny-model" > /dev/null
fi
exec python3 "$root/scripts/bench_compare.py" --pacer "$pacer" \
  --dsdeploy "$build/examples/dsdeploy" "${lib_bench[@]}" --vllm-venv "$vllm_venv" --guidellm-venv "$guidellm_venv" \
  --tokenizer "$out/tiny-model" --port "$port" --out "$out" "$@"
