"""Call argument lists as literal source text, on the host side.

Inputs travel as text such as `(1, [2, 3], key='x')` and are evaluated only inside the sandbox.
The host parses them (`ast`, which runs nothing) to check and canonicalise them, and turns the
plain-literal ones into values so the generator can mutate them. Constructor calls whose cost
depends on their argument (`bytes(10**9)`, `int('9' * ...)`) are never evaluated here: such an
input stays usable as text but is not mutated.
"""

from __future__ import annotations

import ast
import marshal
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Longest argument list accepted, in characters: a training input is meant to be read.
MAX_INPUT_CHARS = 4_000

# Builtin constructors the sandbox accepts on a literal (see rust/src/sandbox/driver.py).
SAFE_CONSTRUCTORS = frozenset(
    {"set", "frozenset", "tuple", "list", "dict", "float", "complex", "bytes", "int", "bool", "str"}
)
# The ones the host itself evaluates: their result is no bigger than their literal argument.
_HOST_CONSTRUCTORS = {"set": set, "frozenset": frozenset, "tuple": tuple, "list": list}


class NotLiteral(ValueError):
    """The text is not a call argument list made of literals; the message says why."""


@dataclass(frozen=True)
class Arguments:
    """A call's arguments as values: positional, then keyword."""

    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()

    def render(self) -> str:
        return render_arguments(self.args, dict(self.kwargs))


def is_literal(node: ast.AST) -> bool:
    """Whether the sandbox would accept `node` as a literal argument."""
    if isinstance(node, ast.Constant):
        return node.value is not Ellipsis
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(is_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(
            (k is None or is_literal(k)) and is_literal(v)
            for k, v in zip(node.keys, node.values, strict=True)
        )
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return isinstance(node.operand, ast.Constant) and _is_number(node.operand.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        # Only complex literals: 1 + 2j.
        return (
            is_literal(node.left)
            and isinstance(node.right, ast.Constant)
            and isinstance(node.right.value, complex)
        )
    if isinstance(node, ast.Call):
        return (
            isinstance(node.func, ast.Name)
            and node.func.id in SAFE_CONSTRUCTORS
            and not node.keywords
            and len(node.args) <= 1
            and all(is_literal(a) for a in node.args)
        )
    return False


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, complex)) and not isinstance(value, bool)


def call_arguments(call: ast.Call) -> str:
    """The canonical argument text of `call`, or NotLiteral naming the first bad argument."""
    for node in call.args:
        value = node.value if isinstance(node, ast.Starred) else node
        if not is_literal(value):
            raise NotLiteral(f"argument `{_snippet(node)}` is not a literal")
    for keyword in call.keywords:
        if not is_literal(keyword.value):
            name = keyword.arg or "**"
            raise NotLiteral(f"argument {name}=`{_snippet(keyword.value)}` is not a literal")
    try:
        text = ast.unparse(ast.Call(func=ast.Name("_"), args=call.args, keywords=call.keywords))
    except (ValueError, RecursionError) as error:  # an int literal past int_max_str_digits
        raise NotLiteral(f"argument list cannot be written as text: {error}") from None
    text = text[1:]
    if len(text) > MAX_INPUT_CHARS:
        raise NotLiteral(f"argument list is {len(text)} characters (limit {MAX_INPUT_CHARS})")
    return text


def canonical(text: str) -> str:
    """`text` (an argument list such as `(1, x=2)`, parentheses optional) in canonical form."""
    text = text.strip()
    if len(text) > 2 * MAX_INPUT_CHARS:
        raise NotLiteral(f"argument list is {len(text)} characters (limit {MAX_INPUT_CHARS})")
    body = text[1:-1] if text.startswith("(") and text.endswith(")") else text
    call = parse_call("_(" + body + ")")
    if call is None and body is not text:
        call = parse_call("_(" + text + ")")  # `(1, 2), 3` is not wrapped in one pair
    if call is None:
        raise NotLiteral("not a call argument list")
    return call_arguments(call)


def parse_call(source: str) -> ast.Call | None:
    """The source parsed as one call expression (nothing is run), or None."""
    try:
        node = ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return None
    return node if isinstance(node, ast.Call) else None


@lru_cache(maxsize=1 << 16)
def values(text: str) -> Arguments | None:
    """The argument values of a canonical argument list, or None when it holds a form the host
    does not evaluate (see the module doc). Cached and shared by its callers: read it, never
    change it (each round reads a function's inputs again; the sandbox's packing, every input).
    """
    call = parse_call("_" + text)
    if call is None or not (isinstance(call.func, ast.Name) and call.func.end_col_offset == 1):
        return None  # `(1)(2)` parses as a call, but of a call: not an argument list
    return _call_values(call)


