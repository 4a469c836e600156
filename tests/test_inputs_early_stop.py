"""The inputs stage's early stops (issue 17), against the real sandbox: a function more rounds
cannot help is asked no more, one that is helped is asked as before, and the settings turn the
stops off."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import polars as pl
import pytest
from case2code import ExtractConfig, extract_source
from case2code.errors import C2CError
from case2code.inputs import BuiltinGenerator, FunctionSpec, InputsConfig, Request
from case2code.inputs.builtin import MIN_CANDIDATES
from case2code.inputs.literals import values
from case2code.inputs.spec import Tried
from case2code.inputs.stage import (
    VALIDATION_LIMITS,
    Tally,
    _wants_an_object,
    generate_block,
    report,
)
from case2code.inputs.values import KINDS, kind_of
from case2code.sandbox import CaseResult, Limits, Sandbox

SOURCE = """
def child_count(node):
    return len(node.children)

def spin(n):
    steps = 0
    while steps >= 0:
        steps += 1
    return n

def always_raises(value):
    if value is Ellipsis:  # no input the built-in generator writes
        return value
    raise ValueError("never")

def add(a: int, b: int) -> int:
    return a + b
"""
# A small budget: `spin` runs into it on every input, quickly.
LIMITS = Limits(fuel_per_case=5_000_000, wall_ms_per_case=2_000, check_stability=False)
CONFIG = InputsConfig(n_inputs=6, min_valid=3, rounds=4, seed=7, limits=LIMITS)
CUTS_OFF = InputsConfig(
    n_inputs=6, min_valid=3, rounds=4, seed=7, limits=LIMITS, patience=0, max_limit_hits=0
)


class RoundsSeen:
    """A real sandbox that notes which functions each call (one per round) ran."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.rounds: list[list[str]] = []

    def run(self, calls: Sequence[tuple[str, str, Sequence[str]]]) -> list[list[CaseResult]]:
        calls = list(calls)
        self.rounds.append([name for _, name, _ in calls])
        return self.sandbox.run(calls)

    def rounds_of(self, name: str) -> int:
        return sum(name in names for names in self.rounds)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(LIMITS, workers=1) as opened:
        yield opened


def specs(*names: str) -> list[FunctionSpec]:
    functions = extract_source(SOURCE, config=ExtractConfig(min_lines=1)).functions
    rows = functions.filter(pl.col("name").is_in(names)).iter_rows(named=True)
    found = [FunctionSpec.from_row(row) for row in rows]
    assert sorted(s.name for s in found) == sorted(names), "SOURCE defines each function once"
    return found


def run(names: Sequence[str], config: InputsConfig, sandbox: Sandbox):
    seen = RoundsSeen(sandbox)
    frame, tally = generate_block(specs(*names), BuiltinGenerator(), config, seen)  # type: ignore[arg-type]
    return frame, tally, seen


def test_a_function_wanting_an_object_is_given_up_after_one_round(sandbox: Sandbox) -> None:
    _, tally, seen = run(["child_count"], CONFIG, sandbox)
    assert seen.rounds_of("child_count") == 1
    assert tally.stopped == {"wants_an_object": 1}
    _, tally, seen = run(["child_count"], CUTS_OFF, sandbox)
    assert seen.rounds_of("child_count") == 4
    assert not tally.stopped


def test_a_function_whose_inputs_run_out_of_budget_is_given_up(sandbox: Sandbox) -> None:
    _, tally, seen = run(["spin"], CONFIG, sandbox)
    assert seen.rounds_of("spin") == 1, "round 0's candidates all hit the budget"
    assert tally.stopped == {"limit_hits": 1}
    assert tally.statuses["timeout"] >= CONFIG.max_limit_hits


