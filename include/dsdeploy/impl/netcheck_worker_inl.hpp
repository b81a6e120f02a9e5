// SPDX-License-Identifier: Apache-2.0
// The netcheck worker: the Python program each node runs (with the runtime's own interpreter and
// torch) to join one all-reduce across every planned rank. It prints one JSON object per line:
// "node" (hostname, the interface, whether it exists, its sysfs link speed, every interface's
// addresses), then per rank "start", "joined", one "result" per size, "done" -- or "error" with
// the stage it failed in. Part of the netcheck room's implementation.
#pragma once

#include <dsdeploy/netcheck.hpp>

#include <string>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE const std::string& netcheck_worker_program() {
    static const std::string program = R"py(# dsdeploy netcheck worker: one all-reduce across every planned rank, from inside the
# deployment's runtime and with the environment vLLM gets. Prints one JSON object per line.
import argparse, json, os, socket, subprocess, sys, time


def emit(**kv):
    sys.stdout.write(json.dumps(kv, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def interface_facts(name):
    facts = {"event": "node", "hostname": socket.gethostname()[:255], "interface": name}
    sys_dir = "/sys/class/net/" + name if name else ""
    facts["interface_exists"] = bool(name) and os.path.isdir(sys_dir)
    try:
        with open(sys_dir + "/speed") as f:
            facts["link_mbps"] = int(f.read().strip())
    except (OSError, ValueError):
        facts["link_mbps"] = None
    addrs = {}
    try:
        out = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            w = line.split()
            if len(w) >= 4 and w[2] in ("inet", "inet6"):
                addrs.setdefault(w[1], []).append(w[3].split("/")[0])
    except (OSError, subprocess.SubprocessError):
        pass
    facts["addresses"] = addrs
    return facts


def run_rank(a, local_rank):
    import datetime
    import torch
    import torch.distributed as dist

    rank = a.node_rank * a.local_ranks + local_rank
    world = a.nnodes * a.local_ranks
    host = "[" + a.master_addr + "]" if ":" in a.master_addr else a.master_addr
    t0 = time.monotonic()
    emit(event="start", rank=rank, local_rank=local_rank, world=world, backend=a.backend)
    stage = "join"
    try:
        dist.init_process_group(a.backend, init_method="tcp://%s:%d" % (host, a.master_port), world_size=world,
                                rank=rank, timeout=datetime.timedelta(seconds=a.timeout))
        emit(event="joined", rank=rank, seconds=round(time.monotonic() - t0, 3))
        cuda = a.backend == "nccl"
        device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
        if cuda:
            torch.cuda.set_device(device)
        sync = torch.cuda.synchronize if cuda else (lambda: None)
        for size in a.sizes:
            stage = "all_reduce %d bytes" % size
            t = torch.ones(max(1, size // 4), dtype=torch.float32, device=device)
            for _ in range(a.warmup):
                dist.all_reduce(t)
            t.fill_(1.0)
            sync()
            dist.barrier()
            times = []
            for _ in range(a.iters):
                sync()
                s = time.perf_counter()
                dist.all_reduce(t)
                sync()
                times.append(time.perf_counter() - s)
            want = float(world) ** a.iters
            got = float(t[0].item())
            if abs(got - want) > 1e-3 * want:
                emit(event="error", rank=rank, stage="verify %d bytes" % size,
                     message="all_reduce gave %g, expected %g: the collective is wrong" % (got, want))
                return 4
            avg = sum(times) / len(times)
            nbytes = t.numel() * 4
            algbw = nbytes / avg / 1e9
            emit(event="result", rank=rank, bytes=nbytes, time_us=round(avg * 1e6, 2),
                 algbw_gbs=round(algbw, 4), busbw_gbs=round(algbw * 2 * (world - 1) / world, 4))
        stage = "finish"
        dist.barrier()
        dist.destroy_process_group()
        emit(event="done", rank=rank, seconds=round(time.monotonic() - t0, 3))
        return 0
    except Exception as e:  # noqa: BLE001 - every failure is reported, with its stage
        emit(event="error", rank=rank, stage=stage, message=(type(e).__name__ + ": " + str(e))[:2000])
        return 3


def rank_process(a, local_rank):
    sys.exit(run_rank(a, local_rank))


def main():
    p = argparse.ArgumentParser(prog="dsdeploy-netcheck")
    p.add_argument("--node-rank", type=int, required=True)
    p.add_argument("--nnodes", type=int, required=True)
    p.add_argument("--local-ranks", type=int, default=1)
    p.add_argument("--master-addr", required=True)
    p.add_argument("--master-port", type=int, required=True)
    p.add_argument("--backend", choices=["gloo", "nccl"], default="gloo")
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[4, 1 << 20, 16 << 20])
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--timeout", type=int, default=60)
    p.add_argument("--interface", default="")
    a = p.parse_args()
    emit(**interface_facts(a.interface))
    if a.local_ranks == 1:
        return run_rank(a, 0)
    import multiprocessing as mp
    ctx = mp.get_context("fork")  # this parent never imports torch, so fork is safe (and works under -c)
    procs = [ctx.Process(target=rank_process, args=(a, r)) for r in range(a.local_ranks)]
    for q in procs:
        q.start()
    for q in procs:
        q.join()
    return max(q.exitcode or 0 for q in procs)


if __name__ == "__main__":
    sys.exit(main())
)py";
    return program;
}

DSDEPLOY_NAMESPACE_END
