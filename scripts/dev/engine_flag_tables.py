#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Flag tables of `vllm serve` and SGLang's server, per release, from the released artifacts.

Nothing from vLLM or SGLang is imported or installed: the generator reads the Python sources of
each release's PyPI artifact (the sdist, or a wheel when PyPI has no sdist for that release) with
the `ast` module and follows how the release builds its parser:

  vLLM    ServeSubcommand.subparser_init (vllm/entrypoints/cli/serve.py) -> make_arg_parser ->
          FrontendArgs.add_cli_args / AsyncEngineArgs.add_cli_args -> EngineArgs.add_cli_args,
          including the options generated from config dataclasses with get_kwargs(Cls) (one option
          per field; a bool field gets argparse.BooleanOptionalAction, i.e. a --no-x twin) and the
          per-field kwargs changes made in _customize_cli_kwargs.
  SGLang  ServerArgs.add_cli_args (sglang/srt/server_args.py), following helper calls.

Usage (stdlib only; network only to download missing artifacts from PyPI):
  engine_flag_tables.py fetch ENGINE VERSION...     download into build/engine-sdists/ (cached)
  engine_flag_tables.py extract ENGINE ARTIFACT      print one release's options (every spelling)
  engine_flag_tables.py extract --tsv ENGINE ARTIFACT
  engine_flag_tables.py generate [--offline]         write tests/validate/engine-flags/* and
                                                     include/dsdeploy/detail/{vllm,sglang}_flags.hpp
`generate --offline` rebuilds the merged tables and headers from the stored per-release files
(tests/validate/engine-flags/<engine>-<ver>.tsv) without downloading anything.
"""
from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import io
import json
import os
import re
import sys
import tarfile
import textwrap
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("DSDEPLOY_ENGINE_SDISTS", ROOT / "build" / "engine-sdists"))
DATA = ROOT / "tests" / "validate" / "engine-flags"

# The releases covered: every vLLM minor from 0.11 to the newest on PyPI at its latest patch
# (0.11.0 and 0.11.1 as well: 0.11.0 is dsdeploy's baseline, 0.11.1 is cited by existing code),
# and every SGLang 0.5.N at its latest post-release, with 0.4.10.post2 (the last 0.4) as the
# lower bound. `pip index versions vllm` / `sglang` on 2026-12-03 listed 0.34.0 / 0.5.23.
RELEASES = {
    "vllm": ["0.11.0", "0.11.1", "0.11.2", "0.12.0", "0.13.0", "0.14.1", "0.15.1", "0.16.0",
             "0.17.1", "0.18.1", "0.19.1", "0.20.2", "0.21.0", "0.22.1", "0.23.0", "0.24.0",
             "0.25.1", "0.26.0", "0.27.1", "0.28.0", "0.29.0", "0.30.0", "0.31.0", "0.32.0",
             "0.33.0", "0.34.0"],
    "sglang": ["0.4.10.post2", "0.5.1.post3", "0.5.2", "0.5.3.post3", "0.5.4.post3",
               "0.5.5.post3", "0.5.6.post2", "0.5.7", "0.5.8.post1", "0.5.9", "0.5.10.post1",
               "0.5.11", "0.5.12.post1", "0.5.13.post1", "0.5.14", "0.5.15.post1", "0.5.16",
               "0.5.17", "0.5.18", "0.5.19", "0.5.20", "0.5.21", "0.5.22", "0.5.23"],
}

# ------------------------------------------------------------------------------------------
# Artifacts


def _index_url() -> str:
    return os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")


def cached_artifact(engine: str, version: str) -> Path | None:
    for p in sorted(CACHE.glob(f"{engine}-{version}*")):
        if p.name in (f"{engine}-{version}.tar.gz",) or (
                p.suffix == ".whl" and p.name.startswith(f"{engine}-{version}-")):
            return p
    return None


def pick_file(files: list[dict], engine: str, version: str) -> dict:
    """The sdist; else a pure-Python wheel; else the smallest x86_64 Linux wheel (its .py
    files are the same on every platform)."""
    sdist = [f for f in files if f["filename"] == f"{engine}-{version}.tar.gz"]
    if sdist:
        return sdist[0]
    wheels = [f for f in files if f["filename"].startswith(f"{engine}-{version}-")
              and f["filename"].endswith(".whl")]
    pure = [f for f in wheels if f["filename"].endswith("-none-any.whl")]
    if pure:
        return pure[0]
    linux = [f for f in wheels if "x86_64" in f["filename"]] or wheels
    if not linux:
        raise LookupError(f"PyPI has no sdist or wheel for {engine}=={version}")
    return min(linux, key=lambda f: f.get("size") or 0)


def fetch(engine: str, version: str) -> Path:
    """Downloads one release's artifact from PyPI (the simple index pip uses, JSON form, PEP
    691), checks its sha256 against the index and caches it by version. `pip download` is not
    used because it builds the sdist's metadata, which for vLLM means installing torch."""
    have = cached_artifact(engine, version)
    if have:
        return have
    CACHE.mkdir(parents=True, exist_ok=True)
    req = urllib.request.Request(f"{_index_url()}/{engine}/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        files = json.load(r)["files"]
    f = pick_file(files, engine, version)
    out = CACHE / f["filename"]
    h = hashlib.sha256()
    tmp = out.with_name(out.name + ".part")
    with urllib.request.urlopen(f["url"], timeout=600) as r, open(tmp, "wb") as w:
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            w.write(chunk)
    want = f.get("hashes", {}).get("sha256")
    if want and h.hexdigest() != want:
        tmp.unlink()
        raise ValueError(f"{f['filename']}: sha256 {h.hexdigest()} != index {want}")
    tmp.replace(out)
    return out


class Sources:
    """The .py files of one package inside an sdist, a wheel or a source folder, by path
    relative to the package's parent ("vllm/engine/arg_utils.py")."""

    def __init__(self, path: Path, package: str):
        self.files: dict[str, str] = {}
        path = Path(path)
        want = re.compile(r"(?:^|/)(" + re.escape(package) + r"/.*\.py)$")

        def keep(name: str, read) -> None:
            m = want.search(name)
            if not m:
                return
            rel = m.group(1)
            # an sdist holds the package once, below its top folder; skip tests/ copies etc.
            prefix = name[:m.start(1)]
            if prefix.count("/") > 1 or rel in self.files:
                return
            self.files[rel] = read().decode("utf-8", "replace")

        if path.is_dir():
            for p in sorted(path.rglob("*.py")):
                keep(p.relative_to(path).as_posix(), p.read_bytes)
        elif path.name.endswith(".whl") or path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as z:
                for n in z.namelist():
                    keep(n, lambda n=n: z.read(n))
        else:
            with tarfile.open(path) as t:
                for m in t.getmembers():
                    if m.isfile():
                        keep(m.name, lambda m=m: t.extractfile(m).read())
        if not self.files:
            raise ValueError(f"{path}: no {package}/*.py inside")

    def text(self, rel: str) -> str | None:
        return self.files.get(rel)

    def module_path(self, dotted: str) -> str | None:
        base = dotted.replace(".", "/")
        for cand in (base + ".py", base + "/__init__.py"):
            if cand in self.files:
                return cand
        return None


# ------------------------------------------------------------------------------------------
# Static model of the modules: classes, functions, imports, string constants

WRAPPERS = {"Optional", "Union", "Annotated", "SkipValidation"}


def name_of(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def const(node):
    return node.value if isinstance(node, ast.Constant) else None


class Module:
    def __init__(self, rel: str, tree: ast.Module):
        self.rel = rel
        self.tree = tree
        self.classes: dict[str, ast.ClassDef] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.imports: dict[str, tuple[str, str]] = {}  # local name -> (module, name)
        self.strings: dict[str, str] = {}  # NAME = "literal" (also implicit concatenation)
        self.aliases: dict[str, ast.AST] = {}
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                self.classes.setdefault(node.name, node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, node)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name):
                self.aliases.setdefault(node.targets[0].id, node.value)
                s = const(node.value)
                if isinstance(s, str):
                    self.strings[node.targets[0].id] = s
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                    and node.value is not None:
                self.aliases.setdefault(node.target.id, node.value)
            elif isinstance(node, ast.TypeAlias) if hasattr(ast, "TypeAlias") else False:
                self.aliases.setdefault(node.name.id, node.value)
        for node in ast.walk(tree):  # function-level imports count too
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    self.imports.setdefault(a.asname or a.name, (node.module, a.name))


class Program:
    """Lazily parsed modules of one release, with name resolution through `from X import Y`."""

    def __init__(self, src: Sources):
        self.src = src
        self.mods: dict[str, Module | None] = {}
        self._class_home: dict[str, str] | None = None

    def module(self, rel: str) -> Module | None:
        if rel not in self.mods:
            text = self.src.text(rel)
            mod = None
            if text is not None:
                try:
                    mod = Module(rel, ast.parse(text, filename=rel))
                except SyntaxError:
                    mod = None
            self.mods[rel] = mod
        return self.mods[rel]

    def resolve(self, mod: Module, name: str, _depth: int = 0):
        """-> ("class"|"function"|"alias"|"string", Module, node) or None."""
        if _depth > 8 or mod is None:
            return None
        if name in mod.classes:
            return ("class", mod, mod.classes[name])
        if name in mod.functions:
            return ("function", mod, mod.functions[name])
        if name in mod.strings:
            return ("string", mod, mod.strings[name])
        if name in mod.aliases:
            return ("alias", mod, mod.aliases[name])
        if name in mod.imports:
            dotted, orig = mod.imports[name]
            rel = self.src.module_path(dotted)
            if rel:
                r = self.resolve(self.module(rel), orig, _depth + 1)
                if r:
                    return r
            # `from pkg import submodule`
        return None

    def find_class(self, mod: Module | None, name: str):
        r = self.resolve(mod, name) if mod else None
        if r and r[0] == "class":
            return r[1], r[2]
        return self.global_class(name)

    def global_class(self, name: str):
        if self._class_home is None:
            self._class_home = {}
            for rel in sorted(self.src.files):
                text = self.src.files[rel]
                for m in re.finditer(r"^class (\w+)\b", text, re.M):
                    self._class_home.setdefault(m.group(1), rel)
        rel = self._class_home.get(name)
        if rel:
            mod = self.module(rel)
            if mod and name in mod.classes:
                return mod, mod.classes[name]
        return None

    def mro(self, mod: Module, cls: ast.ClassDef, _depth: int = 0) -> list:
        out = [(mod, cls)]
        if _depth > 12:
            return out
        for b in cls.bases:
            n = name_of(b.value if isinstance(b, ast.Subscript) else b)
            if not n:
                continue
            found = self.find_class(mod, n)
            if found:
                for item in self.mro(found[0], found[1], _depth + 1):
                    if all(item[1] is not o[1] for o in out):
                        out.append(item)
        return out

    def fields(self, mod: Module, cls: ast.ClassDef) -> list[tuple]:
        """Dataclass fields in definition order (bases first): (name, annotation, value,
        docstring, module)."""
        chain = list(reversed(self.mro(mod, cls)))
        out: dict[str, tuple] = {}
        for m, c in chain:
            body = c.body
            for i, stmt in enumerate(body):
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    ann = ast.unparse(stmt.annotation)
                    if ann.startswith(("ClassVar", "InitVar", "typing.ClassVar")):
                        continue
                    if stmt.value is not None and isinstance(stmt.value, ast.Call) \
                            and name_of(stmt.value.func) == "field" and any(
                                k.arg == "init" and const(k.value) is False
                                for k in stmt.value.keywords):
                        continue
                    doc = ""
                    if i + 1 < len(body) and isinstance(body[i + 1], ast.Expr) \
                            and isinstance(const(body[i + 1].value), str):
                        doc = const(body[i + 1].value)
                    name = stmt.target.id
                    if name in out:
                        del out[name]  # redefinition keeps the base's position? no: dataclass
                        # keeps the original position; emulate that
                        out[name] = (name, stmt.annotation, stmt.value, doc, m)
                    else:
                        out[name] = (name, stmt.annotation, stmt.value, doc, m)
        return list(out.values())

    def members(self, mod: Module, ann, depth: int = 0) -> list:
        """Flatten Optional/Union/Annotated/X|Y and type aliases to (Module, node) leaves."""
        if depth > 12:
            return [(mod, ann)]
        if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
            try:
                ann = ast.parse(ann.value, mode="eval").body
            except SyntaxError:
                return [(mod, ann)]
        if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
            return self.members(mod, ann.left, depth + 1) + self.members(mod, ann.right, depth + 1)
        if isinstance(ann, ast.Subscript) and name_of(ann.value) in WRAPPERS:
            inner = ann.slice
            elts = inner.elts if isinstance(inner, ast.Tuple) else [inner]
            if name_of(ann.value) in ("Annotated", "SkipValidation"):
                elts = elts[:1]
            out = []
            for e in elts:
                out.extend(self.members(mod, e, depth + 1))
            return out
        if isinstance(ann, ast.Name) and ann.id not in ("bool", "str", "int", "float", "None"):
            r = self.resolve(mod, ann.id)
            if r and r[0] == "alias":
                v = r[2]
                if isinstance(v, ast.Call) and name_of(v.func) == "TypeAliasType" and len(v.args) > 1:
                    v = v.args[1]
                return self.members(r[1], v, depth + 1)
            if r and r[0] == "class":
                return [(r[1], ast.Name(id=ann.id))]
        return [(mod, ann)]

    def is_dataclass_name(self, mod: Module, node) -> bool:
        if not isinstance(node, ast.Name) or node.id in ("bool", "str", "int", "float", "dict",
                                                         "list", "Any", "None"):
            return False
        found = self.find_class(mod, node.id)
        if not found:
            return False
        c = found[1]
        decos = {name_of(d.func if isinstance(d, ast.Call) else d) for d in c.decorator_list}
        if decos & {"dataclass", "config", "pydantic_dataclass"}:
            return True
        return any(isinstance(s, ast.AnnAssign) for s in c.body) and any(
            name_of(b) in ("BaseModel",) for b in c.bases)

    def bool_kind(self, mod: Module, ann) -> bool:
        """True when vLLM's get_kwargs gives the field BooleanOptionalAction."""
        mem = self.members(mod, ann)
        names = set()
        for m, node in mem:
            if self.is_dataclass_name(m, node):
                return False  # dataclass-typed field: parsed from JSON
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Constant) and node.value is None:
                names.add("None")
        if names == {"bool", "str", "None"} or names == {"bool", "str"}:
            return False  # bare flag -> True, or a string value (nargs="?")
        return "bool" in names


# ------------------------------------------------------------------------------------------
# vLLM: follow the serve parser's construction


def _kw(call: ast.Call) -> dict:
    return {k.arg: k.value for k in call.keywords if k.arg}


class Ctx:
    """What a concrete class's add_cli_args chain shares: kwargs edits per field."""

    def __init__(self):
        self.edits: dict[tuple[str, str], ast.AST] = {}
        self.deleted: set[str] = set()


class VllmWalker:
    def __init__(self, prog: Program):
        self.prog = prog
        self.found: list[dict] = []
        self.visited: set = set()
        self.ctx: dict[str, Ctx] = {}

    # entry
    def run(self) -> list[dict]:
        mod = self.prog.module("vllm/entrypoints/cli/serve.py")
        if mod is None or "ServeSubcommand" not in mod.classes:
            raise ValueError("no vllm/entrypoints/cli/serve.py:ServeSubcommand")
        cls = mod.classes["ServeSubcommand"]
        fn = next(f for f in cls.body if isinstance(f, ast.FunctionDef)
                  and f.name == "subparser_init")
        self.walk(fn, mod, None, None)
        return self.found

    def walk(self, fn, mod: Module, cls_ctx, defining):
        key = (id(fn), cls_ctx[1].name if cls_ctx else None)
        if key in self.visited:
            return
        self.visited.add(key)
        FnVisitor(self, mod, cls_ctx, defining).visit_body(fn)

    def method(self, start_mod, start_cls, name, skip_first=False):
        chain = self.prog.mro(start_mod, start_cls)
        if skip_first:
            chain = chain[1:]
        for m, c in chain:
            for f in c.body:
                if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name == name:
                    return m, c, f
        return None


class FnVisitor(ast.NodeVisitor):
    def __init__(self, w: VllmWalker, mod: Module, cls_ctx, defining):
        self.w, self.mod, self.cls_ctx, self.defining = w, mod, cls_ctx, defining
        self.kw_vars: dict[str, tuple] = {}  # var -> (Module, ClassDef)
        self.groups: dict[str, str] = {}
        self.loops: list[ast.For] = []
        self.local_dicts: dict[str, ast.Dict] = {}

    def visit_body(self, fn):
        for stmt in fn.body:
            self.visit(stmt)

    def ctx(self, cls_pair) -> Ctx:
        return self.w.ctx.setdefault(cls_pair[1].name, Ctx())

    def class_of(self, node):
        n = name_of(node) if isinstance(node, ast.Name) else None
        if n == "cls" and self.cls_ctx:
            return self.cls_ctx
        if n:
            return self.w.prog.find_class(self.mod, n)
        return None

    def visit_Assign(self, node: ast.Assign):
        self.generic_visit(node)  # calls on the right first (e.g. _customize_cli_kwargs)
        val = node.value
        for tgt in node.targets:
            if isinstance(tgt, ast.Name) and isinstance(val, ast.Call):
                fname = name_of(val.func)
                if fname == "get_kwargs" and val.args:
                    c = self.class_of(val.args[0])
                    if c:
                        self.kw_vars[tgt.id] = c
                elif fname == "add_argument_group":
                    title = _kw(val).get("title") or (val.args[0] if val.args else None)
                    self.groups[tgt.id] = ast.unparse(title).strip("'\"") if title else tgt.id
            if isinstance(tgt, ast.Name) and isinstance(val, ast.Dict):
                self.local_dicts[tgt.id] = val
            # var["field"]["key"] = value
            if isinstance(tgt, ast.Subscript) and isinstance(tgt.value, ast.Subscript):
                fld, k = const(tgt.value.slice), const(tgt.slice)
                if isinstance(fld, str) and isinstance(k, str):
                    c = self._kw_class(tgt.value.value)
                    if c:
                        self.ctx(c).edits[(fld, k)] = val

    def _kw_class(self, node):
        if isinstance(node, ast.Name):
            if node.id in self.kw_vars:
                return self.kw_vars[node.id]
            # a parameter of _customize_cli_kwargs: the kwargs of `cls`
            if self.cls_ctx:
                return self.cls_ctx
        return None

    def visit_Delete(self, node: ast.Delete):
        for t in node.targets:
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                fld = const(t.slice)
                c = self._kw_class(t.value)
                if isinstance(fld, str) and c:
                    self.ctx(c).deleted.add(fld)

    def visit_For(self, node: ast.For):
        self.loops.append(node)
        self.generic_visit(node)
        self.loops.pop()

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        f = node.func
        if name_of(f) == "add_argument":
            self.add_argument(node)
            return
        prog = self.w.prog
        if name_of(f) == "add_cli_args_from_dataclass":  # SGLang >= 0.5.14
            self.dataclass_args(node)
            return
        if isinstance(f, ast.Name):
            r = prog.resolve(self.mod, f.id)
            if r and r[0] == "function" and f.id not in ("get_kwargs",):
                self.w.walk(r[2], r[1], None, None)
            return
        if isinstance(f, ast.Attribute):
            v = f.value
            if isinstance(v, ast.Call) and name_of(v.func) == "super" and self.defining:
                found = self.w.method(self.defining[0], self.defining[1], f.attr, skip_first=True)
                if found:
                    self.w.walk(found[2], found[0], self.cls_ctx, (found[0], found[1]))
                return
            if isinstance(v, ast.Name):
                c = self.class_of(v)
                if c and f.attr not in ("from_cli_args",):
                    found = self.w.method(c[0], c[1], f.attr)
                    if found:
                        self.w.walk(found[2], found[0], c, (found[0], found[1]))

    # --- one add_argument call -------------------------------------------------------------
    def add_argument(self, call: ast.Call):
        group = ""
        if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
            group = self.groups.get(call.func.value.id, call.func.value.id)
        kws = _kw(call)
        splats = [k.value for k in call.keywords if k.arg is None]
        src = None  # (cls_pair, field)
        extra: dict[str, ast.AST] = {}
        i = 0
        while i < len(splats):  # {**kw["x"], "default": None} nests a splat in a dict
            s = splats[i]
            i += 1
            if isinstance(s, ast.Dict):
                splats.extend(v for k, v in zip(s.keys, s.values) if k is None)
            if isinstance(s, ast.Subscript) and isinstance(s.value, ast.Name) \
                    and s.value.id in self.kw_vars and isinstance(const(s.slice), str):
                src = (self.kw_vars[s.value.id], const(s.slice))
            elif isinstance(s, ast.Dict):
                extra.update({const(k): v for k, v in zip(s.keys, s.values) if k is not None})
            elif isinstance(s, ast.Name) and s.id in self.local_dicts:
                d = self.local_dicts[s.id]
                extra.update({const(k): v for k, v in zip(d.keys, d.values) if k is not None})
            elif isinstance(s, ast.BinOp) or isinstance(s, ast.Dict):
                pass
        for k, v in extra.items():
            if isinstance(k, str):
                kws.setdefault(k, v)
        opts: list[str] = []
        loop_opts: list[str] = []
        loop_fields = None
        for a in call.args:
            c = const(a)
            if isinstance(c, str):
                if c.startswith("-"):
                    opts.append(c)
                continue
            if isinstance(a, ast.Name):
                loop_opts.extend(self._loop_literals(a.id))
            elif isinstance(a, ast.JoinedStr):
                loop_fields = self._loop_fields(a)
        if loop_opts and not opts:
            for o in loop_opts:
                self._add([o], group, kws, None, None)
            return
        if loop_fields is not None:
            cpair, names = loop_fields
            ctx = self.ctx(cpair)
            for fld in names:
                if fld[0] in ctx.deleted:
                    continue
                flag = "--" + fld[0].replace("_", "-")
                self._add([flag], group, dict(kws), (cpair, fld), ctx)
            return
        if not opts:
            return  # positional
        fld = None
        if src:
            fld = next((f for f in self.w.prog.fields(*src[0]) if f[0] == src[1]), None)
            if fld is None:
                fld = (src[1], None, None, "", src[0][0])
            self._add(opts, group, kws, (src[0], fld), self.ctx(src[0]))
        else:
            self._add(opts, group, kws, None, None)

    def dataclass_args(self, call: ast.Call):
        """SGLang's add_cli_args_from_dataclass(parser, Cls, fields=None): one option per field
        annotated `A[T, "help"]` / `A[T, Arg(...)]` (A = Annotated) unless Arg(no_cli=True);
        name Arg.cli_name or --field-name, plus Arg.aliases; a bool field is store_true."""
        prog = self.w.prog
        if len(call.args) < 2:
            return
        cpair = self.class_of(call.args[1])
        if not cpair:
            return
        only = _kw(call).get("fields")
        only = {const(e) for e in only.elts} if isinstance(only, (ast.List, ast.Tuple)) else None
        fields = [(f[0], f[1], f[4]) for f in prog.fields(*cpair)]
        fields += self._namespace_fields(cpair)
        seen = set()
        for name, ann, mod in fields:
            if name in seen or (only is not None and name not in only):
                continue
            seen.add(name)
            if not (isinstance(ann, ast.Subscript) and name_of(ann.value) in ("A", "Annotated")
                    and isinstance(ann.slice, ast.Tuple)):
                continue
            inner, *meta = ann.slice.elts
            arg = None
            for m in meta:
                if isinstance(const(m), str):
                    arg = {"help": m}
                    break
                if isinstance(m, ast.Call) and name_of(m.func) == "Arg":
                    arg = _kw(m)
                    break
            if arg is None or const(arg.get("no_cli")) is True:
                continue
            cli = const(arg.get("cli_name")) if "cli_name" in arg else None
            names = [cli or "--" + name.replace("_", "-")]
            al = arg.get("aliases")
            if isinstance(al, (ast.List, ast.Tuple)):
                names += [const(e) for e in al.elts if isinstance(const(e), str)]
            kws = {"help": arg["help"]} if "help" in arg else {}
            if "action" in arg:
                kws["action"] = arg["action"]
            else:
                kws["action"] = ast.Name(id="store_true") if self._is_bool(mod, inner) else None
                if kws["action"] is None:
                    del kws["action"]
            self._add(names, cpair[1].name, kws, None, None, mod)

    def _action_refuses(self, action, kws) -> bool:
        """An argparse.Action whose __call__ raises unconditionally (SGLang's DeprecatedAction),
        or raises when `error_message` is given and the call gives one: the option is
        registered but using it stops the parse."""
        n = name_of(action)
        found = self.w.prog.find_class(self.mod, n) if n else None
        if not found:
            return False
        call = next((f for f in found[1].body if isinstance(f, ast.FunctionDef)
                     and f.name == "__call__"), None)
        if call is None:
            return False
        def stops(st) -> bool:  # `raise ...` or `parser.error(...)`
            return isinstance(st, ast.Raise) or (
                isinstance(st, ast.Expr) and isinstance(st.value, ast.Call)
                and name_of(st.value.func) == "error")

        if any(stops(st) for st in call.body):
            return True
        for st in call.body:
            if isinstance(st, ast.If) and any(stops(b) for b in st.body) \
                    and "error_message" in ast.unparse(st.test):
                return "error_message" in kws and const(kws["error_message"]) is not None
        return False

    def _is_bool(self, mod, inner) -> bool:
        mem = self.w.prog.members(mod, inner)
        return [n.id for _, n in mem if isinstance(n, ast.Name)] == ["bool"]

    def _namespace_fields(self, cpair) -> list:
        """ServerArgs.__annotations__ = {**_annotations, ...} with _annotations, ... =
        collect_input_fields([Model, Parallel, ...]): the namespace classes' fields."""
        mod = cpair[0]
        lists = {}
        for node in mod.tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                    and name_of(node.value.func) == "collect_input_fields" and node.value.args:
                a = node.value.args[0]
                if isinstance(a, ast.Name):
                    a = mod.aliases.get(a.id)
                if isinstance(a, (ast.List, ast.Tuple)):
                    lists[id(a)] = a
        out = []
        for a in lists.values():
            for e in a.elts:
                if isinstance(e, ast.Name):
                    found = self.w.prog.find_class(mod, e.id)
                    if found:
                        out += [(f[0], f[1], f[4]) for f in self.w.prog.fields(*found)]
        return out

    def _loop_literals(self, var: str) -> list[str]:
        for loop in reversed(self.loops):
            tgt = loop.target
            names = [tgt] if isinstance(tgt, ast.Name) else list(getattr(tgt, "elts", []))
            pos = next((i for i, n in enumerate(names)
                        if isinstance(n, ast.Name) and n.id == var), None)
            if pos is None:
                continue
            out = []
            if isinstance(loop.iter, (ast.List, ast.Tuple)):
                for elt in loop.iter.elts:
                    item = elt.elts[pos] if isinstance(elt, (ast.Tuple, ast.List)) else elt
                    c = const(item)
                    if isinstance(c, str) and c.startswith("-"):
                        out.append(c)
            return out
        return []

    def _loop_fields(self, js: ast.JoinedStr):
        text = ast.unparse(js)
        if not text.startswith(("f'--", 'f"--')):
            return None
        for loop in reversed(self.loops):
            it = loop.iter
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) \
                    and it.func.attr == "items":
                base = it.func.value
                cpair = None
                if isinstance(base, ast.Name) and base.id in self.kw_vars:
                    cpair = self.kw_vars[base.id]
                elif isinstance(base, ast.Call) and name_of(base.func) == "get_kwargs" \
                        and base.args:
                    cpair = self.class_of(base.args[0])
                if cpair:
                    return cpair, self.w.prog.fields(*cpair)
        return None

    def _add(self, opts, group, kws, src, ctx: Ctx | None, mod: Module | None = None):
        prog = self.w.prog
        hmod = mod or self.mod
        action = kws.get("action")
        helpv = kws.get("help")
        field_doc = ""
        if src:
            fname = src[1][0]
            if ctx:
                for key in ("action", "help", "deprecated"):
                    if (fname, key) in ctx.edits and key not in kws:
                        kws[key] = ctx.edits[(fname, key)]
                flags_edit = ctx.edits.get((fname, "flags"))
                if isinstance(flags_edit, (ast.List, ast.Tuple)):
                    opts = [const(e) for e in flags_edit.elts if isinstance(const(e), str)] + opts
                action, helpv = kws.get("action"), kws.get("help")
            field_doc = src[1][3] or ""
        act_txt = ast.unparse(action) if action is not None else ""
        if action is not None:
            isb = name_of(action) == "BooleanOptionalAction"
        elif src and src[1][1] is not None and "type" not in kws:
            isb = prog.bool_kind(src[1][4], src[1][1])
        else:
            isb = False
        help_txt = ""
        if helpv is not None:
            c = const(helpv)
            if isinstance(c, str):
                help_txt = c
            elif isinstance(helpv, ast.Name):
                r = prog.resolve(hmod, helpv.id)
                if r and r[0] == "string":
                    help_txt = r[2]
            elif isinstance(helpv, ast.JoinedStr):
                help_txt = ast.unparse(helpv)
        hidden = helpv is not None and "SUPPRESS" in ast.unparse(helpv)
        dep = []
        if "deprecated" in kws and const(kws["deprecated"]) is True:
            dep.append("deprecated=True")
        if re.search(r"\bdeprecat", help_txt, re.I):
            dep.append("help")
        if "Deprecat" in act_txt:
            dep.append("refused" if self._action_refuses(action, kws) else "action")
        if helpv is None and re.match(r"\s*(\[?deprecated)", field_doc, re.I):
            dep.append("field doc")
        self.w.found.append({"opts": opts, "group": group, "bool": isb, "action": act_txt,
                             "deprecated": ",".join(dep), "hidden": hidden})


def vllm_model_mode(src: Sources) -> str:
    """How `vllm serve` treats `--model`: rejected (0.11), accepted with a warning, or plain."""
    for rel in ("vllm/utils/argparse_utils.py", "vllm/utils/__init__.py", "vllm/utils.py"):
        txt = src.text(rel) or ""
        if "--model" not in txt:
            continue
        if re.search(r"arg == ['\"]--model['\"] for arg in args\)\s*\n\s*if model_in_cli_args:"
                     r"\s*\n\s*raise ValueError", txt):
            return "rejected"
        if "The `--model` option will be removed" in txt:
            return "deprecated"
    return "accepted"


def extract_vllm(src: Sources) -> list[dict]:
    prog = Program(src)
    found = VllmWalker(prog).run()
    found.append({"opts": ["-h", "--help"], "group": "argparse", "bool": False,
                  "action": "help", "deprecated": "", "hidden": False})
    mode = vllm_model_mode(src)
    out = []
    for r in found:
        if "--model" in r["opts"]:
            if mode == "rejected":
                continue
            if mode == "deprecated" and not r["deprecated"]:
                r["deprecated"] = "serve warns"
        out.append(r)
    return out


# ------------------------------------------------------------------------------------------
# SGLang: ServerArgs.add_cli_args


class SglWalker(VllmWalker):
    def run(self) -> list[dict]:
        mod = self.prog.module("sglang/srt/server_args.py")
        if mod is None or "ServerArgs" not in mod.classes:
            raise ValueError("no sglang/srt/server_args.py:ServerArgs")
        found = self.method(mod, mod.classes["ServerArgs"], "add_cli_args")
        if not found:
            raise ValueError("ServerArgs has no add_cli_args")
        self.walk(found[2], found[0], (mod, mod.classes["ServerArgs"]), (found[0], found[1]))
        return self.found


def extract_sglang(src: Sources) -> list[dict]:
    found = SglWalker(Program(src)).run()
    found.append({"opts": ["-h", "--help"], "group": "argparse", "bool": False,
                  "action": "help", "deprecated": "", "hidden": False})
    return found


EXTRACT = {"vllm": extract_vllm, "sglang": extract_sglang}


# ------------------------------------------------------------------------------------------
# Per-release option records


def spellings(r: dict) -> list[str]:
    out = list(r["opts"])
    if r["bool"]:
        out += ["--no-" + o[2:] for o in r["opts"] if o.startswith("--")]
    return out


def sort_key(s: str):
    return (s.lstrip("-").lower(), s)


def options(engine: str, artifact: Path) -> dict[str, dict]:
    """main long flag -> {aliases, deprecated, hidden, group}. A flag registered twice keeps
    its first registration (argparse would raise on a conflict, so twice means a bug here)."""
    pkg = "vllm" if engine == "vllm" else "sglang"
    rows = EXTRACT[engine](Sources(artifact, pkg))
    out: dict[str, dict] = {}
    for r in rows:
        longs = [o for o in r["opts"] if o.startswith("--")]
        main = longs[0] if longs else r["opts"][0]
        if main in out:
            continue
        out[main] = {"aliases": [o for o in spellings(r) if o != main],
                     "deprecated": r["deprecated"], "hidden": r["hidden"], "group": r["group"]}
    return out


def write_release(engine: str, version: str, opts: dict[str, dict]) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    every = sorted({s for k, v in opts.items() for s in [k] + v["aliases"]}, key=sort_key)
    (DATA / f"{engine}-{version}.txt").write_text("".join(s + "\n" for s in every))
    with open(DATA / f"{engine}-{version}.tsv", "w", newline="") as f:
        f.write("flag\taliases\tdeprecated\thidden\n")
        for k in opts:  # in the order the release registers them
            v = opts[k]
            f.write(f"{k}\t{' '.join(v['aliases'])}\t{v['deprecated']}\t"
                    f"{'hidden' if v['hidden'] else ''}\n")


def read_release(engine: str, version: str) -> dict[str, dict]:
    out = {}
    with open(DATA / f"{engine}-{version}.tsv", newline="") as f:
        for d in csv.DictReader(f, delimiter="\t"):
            out[d["flag"]] = {"aliases": d["aliases"].split(), "deprecated": d["deprecated"],
                              "hidden": d["hidden"] == "hidden", "group": ""}
    return out


# ------------------------------------------------------------------------------------------
# Merged table


def merge(engine: str, per: dict[str, dict[str, dict]]) -> list[dict]:
    """One row per set of spellings that share a history. Every spelling (long option, short
    alias, --no- twin) is tracked on its own: it joins its option's row as an alias only when
    it was accepted, and deprecated, in exactly the same releases as the row's flag; otherwise
    it gets a row of its own with a note naming the option it spells. So each spelling is in
    exactly one row, and a row's since/removed/deprecated hold for all its spellings."""
    vers = RELEASES[engine]
    first = vers[0]
    presence: dict[str, list[str]] = {}
    dep: dict[str, str] = {}
    dep_why: dict[str, str] = {}
    dep_dropped: dict[str, str] = {}
    hidden: dict[str, bool] = {}
    owner: dict[str, str] = {}  # spelling -> main flag of its option in its latest release
    order: dict[str, int] = {}
    refused_in: dict[str, str] = {}
    for v in vers:
        for main, o in per[v].items():
            order.setdefault(main, len(order))
            refused = "refused" in o["deprecated"].split(",")
            for sp in [main] + o["aliases"]:
                owner[sp] = main
                if refused:  # registered, but using it stops the parse: not accepted
                    refused_in.setdefault(sp, v)
                    presence.setdefault(sp, [])
                    continue
                presence.setdefault(sp, []).append(v)
                owner[sp] = main
                hidden[sp] = hidden.get(sp, False) or o["hidden"]
                if o["deprecated"] and sp not in dep:
                    dep[sp], dep_why[sp] = v, o["deprecated"]
                elif not o["deprecated"] and sp in dep and sp not in dep_dropped:
                    dep_dropped[sp] = v
    for sp in presence:
        order.setdefault(sp, len(order))

    def history(sp):
        return (tuple(presence[sp]), dep.get(sp, ""), dep_dropped.get(sp, ""),
                refused_in.get(sp, ""))

    def row(sp, aliases, extra):
        pres = presence[sp]
        if not pres:  # refused in every release that registers it
            return {"flag": sp, "aliases": " ".join(aliases),
                    "since": ("≤" + first) if refused_in[sp] == first else refused_in[sp],
                    "deprecated_in": "",
                    "removed_in": refused_in[sp], "note": "; ".join(
                        list(extra) + [f"registered but refused on use (raises) from "
                                       f"{refused_in[sp]}"])}
        since = ("≤" + first) if pres[0] == first else pres[0]
        i_last = vers.index(pres[-1])
        removed = vers[i_last + 1] if i_last + 1 < len(vers) else ""
        gaps = [v for v in vers[vers.index(pres[0]):i_last + 1] if v not in pres]
        notes = list(extra)
        if sp in refused_in:
            notes.append(f"registered but refused on use (its action raises) from "
                         f"{refused_in[sp]}")
        if gaps:
            notes.append("absent in " + ", ".join(gaps))
        if sp in dep:
            notes.append(f"deprecation from {dep_why[sp]}")
            if sp in dep_dropped:
                notes.append("deprecation dropped in " + dep_dropped[sp])
        if hidden.get(sp):
            notes.append("hidden (help=SUPPRESS)")
        return {"flag": sp, "aliases": " ".join(aliases), "since": since,
                "deprecated_in": dep.get(sp, ""), "removed_in": removed,
                "note": "; ".join(notes)}

    mains = sorted({owner[sp] for sp in presence if owner[sp] == sp}, key=lambda m: order[m])
    spell_of: dict[str, list[str]] = {}
    for sp in sorted(presence, key=lambda x: order[x]):
        spell_of.setdefault(owner[sp], []).append(sp)
    rows = []
    for m in mains:
        same = [sp for sp in spell_of[m] if sp != m and history(sp) == history(m)]
        other = [sp for sp in spell_of[m] if sp != m and history(sp) != history(m)]
        rows.append(row(m, same, []))
        for sp in other:
            rows.append(row(sp, [], [f"spelling of {m}"]))
    # a spelling whose owner is not itself a main flag in its latest release cannot occur
    # (the owner is always a main flag), but keep the table complete regardless
    seen = {r["flag"] for r in rows} | {a for r in rows for a in r["aliases"].split()}
    for sp in presence:
        if sp not in seen:
            rows.append(row(sp, [], [f"spelling of {owner[sp]}"]))
    return rows


def render_table(rows: list[dict]) -> str:
    out = ["flag\taliases\tsince\tdeprecated_in\tremoved_in\tnote\n"]
    for r in rows:
        out.append("\t".join(r[k] for k in ("flag", "aliases", "since", "deprecated_in",
                                            "removed_in", "note")) + "\n")
    return "".join(out)


def write_table(engine: str, rows: list[dict]) -> None:
    (DATA / f"{engine}.tsv").write_text(render_table(rows))


# ------------------------------------------------------------------------------------------
# C++ headers

# First release before 0.11.0 that accepted a flag (shared/reference/deploy-anchors.md 1.4).
KNOWN_VLLM = {
    "--tensor-parallel-size": ("0.4.0", "long-standing"),
    "--pipeline-parallel-size": ("0.4.0", "long-standing"),
    "--host": ("0.4.0", "long-standing"),
    "--port": ("0.4.0", "long-standing"),
    "--served-model-name": ("0.4.0", "long-standing"),
    "--api-key": ("0.4.0", "long-standing; dsdeploy passes VLLM_API_KEY instead"),
    "--gpu-memory-utilization": ("0.4.0", "long-standing"),
    "--max-model-len": ("0.4.0", "long-standing"),
    "--kv-cache-dtype": ("0.4.0", "long-standing"),
    "--trust-remote-code": ("0.4.0", "long-standing"),
    "--dtype": ("0.4.0", "long-standing"),
    "--enforce-eager": ("0.4.0", "long-standing"),
    "--load-format": ("0.4.0", "long-standing"),
    "--quantization": ("0.4.0", "long-standing"),
    "--max-num-seqs": ("0.4.0", "long-standing"),
    "--max-num-batched-tokens": ("0.4.0", "long-standing"),
    "--seed": ("0.4.0", "long-standing"),
    "--distributed-executor-backend": ("0.5.1", "PR #5230; explicit `ray` required for "
                                       "multi-node Ray from 0.11.1 (PR #25775)"),
    "--enable-expert-parallel": ("0.8.0", "PR #14305 (2025-03-06), replaced VLLM_TEST_ENABLE_EP"),
    "--data-parallel-size": ("0.8.3", "single-node DP in the 0.8.3 release notes (#13923)"),
    "--headless": ("0.9.0", "multi-node DP, PR #15977 (approx. 0.9.0)"),
    "--data-parallel-size-local": ("0.9.0", "PR #15977 (approx. 0.9.0)"),
    "--data-parallel-address": ("0.9.0", "PR #15977 (approx. 0.9.0)"),
    "--data-parallel-rpc-port": ("0.9.0", "PR #15977 (approx. 0.9.0)"),
    "--data-parallel-start-rank": ("0.9.0", "PR #15977 (approx. 0.9.0)"),
    "--api-server-count": ("0.9.0", "PR #17546 (approx. 0.9.0)"),
    "--data-parallel-backend": ("0.10.0", "PR #18779 (approx. 0.10.0)"),
}
# Spellings that the parser stops registering but FlexibleArgumentParser still accepts by
# rewriting them before argparse sees them: the C++ table keeps them accepted (removed = "").
STILL_ACCEPTED_VLLM = {
    "-O": ("0.12.0", "from 0.12.0 not an argparse alias: FlexibleArgumentParser rewrites -O<n> / "
           "-O <n> to --optimization-level <n> and -O.<key> (deprecated) to -cc.<key> "
           "(vllm/utils/argparse_utils.py); before, an alias of --compilation-config"),
}
# Notes on flags that appeared after 0.11.0, kept from the hand-written table.
LATER_NOTES_VLLM = {
    "--nnodes": "multi-node without Ray, PR #23691",
    "--node-rank": "multi-node without Ray, PR #23691",
    "--master-addr": "multi-node without Ray, PR #23691",
    "--master-port": "multi-node without Ray, PR #23691",
    "--all2all-backend": "EP all-to-all kernel; replaced VLLM_ALL2ALL_BACKEND "
                         "(vllm-project/vllm#27347)",
}


def c_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


HEADER_TEXT = (
    "GENERATED by scripts/dev/engine_flag_tables.py from tests/validate/engine-flags/{engine}.tsv; "
    "do not edit by hand (regenerate: engine_flag_tables.py generate --offline). "
    "Which `{cmd}` options exist in which {Engine} release: data, not scattered ifs. "
    "The table covers {n} releases, {vers}, read from each release's PyPI artifact (the sdist, "
    "or the wheel where PyPI has none); docs/engine-flags.md says how. "
    "One row per spelling history: a row's aliases were accepted in exactly the same releases "
    "as its flag, so since/removed hold for every spelling of the row. "
    "`since` is the first release that accepts the option: a release in that range, {since_doc}. "
    "`removed` is the first release in the range whose parser no longer accepts it (gone, or "
    "registered with an action that refuses it); \"\" = still accepted by {last}. "
    "`deprecated_in` is the first release that marks it deprecated (a `deprecated=True` "
    "argument, a help text or an action class saying so); `deprecated` = deprecated_in is set, "
    "so it says nothing about releases before deprecated_in. {extra}"
    "Not part of the stable API.")

HEADER_TAIL = """#pragma once

#include <dsdeploy/config.hpp>

#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {

"""

STRUCT_VLLM = """\
struct vllm_flag_row {
    const char* flag;           // long option
    const char* aliases;        // other spellings, space separated ("-tp", "--no-x")
    const char* since;          // first release that accepts it; "" = in 0.11.0, earlier not catalogued
    const char* removed;        // first release that rejects it again; "" = still accepted by the newest
    bool deprecated;            // accepted with a deprecation warning (from deprecated_in on)
    const char* note;
    const char* deprecated_in;  // first release that warns; "" = none in the range
};

"""

STRUCT_SGLANG = """\
struct sglang_flag_row {
    const char* flag;           // long option
    const char* aliases;        // other spellings, space separated
    const char* since;          // first release that accepts it; "" = in 0.4.10.post2, earlier not catalogued
    const char* removed;        // first release that rejects it again; "" = still accepted by the newest
    bool deprecated;            // accepted with a deprecation warning (from deprecated_in on)
    const char* note;
    const char* deprecated_in;  // first release that marks it deprecated; "" = none in the range
};

"""


def header_path(engine: str) -> Path:
    return ROOT / f"include/dsdeploy/detail/{engine}_flags.hpp"


def write_header(engine: str, rows: list[dict]) -> Path:
    path = header_path(engine)
    path.write_text(render_header(engine, rows))
    return path


def render_header(engine: str, rows: list[dict]) -> str:
    vers = RELEASES[engine]
    if engine == "vllm":
        struct, row_t, fn = STRUCT_VLLM, "vllm_flag_row", "vllm_flag_rows"
        since_doc = ('or an earlier one from the release notes (KNOWN_VLLM in the generator), '
                     'or "" when it is in 0.11.0 and its earlier history is not catalogued')
        cmd, Engine = "vllm serve", "vLLM"
    else:
        struct, row_t, fn = STRUCT_SGLANG, "sglang_flag_row", "sglang_flag_rows"
        since_doc = 'or "" when it is in 0.4.10.post2 (earlier releases not catalogued)'
        cmd, Engine = "python -m sglang.launch_server` / `sglang serve", "SGLang"
    extra = ("`--model` has no row: 0.11.0 refuses it after `serve` and dsdeploy passes the "
             "model positionally. " if engine == "vllm" else "")
    text = HEADER_TEXT.format(engine=engine, cmd=cmd, Engine=Engine, last=vers[-1],
                              n=len(vers), vers=", ".join(vers), since_doc=since_doc,
                              extra=extra)
    head = "// SPDX-License-Identifier: Apache-2.0\n" + "".join(
        "// " + line + "\n" for line in textwrap.wrap(text, 96, break_on_hyphens=False))
    out = [head, HEADER_TAIL, struct,
           f"inline const std::vector<{row_t}>& {fn}() {{\n",
           f"    static const std::vector<{row_t}> rows = {{\n"]
    for r in rows:
        flag = r["flag"]
        if engine == "vllm" and flag == "--model":
            continue  # dsdeploy passes the model positionally; 0.11 rejects --model after serve
        since = "" if r["since"].startswith("≤") else r["since"]
        note_bits = []
        if engine == "vllm" and since == "" and flag in KNOWN_VLLM:
            since, known = KNOWN_VLLM[flag]
            note_bits.append(known)
        if engine == "vllm" and flag in LATER_NOTES_VLLM:
            note_bits.append(LATER_NOTES_VLLM[flag])
        if r["deprecated_in"]:
            note_bits.append(f"deprecated in {r['deprecated_in']}")
        if r["removed_in"]:
            note_bits.append(f"removed in {r['removed_in']}")
        if r["note"]:
            note_bits.append(r["note"])
        removed = r["removed_in"]
        if engine == "vllm" and flag in STILL_ACCEPTED_VLLM \
                and removed == STILL_ACCEPTED_VLLM[flag][0]:
            removed = ""
            note_bits = [b for b in note_bits if not b.startswith("removed in")]
            note_bits.append(STILL_ACCEPTED_VLLM[flag][1])
        dep = "true" if r["deprecated_in"] else "false"
        out.append(f"        {{{c_str(flag)}, {c_str(r['aliases'])}, {c_str(since)}, "
                   f"{c_str(removed)}, {dep}, {c_str('; '.join(note_bits))}, "
                   f"{c_str(r['deprecated_in'])}}},\n")
    out += ["    };\n", "    return rows;\n", "}\n", "\n"]
    # The releases read, oldest first: a version between two of them that is not one of them
    # was never published (an error names the neighbours); past the last, the table cannot tell.
    rel = f"{engine}_flag_releases"
    out += ["// The releases the table was read from, oldest first.\n",
            f"inline const std::vector<const char*>& {rel}() {{\n",
            "    static const std::vector<const char*> releases = {\n"]
    out += ["        " + line + "\n" for line in textwrap.wrap(
        ", ".join(c_str(v) for v in vers) + ",", 92)]
    out += ["    };\n", "    return releases;\n", "}\n", "\n", "}  // namespace detail\n",
            "DSDEPLOY_NAMESPACE_END\n"]
    return "".join(out)


# ------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch")
    f.add_argument("engine", choices=sorted(RELEASES))
    f.add_argument("versions", nargs="*", help="default: every release covered")
    e = sub.add_parser("extract")
    e.add_argument("--tsv", action="store_true")
    e.add_argument("engine", choices=sorted(RELEASES))
    e.add_argument("artifact", help="sdist, wheel, source folder, or a version (fetched)")
    g = sub.add_parser("generate")
    g.add_argument("--offline", action="store_true",
                   help="rebuild the merged tables and headers from the stored per-release files")
    g.add_argument("--engine", choices=sorted(RELEASES), action="append")
    a = ap.parse_args(argv)
    if a.cmd == "fetch":
        for v in a.versions or RELEASES[a.engine]:
            print(fetch(a.engine, v))
        return 0
    if a.cmd == "extract":
        art = Path(a.artifact)
        if not art.exists():
            art = fetch(a.engine, a.artifact)
        opts = options(a.engine, art)
        if a.tsv:
            print("flag\taliases\tdeprecated\thidden\tgroup")
            for k in sorted(opts, key=sort_key):
                v = opts[k]
                print(f"{k}\t{' '.join(v['aliases'])}\t{v['deprecated']}\t"
                      f"{'hidden' if v['hidden'] else ''}\t{v['group']}")
        else:
            for s in sorted({s for k, v in opts.items() for s in [k] + v["aliases"]},
                            key=sort_key):
                print(s)
        return 0
    for engine in a.engine or sorted(RELEASES):
        per = {}
        for v in RELEASES[engine]:
            if a.offline:
                per[v] = read_release(engine, v)
            else:
                per[v] = options(engine, fetch(engine, v))
                write_release(engine, v, per[v])
            print(f"{engine} {v}: {len(per[v])} options, "
                  f"{sum(1 + len(o['aliases']) for o in per[v].values())} spellings",
                  file=sys.stderr)
        rows = merge(engine, per)
        write_table(engine, rows)
        print(write_header(engine, rows), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