def test_a_function_no_round_helps_is_given_up_after_patience_rounds(sandbox: Sandbox) -> None:
    _, tally, seen = run(["always_raises"], CONFIG, sandbox)
    assert seen.rounds_of("always_raises") == CONFIG.patience
    assert tally.stopped == {"no_new_valid_input": 1}
    _, tally, seen = run(["always_raises"], CUTS_OFF, sandbox)
    assert seen.rounds_of("always_raises") == CUTS_OFF.rounds
    assert not tally.stopped


def test_functions_that_return_keep_the_same_inputs(sandbox: Sandbox) -> None:
    """The stops cost nothing to a function that returns: its kept inputs are those of the stage
    without them, beside given-up neighbours, and the same on every run."""
    names = ["add", "child_count", "always_raises"]
    frame, tally, _ = run(names, CONFIG, sandbox)
    again, _, _ = run(names, CONFIG, sandbox)
    before, _, _ = run(names, CUTS_OFF, sandbox)
    assert frame.equals(again)
    kept = frame.filter(pl.col("function_id") == specs("add")[0].function_id)
    assert kept.height == CONFIG.n_inputs
    assert (kept["status"] == "ok").sum() >= CONFIG.n_inputs * (1 - CONFIG.error_share)
    assert kept.equals(before.filter(pl.col("function_id") == specs("add")[0].function_id))
    stopped = report(tally, CONFIG)["functions_stopped_early"]
    # Guided, `add` may be asked on for arms no input ran (until a round brings none): the
    # stops here are the others'.
    assert {k: v for k, v in stopped.items() if k != "no_new_arm"} == {
        "wants_an_object": 1,
        "no_new_valid_input": 1,
    }


def test_stopped_counts_survive_a_resume() -> None:
    tally = Tally(functions=3)
    tally.stopped["limit_hits"] = 2
    assert Tally.from_json(tally.to_json()).stopped == {"limit_hits": 2}
    written_before = {k: v for k, v in tally.to_json().items() if k != "stopped"}
    assert not Tally.from_json(written_before).stopped, "a shard from before issue 17 resumes"


@pytest.mark.parametrize(
    ("error", "wants"),
    [
        ("<class 'AttributeError'>: 'int' object has no attribute 'children'", True),
        ("<class 'AttributeError'>: 'NoneType' object has no attribute 'tag'", True),
        ("<class 'AttributeError'>: 'list' object has no attribute 'split'", False),  # str has
        ("<class 'AttributeError'>: 'dict' object has no attribute 'real'", False),  # int has
        ("<class 'TypeError'>: 'int' object is not iterable", False),
    ],
)
def test_an_attribute_no_literal_has(error: str, wants: bool) -> None:
    assert _wants_an_object(Tried("(1,)", "error", error)) is wants
    assert not _wants_an_object(Tried("(1,)", "ok", error))


@pytest.mark.parametrize("key", ["patience", "max_limit_hits"])
def test_negative_settings_are_refused(key: str) -> None:
    with pytest.raises(C2CError, match=key):
        InputsConfig(**{key: -1})


def test_validation_budget_is_a_twentieth_of_execution() -> None:
    assert VALIDATION_LIMITS.fuel_per_case * 20 == Limits().fuel_per_case


def test_a_stuck_function_is_offered_every_kind_and_twice_the_inputs() -> None:
    """No input has returned yet: the next round covers the kinds not tried (the function is
    given up a round later), with twice the candidates."""
    [spec] = specs("always_raises")
    failed = tuple(
        Tried(repr((f"text {i}",)), "error", "<class 'ValueError'>: never") for i in range(30)
    )
    proposal = BuiltinGenerator().propose_one(Request(spec, want=10, round=1, history=failed))
    kinds = Counter(kind_of(values(c.input).args[0]) for c in proposal.candidates)
    assert len(proposal.candidates) == 2 * max(MIN_CANDIDATES, 3 * 10)
    assert len(kinds) >= len(KINDS) - 2, kinds
    # Spread over the kinds not tried, not piled on the broad prior's favourites (int, str).
    assert max(kinds.values()) <= len(proposal.candidates) / 5, kinds
