#!/usr/bin/env python3
"""Pure-Python reference implementation of ``docs/extraction-rules.md``.

This is the yardstick the benchmark compares the Rust/tree-sitter extractor against:
same rules, same deny/allow lists, same ``function_id``s. Standard library only; the
analysed code is parsed with ``ast.parse`` and never imported, executed or compiled.

    python benches/reference_extract.py PATH... [--json OUT]

Section numbers (§) below refer to the spec. Where the spec leaves a choice open, a
``# spec:`` comment says which reading this file takes.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import sys
import time
import warnings
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "rust/src/extract/data"

MAX_FILE_BYTES = 32 * 1024 * 1024
MIN_LINES = 3
MAX_LINES = 200

# §4, in table order: the first failing rule gives the reason.
REASONS = (
    "async",
    "decorator",
    "no_params",
    "generator",
    "no_return",
    "size",
    "global_statement",
    "denied_builtin",
    "non_stdlib_import",
    "denied_module",
    "unresolved_name",
)
RANK = {reason: rank for rank, reason in enumerate(REASONS)}


def _load_list(name: str) -> frozenset[str]:
    """One entry per line; blank lines and lines starting with `#` are skipped."""
    entries = set()
    for line in (DATA_DIR / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            entries.add(line)
    return frozenset(entries)


STDLIB_MODULES = _load_list("stdlib_modules.txt")
BUILTINS = _load_list("builtins.txt")
DENIED_BUILTINS = _load_list("denied_builtins.txt")
DENIED_MODULES = _load_list("denied_modules.txt")
DENIED_ATTRIBUTES = _load_list("denied_attributes.txt")
ALLOWED_DECORATORS = _load_list("allowed_decorators.txt")


class FileSkipped(Exception):
    """A whole file is skipped (§1); `reason` is the skip reason code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------
# §1 Decoding
# ---------------------------------------------------------------------------

_BOM = b"\xef\xbb\xbf"
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_BYTE_NEWLINE = re.compile(rb"\r\n|\r|\n")
# spec: the list says UTF-8 names "with or without -sig"; taken literally that is
# `utf-8-sig`, `utf8-sig`, `utf_8-sig`. Python's own spelling `utf_8_sig` is accepted too.
_UTF8_NAMES = frozenset(
    {"utf-8", "utf8", "utf_8", "utf-8-sig", "utf8-sig", "utf_8-sig", "utf_8_sig"}
)
_LATIN1_NAMES = frozenset(
    {"latin-1", "latin1", "latin_1", "iso-8859-1", "iso8859-1", "iso_8859_1", "l1"}
)


def decode_source(raw: bytes) -> str:
    """Bytes of a source file to text, or `FileSkipped` (`nul_bytes`, `undecodable`)."""
    if b"\0" in raw:
        raise FileSkipped("nul_bytes")
    had_bom = raw.startswith(_BOM)
    if had_bom:
        raw = raw[len(_BOM) :]
    codec = None
    # As CPython's tokenizer: the cookie may be on line 1, or on line 2 when line 1 is
    # blank or a comment (lines end at \r\n, \r or \n).
    for index, line in enumerate(_BYTE_NEWLINE.split(raw, 2)[:2]):
        match = _COOKIE.match(line)
        if match:
            codec = match.group(1).decode("ascii").lower()
            break
        stripped = line.lstrip(b" \t\x0c")
        if index == 0 and stripped and not stripped.startswith(b"#"):
            break
    if codec is None or codec in _UTF8_NAMES:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FileSkipped("undecodable") from None
    if codec in _LATIN1_NAMES and not had_bom:  # CPython refuses a BOM with another codec
        return raw.decode("latin-1")
    raise FileSkipped("undecodable")


# ---------------------------------------------------------------------------
# Positions: ast gives 1-based lines and UTF-8 byte columns
# ---------------------------------------------------------------------------

_NEWLINE = re.compile(r"\r\n|\r|\n")


