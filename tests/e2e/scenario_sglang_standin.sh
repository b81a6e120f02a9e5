#!/usr/bin/env bash
# SGLang as the engine, end to end over SSH, with a STAND-IN for SGLang's server (SGLang cannot
# serve without a GPU; tests/e2e/sglang_standin.py says what is real): `dsdeploy up` with
# serving.engine = "sglang", the process runtime, two namespace hosts. Each host's start.sh runs
# `python3 -m sglang.launch_server` with its node rank; the installed SGLang's own parser takes the
# argv, the ranks meet at --dist-init-addr on the head (torch.distributed over Gloo, an all-reduce
# across the hosts), node rank 0 serves the API with the key from the head's .env and rank 1 its
# health endpoint. Then `dsdeploy chat`, `status`, h2's process killed -> `status` names h2,
# `down` -> nothing left.
#
# DSD_E2E_RUNTIME=docker: the same on the docker test bed (each host its own Docker engine, the
# e2e image; fixture e2e_docker_engines), with Compose v2 or (DSD_E2E_COMPOSE=v1) docker-compose 1.29: one container per host whose python3 is the overlay
# (bind-mounted over the image's /usr/local/bin/python3, with the SGLang environment, its
# interpreter and this folder read-only at their own paths); the head's key reaches --api-key
# through the compose entrypoint's literal sh -c. The killed-rank step is the process runtime's.
#
# usage: scenario_sglang_standin.sh DSDEPLOY HOSTS_STATE WORK_DIR SGLANG_VENV   (as root)
# SGLANG_VENV: scripts/python-env-sglang.sh's environment (build/venv-sglang).
# shellcheck source=tests/e2e/scenario_lib.sh
DSD_E2E_NEEDS="python3" . "$(dirname "${BASH_SOURCE[0]}")/scenario_lib.sh"
RUNTIME="${DSD_E2E_RUNTIME:-process}"
COMPOSE="${DSD_E2E_COMPOSE:-v2}"
sglang_teardown() {
  local rc=$?
  [ "$RUNTIME" != docker ] || compose_teardown
  scenario_teardown "$rc"
}
trap sglang_teardown EXIT

make_model
# The overlay environment: the real SGLang environment's python, with sitecustomize routing
# sglang.launch_server to the stand-in.
ENV_DIR="$WORK/sglang-standin-env"
rm -rf "$ENV_DIR"
mkdir -p "$ENV_DIR/bin"
# shellcheck disable=SC2016  # the wrapper expands $PYTHONPATH and $@ when it runs
for p in python python3; do
  printf '#!/bin/sh\nPYTHONPATH=%q${PYTHONPATH:+:$PYTHONPATH} exec %q "$@"\n' "$E2E_DIR/sglang_standin_site" "$VENV/bin/python3" > "$ENV_DIR/bin/$p"
  chmod 755 "$ENV_DIR/bin/$p"
done
version="$("$VENV/bin/python3" -c 'import importlib.metadata as m; print(m.version("sglang"))')"
log "SGLang $version in $VENV; the overlay $ENV_DIR runs the stand-in server"

if [ "$RUNTIME" = docker ]; then
  # DSD_E2E_COMPOSE=v1: docker-compose 1.29 only (the hosts' v2 plugin hidden for the run).
  use_compose "$COMPOSE"
  # the stand-in's code and the overlay's python3 as the image's, besides the environment
  RUNTIME_TOML="$(docker_runtime_toml "$E2E_DIR:$E2E_DIR:ro" "$ENV_DIR/bin/python3:/usr/local/bin/python3:ro")"
else
  RUNTIME_TOML="kind = \"process\"
python_env = \"$ENV_DIR\""
fi
INV="$WORK/inventory.toml"
cat > "$INV" <<EOT
name = "e2e-sglang-$RUNTIME"
[runtime]
$RUNTIME_TOML
sglang_version = "$version"
[api]
auth = true
key_env = "DSDEPLOY_API_KEY"
[network]
fabric = "tcp"
interface = "eth0"
[serving]
engine = "sglang"
model = "$MODEL_DIR"
model_path = "$MODEL_DIR"
served_model_name = "tiny"
tensor_parallel_size = 1
pipeline_parallel_size = 2
max_model_len = 1024
extra_args = ["--trust-remote-code", "--dist-timeout", "600"]
$(nodes_toml)
EOT

