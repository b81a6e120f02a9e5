#!/usr/bin/env bash
# SGLang's own parser as the judge of dsdeploy's SGLang argv (issue 14 item 5, the second engine).
# The bundle matrix's SGLang bundles are rendered; then, with the SGLang installed in VENV
# (scripts/python-env-sglang.sh):
#   1. every node's argv must pass ServerArgs' parser, resolve_once() and check_server_args()
#      (sglang_parser_judge.py --stage resolve; a tiny DeepSeek-V3 config stands in for the weights);
#   2. the hostile-value bundles' argv reach the parser word for word: the only refusal is --dtype's
#      choice, quoting the hostile value exactly as the inventory holds it;
#   3. every option dsdeploy's table says was removed by that release must be refused by it;
#   4. every option the table says that release accepts must be one of its parser's options.
# Usage: sglang_parser_judge.sh BUNDLE_MATRIX_PROGRAM VENV OUT_DIR   (exit 77: no VENV)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
program=$1 venv=$2 out=$3
if [ ! -x "$venv/bin/python" ]; then
    echo "SKIP: no SGLang environment at $venv (scripts/python-env-sglang.sh makes it)"
    exit 77
fi
py=("$venv/bin/python" -W ignore "$here/sglang_parser_judge.py")
"$program" "$out" >/dev/null
fail=0

echo "1. the SGLang bundles' argv through ServerArgs (parse, resolve_once, check_server_args):"
if ! "${py[@]}" --stage resolve "$out/sglang-argv.json" >"$out/judge-resolve.jsonl"; then fail=1; fi
echo "2. the hostile values through ServerArgs' parser:"
"${py[@]}" --stage parse "$out/sglang-argv-hostile.json" >"$out/judge-hostile.jsonl" || true
echo "3. options the table says SGLang removed:"
"${py[@]}" --stage parse "$out/sglang-refused.json" >"$out/judge-refused.jsonl" || true
"${py[@]}" --list-options >"$out/parser-options.txt"
python3 - "$out" <<'PY' || fail=1
import json, sys
out = sys.argv[1]
bad = 0
# The hostile bundles pass "--dtype" "$(touch PWNED_e)" (tests/bundle/matrix.hpp): SGLang must
# refuse exactly that value, as data.
dtype_refusal = "argument --dtype: invalid choice: '$(touch PWNED_e)'"
for name in ("judge-resolve", "judge-hostile"):
    rows = [json.loads(l) for l in open(f"{out}/{name}.jsonl")]
    for r in rows:
        if name == "judge-hostile" and not r["accepted"] and dtype_refusal in r.get("error", ""):
            r["accepted"] = True
        if not r["accepted"]:
            bad += 1
            print(f"FAIL {name}: {r['case']} refused by {r.get('rejected_by')}: {r.get('error')}")
    print(f"   {name}: {sum(r['accepted'] for r in rows)}/{len(rows)} accepted (hostile: or --dtype's value refused verbatim)")
    for r in rows:
        if r.get("abbreviated_options"):
            bad += 1
            print(f"FAIL {name}: {r['case']} uses abbreviations {r['abbreviated_options']}")
# What dsdeploy meant: the rank, the rendezvous, the sizes.
for r in (json.loads(l) for l in open(f"{out}/judge-resolve.jsonl")):
    argv, got = r["argv"], r.get("resolved") or {}
    def after(flag):
        return argv[argv.index(flag) + 1] if flag in argv else None
    for flag, key in (("--tp-size", "tp_size"), ("--pp-size", "pp_size"), ("--nnodes", "nnodes"), ("--node-rank", "node_rank"),
                      ("--ep-size", "ep_size"), ("--port", "port")):
        want = after(flag)
        if want is not None and r["accepted"] and str(got.get(key)) != want:
            bad += 1
            print(f"FAIL {r['case']}: {flag} {want} resolved as {key} = {got.get(key)}")
    # DP attention, in either spelling (--attn-dp-size from 0.5.22; --enable-dp-attention --dp-size N before).
    adp = after("--attn-dp-size") or (after("--dp-size") if "--enable-dp-attention" in argv else None)
    if adp and r["accepted"] and (str(got.get("attn_dp_size")) != adp or got.get("dp_size") != 1):
        bad += 1
        print(f"FAIL {r['case']}: DP attention {adp} resolved as attn_dp_size = {got.get('attn_dp_size')}, dp_size = {got.get('dp_size')}")
    if after("--dist-init-addr") and r["accepted"] and got.get("dist_init_addr") != after("--dist-init-addr"):
        bad += 1
        print(f"FAIL {r['case']}: --dist-init-addr resolved as {got.get('dist_init_addr')}")
refused = [json.loads(l) for l in open(f"{out}/judge-refused.jsonl")]
for r in refused:
    if r["accepted"]:
        bad += 1
        print(f"FAIL: dsdeploy's table says {r['case']} is gone, but the parser accepts it")
print(f"   refused: {sum(not r['accepted'] for r in refused)}/{len(refused)} refused by the parser")
parser = {l.split("\t")[0] for l in open(f"{out}/parser-options.txt") if l.strip()}
table = [l.strip() for l in open(f"{out}/sglang-options.txt") if l.strip()]
missing = [o for o in table if o not in parser]
for o in missing:
    bad += 1
    print(f"FAIL: dsdeploy's table says SGLang accepts {o}; its parser has no such option")
print(f"4. {len(table) - len(missing)}/{len(table)} options of the table are options of the parser ({len(parser)} in the parser)")
sys.exit(1 if bad else 0)
PY
[ "$fail" -eq 0 ] || { echo "the judge refused something; see $out/judge-*.jsonl"; exit 1; }
echo "SGLang's parser agrees with every argv and with the table"
