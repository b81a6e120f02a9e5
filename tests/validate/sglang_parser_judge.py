"""SGLang's own ServerArgs judges a `python -m sglang.launch_server` / `sglang serve` argv.

Issue 14 item 5 for the second engine. Run with the judged environment's python (build/venv-sglang,
scripts/python-env-sglang.sh); tests/validate/sglang_parser_judge.sh drives it over the bundle
matrix's SGLang argvs (ctest sglang_parser_judges_argv_0_5_23):

    sglang_parser_judge.py [options] CASES.json   # ["--model-path", "/m", ...]
                                                  # or {"argv": [...]} or {"cases": {name: [...]}}
    sglang_parser_judge.py [options] -- --model-path /m --tp-size 2 ...
    sglang_parser_judge.py --list-options [--tp --dp-size ...]   # option strings of the parser

Stages (--stage):
  parse    (default) exactly what sglang.srt.server_args.prepare_server_args() does for
           launch_server and `sglang serve`: argparse.ArgumentParser(prog="sglang serve"),
           ServerArgs.add_cli_args(parser), parser.parse_args(argv), ServerArgs.from_cli_args(args).
           In 0.5.23 ServerArgs.__post_init__ is a no-op, so this judges spelling, types, choices.
  resolve  parse, then ServerArgs.resolve_once() (0.5.23's validation/defaulting pipeline, what
           run_server() -> Engine._launch_subprocesses() run first) and check_server_args()
           (called right after resolve_once() in Engine._launch_subprocesses), then
           NetworkAddress.parse(dist_init_addr) as the launch does.  No GPU needed:
             * --model-path is swapped, for resolution only, for a local dir holding a config.json
               (a tiny stand-in, --stand-in deepseek_v3|llama, or a real one: --model-config-dir);
               served_model_name/tokenizer_path keep the argv's model path as resolution would.
             * two device queries are monkeypatched the way a unit test would:
               get_device_memory_capacity() -> --gpu-mem-mib (used for the default
               mem_fraction_static, chunked_prefill_size and CUDA-graph sizes when not given), and
               serving_hook.get_device() -> "cuda" (the default --device probe raises without an
               accelerator).
Output: one JSON line per case; exit 0 when every case is accepted, 1 otherwise.
"""

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import traceback
import warnings

REPORT_FIELDS = ("model_path", "tp_size", "pp_size", "dp_size", "attn_dp_size", "ep_size",
                 "moe_a2a_backend", "enable_eplb", "ep_num_redundant_experts", "nnodes",
                 "node_rank", "dist_init_addr", "dist_timeout", "nccl_port", "mem_fraction_static",
                 "context_length", "kv_cache_dtype", "served_model_name", "host", "port",
                 "trust_remote_code", "enable_dp_attention", "chunked_prefill_size", "device")

STAND_INS = {
    # Tiny configs: enough for resolution to classify the model (architecture, MoE, MLA).
    "deepseek_v3": {
        "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
        "hidden_size": 256, "intermediate_size": 512, "moe_intermediate_size": 64,
        "num_hidden_layers": 4, "num_attention_heads": 16, "num_key_value_heads": 16,
        "n_routed_experts": 32, "n_shared_experts": 1, "num_experts_per_tok": 4,
        "n_group": 4, "topk_group": 2, "first_k_dense_replace": 1, "moe_layer_freq": 1,
        "q_lora_rank": 64, "kv_lora_rank": 64, "qk_nope_head_dim": 32, "qk_rope_head_dim": 16,
        "v_head_dim": 32, "vocab_size": 1024, "max_position_embeddings": 163840,
        "rope_theta": 10000, "rms_norm_eps": 1e-6, "torch_dtype": "bfloat16",
        "scoring_func": "sigmoid", "topk_method": "noaux_tc", "routed_scaling_factor": 2.5,
        "norm_topk_prob": True, "hidden_act": "silu", "tie_word_embeddings": False,
    },
    "llama": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
        "num_attention_heads": 16, "num_key_value_heads": 16, "vocab_size": 1024,
        "max_position_embeddings": 131072, "rms_norm_eps": 1e-6, "torch_dtype": "bfloat16",
        "hidden_act": "silu", "tie_word_embeddings": False,
    },
}


def build_parser():
    from sglang.srt.server_args import ServerArgs

    parser = argparse.ArgumentParser(prog="sglang serve")  # as prepare_server_args()
    ServerArgs.add_cli_args(parser)
    return parser


def option_index(parser):
    return {o: a for a in parser._actions for o in a.option_strings}


def abbreviations(argv, parser):
    """Options argparse accepted only as a unique prefix (allow_abbrev), e.g. --tp for --tp-size."""
    idx = option_index(parser)
    out = {}
    for w in argv:
        if not w.startswith("--") or w == "--":
            continue
        name = w.split("=", 1)[0]
        if name not in idx:
            hits = [o for o in idx if o.startswith(name)]
            if len(hits) == 1:
                out[name] = hits[0]
    return out


def patch_device_queries(gpu_mem_mib):
    import sglang.srt.arg_groups.kv_shard_hook as kv_shard_hook
    import sglang.srt.arg_groups.memory_hook as memory_hook
    import sglang.srt.arg_groups.serving_hook as serving_hook
    import sglang.srt.utils.common as common

    def capacity(device=None):
        return float(gpu_mem_mib)

    for mod in (common, memory_hook, kv_shard_hook):  # imported by name in the hooks
        mod.get_device_memory_capacity = capacity
    serving_hook.get_device = lambda device_id=None: "cuda"
    return [f"get_device_memory_capacity()->{gpu_mem_mib:g} MiB "
            "(utils.common, arg_groups.memory_hook, arg_groups.kv_shard_hook)",
            "arg_groups.serving_hook.get_device()->'cuda'"]


