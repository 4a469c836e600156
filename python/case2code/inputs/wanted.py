"""What a failed call's error says an argument should have been, for the built-in generator.

A TypeError often names the type it wanted and the type it got: `a bytes-like object is
required, not 'str'`. Read as evidence for the parameters that held a value of the type it got,
it lets the next round draw the wanted kind for them, as a fuzzer steers by the operands of a
failed comparison. On the standard library the `decode(input, errors)` functions of the codecs
had 86 of their 90 candidates fail so, and none returned. Only the error text is read here; the
inputs are parsed as literals on the host, never run.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Each rule: a pattern naming the type the call got (`got`), and the kinds it asks for.
RULES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(pattern), kinds)
    for pattern, kinds in (
        (r"a bytes-like object is required, not '(?P<got>\w+)'", ("bytes",)),
        (r"expected (?:a )?bytes-like object, not '?(?P<got>\w+)", ("bytes",)),
        (r"should be bytes, buffer or ASCII string, not '(?P<got>\w+)'", ("bytes",)),
        (r"expected str, bytes or os\.PathLike object, not '?(?P<got>\w+)", ("str",)),
        (r"must be str(?: or None)?, not '?(?P<got>\w+)", ("str",)),
        (r"must be a string, a bytes-like object or a real number, not '(?P<got>\w+)'",
         ("digits", "int")),
        (r"must be (?:an )?int(?:eger)?(?: or None)?, not '?(?P<got>\w+)", ("int",)),
        (r"must be real number, not '?(?P<got>\w+)", ("float", "int")),
        (r"must be a mapping, not '?(?P<got>\w+)", ("dict[str,int]", "dict[str,str]")),
        (r"'(?P<got>\w+)' object cannot be interpreted as an integer", ("int",)),
        (r"unsupported format string passed to (?P<got>\w+)\.__format__", ("int", "float")),
        (r"Unknown format code '[dxXobc]' for object of type '(?P<got>\w+)'", ("int",)),
        (r"Unknown format code '[eEfFgG%]' for object of type '(?P<got>\w+)'", ("float", "int")),
        (r"can only concatenate str \(not \"(?P<got>\w+)\"\) to str", ("str",)),
        (r"object of type '(?P<got>\w+)' has no len\(\)", ("str", "list[int]")),
        (r"'(?P<got>\w+)' object is not iterable", ("list[int]", "str")),
        (r"not supported between instances of '(?:int|float)' and '(?P<got>\w+)'", ("int",)),
        (r"not supported between instances of '(?P<got>\w+)' and '(?:int|float)'", ("int",)),
    )
)  # fmt: skip


@lru_cache(maxsize=1 << 14)
def wanted(error: str | None) -> tuple[str, tuple[str, ...]] | None:
    """(the type name the call got, the kinds the error asks for), or None. Cached: every
    round reads a function's whole history again."""
    if not error or not error.startswith(("<class 'TypeError'>", "<class 'ValueError'>: Unknown")):
        return None
    for pattern, kinds in RULES:
        found = pattern.search(error)
        if found:
            return found["got"], kinds
    return None


def type_name(value: object) -> str:
    """The name a TypeError gives the value's type."""
    return type(value).__name__


# ValueErrors naming the range an int argument had to be in, and the value it had.
RANGES = (
    re.compile(r"must be in (?P<lo>-?\d+)\.\.(?P<hi>-?\d+), not (?P<got>-?\d+)"),
    re.compile(r"(?P<got>-?\d+) must be in range (?P<lo>-?\d+)\.\.(?P<hi>-?\d+)"),
)


@lru_cache(maxsize=1 << 14)
def wanted_range(error: str | None) -> tuple[int, int, int] | None:
    """(the int the call got, the lowest and highest it wanted) from a ValueError such as
    `month must be in 1..12, not 2000`, or None."""
    if not error or not error.startswith("<class 'ValueError'>"):
        return None
    for pattern in RANGES:
        found = pattern.search(error)
        if found and int(found["lo"]) <= int(found["hi"]):
            return int(found["got"]), int(found["lo"]), int(found["hi"])
    return None
