"""Type-aware mutation of inputs that ran, to grow and diversify a function's input set.

As in EvalPlus: take an argument list the function accepted, change one argument (sometimes
two) by a small type-preserving edit, and keep what the sandbox accepts. Edits stay within the
value's type, so an accepted input's neighbours are likely accepted too, but reach new branches:
boundaries (0, -1, empty), one element more or less, a changed character.
"""

from __future__ import annotations

import random
import string
from typing import Any

from case2code.inputs.literals import Arguments
from case2code.inputs.values import Sampler

_PRINTABLE = string.ascii_letters + string.digits + " _-.,:/"


def mutate(arguments: Arguments, sampler: Sampler) -> Arguments:
    """A copy of `arguments` with one or two values edited."""
    rng = sampler.rng
    args, kwargs = list(arguments.args), dict(arguments.kwargs)
    slots: list[tuple[str, int | str]] = [("a", i) for i in range(len(args))]
    slots += [("k", name) for name in kwargs]
    if not slots:
        return arguments
    for _ in range(1 if rng.random() < 0.8 else 2):
        where, key = rng.choice(slots)
        if where == "a":
            args[key] = mutate_value(args[key], sampler)  # type: ignore[index]
        else:
            kwargs[key] = mutate_value(kwargs[key], sampler)  # type: ignore[index]
    return Arguments(tuple(args), tuple(kwargs.items()))


def mutate_value(value: Any, sampler: Sampler, depth: int = 0) -> Any:
    rng = sampler.rng
    if value is None or depth > 3:
        return value
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return _int(value, rng)
    if isinstance(value, float):
        return _float(value, rng)
    if isinstance(value, str):
        return _text(value, rng, sampler)
    if isinstance(value, bytes):
        return _text(value.decode("latin-1"), rng, sampler).encode("latin-1", "replace")
    if isinstance(value, list):
        return _sequence(value, sampler, depth)
    if isinstance(value, tuple):
        if not value:
            return value
        i = rng.randrange(len(value))
        return (*value[:i], mutate_value(value[i], sampler, depth + 1), *value[i + 1 :])
    if isinstance(value, (set, frozenset)):
        items = _sequence(sorted(value, key=repr), sampler, depth)
        return type(value)(items) if all(_hashable(v) for v in items) else value
    if isinstance(value, dict):
        return _mapping(value, sampler, depth)
    return value


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _int(value: int, rng: random.Random) -> int:
    edit = rng.randrange(7)
    if edit == 0:
        return value + 1
    if edit == 1:
        return value - 1
    if edit == 2:
        return -value
    if edit == 3:
        return value * 2 if abs(value) < 10**9 else value // 2
    if edit == 4:
        return value // 2
    if edit == 5:
        return rng.choice((0, 1, -1))
    return value + rng.randint(-10, 10)


def _float(value: float, rng: random.Random) -> float:
    edit = rng.randrange(5)
    if edit == 0:
        return value + 1.0
    if edit == 1:
        return -value
    if edit == 2:
        return value / 2
    if edit == 3:
        return value * 3 if abs(value) < 1e12 else value
    return round(value + rng.uniform(-5, 5), 3)


def _text(value: str, rng: random.Random, sampler: Sampler) -> str:
    edit = rng.randrange(8)
    i = rng.randrange(len(value) + 1)
    if edit == 0 and value:  # delete a character
        return value[: max(i - 1, 0)] + value[i:]
    if edit == 1:  # insert a character
        return value[:i] + rng.choice(_PRINTABLE) + value[i:]
    if edit == 2 and value:  # replace a character
        j = rng.randrange(len(value))
        return value[:j] + rng.choice(_PRINTABLE) + value[j + 1 :]
    if edit == 3:
        return value.swapcase() if value.swapcase() != value else value + value
    if edit == 4 and len(value) > 1:  # a slice
        j = rng.randrange(len(value))
        return value[min(i, j) : max(i, j) + 1]
    if edit == 5:  # grow with a word the function may care about
        return value + rng.choice(("", " ", ",", "_")) + sampler.word()
    if edit == 6:
        return value[::-1]
    return ""


def _sequence(value: list[Any], sampler: Sampler, depth: int) -> list[Any]:
    rng = sampler.rng
    edit = rng.randrange(6)
    out = list(value)
    if edit == 0 and out:  # drop one
        del out[rng.randrange(len(out))]
    elif edit == 1 and out:  # append a neighbour of an element
        out.append(mutate_value(rng.choice(out), sampler, depth + 1))
    elif edit == 2 and out:  # edit one
        i = rng.randrange(len(out))
        out[i] = mutate_value(out[i], sampler, depth + 1)
    elif edit == 3 and len(out) > 1:
        rng.shuffle(out)
    elif edit == 4 and out:  # duplicate one
        out.insert(rng.randrange(len(out) + 1), rng.choice(out))
    elif edit == 5:
        out = out[: rng.randrange(len(out) + 1)]
    return out


def _mapping(value: dict[Any, Any], sampler: Sampler, depth: int) -> dict[Any, Any]:
    rng = sampler.rng
    out = dict(value)
    edit = rng.randrange(3)
    keys = list(out)
    if edit == 0 and keys:
        del out[rng.choice(keys)]
    elif edit == 1 and keys:
        key = rng.choice(keys)
        out[key] = mutate_value(out[key], sampler, depth + 1)
    else:
        key = mutate_value(rng.choice(keys), sampler, depth + 1) if keys else sampler.word()
        if _hashable(key):
            template = out[rng.choice(keys)] if keys else sampler.int_()
            out[key] = mutate_value(template, sampler, depth + 1)
    return out
