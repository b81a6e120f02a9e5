// Reads every generated compose file back with js-yaml and checks what must hold across the
// nodes of a bundle: one image; the model at the same container path; VLLM_HOST_IP = ray
// --node-ip-address = the node's address; every worker joins the head's address and port; and
// every value (hostile ones included) reads back exactly as the inventory had it once Compose
// turns "$$" into "$".
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.env.VALIDATE_NODE_PREFIX || ".", "package.json"));
const yaml = require("js-yaml");
const unescape = (v) => (typeof v === "string" ? v.replace(/\$\$/g, "$") : v);
const expect = JSON.parse(readFileSync(process.argv[2], "utf8"));
let failures = 0, files = 0;
const fail = (where, msg) => { failures++; console.log(`FAIL ${where}: ${msg}`); };
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

for (const b of expect) {
  const images = new Set(), targets = new Set();
  for (const n of b.nodes) {
    files++;
    const doc = yaml.load(readFileSync(n.compose, "utf8"));
    const names = Object.keys(doc.services);
    if (names.length !== 1) { fail(n.compose, `expected one service, got ${names}`); continue; }
    const s = doc.services[names[0]];
    images.add(unescape(s.image));
    const model = s.volumes.find((v) => unescape(v.source) === b.model_source);
    if (!model) fail(n.compose, "no volume for the model source");
    else { targets.add(unescape(model.target)); if (model.read_only !== true) fail(n.compose, "model volume is not read-only"); }
    const ep = s.entrypoint.map(unescape);
    if (!same(ep, n.entrypoint)) fail(n.compose, `entrypoint differs:\n  got  ${JSON.stringify(ep)}\n  want ${JSON.stringify(n.entrypoint)}`);
    const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const env = sorted(Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, unescape(v)])));
    n.environment = sorted(n.environment);
    if (!same(env, n.environment)) fail(n.compose, `environment differs:\n  got  ${JSON.stringify(env)}\n  want ${JSON.stringify(n.environment)}`);
    if (env.VLLM_HOST_IP !== n.address) fail(n.compose, `VLLM_HOST_IP ${env.VLLM_HOST_IP} is not the node's address ${n.address}`);
    if (s.network_mode !== "host") fail(n.compose, "not on the host network");
    if (b.launcher === "ray") {
      const ip = ep.find((a) => a.startsWith("--node-ip-address="));
      if (ip !== `--node-ip-address=${n.address}`) fail(n.compose, `ray --node-ip-address is ${ip}, the node's address is ${n.address}`);
      if (ep[ep.length - 1] !== "--block") fail(n.compose, "ray start does not end with --block");
      if (n.role === "worker" && !ep.includes(`--address=${b.head_ray}`)) fail(n.compose, `the worker does not join ${b.head_ray}`);
      if (n.role === "head" && !ep.includes("--head")) fail(n.compose, "the head has no --head");
    }
  }
  if (images.size !== 1 || [...images][0] !== b.image) fail(b.bundle, `images ${[...images]} (want one: ${b.image})`);
  if (targets.size !== 1 || [...targets][0] !== b.model_target) fail(b.bundle, `model targets ${[...targets]} (want one: ${b.model_target})`);
}
console.log(`${files} compose files in ${expect.length} bundles read back, ${failures} failures`);
process.exit(failures ? 1 : 0);
