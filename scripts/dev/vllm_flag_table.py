#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Prints the rows of dsdeploy's vLLM flag table (include/dsdeploy/detail/vllm_flags.hpp)
from tests/validate/vllm-serve-flags.tsv (vLLM v0.11.0). `since` is filled from KNOWN below
for the flags whose history is established; the others get "" = present in v0.11.0, earlier
releases not catalogued. Run: python3 scripts/dev/vllm_flag_table.py > rows.inc"""
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# flag -> (since, note). Sources: shared/reference/deploy-anchors.md section 1.4.
KNOWN = {
    "--tensor-parallel-size": ("0.4.0", "long-standing"),
    "--pipeline-parallel-size": ("0.4.0", "long-standing"),
    "--host": ("0.4.0", "long-standing"),
    "--port": ("0.4.0", "long-standing"),
    "--served-model-name": ("0.4.0", "long-standing"),
    "--api-key": ("0.4.0", "long-standing; dsdeploy passes VLLM_API_KEY instead"),
    "--gpu-memory-utilization": ("0.4.0", "long-standing"),
    "--max-model-len": ("0.4.0", "long-standing"),
    "--kv-cache-dtype": ("0.4.0", "long-standing"),
    "--trust-remote-code": ("0.4.0", "long-standing"),
    "--dtype": ("0.4.0", "long-standing"),
    "--enforce-eager": ("0.4.0", "long-standing"),
    "--load-format": ("0.4.0", "long-standing"),
    "--quantization": ("0.4.0", "long-standing"),
    "--max-num-seqs": ("0.4.0", "long-standing"),
    "--max-num-batched-tokens": ("0.4.0", "long-standing"),
    "--seed": ("0.4.0", "long-standing"),
    "--distributed-executor-backend": ("0.5.1", "PR #5230; explicit `ray` required for multi-node Ray from 0.11.1 (PR #25775)"),
    "--enable-expert-parallel": ("0.8.0", "PR #14305 (2025-03-06), replaced VLLM_TEST_ENABLE_EP"),
    "--data-parallel-size": ("0.8.3", "single-node DP in the 0.8.3 release notes (#13923)"),
    "--headless": ("0.9.0", "multi-node DP, PR #15977 (approx. 0.9.0)"),
    "--data-parallel-size-local": ("0.9.0", "PR #15977 (approx. 0.9.0)"),
    "--data-parallel-address": ("0.9.0", "PR #15977 (approx. 0.9.0)"),
    "--data-parallel-rpc-port": ("0.9.0", "PR #15977 (approx. 0.9.0)"),
    "--data-parallel-start-rank": ("0.9.0", "PR #15977 (approx. 0.9.0)"),
    "--api-server-count": ("0.9.0", "PR #17546 (approx. 0.9.0)"),
    "--data-parallel-backend": ("0.10.0", "PR #18779 (approx. 0.10.0)"),
}


def c(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main() -> int:
    rows = list(csv.reader(open(ROOT / "tests/validate/vllm-serve-flags.tsv"), delimiter="\t"))
    head = rows[0]
    for r in rows[1:]:
        d = dict(zip(head, r))
        flag = d["flag"]
        if flag == "--model":  # vllm serve refuses it; dsdeploy passes the model positionally
            continue
        since, note = KNOWN.get(flag, ("", ""))
        deprecated = "true" if d["deprecated"] == "True" else "false"
        if deprecated == "true" and not note:
            note = "deprecated in 0.11.0"
        print(f"        {{{c(flag)}, {c(d['aliases'])}, {c(since)}, \"\", {deprecated}, {c(note)}}},")
    return 0


if __name__ == "__main__":
    sys.exit(main())
