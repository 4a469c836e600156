"""Guess what each parameter of a function takes, from its text alone.

Nothing here runs the function: the source is parsed with `ast` and read. The evidence, strongest
first: annotations, defaults, doctest examples, how the body uses the parameter (`x.split()` means
a str, `x[i]` a sequence, `x + 1` a number, `x == 'GET'` a str worth trying), and the parameter's
name. Each piece of evidence adds weight to kinds (see `values.KINDS`); the generator samples
kinds by weight and the sandbox tells it which guesses were right.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass, field

from case2code.inputs.literals import NotLiteral, call_arguments, values
from case2code.inputs.spec import FunctionSpec, Param
from case2code.inputs.values import KINDS, Constants, kind_of

Weights = dict[str, float]

ANNOTATION = 8.0
DEFAULT = 8.0
USAGE = 3.0
NAME = 2.0

_SCALARS = {
    "int": "int",
    "float": "float",
    "str": "str",
    "bool": "bool",
    "bytes": "bytes",
    "bytearray": "bytes",
    "None": "none",
    "complex": "float",
    "Text": "str",
    "AnyStr": "str",
}
_CONTAINERS = {
    "list": "list",
    "List": "list",
    "Sequence": "list",
    "MutableSequence": "list",
    "Iterable": "list",
    "Iterator": "list",
    "Collection": "list",
    "tuple": "tuple",
    "Tuple": "tuple",
    "set": "set",
    "Set": "set",
    "frozenset": "set",
    "FrozenSet": "set",
    "AbstractSet": "set",
    "dict": "dict",
    "Dict": "dict",
    "Mapping": "dict",
    "MutableMapping": "dict",
}

_STR_METHODS = frozenset(
    "split rsplit strip lstrip rstrip lower upper startswith endswith replace find rfind "
    "index format isdigit isalpha isalnum isspace isupper islower isidentifier splitlines "
    "encode casefold title capitalize partition rpartition center ljust rjust zfill "
    "expandtabs translate isnumeric isdecimal swapcase removeprefix removesuffix".split()
)
_BYTES_METHODS = frozenset({"decode", "hex"})
_LIST_METHODS = frozenset({"append", "extend", "insert", "pop", "remove", "sort", "reverse"})
_DICT_METHODS = frozenset({"items", "keys", "values", "get", "setdefault", "update", "popitem"})
_SET_METHODS = frozenset(
    {"add", "discard", "union", "intersection", "difference", "issubset", "issuperset"}
)
_INT_METHODS = frozenset({"bit_length", "to_bytes", "bit_count"})

# Builtins whose argument kind is telling, as weights for that argument.
_CALL_HINTS: dict[str, Weights] = {
    "range": {"int": 1.0},
    "chr": {"int": 1.0},
    "ord": {"char": 1.0},
    "len": {"str": 0.6, "list[int]": 0.6, "dict[str,int]": 0.2},
    "sum": {"list[int]": 1.0, "list[float]": 0.4},
    "sorted": {"list[int]": 1.0, "list[str]": 0.5, "str": 0.2},
    "reversed": {"list[int]": 1.0, "str": 0.4},
    "enumerate": {"list[str]": 0.8, "list[int]": 0.6, "str": 0.3},
    "zip": {"list[int]": 1.0, "list[str]": 0.4},
    "min": {"list[int]": 0.8, "int": 0.5},
    "max": {"list[int]": 0.8, "int": 0.5},
    "abs": {"int": 1.0, "float": 0.6},
    "round": {"float": 1.0, "int": 0.3},
    "int": {"digits": 0.8, "float": 0.4, "str": 0.2},
    "float": {"digits": 0.5, "int": 0.5},
    "divmod": {"int": 1.0},
    "bin": {"int": 1.0},
    "hex": {"int": 1.0},
    "oct": {"int": 1.0},
    "set": {"list[int]": 1.0, "str": 0.3},
    "frozenset": {"list[int]": 1.0},
    "tuple": {"list[int]": 1.0},
    "list": {"list[int]": 0.8, "str": 0.4, "tuple[int]": 0.3},
    "any": {"list[int]": 1.0},
    "all": {"list[int]": 1.0},
    "map": {"list[int]": 0.6, "list[str]": 0.6},
    "filter": {"list[int]": 1.0},
    "iter": {"list[int]": 1.0, "str": 0.3},
    "bytes": {"list[int]": 0.5, "str": 0.2},
    "bytearray": {"bytes": 0.8, "list[int]": 0.3},
}
_MODULE_HINTS: dict[str, Weights] = {
    "math": {"float": 1.0, "int": 0.8},
    "cmath": {"float": 1.0},
    "re": {"str": 1.0},
    "string": {"str": 1.0},
    "textwrap": {"str": 1.0},
    "os.path": {"str": 1.0},
    "posixpath": {"str": 1.0},
    "ntpath": {"str": 1.0},
    "fnmatch": {"str": 1.0},
    "binascii": {"bytes": 1.0},
    "base64": {"bytes": 1.0, "str": 0.3},
    "struct": {"bytes": 0.8},
    "json": {"str": 0.6, "dict[str,int]": 0.5},
    "unicodedata": {"char": 1.0},
    "operator": {"int": 0.6},
    "statistics": {"list[float]": 1.0, "list[int]": 0.8},
    "itertools": {"list[int]": 1.0},
    "bisect": {"list[int]": 1.0},
    "heapq": {"list[int]": 1.0},
}
_NAME_HINTS: list[tuple[str, Weights]] = [
    (
        r"^(n|k|m|i|j|num|count|size|length|width|height|depth|level|index|idx|pos|offset|"
        r"start|end|stop|step|limit|times|base|digits?|year|month|day|port|number|bits|nbytes)$|"
        r"^(n|num|max|min)_|_(count|size|len|index|idx|num|number)$",
        {"int": 1.0},
    ),
    (r"^(x|y|z|a|b|c|value|val)$", {"int": 0.6, "float": 0.4}),
    (
        r"^(f|fl|ratio|rate|alpha|beta|prob|p|weight|scale|factor|tol|eps|epsilon|temp|t|"
        r"seconds|secs|angle|theta)$",
        {"float": 1.0},
    ),
    (
        r"^(s|st|text|txt|string|name|word|line|msg|message|label|prefix|suffix|sep|delim|"
        r"delimiter|pattern|pat|fmt|format|title|path|filename|fname|url|uri|host|encoding|"
        r"charset|char|ch|key|tag|token|ident|identifier|source|src|code|header|lang|"
        r"template|query|email|address|sentence|value_str)$|_(name|str|text|path|line|prefix|"
        r"suffix|sep|fmt|string|char|url|key|word)$|^(str|text|name)_",
        {"str": 1.0},
    ),
    (r"^(c|ch|char|letter|sep|delim)$", {"char": 0.6}),
    (
        r"^(lst|list|l|arr|array|seq|sequence|items|values|vals|nums|numbers|xs|ys|elements|"
        r"elems|data|vector|vec|iterable|it|coll|collection|args|indices|lines|words|strings|"
        r"names|keys|tokens|parts|pieces|rows|row|col|column|chunks|nums|ints|floats)$",
        {"list[int]": 0.8, "list[str]": 0.6},
    ),
    (
        r"^(lines|words|strings|names|tokens|parts|paths|keys|labels|tags)$|_names$",
        {"list[str]": 1.2},
    ),
    (r"^(matrix|grid|board|mat|table|rows)$", {"list[list[int]]": 1.5}),
    (
        r"^(d|dct|dict|mapping|map|kwargs|options|opts|config|cfg|params|env|headers|attrs|"
        r"counts|freq|table|lookup|cache|memo|registry)$|_(dict|map|mapping)$",
        {"dict[str,int]": 1.0, "dict[str,str]": 0.6},
    ),
    (
        r"^(flag|verbose|strict|force|quiet|debug|reverse|recursive|inplace|enabled|enable|"
        r"disabled|ignore_case|case_sensitive|check|raw|binary)$|^(is|has|use|allow|should|"
        r"can|no|with|keep)_",
        {"bool": 1.5},
    ),
    (
        r"^(b|buf|buffer|data|raw|payload|blob|byte_string|bs|chunk|packet|bytes_?)$|_bytes$",
        {"bytes": 0.8},
    ),
    (r"^(pair|point|coord|coords|pos|rgb|color|colour|version|shape|t|tup)$", {"tuple[int]": 1.0}),
]
_NAME_PATTERNS = [(re.compile(pattern), weights) for pattern, weights in _NAME_HINTS]


@dataclass
class FunctionHints:
    """Per parameter, weights over kinds; plus the function's literals and doctest calls."""

    weights: dict[str, Weights] = field(default_factory=dict)
    constants: Constants = field(default_factory=Constants)
    examples: list[str] = field(default_factory=list)  # argument lists from doctests
    per_param_constants: dict[str, list[object]] = field(default_factory=dict)
    # The generator's memo: (param, kind) -> those of its constants that are of the kind.
    constants_of_kind: dict[tuple[str, str], list[object]] = field(
        default_factory=dict, compare=False, repr=False
    )


