"""A model's answer to "write N inputs for this function", turned into call argument lists.

Real answers are messy: code fences, prose around the calls, the function renamed, keyword
arguments, trailing commas, JSON from schema-constrained decoding, output cut off by max_tokens,
repetition. Model text is never evaluated: it is parsed with `ast` and `json`, and only literal
arguments are kept (see `literals`), in canonical form (`literals.call_arguments`), e.g.
`(1, [2, 3], key='x')`.

Rules for the ambiguous cases:

- A mapping written in Python (`dict(a=1)`, or `{'a': 1}` as an item of an examples list) keeps
  the keyword form the model wrote: `(a=1)`. A JSON object is a schema's artefact, not a call
  style: its values go positionally for the leading parameters it covers, in parameter order,
  and as keywords for the rest: `{"b": 2, "a": 1}` -> `(1, 2)`, `{"a": 1, "c": 3}` ->
  `(1, c=3)`. Keys that are not parameters are rejected. For a one-parameter function, a mapping
  none of whose keys is that parameter is the argument itself: `{"x": 1}` -> `({'x': 1})`.
- An array item of an examples list (JSON or Python) is the argument list, unless the function
  has exactly one parameter: then it is that argument (`[[1, 2], [3, 4]]` gives `([1, 2])` for
  `f(xs)`, `(1, 2)` for `g(a, b)`). Any other item is one positional argument.
- A call is an input when its callee is the function's name, a method of that name (`obj.f(1)`:
  the receiver is dropped), `dict(...)` with keyword arguments only (the paper's form), or
  another plain name (models rename functions) unless that name is a builtin, a capitalised
  (class) name, or a function the answer defines. A call with no arguments is an input only of
  a function without parameters (prose says "the `f()` function"). A renamed call is taken only
  when all its arguments are literals with known keyword names, else skipped silently. Inside
  an accepted call nothing more is looked for; inside any other (`print(f(1))`, `assert`),
  nested calls are.
- Keyword names must be parameter names; the number of arguments is not checked (defaults and
  `*args` are for the sandbox to judge).
- A list is read item by item when its variable's name says it holds examples (`examples`,
  `inputs`, `test_cases`, ...) or when it stands alone; `items = [1, 2]` in a code sample is not.
- A line that is just an argument list (`(1, 2)`, `2. (1, 2),`) is an input; so is the rest of
  a line labelled `Input:` / `Example 3:` (`Input: s = "abc"`), and a bullet's keyword list
  (`- a=1, b=2`) when the names are parameters.
- The body of a `def` with the function's own name is the function, not calls of it: skipped.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from .literals import (
    MAX_INPUT_CHARS,
    NotLiteral,
    call_arguments,
    canonical,
    parse_call,
    render_arguments,
)

# Longest answer read, in characters; an answer of a few thousand tokens is far below it.
MAX_RESPONSE_CHARS = 100_000
# Places looked at per segment of the answer: bounds the work on adversarial text.
MAX_EVENTS = 20_000
# Items read from one examples list: an answer has tens of inputs, not thousands.
MAX_ITEMS = 1_000
# Rejections listed: enough to re-prompt with.
MAX_REJECTED = 100
SNIPPET_CHARS = 80

# Names whose calls are never an input of the function (unless it is the function's own name).
_NOT_INPUTS = frozenset(dir(builtins)) | {"main", "pprint"}
# Variable names of lists whose items are the inputs.
_EXAMPLES_NAME = re.compile(r"(?i)example|input|test|case|sample|arg|call")

_FENCE = re.compile(r"(?m)^[ \t]*(?:```|~~~)[^\n]*$")
_DEF = re.compile(r"\b(?:def|class)[ \t]+([A-Za-z_]\w*)")
# `name(` or `.name(`; no space before the parenthesis: in prose, `word (aside)` is common.
_CALL = re.compile(r"(?<![\w.])(?P<dot>\.[ \t]*)?(?P<name>[A-Za-z_]\w*)\(")
_LIST = re.compile(
    r"(?m)^[ \t]*(?:(?P<var>[A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?\+?=[ \t]*)?(?P<open>\[)"
)
_LINE = re.compile(
    r"(?im)^[ \t]*(?P<bullet>(?:[-*+\u2022]|\d{1,3}[.):])[ \t]*)?"
    r"(?P<label>(?:(?:example|input|inputs|args|arguments|test|case)[ \t]*#?\d*[ \t]*:[ \t]*)+)?"
    r"(?P<rest>[^\n]*)$"
)


@dataclass(frozen=True)
class Rejected:
    snippet: str  # the offending text, shortened to ~80 characters
    reason: str  # e.g. "argument `f(1)` is not a literal", "unknown parameter 'q'", "truncated"


@dataclass
class ParsedResponse:
    inputs: list[str]  # canonical argument lists, in order of appearance, duplicates removed
    rejected: list[Rejected] = field(default_factory=list)
    truncated: bool = False  # the text ends inside an unfinished input


def parse_response(text: str, function_name: str, param_names: Sequence[str]) -> ParsedResponse:
    """The inputs in a model's answer; bad parts are listed in `rejected`, never raised."""
    out = _Collector(function_name, tuple(param_names))
    if len(text) > MAX_RESPONSE_CHARS:
        out.reject(
            text[MAX_RESPONSE_CHARS:],
            f"answer is {len(text)} characters; only the first {MAX_RESPONSE_CHARS} are read",
        )
        text = text[:MAX_RESPONSE_CHARS]
    out.helpers = {m[1] for m in _DEF.finditer(text)} - {function_name}
    try:
        end = _json(text, out)  # read whole: its strings may hold anything, fences included
    except (RecursionError, MemoryError) as exc:
        out.reject(text, f"too deeply nested ({type(exc).__name__})")
        end = len(text)
    segments = _FENCE.split(text if end is None else text[end:])
    for i, segment in enumerate(segments):
        out.at_end = i == len(segments) - 1
        try:
            _segment(segment, out)
        except (RecursionError, MemoryError) as exc:
            out.reject(segment, f"too deeply nested ({type(exc).__name__})")
    return ParsedResponse(list(out.inputs), list(out.rejected), out.truncated)


