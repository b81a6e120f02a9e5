#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Records real responses of vLLM's OpenAI-compatible server as test fixtures.
#
# usage: tests/server/record_fixtures.sh [OUT_DIR]     (default: tests/fixtures/vllm)
#
# Starts two servers with tests/server/vllm_server.sh (DSDEPLOY_VENV must point at the vLLM
# environment; scripts/python-env.sh makes it), both serving the tiny DeepSeek-V3 model:
#   plain: no options;
#   key:   --api-key (a throwaway key) and --reasoning-parser deepseek_r1.
# Then records the raw bytes of each answer with curl (bodies exactly as sent; streams
# byte for byte), writes versions.txt, and stops both servers. Run it again after a vLLM
# upgrade and review the diff: the unit tests decode these files.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/tests/fixtures/vllm}"
work="$root/build/record-fixtures"
mkdir -p "$out" "$work"
key="dsdeploy-record-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

cleanup() {
  "$here/vllm_server.sh" stop "$work/plain" || true
  "$here/vllm_server.sh" stop "$work/key" || true
}
trap cleanup EXIT

"$here/vllm_server.sh" start "$work/plain" --ports "${DSDEPLOY_TEST_PORTS:-18100-18149}"
"$here/vllm_server.sh" start "$work/key" --ports "${DSDEPLOY_TEST_PORTS:-18100-18149}" -- \
  --api-key "$key" --reasoning-parser deepseek_r1
plain="$(cat "$work/plain/base_url")"; plain_root="${plain%/v1}"
keyed="$(cat "$work/key/base_url")"
model="$(cat "$work/plain/model")"

# record NAME URL [curl args...]: the body into NAME, the status into the status list.
record() {
  local name="$1" url="$2"; shift 2
  local status
  status="$(curl -sS -N -o "$out/$name" -w '%{http_code}' "$url" "$@")"
  printf '%s %s\n' "$status" "$name" >> "$out/status.txt"
  printf 'recorded %-34s HTTP %s, %s bytes\n' "$name" "$status" "$(wc -c < "$out/$name")" >&2
}
json=(-H 'Content-Type: application/json')
: > "$out/status.txt"

hello='{"role":"user","content":"Hello! Which model are you?"}'
record chat.json "$plain/chat/completions" "${json[@]}" -d \
  "{\"model\":\"$model\",\"messages\":[$hello],\"max_tokens\":16,\"temperature\":0,\"ignore_eos\":true}"
record chat-stream.sse "$plain/chat/completions" "${json[@]}" -d \
  "{\"model\":\"$model\",\"messages\":[$hello],\"max_tokens\":16,\"temperature\":0,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
record completion.json "$plain/completions" "${json[@]}" -d \
  "{\"model\":\"$model\",\"prompt\":\"The quick brown fox\",\"max_tokens\":8,\"temperature\":0,\"ignore_eos\":true}"
record completion-stream.sse "$plain/completions" "${json[@]}" -d \
  "{\"model\":\"$model\",\"prompt\":\"The quick brown fox\",\"max_tokens\":8,\"temperature\":0,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
record structured-choice.json "$plain/chat/completions" "${json[@]}" -d \
  "{\"messages\":[{\"role\":\"user\",\"content\":\"yes or no?\"}],\"max_tokens\":8,\"temperature\":0,\"structured_outputs\":{\"choice\":[\"yes\",\"no\"]}}"
record models.json "$plain/models"
record version.json "$plain_root/version"
record tokenize.json "$plain_root/tokenize" "${json[@]}" -d '{"prompt":"Hello world","return_token_strs":true}'
record tokenize-chat.json "$plain_root/tokenize" "${json[@]}" -d \
  '{"messages":[{"role":"user","content":"Hi"}],"chat_template_kwargs":{"thinking":false},"return_token_strs":true}'
record detokenize.json "$plain_root/detokenize" "${json[@]}" -d '{"tokens":[358,224,332,85,79,71]}'
record error-400-max-tokens.json "$plain/chat/completions" "${json[@]}" -d \
  "{\"messages\":[$hello],\"max_tokens\":5000}"
record error-400-validation.json "$plain/chat/completions" "${json[@]}" -d '{"messages":"not a list"}'
record error-404-model.json "$plain/chat/completions" "${json[@]}" -d \
  "{\"model\":\"no-such-model\",\"messages\":[$hello]}"
record error-200-embeddings.json "$plain/embeddings" "${json[@]}" -d '{"input":"Hello"}'
record error-401-no-key.json "$keyed/chat/completions" "${json[@]}" -d "{\"messages\":[$hello],\"max_tokens\":4}"
record reasoning-chat.json "$keyed/chat/completions" "${json[@]}" -H "Authorization: Bearer $key" -d \
  "{\"messages\":[$hello],\"max_tokens\":12,\"temperature\":0,\"ignore_eos\":true}"
record reasoning-chat-stream.sse "$keyed/chat/completions" "${json[@]}" -H "Authorization: Bearer $key" -d \
  "{\"messages\":[$hello],\"max_tokens\":12,\"temperature\":0,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
record metrics.txt "$plain_root/metrics"

# The key is a throwaway, but it must not be committed anywhere.
if grep -rlF "$key" "$out" >/dev/null; then
  echo "record_fixtures.sh: the API key leaked into a fixture" >&2; exit 1
fi
{
  echo "Recorded by tests/server/record_fixtures.sh on $(date -u +%Y-%m-%d)."
  echo "vLLM: $("$DSDEPLOY_VENV/bin/python" -c 'import vllm; print(vllm.__version__)' 2>/dev/null) (CPU build), model: tiny DeepseekV3ForCausalLM (tests/server/make_tiny_model.py --arch deepseek_v3), dummy weights, float32, VLLM_MLA_DISABLE=1."
  echo "plain server: vllm serve MODEL --served-model-name $model --load-format dummy --max-model-len 1024 --enforce-eager"
  echo "key server:   the same with --api-key <throwaway> --reasoning-parser deepseek_r1"
  echo "status.txt lists the HTTP status of each file."
} > "$out/versions.txt"
echo "fixtures written to $out" >&2
