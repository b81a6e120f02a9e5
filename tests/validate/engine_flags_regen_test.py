#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Proves that scripts/dev/engine_flag_tables.py reproduces the stored flag tables.

1. Offline: the merged tables (tests/validate/engine-flags/{vllm,sglang}.tsv) and the C++
   headers (include/dsdeploy/detail/{vllm,sglang}_flags.hpp) are exactly what the generator
   makes from the stored per-release lists, and vllm-0.11.0.txt equals the reference list
   tests/validate/vllm-serve-flags.txt (extracted independently from the v0.11.0 source).
2. From the real artifacts: for several releases, the generator re-reads the release's PyPI
   sdist/wheel (cached in build/engine-sdists/, downloaded when missing) and its options must
   equal the stored per-release list (every spelling, aliases and deprecation marks). For a
   vLLM sdist, every option used in a `vllm serve` example of the release's own docs/ must be
   in the list too (an independent witness against options the extractor misses).

Exit 77 (ctest SKIP_RETURN_CODE) only when an artifact is neither cached nor downloadable
because PyPI cannot be reached; the offline part still runs first and fails normally.

    python3 tests/validate/engine_flags_regen_test.py [ENGINE==VERSION ...]
"""
from __future__ import annotations

import re
import socket
import sys
import tarfile
import urllib.error
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "dev"))
import engine_flag_tables as eft  # noqa: E402

# First, newest, and releases in between where the parser's construction changed shape
# (vLLM's make_arg_parser moved to entrypoints/common after 0.2x; SGLang 0.5.23 is a wheel whose
# options come from namespace dataclasses). About 130 MB to download once. vLLM 0.15.1 (a
# 509 MB wheel, no sdist) is left to an explicit `vllm==0.15.1` argument.
DEFAULT = ["vllm==0.11.0", "vllm==0.18.1", "vllm==0.22.1", "vllm==0.34.0",
           "sglang==0.4.10.post2", "sglang==0.5.10.post1", "sglang==0.5.23"]


def offline() -> list[str]:
    errs = []
    for engine in eft.RELEASES:
        if not (eft.DATA / f"{engine}.tsv").exists():
            errs.append(f"{engine}.tsv missing")
            continue
        per = {v: eft.read_release(engine, v) for v in eft.RELEASES[engine]}
        rows = eft.merge(engine, per)
        if eft.render_table(rows) != (eft.DATA / f"{engine}.tsv").read_text():
            errs.append(f"{engine}.tsv differs from the merge of the stored per-release lists; "
                        "run scripts/dev/engine_flag_tables.py generate --offline")
        if eft.render_header(engine, rows) != eft.header_path(engine).read_text():
            errs.append(f"{eft.header_path(engine).name} differs from what {engine}.tsv gives; "
                        "run scripts/dev/engine_flag_tables.py generate --offline")
        for v in eft.RELEASES[engine]:
            txt = (eft.DATA / f"{engine}-{v}.txt").read_text().split()
            every = sorted({s for k, o in per[v].items() for s in [k] + o["aliases"]},
                           key=eft.sort_key)
            if txt != every:
                errs.append(f"{engine}-{v}.txt and {engine}-{v}.tsv disagree")
    ref = (ROOT / "tests/validate/vllm-serve-flags.txt").read_text().split()
    mine = (eft.DATA / "vllm-0.11.0.txt").read_text().split()
    if ref != mine:
        errs.append("vllm-0.11.0.txt != tests/validate/vllm-serve-flags.txt: only in the "
                    f"generator's: {sorted(set(mine) - set(ref))}; only in the reference: "
                    f"{sorted(set(ref) - set(mine))}")
    return errs


# `vllm serve` examples in a release's own docs that name options its parser does not have:
# mistakes in the docs, checked by hand.
DOC_MISTAKES = {
    "--tensor-paralel-size",     # typo in docs/features/quantization/inc.md (0.11.x-0.13.0)
    "--disable-prefix-caching",  # docs/features/mooncake_ec_connector_usage.md (0.33.0+); no
                                 # such option in vllm/ (it is --no-enable-prefix-caching)
}


def docs_cross_check(art: Path, have: set[str]) -> list[str]:
    """A second, independent witness: every option in a `vllm serve ...` example of the
    sdist's docs/*.md must be in the extracted list (a missed option would show here)."""
    if not art.name.endswith(".tar.gz"):
        return []
    bad = []
    with tarfile.open(art) as t:
        for m in t.getmembers():
            if not (m.isfile() and "/docs/" in m.name and m.name.endswith(".md")):
                continue
            txt = re.sub(r"\\\n", " ", t.extractfile(m).read().decode("utf-8", "replace"))
            for line in txt.splitlines():
                i = line.find("vllm serve ")
                if i < 0:
                    continue
                cmd = re.split(r"[`|;&'\"#]|\$\(", line[i:])[0]  # stop at quotes, pipes, ...
                for f in re.findall(r"(?<![\w-])(--[a-zA-Z][\w-]*)", cmd):
                    f = f.replace("_", "-")
                    if f not in have and f not in DOC_MISTAKES:
                        bad.append(f"{f} ({m.name.split('/docs/', 1)[1]})")
    return sorted(set(bad))


def unreachable(e: BaseException) -> bool:
    return isinstance(e, (urllib.error.URLError, socket.timeout, TimeoutError,
                          ConnectionError)) and not isinstance(e, urllib.error.HTTPError)


def main(argv: list[str]) -> int:
    errs = offline()
    for e in errs:
        print("FAIL", e)
    skipped = []
    for spec in argv or DEFAULT:
        engine, version = spec.split("==")
        try:
            art = eft.fetch(engine, version)
        except Exception as e:  # noqa: BLE001
            if unreachable(e):
                skipped.append(f"{spec}: PyPI unreachable ({e})")
                continue
            raise
        got = eft.options(engine, art)
        want = eft.read_release(engine, version)
        bad = []
        for f in sorted(set(got) | set(want), key=eft.sort_key):
            g, w = got.get(f), want.get(f)
            if g is None or w is None:
                bad.append(f"{f}: {'only stored' if g is None else 'only in the artifact'}")
            elif (g["aliases"], g["deprecated"], g["hidden"]) != (
                    w["aliases"], w["deprecated"], w["hidden"]):
                bad.append(f"{f}: artifact {g['aliases']} {g['deprecated']!r} {g['hidden']}, "
                           f"stored {w['aliases']} {w['deprecated']!r} {w['hidden']}")
        if bad:
            errs.append(f"{spec} ({art.name}): " + "; ".join(bad[:20]))
            print("FAIL", errs[-1])
        else:
            print(f"ok   {spec}: {len(got)} options from {art.name} match the stored list")
        if engine == "vllm":
            every = {s for k, o in got.items() for s in [k] + o["aliases"]}
            doc_bad = docs_cross_check(art, every)
            if doc_bad:
                errs.append(f"{spec}: options in the release's `vllm serve` doc examples that "
                            "the extracted list lacks: " + ", ".join(doc_bad))
                print("FAIL", errs[-1])
    if errs:
        return 1
    if skipped:
        for s in skipped:
            print("SKIP", s)
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