class _Collector:
    """What has been found so far, and what the function looks like."""

    def __init__(self, name: str, params: tuple[str, ...]) -> None:
        self.name = name
        self.params = params
        self.helpers: set[str] = set()
        self.inputs: dict[str, None] = {}  # an ordered set
        self.rejected: dict[Rejected, None] = {}  # an ordered set
        self.truncated = False
        self.at_end = True  # whether the text being read runs to the end of the answer

    def accept(self, text: str) -> None:
        self.inputs.setdefault(text)

    def reject(self, snippet: str, reason: str) -> None:
        item = Rejected(_short(snippet), reason)
        # A repeating model repeats its mistakes too; junk could make thousands.
        if len(self.rejected) < MAX_REJECTED:
            self.rejected.setdefault(item)

    def cut(self, snippet: str) -> None:
        """An input still open where its part of the answer ends: at the end of the answer it
        was cut short (max_tokens); before a code fence the model broke it off."""
        self.truncated |= self.at_end
        self.reject(snippet, "truncated" if self.at_end else "unclosed")

    def role(self, name: str, method: bool) -> str:
        """target (the function), mapping (`dict`), renamed (maybe the function), or none."""
        if name == self.name:
            return "target"
        if method:
            return "none"
        if name == "dict":
            return "mapping"
        if name in _NOT_INPUTS or name in self.helpers or name[:1].isupper():
            return "none"
        return "renamed"

    def unknown(self, names: Sequence[str | None]) -> str | None:
        """Why these keyword names cannot be passed to the function, if they cannot."""
        seen: set[str] = set()
        for name in names:
            if name is None:
                continue  # `**{...}`
            if name not in self.params:
                return f"unknown parameter {name!r}"
            if name in seen:
                return f"parameter {name!r} given twice"  # `ast` parses it; a call would not
            seen.add(name)
        return None