def analyze(spec: FunctionSpec) -> FunctionHints:
    hints = FunctionHints(weights={p.name: defaultdict(float) for p in spec.params})
    for param in spec.params:
        weights = hints.weights[param.name]
        _from_annotation(param, weights)
        _from_default(param, weights)
        _from_name(param.name, weights)
    tree = _parse(spec.source)
    if tree is None:
        return hints
    function = _find_function(tree, spec.name)
    if function is None:
        return hints
    docstring = ast.get_docstring(function) or spec.docstring or ""
    hints.examples = _doctest_calls(docstring, spec.name)
    _UsageVisitor(hints, {p.name for p in spec.params}).visit_body(function)
    return hints


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _find_function(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    found = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            found = node  # the last definition wins, as when the module runs
    return found


# ------------------------------------------------------------------ signature evidence


def annotation_kinds(text: str) -> Weights:
    """Kinds an annotation allows; `Optional[int]` gives int and none, unknown classes nothing."""
    try:
        node = ast.parse(text.strip().strip("'\""), mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return {}
    return _annotation(node)


def _annotation(node: ast.AST) -> Weights:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return annotation_kinds(node.value)
    if isinstance(node, ast.Constant) and node.value is None:
        return {"none": 1.0}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([_annotation(node.left), _annotation(node.right)])
    name = _dotted_tail(node.value if isinstance(node, ast.Subscript) else node)
    if name in _SCALARS:
        return {_SCALARS[name]: 1.0}
    if isinstance(node, ast.Subscript):
        inner = node.slice
        parts = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
        if name in ("Optional",):
            return _union([_annotation(parts[0]), {"none": 0.3}])
        if name in ("Union",):
            return _union([_annotation(p) for p in parts])
        if name in _CONTAINERS:
            return _container(_CONTAINERS[name], [_annotation(p) for p in parts])
    if name in _CONTAINERS:
        return _container(_CONTAINERS[name], [])
    return {}


def _dotted_tail(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _union(options: list[Weights]) -> Weights:
    merged: Weights = {}
    for option in options:
        for kind, weight in option.items():
            merged[kind] = max(merged.get(kind, 0.0), weight)
    return merged


def _container(container: str, elements: list[Weights]) -> Weights:
    if container == "dict":
        value = elements[1] if len(elements) > 1 else {}
        return {"dict[str,str]": 1.0} if "str" in value else {"dict[str,int]": 1.0}
    element = max(elements[0], key=elements[0].get) if elements and elements[0] else "int"
    element = {"char": "str", "digits": "str"}.get(element, element)
    if container == "list" and element == "list[int]":
        return {"list[list[int]]": 1.0}
    kind = f"{container}[{element}]"
    return {kind: 1.0} if kind in KINDS else {f"{container}[int]": 0.5}


def _from_annotation(param: Param, weights: Weights) -> None:
    if param.annotation:
        for kind, weight in annotation_kinds(param.annotation).items():
            weights[kind] += ANNOTATION * weight


def _from_default(param: Param, weights: Weights) -> None:
    if param.default is None:
        return
    arguments = values("(" + param.default + ")")
    if arguments is None or len(arguments.args) != 1:
        return
    kind = kind_of(arguments.args[0])
    if kind == "none":
        weights["none"] += 1.0  # None usually means "absent", not the kind wanted
    elif kind is not None:
        weights[kind] += DEFAULT


def _from_name(name: str, weights: Weights) -> None:
    for pattern, hinted in _NAME_PATTERNS:
        if pattern.search(name):
            for kind, weight in hinted.items():
                weights[kind] += NAME * weight


def _doctest_calls(docstring: str, name: str) -> list[str]:
    calls = []
    for line in docstring.splitlines():
        line = line.strip()
        if not line.startswith(">>> "):
            continue
        try:
            node = ast.parse(line[4:], mode="eval").body
        except (SyntaxError, ValueError, RecursionError):
            continue
        if isinstance(node, ast.Call) and _dotted_tail(node.func) == name:
            try:
                calls.append(call_arguments(node))
            except NotLiteral:
                continue
    return calls


# ------------------------------------------------------------------ body evidence

# A constant the body compares a parameter with is offered as that parameter's value only when
# it makes a readable input: a 5 MB string or a 10,000-digit int would not (and such an int
# cannot even be written as decimal text: sys.get_int_max_str_digits).
MAX_OFFERED_CHARS = 200
MAX_OFFERED_INT_BITS = 64


def _offerable(value: object) -> bool:
    if isinstance(value, (str, bytes)):
        return len(value) <= MAX_OFFERED_CHARS
    if isinstance(value, int):
        return value.bit_length() <= MAX_OFFERED_INT_BITS
    return True


class _UsageVisitor(ast.NodeVisitor):
    """Walks the function body with parent links and credits kinds to parameters."""

    def __init__(self, hints: FunctionHints, params: set[str]) -> None:
        self.hints = hints
        self.params = params
        self.parents: dict[ast.AST, ast.AST] = {}

    def visit_body(self, function: ast.FunctionDef) -> None:
        for node in ast.walk(function):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        body = function.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring is not a constant the code uses
        for statement in body:
            self.visit(statement)

    def credit(self, param: str, kinds: Weights, scale: float = USAGE) -> None:
        weights = self.hints.weights[param]
        for kind, weight in kinds.items():
            weights[kind] += scale * weight

    def visit_Constant(self, node: ast.Constant) -> None:
        value, constants = node.value, self.hints.constants
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int) and abs(value) < 10**6:
            constants.ints.append(value)
        elif isinstance(value, float):
            constants.floats.append(value)
        elif isinstance(value, str) and len(value) <= 40:
            constants.strs.append(value)
        elif isinstance(value, bytes) and len(value) <= 40:
            constants.bytes_.append(value)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in self.params and isinstance(node.ctx, ast.Load):
            self._use(node.id, node)

    def _use(self, param: str, node: ast.Name) -> None:
        parent = self.parents.get(node)
        if isinstance(parent, ast.Attribute):
            self._method(param, parent.attr)
        elif isinstance(parent, ast.Subscript) and parent.value is node:
            self._subscript(param, parent)
        elif isinstance(parent, ast.BinOp):
            other = parent.right if parent.left is node else parent.left
            self._arithmetic(param, parent.op, other, right=parent.right is node)
        elif isinstance(parent, ast.AugAssign):
            self._arithmetic(param, parent.op, parent.value, right=False)
        elif isinstance(parent, ast.Compare):
            self._compare(param, node, parent)
        elif isinstance(parent, ast.Call) and node in parent.args:
            self._argument(param, parent)
        elif isinstance(parent, (ast.For, ast.comprehension)) and parent.iter is node:
            self.credit(param, {"list[int]": 0.6, "list[str]": 0.5, "str": 0.3})
        elif isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub):
            self.credit(param, {"int": 1.0, "float": 0.5})

    def _method(self, param: str, attr: str) -> None:
        if attr in _STR_METHODS:
            self.credit(param, {"str": 1.5})
        elif attr == "join":
            self.credit(param, {"str": 1.0})
        elif attr in _BYTES_METHODS:
            self.credit(param, {"bytes": 1.5})
        elif attr in _LIST_METHODS:
            self.credit(param, {"list[int]": 1.2, "list[str]": 0.6})
        elif attr in _DICT_METHODS:
            self.credit(param, {"dict[str,int]": 1.2, "dict[str,str]": 0.6})
        elif attr in _SET_METHODS:
            self.credit(param, {"set[int]": 1.5})
        elif attr in _INT_METHODS:
            self.credit(param, {"int": 1.5})
        elif attr in ("real", "imag", "is_integer", "as_integer_ratio"):
            self.credit(param, {"float": 1.5})
        elif attr == "count" or attr == "index":
            self.credit(param, {"str": 0.7, "list[int]": 0.7})
        else:
            # An attribute the vocabulary lacks (`q.qsize()`): literals will rarely do.
            self.credit(param, {"str": 0.1})

    def _subscript(self, param: str, node: ast.Subscript) -> None:
        index = node.slice
        if isinstance(index, ast.Constant) and isinstance(index.value, str):
            self.credit(param, {"dict[str,int]": 1.2, "dict[str,str]": 0.8})
            if _offerable(index.value):
                self.hints.per_param_constants.setdefault(param, []).append(index.value)
        elif isinstance(index, ast.Slice):
            self.credit(param, {"str": 1.0, "list[int]": 1.0})
        elif isinstance(self.parents.get(node), ast.Subscript):
            self.credit(param, {"list[list[int]]": 1.5})
        else:
            self.credit(param, {"list[int]": 1.0, "str": 0.6, "dict[str,int]": 0.2})

    def _arithmetic(self, param: str, op: ast.operator, other: ast.AST, right: bool) -> None:
        if isinstance(op, ast.Mod) and right and isinstance(other, ast.Constant):
            self.credit(param, {"float": 1.0, "int": 1.0, "str": 0.5})  # "%8.3f" % x
        elif isinstance(other, ast.Constant) and isinstance(other.value, str):
            self.credit(param, {"str": 1.5})
        elif isinstance(op, ast.Mod) and isinstance(other, ast.Tuple):
            self.credit(param, {"str": 1.5})  # "fmt % (a, b)"
        elif isinstance(other, ast.Constant) and isinstance(other.value, float):
            self.credit(param, {"float": 1.2, "int": 0.6})
        elif isinstance(op, (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift)):
            self.credit(param, {"int": 1.5})
        elif isinstance(op, (ast.FloorDiv, ast.Mod, ast.Pow, ast.Sub, ast.Div)):
            self.credit(param, {"int": 1.2, "float": 0.6})
        elif isinstance(op, ast.Mult):
            self.credit(param, {"int": 1.0, "float": 0.4, "str": 0.2})
        else:
            self.credit(param, {"int": 0.8, "float": 0.3, "str": 0.3, "list[int]": 0.2})

    def _compare(self, param: str, node: ast.Name, compare: ast.Compare) -> None:
        operands = [compare.left, *compare.comparators]
        for op, left, right in zip(compare.ops, operands, operands[1:], strict=False):
            if node not in (left, right):
                continue
            other = right if left is node else left
            if isinstance(op, (ast.In, ast.NotIn)) and left is node:
                self._membership(param, other)
            elif isinstance(op, (ast.In, ast.NotIn)):
                self.credit(param, {"str": 0.6, "list[int]": 0.6, "dict[str,int]": 0.4})
            elif isinstance(other, ast.Constant) and other.value is not None:
                self._equal_to(param, other.value)
            elif isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
                self.credit(param, {"int": 1.0, "float": 0.5})

    def _membership(self, param: str, container: ast.AST) -> None:
        if isinstance(container, (ast.Tuple, ast.List, ast.Set)):
            for element in container.elts:
                if isinstance(element, ast.Constant):
                    self._equal_to(param, element.value)
        elif isinstance(container, ast.Constant) and isinstance(container.value, str):
            self.credit(param, {"char": 1.5})
            self.hints.per_param_constants.setdefault(param, []).extend(container.value[:8])

    def _equal_to(self, param: str, value: object) -> None:
        kind = {bool: "bool", int: "int", float: "float", str: "str", bytes: "bytes"}.get(
            type(value)
        )
        if kind is None or not _offerable(value):
            return
        if kind == "str" and isinstance(value, str) and len(value) == 1:
            kind = "char"
        self.credit(param, {kind: 1.2})
        self.hints.per_param_constants.setdefault(param, []).append(value)

    def _argument(self, param: str, call: ast.Call) -> None:
        func = call.func
        if isinstance(func, ast.Name) and func.id in _CALL_HINTS:
            self.credit(param, _CALL_HINTS[func.id])
        elif isinstance(func, ast.Name) and func.id == "isinstance" and len(call.args) == 2:
            for kind, weight in _annotation(call.args[1]).items():
                self.credit(param, {kind: weight}, scale=USAGE * 1.5)
        elif isinstance(func, ast.Attribute):
            module = ast.unparse(func.value)
            if module in _MODULE_HINTS:
                self.credit(param, _MODULE_HINTS[module])
            elif func.attr == "join" and isinstance(func.value, ast.Constant):
                self.credit(param, {"list[str]": 1.5})
            elif func.attr in ("startswith", "endswith", "split", "find", "replace"):
                self.credit(param, {"str": 1.0})
