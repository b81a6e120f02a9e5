// Runs every command line of a file (one per line, "\n" escaped) through check_cli.mjs's
// checkArgv: each must be a `ray start` or `vllm serve` with only options the pinned
// vLLM 0.11.0 / Ray 2.48-2.53 lists have, and no warnings.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const { checkArgv } = await import(join(HERE, "..", "validate", "check_cli.mjs"));
const lines = readFileSync(process.argv[2], "utf8").split("\n").filter((l) => l.length);
let bad = 0;
for (const raw of lines) {
  const line = raw.replace(/\\n/g, "\n");
  const r = checkArgv(["bash", "-c", line], "line");
  const problems = [...r.errors.map((e) => "error: " + e.message), ...r.warnings.map((w) => "warning: " + w.message)];
  // vLLM >= 0.12 flags (--nnodes ...) are not in the 0.11.0 list: those lines are checked by the
  // C++ tests against the flag table instead.
  const newer = /--nnodes /.test(line);
  if (r.found !== 1) problems.push(`expected one ray start / vllm serve command, found ${r.found}`);
  const real = newer ? problems.filter((p) => !/unknown vLLM option --(nnodes|node-rank|master-addr|master-port)/.test(p)) : problems;
  if (real.length) {
    bad++;
    console.log(`FAIL ${line.slice(0, 160)}\n  ${real.join("\n  ")}`);
  }
}
console.log(`${lines.length} command lines checked, ${bad} failed`);
process.exit(bad ? 1 : 0);