def _short(text: str) -> str:
    text = " ".join(text[: SNIPPET_CHARS * 4].split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 3] + "..."


def _segment(segment: str, out: _Collector) -> None:
    segment = _strip_doctest(segment)
    end = _json(segment, out)
    rest = segment if end is None else segment[end:]
    if rest.strip():
        _python(rest, out)


def _strip_doctest(segment: str) -> str:
    """`>>> f(1)` lines become `f(1)`; the output lines under them are dropped."""
    if ">>>" not in segment:
        return segment
    kept: list[str] = []
    in_doctest = False
    for line in segment.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(">>>") or (in_doctest and stripped.startswith("...")):
            kept.append(stripped[3:].removeprefix(" "))
            in_doctest = True
        elif in_doctest and stripped:
            continue  # the expected output, not an input
        else:
            in_doctest = False
            kept.append(line)
    return "\n".join(kept)


# --- JSON answers ---------------------------------------------------------------------------

_DECODER = json.JSONDecoder()
_JSON_START = frozenset('{["-0123456789tfnIN')


def _json(text: str, out: _Collector) -> int | None:
    """Reads the JSON list or object at the start of `text`; returns where it ends, or None
    when `text` is not JSON (Python such as `[dict(a=1)]` starts the same way)."""
    start = len(text) - len(text.lstrip())
    if text[start : start + 1] not in ("{", "["):
        return None
    try:
        value, end = _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        return _json_salvage(text, start, out)
    _json_top(value, out)
    return end


def _json_top(value: list[object] | dict[str, object], out: _Collector) -> None:
    if isinstance(value, list):
        for item in value:
            _json_item(item, out)
        return
    lists = [k for k, v in value.items() if isinstance(v, (list, dict)) and k not in out.params]
    key = "inputs" if "inputs" in value and "inputs" not in out.params else None
    if key is None and len(lists) == 1:
        key = lists[0]
    if key is not None and isinstance(value[key], list):
        for item in value[key]:
            _json_item(item, out)
    elif key is not None:
        _json_item(value[key], out)
    elif value and out.unknown(list(value)) is None:
        _json_item(value, out)  # one input, not wrapped in a list
    else:
        out.reject(json.dumps(value), 'the JSON object has no "inputs" list')


def _json_item(item: object, out: _Collector) -> None:
    args: list[object]
    kwargs: dict[str, object] = {}
    if isinstance(item, dict) and not (len(out.params) == 1 and out.params[0] not in item):
        if (reason := out.unknown(list(item))) is not None:
            out.reject(json.dumps(item), reason)
            return
        leading = 0
        while leading < len(out.params) and out.params[leading] in item:
            leading += 1
        args = [item[name] for name in out.params[:leading]]
        kwargs = {name: item[name] for name in out.params[leading:] if name in item}
    elif isinstance(item, list) and len(out.params) != 1:
        args = item
    else:
        args = [item]
    try:
        out.accept(canonical(render_arguments(args, kwargs)))
    except (NotLiteral, TypeError, ValueError, RecursionError) as exc:
        out.reject(json.dumps(item)[: SNIPPET_CHARS * 4], str(exc))


