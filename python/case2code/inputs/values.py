"""The built-in generator's type vocabulary: kinds of values and how to draw one.

A kind is a short name (`int`, `list[str]`, `dict[str,int]`, ...). Drawing mixes edge values
(0, -1, empty, one element: where functions break), constants harvested from the function's own
body (the values it compares against) and random values of modest size, because a training case
should be small enough to read.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS: tuple[str, ...] = (
    "int",
    "float",
    "str",
    "bool",
    "none",
    "bytes",
    "char",
    "digits",
    "list[int]",
    "list[str]",
    "list[float]",
    "list[list[int]]",
    "tuple[int]",
    "dict[str,int]",
    "dict[str,str]",
    "set[int]",
)

# Tried first when nothing is known about a parameter: the kinds most functions take.
BROAD: dict[str, float] = {
    "int": 3.0,
    "str": 3.0,
    "list[int]": 2.0,
    "float": 1.0,
    "list[str]": 1.0,
    "dict[str,int]": 0.7,
    "bool": 0.5,
    "none": 0.3,
    "bytes": 0.5,
    "tuple[int]": 0.5,
}

EDGE_INTS = (0, 1, -1, 2, 3, 5, 7, 10, 16, 42, 100, 255, 1000, -10)
EDGE_FLOATS = (0.0, 1.0, -1.0, 0.5, 2.5, 3.14159, -0.25, 100.0, 1e-3, 1e6)
WORDS = (
    "hello",
    "world",
    "Python",
    "data",
    "a",
    "abc",
    "foo",
    "bar_baz",
    "CamelCase",
    "x1",
    "test",
    "key",
    "value",
    "alpha",
    "beta",
)
TEXTS = (
    "",
    " ",
    "hello world",
    "Hello, World!",
    "  padded  ",
    "a,b,c",
    "line1\nline2",
    "123",
    "3.14",
    "foo.bar",
    "key=value",
    "/tmp/dir/file.txt",
    "ünïcødé",
    "The quick brown fox jumps over the lazy dog.",
    "aaa bbb aaa",
    "\tTab\tseparated",
    "UPPER lower",
    "x" * 12,
)
CHARS = ("a", "Z", "0", " ", "_", "-", ".", "\n", "é", "?")


@dataclass
class Constants:
    """Literals a function's body uses: its comparisons and lookups hint at good inputs."""

    ints: list[int] = field(default_factory=list)
    floats: list[float] = field(default_factory=list)
    strs: list[str] = field(default_factory=list)
    bytes_: list[bytes] = field(default_factory=list)


class Sampler:
    """Draws values of a kind, deterministically for a given `random.Random`."""

    def __init__(self, rng: random.Random, constants: Constants | None = None) -> None:
        self.rng = rng
        self.constants = constants or Constants()
        self._draw: dict[str, Callable[[], Any]] = {
            "int": self.int_,
            "float": self.float_,
            "str": self.str_,
            "bool": lambda: self.rng.random() < 0.5,
            "none": lambda: None,
            "bytes": self.bytes_,
            "char": self.char,
            "digits": lambda: str(abs(self.int_())),
            "list[int]": lambda: self.list_of(self.int_),
            "list[str]": lambda: self.list_of(self.word),
            "list[float]": lambda: self.list_of(self.float_),
            "list[list[int]]": self.matrix,
            "tuple[int]": lambda: tuple(self.list_of(self.int_, 1)),
            "dict[str,int]": lambda: {self.word(): self.int_() for _ in range(self.size())},
            "dict[str,str]": lambda: {self.word(): self.word() for _ in range(self.size())},
            "set[int]": lambda: set(self.list_of(self.int_)),
        }

    def sample(self, kind: str) -> Any:
        return self._draw[kind]()

    def _pick(self, harvested: Sequence[Any], edges: Sequence[Any]) -> Any:
        if harvested and self.rng.random() < 0.5:
            return self.rng.choice(harvested)
        return self.rng.choice(edges)

    def int_(self) -> int:
        roll = self.rng.random()
        if roll < 0.6:
            value = self._pick(self.constants.ints, EDGE_INTS)
            return value + self.rng.choice((0, 0, 1, -1)) if roll < 0.15 else value
        return self.rng.randint(-50, 200) if roll < 0.9 else self.rng.randint(-(10**6), 10**6)

    def float_(self) -> float:
        if self.rng.random() < 0.6:
            return float(self._pick(self.constants.floats, EDGE_FLOATS))
        return round(self.rng.uniform(-100, 100), self.rng.choice((1, 2, 3)))

    def word(self) -> str:
        harvested = [s for s in self.constants.strs if 0 < len(s) <= 20]
        return self._pick(harvested, WORDS)

    def str_(self) -> str:
        roll = self.rng.random()
        if roll < 0.35 and self.constants.strs:
            return self.rng.choice(self.constants.strs)
        if roll < 0.6:
            return self.rng.choice(TEXTS)
        if roll < 0.8:
            return self.word()
        return " ".join(self.word() for _ in range(self.rng.randint(2, 5)))

    def char(self) -> str:
        singles = [s for s in self.constants.strs if len(s) == 1]
        return self._pick(singles, CHARS)

    def bytes_(self) -> bytes:
        if self.constants.bytes_ and self.rng.random() < 0.4:
            return self.rng.choice(self.constants.bytes_)
        # A harvested constant may hold a lone surrogate ('\udc00'), which strict UTF-8 refuses.
        return self.str_().encode("utf-8", "surrogatepass")

    def size(self, least: int = 0) -> int:
        return self.rng.choice((least, least + 1, 2, 3, 3, 4, 5, 8))

    def list_of(self, draw: Callable[[], Any], least: int = 0) -> list[Any]:
        return [draw() for _ in range(max(least, self.size(least)))]

    def matrix(self) -> list[list[int]]:
        rows, cols = self.rng.randint(1, 4), self.rng.randint(1, 4)
        return [[self.rng.randint(-9, 9) for _ in range(cols)] for _ in range(rows)]


def kind_of(value: Any) -> str | None:
    """The kind a value belongs to, or None when it is outside the vocabulary."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    for kind, type_ in (("int", int), ("float", float), ("bytes", bytes)):
        if isinstance(value, type_):
            return kind
    if isinstance(value, str):
        return "char" if len(value) == 1 else "str"
    if isinstance(value, (list, tuple, set)):
        inner = {"str" if k == "char" else k for k in map(kind_of, value)}
        element = inner.pop() if len(inner) == 1 else "int"
        container = {list: "list", tuple: "tuple", set: "set"}[type(value)]
        kind = f"{container}[{element}]"
        return kind if kind in KINDS else f"{container}[int]" if container != "list" else None
    if isinstance(value, dict):
        inner = {"str" if k == "char" else k for k in map(kind_of, value.values())}
        return "dict[str,str]" if inner == {"str"} else "dict[str,int]"
    return None