def config_dir(stand_in, model_config_dir):
    if model_config_dir:
        return model_config_dir
    d = tempfile.mkdtemp(prefix=f"sglang-judge-{stand_in}-")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(STAND_INS[stand_in], f)
    return d


def where(exc):
    frames = [fr for fr in traceback.extract_tb(exc.__traceback__) if "sglang" in fr.filename]
    if not frames:
        return None
    fr = frames[-1]
    return f"{fr.filename.split('site-packages/')[-1]}:{fr.lineno} {fr.name}"


def judge_one(argv, opts):
    import sglang
    from sglang.srt.server_args import ServerArgs

    out = {"sglang": sglang.__version__, "stage": opts.stage, "argv": argv}
    parser = build_parser()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns = parser.parse_args(argv)
    except SystemExit as e:
        lines = err.getvalue().strip().splitlines()
        out.update(accepted=False, rejected_by="argparse", exit_code=e.code,
                   error=lines[-1] if lines else "")
        return out
    except Exception as e:  # an option registered with an action that refuses it on use
        out.update(accepted=False, rejected_by="argparse action", error=f"{type(e).__name__}: {e}")
        return out
    abbr = abbreviations(argv, parser)
    if abbr:
        out["abbreviated_options"] = abbr
    try:
        sa = ServerArgs.from_cli_args(ns)
    except Exception as e:
        out.update(accepted=False, rejected_by="from_cli_args", error=f"{type(e).__name__}: {e}")
        return out
    out["parsed"] = {k: getattr(sa, k, None) for k in REPORT_FIELDS}
    if opts.stage == "parse":
        out["accepted"] = True
        return out

    # resolve stage: a fresh record (ServerArgs is sealed once resolution starts)
    argv_model_path = ns.model_path
    ns.model_path = config_dir(opts.stand_in, opts.model_config_dir)
    if ns.tokenizer_path is None:
        ns.tokenizer_path = ns.model_path
    if ns.served_model_name is None:  # resolution would default it to the argv's model path
        ns.served_model_name = argv_model_path
    sa = ServerArgs.from_cli_args(ns)
    out["patched"] = patch_device_queries(opts.gpu_mem_mib)
    out["model_config"] = opts.model_config_dir or f"stand-in {opts.stand_in}"
    try:
        sa.resolve_once()
        sa.check_server_args()
    except BaseException as e:  # ValueError / AssertionError / RuntimeError from the hooks
        out.update(accepted=False, rejected_by="resolve_once/check_server_args",
                   error=f"{type(e).__name__}: {e}", where=where(e))
        return out
    from sglang.srt.arg_groups.overrides import resolving_view
    from sglang.srt.utils.network import NetworkAddress

    cfg = resolving_view(sa)
    resolved = {k: getattr(cfg, k, None) for k in REPORT_FIELDS}
    resolved["model_path"] = argv_model_path
    out["resolved"] = resolved
    if cfg.dist_init_addr:
        try:
            NetworkAddress.parse(cfg.dist_init_addr)  # what bootstrap/PortArgs do at launch
        except Exception as e:
            out.update(accepted=False, rejected_by="NetworkAddress.parse(dist_init_addr)",
                       error=f"{type(e).__name__}: {e}")
            return out
    out["accepted"] = True
    return out


def load_cases(words):
    if words and words[0] == "--":
        return {"argv": words[1:]}
    if len(words) != 1:
        sys.exit("usage: sglang_parser_judge.py [options] CASES.json | -- ARGV... (see --help)")
    with open(words[0]) as f:
        data = json.load(f)
    if isinstance(data, list):
        return {"argv": data}
    return dict(data["cases"]) if "cases" in data else {"argv": data["argv"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stage", choices=["parse", "resolve"], default="parse")
    ap.add_argument("--stand-in", choices=sorted(STAND_INS), default="deepseek_v3")
    ap.add_argument("--model-config-dir", help="dir with a real config.json (resolve stage)")
    ap.add_argument("--gpu-mem-mib", type=float, default=81559.0,
                    help="patched device memory (default 81559 = H100 80GB)")
    ap.add_argument("--list-options", action="store_true",
                    help="print the parser's option strings (all, or those named after --)")
    opts, rest = ap.parse_known_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    warnings.filterwarnings("ignore")

    if opts.list_options:
        parser = build_parser()
        idx = option_index(parser)
        names = [w for w in rest if w != "--"] or sorted(idx)
        for n in names:
            a = idx.get(n)
            if a is None:
                hits = [o for o in idx if o.startswith(n)]
                how = (f"only as an argparse abbreviation of {hits[0]}" if len(hits) == 1
                       else f"ambiguous prefix of {hits}" if hits else "no such option")
                print(f"{n}\tABSENT ({how})")
            else:
                print(f"{n}\tdest={a.dest}\tspellings={a.option_strings}\tdefault={a.default!r}"
                      + (f"\tchoices={list(a.choices)}" if a.choices else ""))
        return 0

    ok = True
    for name, argv in load_cases(rest).items():
        res = {"case": name, **judge_one([str(w) for w in argv], opts)}
        ok &= bool(res["accepted"])
        print(json.dumps(res, default=str), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