def _json_salvage(text: str, start: int, out: _Collector) -> int | None:
    """The complete items of a JSON inputs array that is cut short or broken further on."""
    pos = start
    if text[pos] == "{":
        pos = _json_inputs_array(text, pos, out.params)
        if pos is None:
            if _open_at_end(text, start):
                out.cut(text[start:])
                return len(text)
            return None
    opened, pos, items = pos, pos + 1, 0
    while True:
        pos = _skip_space(text, pos)
        if pos >= len(text):
            out.cut(text[opened:])
            return pos
        if text[pos] == "]":
            return pos + 1
        if items == 0 and text[pos] not in _JSON_START:
            return None  # Python, not JSON
        try:
            value, pos_after = _DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            if isinstance(exc, RecursionError):
                out.reject(text[pos:], "too deeply nested")
                return len(text)
            if _open_at_end(text, pos):
                out.cut(text[pos:])
                return len(text)
            if items == 0 and opened == start:
                return None
            out.reject(text[pos:], f"invalid JSON: {exc}")
            return len(text)
        _json_item(value, out)
        items += 1
        pos = _skip_space(text, pos_after)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] == "]":
            return pos + 1
        elif pos < len(text):
            out.reject(text[pos:], "invalid JSON: expected ',' or ']'")
            return len(text)


def _json_inputs_array(text: str, pos: int, params: tuple[str, ...]) -> int | None:
    """Where the array of `{"inputs": [...` starts (any key that is not a parameter name: the
    array under one is an argument of a single input)."""
    pos = _skip_space(text, pos + 1)
    while pos < len(text) and text[pos] == '"':
        try:
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip_space(text, pos)
            if text[pos : pos + 1] != ":":
                return None
            pos = _skip_space(text, pos + 1)
            if text[pos : pos + 1] == "[" and key not in params:
                return pos
            _, pos = _DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError):
            return None
        pos = _skip_space(text, pos)
        if text[pos : pos + 1] != ",":
            return None
        pos = _skip_space(text, pos + 1)
    return None


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _open_at_end(text: str, pos: int) -> bool:
    """Whether the JSON value starting at `pos` is still unfinished when the text ends."""
    depth, in_string, escaped = 0, False, False
    for char in text[pos:]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth <= 0:
                return False
        elif char == "," and depth == 0:
            return False
    return True


# --- Python answers -------------------------------------------------------------------------


def _python(segment: str, out: _Collector) -> None:
    source = textwrap.dedent(segment)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        _scan_text(source, out)
        return
    for statement in tree.body:
        _visit(statement, source, out, top=True)


def _visit(node: ast.AST, source: str, out: _Collector, top: bool = False) -> None:
    """Looks for inputs under `node`, in source order."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == out.name:
        return  # the function itself: its calls are its implementation
    if (examples := _examples_list(node)) is not None:
        _items(examples.elts, source, out)
        return
    if top and isinstance(node, ast.Expr):
        if isinstance(node.value, ast.List):
            _items(node.value.elts, source, out)
            return
        if isinstance(node.value, ast.Dict):
            _items([node.value], source, out)
            return
        text = (ast.get_source_segment(source, node) or "").rstrip(",; \t")
        if text.startswith("(") and text.endswith(")"):
            _argument_line(text, out)
            return
    if isinstance(node, ast.Call) and _call(node, out) == "accepted":
        return
    for child in ast.iter_child_nodes(node):
        _visit(child, source, out)


def _examples_list(node: ast.AST) -> ast.List | ast.Tuple | None:
    """The list of `examples = [...]` (or `+=`, or annotated), if `node` is such a statement."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        target = node.target
    else:
        return None
    if not (isinstance(target, ast.Name) and _EXAMPLES_NAME.search(target.id)):
        return None
    return node.value if isinstance(node.value, (ast.List, ast.Tuple)) else None


def _call(node: ast.Call, out: _Collector) -> str:
    """accepted, rejected or skipped: whether the call `node` is an input of the function."""
    func = node.func
    if isinstance(func, ast.Name):
        role = out.role(func.id, method=False)
    elif isinstance(func, ast.Attribute):
        role = out.role(func.attr, method=True)
    else:
        return "skipped"
    if role == "mapping":
        if node.args or not node.keywords:
            return "skipped"  # `dict(pairs)`, `dict()`: a value, not the paper's form
        return _accept(node, out)
    if role == "renamed":
        if not (node.args or node.keywords) or out.unknown([k.arg for k in node.keywords]):
            return "skipped"
        try:
            out.accept(call_arguments(node))
        except NotLiteral:
            return "skipped"
        return "accepted"
    if role == "target":
        if not (node.args or node.keywords) and out.params:
            return "skipped"  # "the `f()` function" in prose names it, it does not call it
        return _accept(node, out)
    return "skipped"