class _Text:
    """The decoded source with its line starts, to turn ast positions into str indices.

    CPython's tokenizer ends lines at \\r\\n, \\r and \\n only (not at \\f, \\v or
    U+2028), so that is what counts here; line endings are never translated."""

    __slots__ = ("_starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None

    @property
    def starts(self) -> list[int]:
        """Index of each line's first character (computed on first use: most files
        keep nothing and never need it)."""
        if self._starts is None:
            self._starts = [0, *(m.end() for m in _NEWLINE.finditer(self.text))]
        return self._starts

    def index(self, lineno: int, col: int) -> int:
        start = self.starts[lineno - 1]
        if col == 0:
            return start
        head = self.text[start : start + col]
        if head.isascii():
            return start + col
        end = self.starts[lineno] if lineno < len(self.starts) else len(self.text)
        line = self.text[start:end].encode("utf-8", "surrogatepass")
        return start + len(line[:col].decode("utf-8", "surrogatepass"))

    def segment(self, node: ast.AST) -> str:
        """The exact text of a statement (ast positions)."""
        return self.text[
            self.index(node.lineno, node.col_offset) : self.index(
                node.end_lineno, node.end_col_offset
            )
        ]

    def definition(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
        """§5 "verbatim": column 0 of the first decorator's line (or the `def` line)
        through the end of the body's last statement."""
        first = fn.lineno
        if fn.decorator_list:
            first = fn.decorator_list[0].lineno
            # The decorator expression may start after the `@` line (`@(\n  name\n)`):
            # a top-level `@` sits at column 0, so step back to the line that has it.
            while first > 1 and not self.text.startswith("@", self.starts[first - 1]):
                first -= 1
        last = fn.body[-1]
        return self.text[self.starts[first - 1] : self.index(last.end_lineno, last.end_col_offset)]


# ---------------------------------------------------------------------------
# §2 Module scope
# ---------------------------------------------------------------------------

_NUMBER_TYPES = (int, float, complex)


def _is_number(node: ast.AST) -> bool:
    # `type(...) in` rather than isinstance: True/False are not numbers here, as in
    # `ast.literal_eval`.
    return type(node) is ast.Constant and type(node.value) in _NUMBER_TYPES


def _is_signed_number(node: ast.AST) -> bool:
    if type(node) is ast.UnaryOp:
        return type(node.op) in (ast.UAdd, ast.USub) and _is_number(node.operand)
    return _is_number(node)


def is_literal(node: ast.AST) -> bool:
    """§2's literal: what `ast.literal_eval` accepts, narrowed to the listed forms.

    Iterative, so a deeply nested constant cannot exhaust the Python stack."""
    pending = [node]
    while pending:
        node = pending.pop()
        kind = type(node)
        if kind is ast.Constant:
            continue  # numbers, str, bytes, True/False/None, `...`
        if kind in (ast.Tuple, ast.List, ast.Set):
            pending.extend(node.elts)  # a Starred element is not a literal
        elif kind is ast.Dict:
            if any(key is None for key in node.keys):  # `**mapping`
                return False
            pending.extend(node.keys)
            pending.extend(node.values)
        elif kind is ast.UnaryOp:
            if not _is_signed_number(node):
                return False
        elif kind is ast.BinOp:
            # spec: "binary +/- between two numbers (each possibly with a unary sign)"
            # is taken as written: both sides may be signed, and the right side need
            # not be complex (`ast.literal_eval` itself wants `<real> +/- <complex>`).
            if not (
                type(node.op) in (ast.Add, ast.Sub)
                and _is_signed_number(node.left)
                and _is_signed_number(node.right)
            ):
                return False
        else:
            # spec: an f-string is never a literal, not even one without
            # interpolations (`ast.literal_eval` refuses every JoinedStr).
            return False
    return True


_FUNCTION_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _import_bindings(stmt: ast.Import | ast.ImportFrom) -> list[tuple[str, str, bool, str]]:
    """(bound name, qualified name, relative, canonical line) per alias; `*` binds nothing."""
    out = []
    if type(stmt) is ast.Import:
        for alias in stmt.names:
            if alias.asname:
                out.append(
                    (alias.asname, alias.name, False, f"import {alias.name} as {alias.asname}")
                )
            else:
                head = alias.name.split(".", 1)[0]
                out.append((head, head, False, f"import {alias.name}"))
        return out
    module = "." * (stmt.level or 0) + (stmt.module or "")
    relative = bool(stmt.level)
    for alias in stmt.names:
        if alias.name == "*":
            continue
        qualified = f"{module}{alias.name}" if module.endswith(".") else f"{module}.{alias.name}"
        if alias.asname:
            out.append(
                (
                    alias.asname,
                    qualified,
                    relative,
                    f"from {module} import {alias.name} as {alias.asname}",
                )
            )
        else:
            out.append((alias.name, qualified, relative, f"from {module} import {alias.name}"))
    return out


def _names_bound_in(stmt: ast.AST, add) -> None:
    """Every name bound in module scope inside `stmt` (not inside def, lambda, class or
    comprehension bodies); each call of `add(name)` records an *other* binding."""
    pending = [stmt]
    while pending:
        node = pending.pop()
        kind = type(node)
        if kind is ast.Name:
            # spec: `del x` counts as a binding of x (Store and Del contexts alike), and
            # so does a bare annotation `x: int`.
            if type(node.ctx) is not ast.Load:
                add(node.id)
            continue
        if kind in _FUNCTION_DEFS or kind is ast.ClassDef:
            add(node.name)
            continue
        if kind in _SCOPES:
            continue
        if kind is ast.Import or kind is ast.ImportFrom:
            for name, *_ in _import_bindings(node):
                add(name)
            continue
        if kind is ast.ExceptHandler or kind is ast.MatchAs or kind is ast.MatchStar:
            if node.name:
                add(node.name)
        elif kind is ast.MatchMapping and node.rest:
            add(node.rest)
        pending.extend(_children(node))


class _ModuleScope:
    """§2: each module-level name's binding, and the top-level defs (the candidates).

    `names` maps a name to one of
        ("import", qualified, relative, [(statement index, alias index, line), ...])
        ("constant", statement)
        ("function", index into `functions`)
        ("other",)
    """

    __slots__ = ("functions", "names")

    def __init__(self, tree: ast.Module) -> None:
        bindings: dict[str, list[tuple]] = {}

        def add(name: str, binding: tuple) -> None:
            bindings.setdefault(name, []).append(binding)

        def add_other(name: str) -> None:
            add(name, ("other",))

        self.functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        for index, stmt in enumerate(tree.body):
            kind = type(stmt)
            if kind in _FUNCTION_DEFS:
                # spec: candidates are exactly the defs that are direct children of
                # the module (a def inside a top-level `if` is neither a candidate nor
                # a helper; it binds an *other* name).
                add(stmt.name, ("function", len(self.functions)))
                self.functions.append(stmt)
            elif kind is ast.Import or kind is ast.ImportFrom:
                # spec: `from __future__ import x` is an ordinary from-import here: it
                # binds x to `__future__.x`.
                for position, (name, qualified, relative, line) in enumerate(
                    _import_bindings(stmt)
                ):
                    add(name, ("import", qualified, relative, index, position, line))
            elif (
                kind is ast.Assign
                and len(stmt.targets) == 1
                and type(stmt.targets[0]) is ast.Name
                and is_literal(stmt.value)
            ):
                add(stmt.targets[0].id, ("constant", stmt))
            elif (
                kind is ast.AnnAssign
                and type(stmt.target) is ast.Name
                and stmt.simple
                and stmt.value is not None
                and is_literal(stmt.value)
            ):
                add(stmt.target.id, ("constant", stmt))
            else:
                _names_bound_in(stmt, add_other)

        self.names: dict[str, tuple] = {}
        for name, found in bindings.items():
            self.names[name] = _settle(found)


def _settle(found: list[tuple]) -> tuple:
    if len(found) == 1 and found[0][0] in ("constant", "function"):
        return found[0]
    if all(b[0] == "import" for b in found):
        qualified = found[0][1]
        if all(b[1] == qualified for b in found):
            lines = [(b[3], b[4], b[5]) for b in found]
            return ("import", qualified, found[0][2], lines)
    return ("other",)


def _top(qualified: str) -> str:
    return qualified.split(".", 1)[0]


def _import_allowed(qualified: str, relative: bool) -> bool:
    top = _top(qualified)
    return not relative and top in STDLIB_MODULES and top not in DENIED_MODULES


def _denied_attribute(full: str) -> str | None:
    for entry in DENIED_ATTRIBUTES:
        if full == entry or full.startswith(entry + "."):
            return entry
    return None


# ---------------------------------------------------------------------------
# §3 Names inside a function
# ---------------------------------------------------------------------------

_BODY, _MODULE_EVAL, _ANNOTATION = 0, 1, 2
_SKIP_FIELDS = frozenset({"ctx", "op", "ops", "type_comment"})
_FIELDS_CACHE: dict[type, tuple[str, ...]] = {}
_TYPE_PARAMS = tuple(
    getattr(ast, name) for name in ("TypeVar", "ParamSpec", "TypeVarTuple") if hasattr(ast, name)
)


def _children(node: ast.AST) -> list[ast.AST]:
    """Child nodes in source order, leaving out expression contexts and operators."""
    kind = type(node)
    fields = _FIELDS_CACHE.get(kind)
    if fields is None:
        fields = tuple(f for f in kind._fields if f not in _SKIP_FIELDS)
        _FIELDS_CACHE[kind] = fields
    out = []
    for field in fields:
        value = getattr(node, field, None)
        if value is None:
            continue
        if type(value) is list:
            for item in value:
                if isinstance(item, ast.AST):
                    out.append(item)
        elif isinstance(value, ast.AST):
            out.append(value)
    return out


class _Facts:
    """One walk over a top-level def: what it binds, reads and contains."""

    __slots__ = (
        "bound",
        "decorators",
        "has_global",
        "has_return",
        "has_yield",
        "imported",
        "local_imports",
        "n_lines",
        "n_params",
        "node",
        "refs",
    )

    def __init__(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.node = fn
        self.decorators = fn.decorator_list
        self.bound: set[str] = set()  # local names bound by anything but an import
        self.local_imports: dict[str, list[str]] = {}  # local name -> qualified names
        self.imported: list[tuple[str, bool]] = []  # every module imported inside
        self.refs: list[tuple[str, tuple[str, ...], int]] = []  # (name, chain, region)
        self.has_yield = False
        self.has_return = False
        self.has_global = False
        args = fn.args
        self.n_params = (
            len(args.posonlyargs)
            + len(args.args)
            + len(args.kwonlyargs)
            + (args.vararg is not None)
            + (args.kwarg is not None)
        )
        self.n_lines = fn.body[-1].end_lineno - fn.lineno + 1
        self._walk(fn)

    def _walk(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        bound = self.bound
        refs = self.refs
        # Stack of (node, region, inside a nested def/lambda, inside a nested class).
        # Items are pushed in reverse so they come off in source order.
        stack: list[tuple[ast.AST, int, bool, bool]] = []
        push = stack.append

        def push_all(nodes, region, in_def, in_class):
            for item in reversed(nodes):
                push((item, region, in_def, in_class))

        def arguments(args: ast.arguments, region, in_def, in_class):
            """Bind parameters; defaults are read in `region`, annotations as annotations."""
            later = []
            every = (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg)
            for arg in every:
                if arg is None:
                    continue
                bound.add(arg.arg)
                if arg.annotation is not None:
                    later.append((arg.annotation, _ANNOTATION, in_def, in_class))
            for default in (*args.defaults, *args.kw_defaults):
                if default is not None:
                    later.append((default, region, in_def, in_class))
            stack.extend(reversed(later))

        def type_params(node, in_def, in_class):
            # spec: a type parameter's name is a local; its bound/default is read as an
            # annotation (lazily evaluated, never a reason to reject).
            for param in getattr(node, "type_params", ()) or ():
                bound.add(param.name)
                for field in ("bound", "default_value"):
                    value = getattr(param, field, None)
                    if value is not None:
                        push((value, _ANNOTATION, in_def, in_class))

        # The candidate itself: decorators and defaults are module-evaluated.
        push_all(fn.body, _BODY, False, False)
        if fn.returns is not None:
            push((fn.returns, _ANNOTATION, False, False))
        arguments(fn.args, _MODULE_EVAL, False, False)
        type_params(fn, False, False)
        push_all(fn.decorator_list, _MODULE_EVAL, False, False)

        while stack:
            node, region, in_def, in_class = stack.pop()
            kind = type(node)
            if kind is ast.Name:
                if type(node.ctx) is ast.Load:
                    refs.append((node.id, (), region))
                else:
                    bound.add(node.id)  # Store, and Del (`del x` makes x local)
            elif kind is ast.Attribute:
                chain = []
                base = node
                while type(base) is ast.Attribute:
                    chain.append(base.attr)
                    base = base.value
                if type(base) is ast.Name:
                    chain.reverse()
                    refs.append((base.id, tuple(chain), region))
                else:
                    push((base, region, in_def, in_class))
            elif kind in _FUNCTION_DEFS:
                bound.add(node.name)
                push_all(node.body, region, True, False)
                if node.returns is not None:
                    push((node.returns, _ANNOTATION, in_def, in_class))
                arguments(node.args, region, in_def, in_class)
                type_params(node, in_def, in_class)
                push_all(node.decorator_list, region, in_def, in_class)
            elif kind is ast.Lambda:
                push((node.body, region, True, in_class))
                arguments(node.args, region, in_def, in_class)
            elif kind is ast.ClassDef:
                bound.add(node.name)
                push_all(node.body, region, in_def, True)
                push_all(node.keywords, region, in_def, in_class)
                push_all(node.bases, region, in_def, in_class)
                type_params(node, in_def, in_class)
                push_all(node.decorator_list, region, in_def, in_class)
            elif kind is ast.AnnAssign:
                if node.value is not None:
                    push((node.value, region, in_def, in_class))
                push((node.annotation, _ANNOTATION, in_def, in_class))
                push((node.target, region, in_def, in_class))
            elif kind is ast.Import or kind is ast.ImportFrom:
                if kind is ast.ImportFrom and any(a.name == "*" for a in node.names):
                    module = "." * (node.level or 0) + (node.module or "")
                    self.imported.append((module, bool(node.level)))
                for name, qualified, relative, _line in _import_bindings(node):
                    self.local_imports.setdefault(name, []).append(qualified)
                    self.imported.append((qualified, relative))
            elif kind is ast.Global:
                self.has_global = True
            elif kind is ast.Return:
                # §4 rule 5: `return <expression>` outside nested def/lambda/class.
                if node.value is not None:
                    if not in_def and not in_class:
                        self.has_return = True
                    push((node.value, region, in_def, in_class))
            elif kind is ast.Yield or kind is ast.YieldFrom:
                # spec: rule 4 excludes only nested def/lambda, so a `yield` in a nested
                # class body (a compile-time error, but ast.parse accepts it) counts.
                if not in_def:
                    self.has_yield = True
                if node.value is not None:
                    push((node.value, region, in_def, in_class))
            else:
                if kind is ast.ExceptHandler or kind is ast.MatchAs or kind is ast.MatchStar:
                    if node.name:
                        bound.add(node.name)
                elif kind is ast.MatchMapping:
                    if node.rest:
                        bound.add(node.rest)
                elif kind in _TYPE_PARAMS:  # only reached from `type X[T] = ...` (3.12+)
                    bound.add(node.name)
                    for field in ("bound", "default_value"):
                        value = getattr(node, field, None)
                        if value is not None:
                            push((value, _ANNOTATION, in_def, in_class))
                    continue
                push_all(_children(node), region, in_def, in_class)

    def is_local(self, name: str) -> bool:
        return name in self.bound or name in self.local_imports


# ---------------------------------------------------------------------------
# §4 Rules
# ---------------------------------------------------------------------------


class _Assessment:
    """A function's own verdict on rules 1, 2 and 7-11, and what it needs (§5)."""

    __slots__ = ("constants", "failures", "helpers", "imports", "lazy")

    def __init__(self) -> None:
        self.failures: dict[str, str] = {}  # reason -> first detail
        self.helpers: list[int] = []  # indexes into _ModuleScope.functions, first-use order
        self.imports: set[str] = set()  # module-level names bound by imports
        self.constants: set[str] = set()
        self.lazy = False  # needs `from __future__ import annotations`

    def fail(self, reason: str, detail: str) -> None:
        self.failures.setdefault(reason, detail)

    def verdict(self) -> tuple[str, str] | None:
        if not self.failures:
            return None
        reason = min(self.failures, key=RANK.__getitem__)
        return reason, self.failures[reason]


def _check_import(out: _Assessment, qualified: str, relative: bool) -> None:
    top = _top(qualified)
    if relative or top not in STDLIB_MODULES:
        out.fail("non_stdlib_import", f"imports `{qualified}`, not in the standard library")
    elif top in DENIED_MODULES:
        out.fail("denied_module", f"uses module `{top}`")


def _check_attribute(out: _Assessment, qualified: str, chain: tuple[str, ...]) -> None:
    full = ".".join((qualified, *chain)) if chain else qualified
    entry = _denied_attribute(full)
    if entry is not None:
        out.fail("denied_module", f"uses `{full}` (denied: `{entry}`)")


def _decorator_allowed(decorator: ast.expr, scope: _ModuleScope) -> bool:
    """Rule 2: after dropping one call, a dotted name whose head resolves to a module
    import and whose full name is allow-listed."""
    callee = decorator.func if type(decorator) is ast.Call else decorator
    parts = []
    while type(callee) is ast.Attribute:
        parts.append(callee.attr)
        callee = callee.value
    if type(callee) is not ast.Name:
        return False
    binding = scope.names.get(callee.id)
    if binding is None or binding[0] != "import":
        return False
    parts.append(binding[1])
    parts.reverse()
    return ".".join(parts) in ALLOWED_DECORATORS


def _assess(facts: _Facts, scope: _ModuleScope, self_index: int, text: _Text) -> _Assessment:
    out = _Assessment()
    fn = facts.node
    if type(fn) is ast.AsyncFunctionDef:
        out.fail("async", "async def")
    for decorator in facts.decorators:
        if not _decorator_allowed(decorator, scope):
            out.fail("decorator", f"decorator `@{text.segment(decorator)}`")
    if facts.has_global:
        out.fail("global_statement", "`global` statement")
    for qualified, relative in facts.imported:
        _check_import(out, qualified, relative)

    names = scope.names
    for name, chain, region in facts.refs:
        if region == _ANNOTATION:
            # §5: an annotation never rejects and never makes a helper; it carries an
            # allowed import, and anything else unknown makes annotations lazy.
            # spec: an annotation naming a module constant or function is "not a
            # builtin or an allowed import", so it is lazy too (the constant or
            # function is not carried for it).
            if facts.is_local(name):
                continue
            binding = names.get(name)
            if binding is None:
                if name not in BUILTINS:
                    out.lazy = True
            elif binding[0] == "import" and _import_allowed(binding[1], binding[2]):
                out.imports.add(name)
            else:
                out.lazy = True
            continue
        if region == _BODY and facts.is_local(name):
            if name not in facts.bound:
                # spec: a local bound only by imports has their qualified name; if the
                # imports disagree, every one of them is checked.
                for qualified in dict.fromkeys(facts.local_imports[name]):
                    _check_attribute(out, qualified, chain)
            continue
        # A free name: its module binding, else a builtin, else nothing.
        binding = names.get(name)
        if binding is None:
            if name in BUILTINS:
                if name in DENIED_BUILTINS:
                    out.fail("denied_builtin", f"uses builtin `{name}`")
            else:
                out.fail("unresolved_name", f"`{name}` is not defined")
            continue
        kind = binding[0]
        if kind == "import":
            _check_import(out, binding[1], binding[2])
            _check_attribute(out, binding[1], chain)
            out.imports.add(name)
        elif kind == "constant":
            out.constants.add(name)
            if isinstance(binding[1], ast.AnnAssign):
                out.lazy = True  # `X: Final = 3` carries no import for `Final`
        elif kind == "function":
            index = binding[1]
            if index != self_index and index not in out.helpers:
                out.helpers.append(index)
        else:
            out.fail(
                "unresolved_name",
                f"`{name}` is not a literal constant, import or function at module level",
            )
    return out


def _candidate_failures(facts: _Facts) -> dict[str, str]:
    """Rules 3-6, checked for the candidate only."""
    failures = {}
    if facts.n_params == 0:
        failures["no_params"] = "takes no parameters"
    if facts.has_yield:
        failures["generator"] = "contains `yield`"
    if not facts.has_return:
        failures["no_return"] = "never returns a value"
    if not MIN_LINES <= facts.n_lines <= MAX_LINES:
        failures["size"] = f"{facts.n_lines} lines, outside {MIN_LINES}..={MAX_LINES}"
    return failures


def _reachable(start: int, assessments: list[_Assessment]) -> list[int]:
    """Every function reachable from `start` through helper edges, `start` excluded."""
    seen = {start}
    order = []
    queue = deque(assessments[start].helpers)
    while queue:
        index = queue.popleft()
        if index in seen:
            continue
        seen.add(index)
        order.append(index)
        queue.extend(assessments[index].helpers)
    return order


# ---------------------------------------------------------------------------
# §5 Standalone source, §6 identity
# ---------------------------------------------------------------------------

# Unicode White_Space (what Rust's `str::trim_end` strips); Python's `str.rstrip()`
# would also strip U+001C..U+001F.
_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def function_id(source: str) -> str:
    """§6: SHA-256 of the normalised source (\\r\\n and \\r to \\n, trailing whitespace
    stripped, blank lines dropped), first 16 hex digits."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    normalised = "\n".join(kept for line in lines if (kept := line.rstrip(_WHITESPACE)))
    digest = hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:16]


def _standalone(
    text: _Text,
    scope: _ModuleScope,
    index: int,
    helpers: list[int],
    assessments: list[_Assessment],
) -> str:
    members = [assessments[index]] + [assessments[h] for h in helpers]
    parts = []
    if any(a.lazy for a in members):
        parts.append("from __future__ import annotations")
    # spec: import lines are ordered by statement, then by position inside the
    # statement (`from m import b, a` writes b before a); identical lines once.
    import_lines = []
    constants = {}
    for member in members:
        for name in member.imports:
            import_lines.extend(scope.names[name][3])
        for name in member.constants:
            stmt = scope.names[name][1]
            constants[(stmt.lineno, stmt.col_offset)] = stmt
    import_lines.sort()
    seen_lines = set()
    for _stmt, _pos, line in import_lines:
        if line not in seen_lines:
            seen_lines.add(line)
            parts.append(line)
    # spec: a constant is "written verbatim" as its statement's own text (the ast
    # extent: from its first token to its last, so `X = 1  # note` loses the comment).
    for key in sorted(constants):
        parts.append(text.segment(constants[key]))
    for helper in sorted(helpers):  # `functions` is in file order
        parts.append(text.definition(scope.functions[helper]))
    parts.append(text.definition(scope.functions[index]))
    return "\n".join(parts)


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


def _parse(text: str) -> ast.Module:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise FileSkipped("syntax_error") from None


def extract_text(text: str, origin: str = "<string>") -> tuple[list[dict], list[dict]]:
    """Kept and rejected top-level functions of one decoded source.

    `origin` only labels the source; it is not part of any record."""
    del origin
    tree = _parse(text)
    positions = _Text(text)
    scope = _ModuleScope(tree)
    facts = [_Facts(fn) for fn in scope.functions]
    assessments = [_assess(f, scope, i, positions) for i, f in enumerate(facts)]

    kept: list[dict] = []
    rejected: list[dict] = []
    for index, fact in enumerate(facts):
        fn = fact.node

        def reject(reason: str, detail: str, fn=fn) -> None:
            rejected.append(
                {"name": fn.name, "line": fn.lineno, "reason": reason, "detail": detail}
            )

        # spec: the candidate's own rules come first (1-11, table order); its helpers
        # are looked at only when it passes them all.
        failures = dict(assessments[index].failures)
        failures.update(_candidate_failures(fact))
        if failures:
            reason = min(failures, key=RANK.__getitem__)
            reject(reason, failures[reason])
            continue
        helpers = _reachable(index, assessments)
        # spec: when several helpers fail, the candidate takes the earliest reason in
        # table order, ties going to the helper defined first in the file.
        failing = [(assessments[h].verdict(), h) for h in helpers]
        failing = [(RANK[v[0]], h, v) for v, h in failing if v is not None]
        if failing:
            _, helper, (reason, detail) = min(failing)
            helper_fn = scope.functions[helper]
            reject(reason, f"helper `{helper_fn.name}` (line {helper_fn.lineno}): {detail}")
            continue
        source = _standalone(positions, scope, index, helpers, assessments)
        kept.append(
            {
                "function_id": function_id(source),
                "name": fn.name,
                "line": fn.lineno,
                "n_lines": fact.n_lines,
                "source": source,
                "helpers": [scope.functions[h].name for h in sorted(helpers)],
                "docstring": ast.get_docstring(fn, clean=True),
            }
        )
    return kept, rejected


def extract_file(path: str | os.PathLike) -> dict:
    """Extract from one file; a bad file is a status, never an exception."""
    result: dict = {"status": "ok", "bytes": 0, "kept": [], "rejected": []}
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            result.update(status="too_large", bytes=size)
            return result
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError:  # missing, broken symlink, symlink loop, permission, a directory...
        result["status"] = "unreadable"
        return result
    result["bytes"] = len(raw)
    if len(raw) > MAX_FILE_BYTES:
        result["status"] = "too_large"
        return result
    try:
        kept, rejected = extract_text(decode_source(raw), str(path))
    except FileSkipped as skipped:
        result["status"] = skipped.reason
        return result
    result["kept"] = kept
    result["rejected"] = rejected
    return result


def iter_python_files(roots: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """`*.py` files under directories (recursively, sorted by name within each
    directory, following symlinks but entering each real directory once); anything
    else given is yielded as-is."""
    visited: set[str] = set()
    for root in roots:
        root = Path(root)
        if root.is_dir():
            yield from _walk(root, visited)
        else:
            yield root


def _walk(directory: Path, visited: set[str]) -> Iterator[Path]:
    real = os.path.realpath(directory)
    if real in visited:
        return
    visited.add(real)
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        try:
            is_dir = entry.is_dir()  # follows symlinks
        except OSError:
            is_dir = False
        if is_dir:
            yield from _walk(Path(entry.path), visited)
        elif entry.name.endswith(".py"):
            try:
                wanted = entry.is_file() or entry.is_symlink()  # broken link: unreadable
            except OSError:
                wanted = True
            if wanted:
                yield Path(entry.path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Reference (pure-Python, ast) function extraction per docs/extraction-rules.md."
    )
    parser.add_argument("paths", nargs="+", help="Python files or directories")
    parser.add_argument("--json", metavar="OUT", help="write every kept function as JSON lines")
    args = parser.parse_args(argv)

    out = open(args.json, "w", encoding="utf-8") if args.json else None
    files = 0
    total_bytes = 0
    kept = 0
    rejected: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    started = time.perf_counter()
    try:
        for path in iter_python_files(args.paths):
            files += 1
            result = extract_file(path)
            total_bytes += result["bytes"]
            if result["status"] != "ok":
                skipped[result["status"]] += 1
                continue
            kept += len(result["kept"])
            rejected.update(r["reason"] for r in result["rejected"])
            if out is not None:
                for record in result["kept"]:
                    out.write(json.dumps({"origin": str(path), **record}, ensure_ascii=False))
                    out.write("\n")
    finally:
        if out is not None:
            out.close()
    seconds = time.perf_counter() - started

    print(f"files     {files}")
    print(f"bytes     {total_bytes}")
    print(f"seconds   {seconds:.3f}")
    print(f"MB/s      {total_bytes / 1e6 / seconds if seconds > 0 else 0.0:.2f}")
    print(f"kept      {kept}")
    print(f"rejected  {sum(rejected.values())}")
    for reason in REASONS:
        if rejected[reason]:
            print(f"  {reason:<18} {rejected[reason]}")
    print(f"skipped   {sum(skipped.values())}")
    for reason, count in sorted(skipped.items()):
        print(f"  {reason:<18} {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
