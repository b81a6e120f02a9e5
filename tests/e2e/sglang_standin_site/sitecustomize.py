"""Routes `python3 -m sglang.launch_server` to the e2e's STAND-IN (tests/e2e/sglang_standin.py).

Only on PYTHONPATH in e2e_sglang_standin_engine_up's overlay environment: the real SGLang package
stays importable (its parser judges the argv), only the server module is replaced, since SGLang
cannot serve without a GPU.
"""

import importlib.abc
import importlib.util
import os
import sys

_STANDIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sglang_standin.py")


class _StandIn(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "sglang.launch_server":
            return importlib.util.spec_from_file_location(name, _STANDIN)
        return None


sys.meta_path.insert(0, _StandIn())