def _accept(node: ast.Call, out: _Collector, snippet: str | None = None) -> str:
    reason = out.unknown([k.arg for k in node.keywords])
    if reason is None:
        try:
            out.accept(call_arguments(node))
            return "accepted"
        except NotLiteral as exc:
            reason = str(exc)
    out.reject(snippet if snippet is not None else _unparse(node), reason)
    return "rejected"


def _unparse(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except (ValueError, RecursionError):
        return type(node).__name__


def _arguments(args: list[ast.expr], keywords: list[ast.keyword] | None = None) -> ast.Call:
    return ast.Call(func=ast.Name("_"), args=args, keywords=keywords or [])


def _items(items: Sequence[ast.expr], source: str, out: _Collector) -> None:
    if len(items) > MAX_ITEMS:
        out.reject(_unparse(items[MAX_ITEMS]), f"more than {MAX_ITEMS} items; the rest ignored")
    for item in items[:MAX_ITEMS]:
        if _list_item(item, out) != "accepted":
            _visit(item, source, out)  # `{"input": lambda: f("a")}`: the model still meant f("a")


def _list_item(item: ast.expr, out: _Collector) -> str:
    """One item of an examples list: a mapping, an argument array, a call, or one value."""
    if isinstance(item, ast.Call) and isinstance(item.func, ast.Name) and item.func.id == "dict":
        if not item.args:
            return _accept(item, out)  # `dict()` too: the input of no arguments
    if isinstance(item, ast.Call) and (verdict := _call(item, out)) != "skipped":
        return verdict
    if isinstance(item, ast.Dict) and not _is_value_mapping(item, out):
        keys = item.keys
        if not all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in keys):
            out.reject(_unparse(item), "the keys of an input mapping must be parameter names")
            return "rejected"
        names = [k.value for k in keys if isinstance(k, ast.Constant)]
        keywords = [ast.keyword(arg=n, value=v) for n, v in zip(names, item.values, strict=True)]
        return _accept(_arguments([], keywords), out, _unparse(item))
    if isinstance(item, (ast.List, ast.Tuple)) and len(out.params) != 1:
        return _accept(_arguments(list(item.elts)), out, _unparse(item))
    return _accept(_arguments([item]), out, _unparse(item))


def _is_value_mapping(item: ast.Dict, out: _Collector) -> bool:
    """A one-parameter function's argument, rather than a mapping of parameter names."""
    if len(out.params) != 1:
        return False
    return not any(isinstance(k, ast.Constant) and k.value == out.params[0] for k in item.keys)


def _argument_line(text: str, out: _Collector) -> None:
    try:
        result = canonical(text)
    except NotLiteral as exc:
        out.reject(text, str(exc))
        return
    if reason := _unknown_in(result, out):
        out.reject(text, reason)
    else:
        out.accept(result)


def _unknown_in(arguments: str, out: _Collector) -> str | None:
    call = parse_call("_" + arguments)
    return out.unknown([k.arg for k in call.keywords]) if call is not None else None


# --- Text that is not Python as a whole -----------------------------------------------------


def _scan_text(source: str, out: _Collector) -> None:
    """Prose with calls in it, or code that does not parse (cut short, or broken): each call,
    examples list and argument line is parsed on its own."""
    source = _mask_own_def(source, out.name)
    closing = _brackets(source)
    events: list[tuple[int, int, re.Match[str]]] = []
    events += [
        (m.start(), 0, m)
        for m in _LIST.finditer(source)
        if m["var"] is None or _EXAMPLES_NAME.search(m["var"])
    ]
    events += [(m.start(), 1, m) for m in _LINE.finditer(source) if _is_line_event(m)]
    events += [(m.start(), 2, m) for m in _CALL.finditer(source)]
    events.sort(key=lambda e: (e[0], e[1]))
    cursor = 0
    for start, kind, match in events[:MAX_EVENTS]:
        if start < cursor:
            continue
        if kind == 0:
            named = match["var"] is not None
            cursor = _text_list(source, match.start("open"), closing, out, named) or cursor
        elif kind == 1:
            cursor = _text_line(source, match, closing, out) or cursor
        else:
            cursor = _text_call(source, match, closing, out) or cursor


