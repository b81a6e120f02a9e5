#!/usr/bin/env bash
# dsdeploy init and render from the command line: init writes an inventory that render reads
# (TOML and JSON); --dry-run writes nothing; an invalid inventory exits 2, names the file and
# line, and leaves an existing bundle exactly as it was; --json prints the summary.
# Usage: cli_render_test.sh DSDEPLOY_TOOL WORK_DIR
set -euo pipefail
tool=$1 work=$2
rm -rf "$work"
mkdir -p "$work"
cd "$work"
export DSDEPLOY_API_KEY=
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() { local want=$1; shift; set +e; "$@" >out.txt 2>err.txt; local rc=$?; set -e; [ "$rc" = "$want" ] || { cat out.txt err.txt; fail "$* exited $rc, expected $want"; }; }

expect_rc 0 "$tool" init --out inv.toml
expect_rc 2 "$tool" init --out inv.toml                      # no overwrite without --force
grep -q 'exists; use --force' err.txt || fail "init did not explain the refusal"
expect_rc 0 "$tool" init --out inv.json
expect_rc 0 "$tool" init --format toml
grep -q '^\[\[nodes\]\]' out.txt || fail "init to stdout printed no [[nodes]]"

# The default deployment does not fit at 0.8: render writes the bundle and exits 1.
expect_rc 1 "$tool" --inventory inv.toml render --out bundle
grep -q 'DOES NOT FIT' out.txt || fail "render did not show the verdict"
[ -f bundle/node1/compose.yaml ] && [ -x bundle/node2/start.sh ] || fail "render wrote no bundle"
[ "$(stat -c %a bundle/node1/.env)" = 600 ] || fail "the head's .env is not 0600"
key=$(sed -n 's/^VLLM_API_KEY=//p' bundle/node1/.env)
[ -n "$key" ] || fail "no API key in node1/.env"
! grep -rq -- "$key" out.txt err.txt bundle/README.md bundle/node1/*.sh bundle/node1/compose.yaml || fail "the API key leaked"
expect_rc 1 "$tool" --inventory inv.json render --out bundle --json
python3 -c 'import json,sys; j=json.load(open("out.txt")); assert j["written"] and not j["plan"]["fits"] and len(j["bundle"]["files"]) == 15' \
    || fail "render --json"
[ "$(sed -n 's/^VLLM_API_KEY=//p' bundle/node1/.env)" = "$key" ] || fail "re-rendering changed the API key"

# A fitting inventory exits 0; --dry-run writes nothing. (2 x 8 L20 does not hold DeepSeek-V3 at
# any utilization once vLLM's overheads are counted; 2 x 8 H200 does.)
sed -e 's/^gpu_memory_utilization = .*/gpu_memory_utilization = 0.9/' -e 's/^max_model_len = .*/max_model_len = 16384/' \
    -e 's/^gpu_type = .*/gpu_type = "H200"/' inv.toml >fits.toml
expect_rc 0 "$tool" --inventory fits.toml render --out dry --dry-run
grep -q 'would write 15 files' out.txt || fail "dry run listed no files"
[ ! -e dry ] || fail "--dry-run wrote something"

# An invalid inventory: exit 2, file and line named, the existing bundle untouched.
before=$(cd bundle && find . -type f -exec sha256sum {} + | sort)
sed 's/^address = "10.0.0.2"/address = "10.0.0.1"/' inv.toml >dup.toml
expect_rc 2 "$tool" --inventory dup.toml render --out bundle
line=$(grep -n '^address = "10.0.0.1"' dup.toml | tail -n 1 | cut -d: -f1)
grep -q "\[dsdeploy.cluster.duplicate_address\] dup.toml:$line: nodes\[1\].address" err.txt || { cat err.txt; fail "the error does not name dup.toml:$line"; }
sed 's/^gpu_count = 8/gpu_cout = 8/' inv.toml >typo.toml
expect_rc 2 "$tool" --inventory typo.toml render --out bundle
grep -q 'inventory.unknown_key.*did you mean "gpu_count"' err.txt || { cat err.txt; fail "no suggestion for the typo"; }
after=$(cd bundle && find . -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] || fail "an invalid inventory changed the bundle"
mkdir -p notabundle && echo keep >notabundle/file
expect_rc 2 "$tool" --inventory fits.toml render --out notabundle
grep -q 'bundle.exists' err.txt || fail "render overwrote a folder that is not a bundle"
[ "$(cat notabundle/file)" = keep ] || fail "render touched a folder that is not a bundle"
expect_rc 3 "$tool" --inventory missing.toml render --out bundle
grep -q 'inventory.unreadable' err.txt || fail "a missing inventory is not inventory.unreadable"
echo "dsdeploy init/render: all checks passed"
