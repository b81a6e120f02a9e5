"""A STAND-IN for SGLang's server, for the e2e test e2e_sglang_standin_engine_up (issue 14 item 4).

SGLang cannot serve here (no GPU; its kernels are CUDA builds), so this takes the place of
`sglang.launch_server` inside the real SGLang environment (build/venv-sglang) when the e2e's
overlay puts sglang_standin_site/ on PYTHONPATH (its sitecustomize routes the module here). What
it does is real where it can be:
  - the argv dsdeploy's start.sh passes is parsed by the installed SGLang's own parser
    (ServerArgs.add_cli_args, parse_args, from_cli_args: what launch_server does first);
  - the nodes meet at --dist-init-addr with torch.distributed (Gloo, tcp://HOST:PORT, world =
    --nnodes, rank = --node-rank), as SGLang's ranks do, and all-reduce their ranks to prove it;
  - node rank 0 serves /health, /v1/models and /v1/chat/completions (streamed or not) on
    --host:--port, with SGLang's key rule (Authorization: Bearer <--api-key>; /health open);
    other ranks serve /health only, as SGLang's do (launch_dummy_health_check_server).
The replies are canned ("stand-in reply"): nothing here is a model. Stops on SIGTERM.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import socket


def log(msg):
    print(f"[sglang-standin] {msg}", flush=True)


def parse():
    import sglang
    from sglang.srt.server_args import ServerArgs

    parser = argparse.ArgumentParser(prog="sglang serve")
    ServerArgs.add_cli_args(parser)
    args = parser.parse_args(sys.argv[1:])  # exits 2 on anything SGLang refuses
    sa = ServerArgs.from_cli_args(args)
    log(f"argv parsed by SGLang {sglang.__version__}'s own parser: tp_size={sa.tp_size} pp_size={sa.pp_size} "
        f"nnodes={sa.nnodes} node_rank={sa.node_rank} dist_init_addr={sa.dist_init_addr} host={sa.host} port={sa.port} "
        f"served_model_name={sa.served_model_name} api_key={'set' if sa.api_key else 'none'}")
    return sa


def rendezvous(sa):
    import torch
    import torch.distributed as dist

    if sa.nnodes <= 1:
        return
    host, _, port = sa.dist_init_addr.rpartition(":")
    log(f"joining the rendezvous at tcp://{host}:{port} as rank {sa.node_rank} of {sa.nnodes}")
    t0 = time.time()
    dist.init_process_group("gloo", init_method=f"tcp://{host}:{port}", world_size=sa.nnodes, rank=sa.node_rank,
                            timeout=__import__("datetime").timedelta(seconds=600))
    t = torch.tensor([sa.node_rank + 1], dtype=torch.int64)
    dist.all_reduce(t)
    want = sa.nnodes * (sa.nnodes + 1) // 2
    log(f"rank {sa.node_rank} of {sa.nnodes} joined in {time.time() - t0:.1f} s; all_reduce of the ranks = {int(t.item())} (want {want})")
    if int(t.item()) != want:
        sys.exit(1)


def make_handler(sa, head):
    name = sa.served_model_name or sa.model_path

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            log("http " + (fmt % a))

        def send_json(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def authorized(self):
            if not sa.api_key or self.path.startswith(("/health", "/ready", "/metrics")):
                return True
            got = self.headers.get("Authorization", "")
            scheme, _, token = got.partition(" ")
            if scheme.lower() == "bearer" and token == sa.api_key:
                return True
            self.send_json(401, {"error": "Unauthorized"})
            return False

        def do_GET(self):
            if self.path in ("/health", "/health_generate", "/ping"):
                return self.send_json(200, {})
            if not head:
                return self.send_json(404, {"error": "rank > 0 serves /health only"})
            if not self.authorized():
                return
            if self.path == "/v1/models":
                return self.send_json(200, {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "sglang-standin"}]})
            self.send_json(404, {"error": "not found"})

        def do_POST(self):
            if not head or not self.authorized():
                return None if head else self.send_json(404, {})
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            if self.path != "/v1/chat/completions":
                return self.send_json(404, {"error": "not found"})
            words = ["stand-in", " reply"]
            usage = {"prompt_tokens": 4, "completion_tokens": len(words), "total_tokens": 4 + len(words)}
            rid, created = f"chatcmpl-standin-{time.time_ns()}", int(time.time())
            if not body.get("stream"):
                return self.send_json(200, {"id": rid, "object": "chat.completion", "created": created, "model": name,
                                            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(words)},
                                                         "finish_reason": "stop"}], "usage": usage})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()

            def chunk(delta, finish=None, use=None):
                c = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": name,
                     "choices": [] if use else [{"index": 0, "delta": delta, "finish_reason": finish}]}
                if use:
                    c["usage"] = use
                self.wfile.write(f"data: {json.dumps(c)}\n\n".encode())
                self.wfile.flush()

            chunk({"role": "assistant", "content": ""})
            for w in words:
                chunk({"content": w})
            chunk({}, "stop")
            if (body.get("stream_options") or {}).get("include_usage"):
                chunk({}, use=usage)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

    return Handler


def main():
    sa = parse()
    rendezvous(sa)
    head = sa.node_rank == 0
    host = sa.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True

        def server_bind(self):
            if family == socket.AF_INET6:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()

    server = Server((host, sa.port), make_handler(sa, head))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log(("serving the API" if head else "serving /health only (rank > 0)") + f" on {host}:{sa.port}")
    server.serve_forever()
    log("stopped (SIGTERM)")


if __name__ == "__main__":
    main()
