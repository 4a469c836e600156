"""Inputs sent to the sandbox with their values marshalled by the host (`literals.packed`): the
driver unmarshals them instead of parsing the text, with the very same outcomes, probe included;
forms the host does not evaluate, and sets, still travel as text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from case2code.inputs import literals
from case2code.inputs.literals import packed
from case2code.sandbox import Limits, Sandbox

SOURCE = '''
import math


def describe(*args, **kwargs):
    """What the call got, as a model would have to infer it."""
    parts = [f"{type(a).__name__}:{a!r}" for a in args]
    parts += [f"{k}={v!r}" for k, v in kwargs.items()]
    return "; ".join(parts)


def total(xs, scale=1):
    return sum(xs) * scale


def mutates(items):
    items.append(len(items))
    return items


def first_of(s):
    for item in s:
        return item
'''
INPUTS = [
    "(1, [2, 3], key='x')",
    "({'b': [1, (2, 3)], 'a': None}, -0.0, 1e300)",
    "(float('nan'), float('-inf'), 2)",
    "(b'\\x00\\xff', 'ünïcødé', '\\ud800')",
    "(12345678901234567890123456789012345678901, -7, 3 + 4j, True)",
    "(*[1, 2], **{'k': 'v'})",
    "([[1, 2], [3]], ())",
    "(list('ab'), int('5'), bytes(3))",
    "({3, 1, 2}, frozenset({'a', 'b'}))",
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(Limits(), workers=1) as opened:  # the execute stage's limits: probe on
        yield opened


def outcomes(sandbox: Sandbox, calls: list[tuple[str, str, list[str]]]) -> list[tuple]:
    return [
        (c.status, c.value_repr, c.value_json, c.error, c.stdout, c.lines, c.arms)
        for cases in sandbox.run(calls)
        for c in cases
    ]


def test_host_packs_literal_values_ahead_of_the_text() -> None:
    text = "(1, [2, 3], key='x')"
    sent = packed(text)
    assert sent.startswith("\0") and sent.endswith(text)
    length, _, rest = sent[1:].partition(":")
    assert int(length) == len(rest) - len(text)


def test_the_same_input_is_always_the_same_bytes() -> None:
    # The values are cached on the host: a second packing sees them referenced more often,
    # which must not change the bytes (nor, then, the instructions the sandbox counts).
    text = "([[1, 2], 'a b c'], {'k': [3]}, 12345678901)"
    first = packed(text)
    held = literals.values(text)
    assert held is not None
    inner = [held.args[0][0], held.args[0][1], held.args[1]["k"]]  # referenced elsewhere too
    assert packed(text) == first, inner


@pytest.mark.parametrize(
    "text",
    [
        "({1, 2})",  # a set: its order on the host comes from the host's hash seed
        "([frozenset({1})])",
        "(int('5'))",  # constructors of scalars are the sandbox's to evaluate
        "(x(1))",
        "(1)(2)",  # a call of a call: not an argument list
        "(1, 2",
        "",
    ],
)
def test_forms_the_host_does_not_evaluate_travel_as_text(text: str) -> None:
    assert packed(text) == text


def test_packed_and_text_inputs_give_the_same_outcomes(sandbox, monkeypatch) -> None:
    calls = [
        (SOURCE, "describe", INPUTS),
        (SOURCE, "total", ["([1, 2, 3])", "([0.5, 0.25], scale=4)", "('ab')"]),
        (SOURCE, "mutates", ["([])", "([1, 2])", "([None])"]),
        (SOURCE, "first_of", ["({'x', 'y', 'z'})", "(['x'])", "('xyz')"]),
    ]
    assert any(packed(text) != text for _, _, inputs in calls for text in inputs)
    fast = outcomes(sandbox, calls)
    monkeypatch.setattr(literals, "packed", lambda text: text)
    slow = outcomes(sandbox, calls)
    assert fast == slow
    assert {status for status, *_ in fast} == {"ok", "error"}


def test_a_malformed_packed_input_is_an_invalid_input_not_a_crash(sandbox) -> None:
    # Raw text starting with NUL reaches the driver as it is: bad inputs, one case each.
    cases = sandbox.run([(SOURCE, "describe", ["\0zz:(1)", "\x005:abc(1)", "(1)"])])[0]
    assert [c.status for c in cases] == ["invalid_input", "invalid_input", "ok"]