dsd up 600 up --health-timeout 300
expect_rc 0 "up (SGLang stand-in, two nodes)"
expect_text "$(re_escape "$API_URL")" "up prints the endpoint"
T_UP="$SECS"

# Both ranks: argv parsed by SGLang's own parser, the rendezvous on the head (an IPv6 address in
# brackets, DSD_E2E_FAMILY=6), the all-reduce.
if [ "$FAMILY" = 6 ]; then RDV="[$H1_ADDR]:29501"; else RDV="$H1_ADDR:29501"; fi
for h in h1 h2; do
  if [ "$RUNTIME" = docker ]; then
    cid="$(engine "$h" ps -q --filter "label=dev.dsdeploy.node=$h" --filter "label=dev.dsdeploy.deployment=e2e-sglang-docker")"
    [ -n "$cid" ] || fail "$h: no running container of the deployment"
    engine "$h" logs "$cid" > "$WORK/$h-engine.log" 2>&1 || fail "$h: no container log"
  else
    hssh "$h" "cat $REMOTE_DIR/$h/logs/vllm.log" > "$WORK/$h-engine.log" || fail "$h: no engine log"
  fi
  grep -q "argv parsed by SGLang $(re_escape "$version")'s own parser: tp_size=1 pp_size=2 nnodes=2" "$WORK/$h-engine.log" ||
    fail "$h: SGLang's parser did not take the argv: $(tail -n 20 "$WORK/$h-engine.log")"
  grep -q "dist_init_addr=$(re_escape "$RDV") " "$WORK/$h-engine.log" || fail "$h: not the head's rendezvous $RDV: $(grep -o 'dist_init_addr=[^ ]*' "$WORK/$h-engine.log")"
  grep -q "all_reduce of the ranks = 3 (want 3)" "$WORK/$h-engine.log" || fail "$h: the ranks did not meet: $(tail -n 20 "$WORK/$h-engine.log")"
done
grep -q "node_rank=1 .*api_key=none" "$WORK/h2-engine.log" || fail "h2 got the API key (only the head's start.sh passes it)"
grep -q "node_rank=0 .*api_key=set" "$WORK/h1-engine.log" || fail "h1 has no API key"
log "h2: $(grep -o 'rank 1 of 2 joined.*' "$WORK/h2-engine.log")"
# The key is not in any file but the head's .env, and rank 1 answers /health on its own port.
hssh h1 "grep -rl -- \"$DSDEPLOY_API_KEY\" $REMOTE_DIR/h1" > "$WORK/key-files.txt" || true
[ "$(cat "$WORK/key-files.txt")" = "$REMOTE_DIR/h1/.env" ] || fail "the key is in: $(tr '\n' ' ' < "$WORK/key-files.txt")"
hssh h2 "curl -fsS --max-time 10 http://$([ "$FAMILY" = 6 ] && echo "[$H2_ADDR]" || echo "$H2_ADDR"):8000/health" >/dev/null ||
  fail "h2's health endpoint does not answer"
# Without the key the API refuses (SGLang's rule), with it (dsdeploy chat) it answers.
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$API_URL/v1/models" || true)"
[ "$code" = 401 ] || fail "/v1/models without the key answered $code, not 401"

unset OPENAI_BASE_URL OPENAI_API_BASE
dsd chat 120 chat --max-tokens 8 "Hello from the e2e test"
expect_rc 0 "dsdeploy chat"
expect_text "stand-in reply" "chat prints the stand-in's reply"

dsd status_ok 120 status
expect_rc 0 "status while serving"
dsd logs 120 logs
expect_rc 0 "logs"
expect_text 'sglang-standin\] (serving the API|serving /health only)' "logs shows each node's engine log"

if [ "$RUNTIME" = process ]; then
  pid="$(hssh h2 "cat $REMOTE_DIR/h2/run/vllm.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] || fail "no engine PID file on h2: $pid"
  hssh h2 "kill -KILL $pid"
  sleep 2
  dsd status_killed 120 status
  expect_rc 1 "status with h2's SGLang killed"
  expect_text 'h2' "status names the node whose engine is gone"
fi

dsd down 300 down
expect_rc 0 "down"
expect_nothing_left "after down"
if [ "$RUNTIME" = docker ]; then expect_engines_empty "after down"; fi
TEARDOWN_DONE=1
log "timings: up (to smoke) $T_UP s"
