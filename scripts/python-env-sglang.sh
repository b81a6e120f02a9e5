#!/usr/bin/env bash
# Creates (once) the Python environment whose SGLang judges dsdeploy's SGLang argv: build/venv-sglang
# with SGLang 0.5.23 (the newest on PyPI) over the newest vLLM's lock (torch 2.13: SGLang 0.5.23
# pins 2.14.1, but its parser and ServerArgs' checks need only an importable torch), plus the four
# modules `sglang.srt.server_args` and its resolution import (sglang/utils.py imports IPython; gguf
# for the model-config step). Nothing of it serves: no GPU here. Prints its path. Issue 14 item 5
# (SGLang's ServerArgs as the judge, tests/validate/sglang_parser_judge.sh). About 180 MB beyond
# the newest environment's files, which uv hard-links (HACKING.md, "Disk").
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
VENV="${DSDEPLOY_SGLANG_VENV:-$DSDEPLOY_ROOT/build/venv-sglang}"
make_python_env "$VENV" "$DSDEPLOY_ROOT/scripts/python/requirements-newest.lock" \
  "sglang==0.5.23 orjson==3.13.0 ipython==9.18.1 traitlets==5.16.1 gguf==0.19.0" "sglang, sglang.srt.server_args"
echo "$VENV"