def _mask_own_def(source: str, name: str) -> str:
    """Blanks out `def name(...):` and its body, so its recursive calls are not read as inputs."""
    lines = source.split("\n")
    pattern = re.compile(rf"^([ \t]*)(?:async[ \t]+)?def[ \t]+{re.escape(name)}\b")
    i = 0
    while i < len(lines):
        match = pattern.match(lines[i])
        if match is None:
            i += 1
            continue
        indent = len(match[1])
        lines[i] = ""
        i += 1
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
        ):
            lines[i] = ""
            i += 1
    return "\n".join(lines)


def _is_line_event(match: re.Match[str]) -> bool:
    return bool(match["bullet"] or match["label"] or match["rest"].lstrip().startswith("("))


def _text_list(
    source: str, opened: int, closing: dict[int, int], out: _Collector, named: bool
) -> int | None:
    """An examples list: read whole when it parses, else item by item (the complete items of a
    list cut short, the good items of a broken one). A bare list must stand on its own lines:
    in prose, `[1]` is a footnote and `[text](url)` a link."""
    close = closing.get(opened)
    if close is not None and close >= 0:
        line_end = source.find("\n", close)
        after = source[close + 1 : len(source) if line_end < 0 else line_end].strip(" \t,;")
        if not named and after and not after.startswith("#"):
            return None
        node = _parse_expr(source[opened : close + 1])
        if isinstance(node, ast.List):
            _items(node.elts, "", out)
            return close + 1
        if not named:
            return None
    elif close is not None:
        return None  # closed by the wrong bracket: its calls are looked at one by one
    spans, unfinished = _split_items(source, opened, closing)
    if len(spans) > MAX_ITEMS:
        out.reject(source[spans[MAX_ITEMS][0] :], f"more than {MAX_ITEMS} items; the rest ignored")
    for start, end in spans[:MAX_ITEMS]:
        item = source[start:end]
        if not item.strip():
            continue  # a trailing comma
        node = _parse_expr("(" + item + "\n)")  # the parentheses allow comments and newlines
        if node is None:
            out.reject(item, "not a Python expression")
        else:
            _items([node], "", out)
    if unfinished is not None:
        # Cut after an item but before its comma, the item is whole (as in `_json_salvage`).
        tail = source[unfinished:]
        code = re.sub(r"#[^\n]*", "", tail).strip()
        last = _parse_expr("(" + tail + "\n)") if code else None
        if last is not None:
            _items([last], "", out)
        out.cut(tail if code and last is None else source[opened:])
        return len(source)
    return close + 1 if close is not None else len(source)


def _split_items(
    source: str, opened: int, closing: dict[int, int]
) -> tuple[list[tuple[int, int]], int | None]:
    """The spans of the complete items of the list opened at `opened`, and, when the text ends
    inside the list, where its unfinished last item starts."""
    spans: list[tuple[int, int]] = []
    item, i = opened + 1, opened + 1
    end = closing.get(opened, len(source))
    while i < end:
        char = source[i]
        if char in "'\"":
            i = _skip_string(source, i)
            continue
        if char == "#":
            newline = source.find("\n", i)
            i = len(source) if newline < 0 else newline
            continue
        if char in "([{":
            close = closing.get(i)
            if close is None:
                return spans, item  # this item is cut short
            i = close + 1 if close >= 0 else i + 1
            continue
        if char == ",":
            spans.append((item, i))
            item = i + 1
        i += 1
    if end < len(source):
        spans.append((item, end))
        return spans, None
    return spans, item