def _call_values(call: ast.Call) -> Arguments | None:
    try:
        args: list[Any] = []
        for node in call.args:
            if isinstance(node, ast.Starred):
                args.extend(_value(node.value))
            else:
                args.append(_value(node))
        kwargs: dict[str, Any] = {}
        for keyword in call.keywords:
            if keyword.arg is None:
                kwargs.update(_value(keyword.value))
            else:
                kwargs[keyword.arg] = _value(keyword.value)
    except (NotLiteral, TypeError, ValueError, RecursionError):
        return None
    return Arguments(tuple(args), tuple(kwargs.items()))


def packed(text: str) -> str:
    """The input as the sandbox's driver reads it fastest: its values marshalled ahead of its
    text, `\\0<n>:<n chars><text>` (one char per byte); the text alone when the host does not
    evaluate its form or it holds a set (whose order on the host comes from the host's hash
    seed; from text the sandbox builds it in source order). The driver parses the text then,
    as it always did: parsing there cost ~0.3M instructions for a list of seven ints, most of
    a typical validation case."""
    arguments = values(text)
    if arguments is None or _holds_set((arguments.args, dict(arguments.kwargs))):
        return text
    try:
        # Version 2: no back-references, whose flags follow the values' reference counts on the
        # host, so the same input is always the same bytes (and costs the same instructions).
        blob = marshal.dumps((list(arguments.args), dict(arguments.kwargs)), 2)
    except ValueError:
        return text
    return f"\0{len(blob)}:{blob.decode('latin-1')}{text}"


def _holds_set(value: Any) -> bool:
    if isinstance(value, (set, frozenset)):
        return True
    if isinstance(value, (list, tuple)):
        return any(map(_holds_set, value))
    if isinstance(value, dict):
        return any(map(_holds_set, value)) or any(map(_holds_set, value.values()))
    return False


def _value(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and node.value is not Ellipsis:
        return node.value
    if isinstance(node, ast.Tuple):
        return tuple(_value(e) for e in node.elts)
    if isinstance(node, ast.List):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Set):
        return {_value(e) for e in node.elts}
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                out.update(_value(value))
            else:
                out[_value(key)] = _value(value)
        return out
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _value(node.operand)
        if not _is_number(operand):
            raise NotLiteral("sign on a non-number")
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        left, right = _value(node.left), _value(node.right)
        if not (_is_number(left) and isinstance(right, complex)):
            raise NotLiteral("only complex literals may use + or -")
        return left + right if isinstance(node.op, ast.Add) else left - right
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name, args = node.func.id, node.args
        if name in _HOST_CONSTRUCTORS and len(args) <= 1:
            inner = _value(args[0]) if args else ()
            if isinstance(inner, (str, bytes, int, float)):
                raise NotLiteral(f"{name}() of a scalar is left to the sandbox")
            return _HOST_CONSTRUCTORS[name](inner)
        if name == "float" and len(args) == 1 and isinstance(args[0], ast.Constant):
            word = str(args[0].value).strip().lower().lstrip("+-")
            if word in ("inf", "infinity", "nan"):
                return float(args[0].value)
    raise NotLiteral(f"not evaluated on the host: {type(node).__name__}")


def render_value(value: Any) -> str:
    """Literal source text for a plain value; the inverse of `values` for one argument."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    if isinstance(value, frozenset):
        return f"frozenset({render_value(set(value))})" if value else "frozenset()"
    if isinstance(value, set):
        return "{" + ", ".join(map(render_value, _ordered(value))) + "}" if value else "set()"
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(render_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        items = ", ".join(f"{render_value(k)}: {render_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, int) and not isinstance(value, bool):
        return _render_int(value)
    if value is None or isinstance(value, (bool, float, complex, str, bytes)):
        return repr(value)  # repr escapes lone surrogates, so the text is always valid UTF-8
    raise TypeError(f"not a plain literal value: {type(value).__name__}")


def _render_int(value: int) -> str:
    try:
        return repr(value)
    except ValueError:  # more digits than sys.get_int_max_str_digits() allows
        raise TypeError(f"not a plain literal value: a {value.bit_length()}-bit int") from None


def _ordered(items: set[Any]) -> list[Any]:
    """A set's elements in a fixed order: its iteration order changes with the hash seed."""
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=lambda v: (type(v).__name__, repr(v)))


def render_arguments(args: Sequence[Any], kwargs: Mapping[str, Any] | None = None) -> str:
    parts = [render_value(a) for a in args]
    parts += [f"{name}={render_value(v)}" for name, v in (kwargs or {}).items()]
    return "(" + ", ".join(parts) + ")"


def _snippet(node: ast.AST, limit: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."
