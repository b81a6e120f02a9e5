#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Side-by-side measurement of load generators against dsdeploy-pacing-server (see
scripts/bench-compare.sh for the usage and BENCHMARKS.md for results). Standard library only.

(a) accuracy: the server paces every stream at a known interval (TTFT = ITL = interval); each
    tool's mean and p99 ITL and TTFT are compared with that truth, per concurrency.
(b) cost: the server streams as fast as it can; chunks consumed per CPU-second of the tool's
    process tree (user + system, from wait4), after subtracting the same tool's start-up cost
    (a run of one request of one token)."""
import argparse, json, os, re, resource, shutil, signal, socket, subprocess, sys, time


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"pacing server not up on {port}")


class Pacer:
    def __init__(self, exe, port, interval_ms, log):
        self.log = open(log, "w")
        self.p = subprocess.Popen([exe, "--port", str(port), "--interval-ms", str(interval_ms)], stderr=self.log)
        wait_port(port)
        self.logpath = log

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(timeout=30)
        self.log.close()
        text = open(self.logpath).read()
        out = {}
        t = re.search(r"as sent: TTFT n (\d+) mean ([\d.]+) ms p99 ([\d.]+) ms; ITL n (\d+) mean ([\d.]+) ms p99 ([\d.]+) ms", text)
        if t:
            out = {"sent_mean_ttft_ms": float(t.group(2)), "sent_p99_ttft_ms": float(t.group(3)),
                   "sent_mean_itl_ms": float(t.group(5)), "sent_p99_itl_ms": float(t.group(6))}
        m = re.search(r"(\d+) content chunk\(s\) in ([\d.]+) s, CPU ([\d.e-]+) s, (\d+) chunk\(s\) sent more than 1 ms late \(max ([\d.e-]+) ms\)", text)
        if m:
            out.update({"chunks": int(m.group(1)), "server_cpu_s": float(m.group(3)), "late_chunks": int(m.group(4)),
                        "late_max_ms": float(m.group(5))})
        return out


def run_timed(cmd, env, out, timeout):
    """Runs cmd; returns (rc, wall s, CPU s of the whole process tree)."""
    t0 = time.time()
    with open(out + ".stdout", "w") as so, open(out + ".stderr", "w") as se:
        p = subprocess.Popen(cmd, env=env, stdout=so, stderr=se, start_new_session=True)
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except KeyboardInterrupt:
            os.killpg(p.pid, signal.SIGKILL)
            raise
    wall = time.time() - t0
    # wait4 gives the child's own rusage including its waited-for descendants
    cpu = ru.ru_utime + ru.ru_stime
    rc = os.waitstatus_to_exitcode(status)
    return rc, wall, cpu


def tool_cmd(tool, a, c, n, tokens, out_dir, tag):
    url = f"http://127.0.0.1:{a.port}"
    if tool == "dsdeploy" and a.dsdeploy_bench:  # examples/bench.cpp: the library alone, optimised build
        return [a.dsdeploy_bench, url + "/v1", str(c), str(n), str(tokens)]
    if tool == "dsdeploy":
        return [a.dsdeploy, "bench", "--base-url", url + "/v1", "--model", a.model, "--mean-input-tokens", "32",
                "--stddev-input-tokens", "0", "--mean-output-tokens", str(tokens), "--stddev-output-tokens", "0",
                "--max-num-completed-requests", str(n), "--num-concurrent-requests", str(c), "--no-tokenize", "--json",
                "--progress-interval", "0", "--metric-percentiles", "50,99", "--percentile-metrics", "ttft,tpot,itl,e2el",
                "--timeout", "3600", "--request-timeout", "3600"]
    if tool == "vllm":
        return [os.path.join(a.vllm_venv, "bin", "vllm"), "bench", "serve", "--backend", "openai-chat", "--endpoint",
                "/v1/chat/completions", "--base-url", url, "--model", a.model, "--tokenizer", a.tokenizer,
                "--dataset-name", "random", "--random-input-len", "32", "--random-output-len", str(tokens),
                "--num-prompts", str(n), "--max-concurrency", str(c), "--request-rate", "inf", "--ignore-eos",
                "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,99", "--save-result",
                "--result-dir", out_dir, "--result-filename", f"{tag}.json", "--disable-tqdm",
                "--ready-check-timeout-sec", "0"]
    if tool == "guidellm":
        return [os.path.join(a.guidellm_venv, "bin", "guidellm"), "run",
                "--backend", f"kind=openai_http,target={url},model={a.model}",
                "--profile", f"kind=concurrent,streams={c}", "--constraint", f"kind=max_requests,count={n}",
                "--tokenizer", f"kind=huggingface_auto,model={a.tokenizer}",
                "--data", f"kind=synthetic_text,prompt_tokens=32,output_tokens={tokens}",
                "--output", f"kind=json,path={os.path.join(out_dir, tag + '.json')}", "--disable-console-interactive"]
    raise ValueError(tool)


def parse(tool, out_dir, tag, stdout):
    if tool == "dsdeploy" and not open(stdout).read().lstrip().startswith("{"):
        text = open(stdout).read()

        def num(label):
            return float(re.search(re.escape(label) + r"\s+([-\d.]+)", text).group(1))
        return {"completed": int(num("Successful requests:")), "output_tokens": int(num("Total generated tokens:")),
                "mean_ttft_ms": num("Mean TTFT (ms):"), "p99_ttft_ms": num("P99 TTFT (ms):"),
                "mean_itl_ms": num("Mean ITL (ms):"), "p99_itl_ms": num("P99 ITL (ms):"), "mean_tpot_ms": num("Mean TPOT (ms):")}
    if tool == "dsdeploy":
        j = json.loads(open(stdout).read())
        return {"completed": j["completed"], "output_tokens": j["total_output_tokens"], "mean_ttft_ms": j["mean_ttft_ms"],
                "p99_ttft_ms": j["p99_ttft_ms"], "mean_itl_ms": j["mean_itl_ms"], "p99_itl_ms": j["p99_itl_ms"],
                "mean_tpot_ms": j["mean_tpot_ms"]}
    if tool == "vllm":
        j = json.load(open(os.path.join(out_dir, f"{tag}.json")))
        return {"completed": j["completed"], "output_tokens": j["total_output_tokens"], "mean_ttft_ms": j["mean_ttft_ms"],
                "p99_ttft_ms": j["p99_ttft_ms"], "mean_itl_ms": j["mean_itl_ms"], "p99_itl_ms": j["p99_itl_ms"],
                "mean_tpot_ms": j["mean_tpot_ms"]}
    if tool == "guidellm":
        j = json.load(open(os.path.join(out_dir, f"{tag}.json")))
        m = j["benchmarks"][0]["metrics"]

        def stat(name, key):
            s = m[name]["successful"]
            return s["percentiles"]["p99"] if key == "p99" else s["mean"]
        return {"completed": m["request_totals"]["successful"] if "request_totals" in m else None,
                "output_tokens": m["output_token_count"]["successful"]["total_sum"] if "output_token_count" in m else None,
                "mean_ttft_ms": stat("time_to_first_token_ms", "mean"), "p99_ttft_ms": stat("time_to_first_token_ms", "p99"),
                "mean_itl_ms": stat("inter_token_latency_ms", "mean"), "p99_itl_ms": stat("inter_token_latency_ms", "p99"),
                "mean_tpot_ms": stat("time_per_output_token_ms", "mean")}
    raise ValueError(tool)


def env_for(tool):
    e = dict(os.environ)
    e.pop("OPENAI_API_KEY", None)
    e["HF_HUB_OFFLINE"] = "1"
    e["TRANSFORMERS_OFFLINE"] = "1"
    e["VLLM_LOGGING_LEVEL"] = "WARNING"
    return e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pacer", required=True)
    ap.add_argument("--dsdeploy", required=True)
    ap.add_argument("--dsdeploy-bench", default="", help="examples/bench (an optimised build) instead of the CLI")
    ap.add_argument("--vllm-venv", required=True)
    ap.add_argument("--guidellm-venv", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--model", default="dsdeploy-tiny-deepseek-v3")
    ap.add_argument("--port", type=int, default=18250)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tools", default="dsdeploy,vllm,guidellm")
    ap.add_argument("--concurrency", default="1,64,256,1024")
    ap.add_argument("--interval-ms", type=float, default=20)
    ap.add_argument("--tokens", type=int, default=50)
    ap.add_argument("--requests-per-user", type=int, default=2)
    ap.add_argument("--min-requests", type=int, default=10)
    ap.add_argument("--fast-requests", type=int, default=64)
    ap.add_argument("--fast-tokens", type=int, default=2000)
    ap.add_argument("--fast-concurrency", type=int, default=16)
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--skip-cost", action="store_true")
    ap.add_argument("--timeout", type=float, default=900)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    tools = [t for t in a.tools.split(",") if t]
    results = {"interval_ms": a.interval_ms, "tokens": a.tokens, "accuracy": [], "cost": [],
               "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()}}
    if not a.skip_accuracy:
        for c in [int(x) for x in a.concurrency.split(",") if x]:
            n = max(a.min_requests, a.requests_per_user * c)
            for tool in tools:
                tag = f"acc-{tool}-c{c}"
                pacer = Pacer(a.pacer, a.port, a.interval_ms, os.path.join(a.out, tag + ".pacer.log"))
                try:
                    rc, wall, cpu = run_timed(tool_cmd(tool, a, c, n, a.tokens, a.out, tag), env_for(tool),
                                              os.path.join(a.out, tag), a.timeout)
                finally:
                    srv = pacer.stop()
                row = {"tool": tool, "concurrency": c, "requests": n, "rc": rc, "wall_s": round(wall, 2),
                       "cpu_s": round(cpu, 2), "server": srv, "loadavg": os.getloadavg()}
                try:
                    row.update(parse(tool, a.out, tag, os.path.join(a.out, tag + ".stdout")))
                    for k in ("mean_ttft_ms", "p99_ttft_ms", "mean_itl_ms", "p99_itl_ms"):
                        row["err_" + k] = round(row[k] - a.interval_ms, 3)  # against the nominal interval
                        if "sent_" + k in srv:  # against what the server really sent
                            row["err_sent_" + k] = round(row[k] - srv["sent_" + k], 3)
                except Exception as e:  # a tool that failed is a result too
                    row["error"] = f"{type(e).__name__}: {e}"
                print(json.dumps(row), flush=True)
                results["accuracy"].append(row)
                json.dump(results, open(os.path.join(a.out, "results.json"), "w"), indent=1)
    if not a.skip_cost:
        for tool in tools:
            runs = {}
            for label, n, tokens, c in (("startup", 1, 1, 1), ("load", a.fast_requests, a.fast_tokens, a.fast_concurrency)):
                tag = f"cost-{tool}-{label}"
                pacer = Pacer(a.pacer, a.port, 0, os.path.join(a.out, tag + ".pacer.log"))
                try:
                    rc, wall, cpu = run_timed(tool_cmd(tool, a, c, n, tokens, a.out, tag), env_for(tool),
                                              os.path.join(a.out, tag), a.timeout)
                finally:
                    srv = pacer.stop()
                runs[label] = {"rc": rc, "wall_s": wall, "cpu_s": cpu, "chunks": srv.get("chunks", 0)}
            load, start = runs["load"], runs["startup"]
            net_cpu = load["cpu_s"] - start["cpu_s"]
            row = {"tool": tool, "requests": a.fast_requests, "tokens": a.fast_tokens, "concurrency": a.fast_concurrency,
                   "chunks": load["chunks"], "rc": load["rc"], "wall_s": round(load["wall_s"], 2),
                   "cpu_s": round(load["cpu_s"], 3), "startup_cpu_s": round(start["cpu_s"], 3),
                   "chunks_per_cpu_s": round(load["chunks"] / net_cpu) if net_cpu > 0 else None,
                   "chunks_per_wall_s": round(load["chunks"] / load["wall_s"]), "loadavg": os.getloadavg()}
            print(json.dumps(row), flush=True)
            results["cost"].append(row)
            json.dump(results, open(os.path.join(a.out, "results.json"), "w"), indent=1)
    print(f"results: {os.path.join(a.out, 'results.json')}")


if __name__ == "__main__":
    main()