def _parse_expr(source: str) -> ast.expr | None:
    try:
        return ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return None


def _text_line(
    source: str, match: re.Match[str], closing: dict[int, int], out: _Collector
) -> int | None:
    rest_start = match.start("rest") + len(match["rest"]) - len(match["rest"].lstrip())
    rest = source[rest_start : match.end("rest")].strip()
    if rest.startswith("("):
        close = closing.get(rest_start)
        if close is None:
            out.cut(source[rest_start:])
            return len(source)
        tail = source[close + 1 : match.end("rest")].strip().lstrip(",;").strip()
        if close < 0 or (tail and not tail.startswith("#")):
            return None  # `(a + b) * 2`: an expression, not an argument list
        _argument_line(source[rest_start : close + 1], out)
        return close + 1
    if not rest or _CALL.match(rest):
        return None  # `Input: f(1)`: the call is read as a call
    rest = rest.rstrip(",;").strip().strip("`").strip()
    try:
        result = canonical(rest)
    except NotLiteral as exc:
        if match["label"] and "literal" in str(exc):
            out.reject(rest, str(exc))
        return None
    call = parse_call("_" + result)
    keyword_only = call is not None and not call.args and bool(call.keywords)
    if not match["label"] and not keyword_only:
        return None  # `- some words`: a bullet without a label needs `name=value` items
    if reason := _unknown_in(result, out):
        out.reject(rest, reason)
        return None
    out.accept(result)
    return match.end("rest")


def _text_call(
    source: str, match: re.Match[str], closing: dict[int, int], out: _Collector
) -> int | None:
    role = out.role(match["name"], method=match["dot"] is not None)
    if role == "none":
        return None
    opened = match.end() - 1
    close = closing.get(opened)
    if close is None:
        out.cut(source[match.start() :])
        return len(source)
    if close < 0 or close - opened > 2 * MAX_INPUT_CHARS:
        return None
    call = parse_call("_" + source[opened : close + 1])
    if call is None:
        if role == "target":
            out.reject(source[match.start() : close + 1], "not a call argument list")
        return None
    call.func = (
        ast.Name(match["name"])
        if match["dot"] is None
        else ast.Attribute(value=ast.Name("_"), attr=match["name"])
    )
    return close + 1 if _call(call, out) == "accepted" else None


def _brackets(source: str) -> dict[int, int]:
    """Index of each opening bracket -> index of its closing one, or -1 when it is closed by
    the wrong kind; brackets still open at the end are absent. Quotes and comments count only
    inside brackets: in prose an apostrophe is not a string."""
    pairs = {")": "(", "]": "[", "}": "{"}
    closing: dict[int, int] = {}
    stack: list[int] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if stack and char in "'\"":
            i = _skip_string(source, i)
            continue
        if stack and char == "#":
            newline = source.find("\n", i)
            i = n if newline < 0 else newline
            continue
        if char in "([{":
            stack.append(i)
        elif char in pairs:
            # Close the innermost bracket of the right kind; the ones above it are broken.
            for depth in range(len(stack) - 1, -1, -1):
                if source[stack[depth]] == pairs[char]:
                    for broken in stack[depth + 1 :]:
                        closing[broken] = -1
                    closing[stack[depth]] = i
                    del stack[depth:]
                    break
        i += 1
    return closing


def _skip_string(source: str, i: int) -> int:
    """The index after the string literal starting at `i`; a one-line string that meets the end
    of its line ends there."""
    quote = source[i] * 3 if source.startswith(source[i] * 3, i) else source[i]
    j = i + len(quote)
    while j < len(source):
        char = source[j]
        if char == "\\":
            j += 2
            continue
        if source.startswith(quote, j):
            return j + len(quote)
        if char == "\n" and len(quote) == 1:
            return j
        j += 1
    return len(source)
