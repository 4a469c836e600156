"""Coverage traced in the sandbox: exact lines and branch arms on functions whose structure is
known, nothing for calls that were not made, and results unchanged by tracing."""

from __future__ import annotations

import pytest
from case2code.sandbox import CaseResult, Limits, Sandbox

SIGN = """CONSTANT = 3


def sign(x):
    if x > 0:
        return "positive"
    elif x < 0:
        return "negative"
    return "zero"
"""

LOOP = """def total(n):
    t = 0
    for i in range(n):
        t += i
    return t
"""

HELPER = """def _double(v):
    return [x * 2 for x in v]


def doubled_sum(values, keep=lambda x: x > 1):
    kept = [x for x in _double(values) if keep(x)]
    if not kept:
        raise ValueError("nothing kept")
    return sum(kept)
"""


@pytest.fixture(scope="module")
def traced() -> Sandbox:
    with Sandbox(Limits(), workers=1) as sandbox:  # tracing is on by default
        yield sandbox


def _union(results: list[CaseResult], field: str) -> set[int]:
    return {n for r in results for n in (getattr(r, field) or [])}


def test_each_branch_of_an_if_elif_is_one_pair_of_arms(traced: Sandbox) -> None:
    (results,) = traced.run([(SIGN, "sign", ["(1,)", "(-1,)", "(0,)"])])
    assert [r.value_repr for r in results] == ["'positive'", "'negative'", "'zero'"]
    # Two conditional jumps, two arms each; five lines with code (module-level lines are not
    # the function's: `CONSTANT = 3` and the `def` line are not counted).
    assert {(r.lines_total, r.arms_total) for r in results} == {(5, 4)}
    positive, negative, zero = results
    assert positive.lines == [5, 6]
    assert negative.lines == [5, 7, 8]
    assert zero.lines == [5, 7, 9]
    assert len(positive.arms) == 1 and len(negative.arms) == 2 and len(zero.arms) == 2
    # x > 0 goes one way for 1 and the other for -1 and 0; x < 0 splits -1 from 0.
    assert positive.arms[0] != negative.arms[0] == zero.arms[0]
    assert negative.arms[1] != zero.arms[1]
    assert _union(results, "arms") == {0, 1, 2, 3}
    assert _union(results, "lines") == {5, 6, 7, 8, 9}


def test_a_loop_never_entered_takes_only_its_exit_arm(traced: Sandbox) -> None:
    (results,) = traced.run([(LOOP, "total", ["(0,)", "(3,)"])])
    empty, three = results
    assert (empty.value_repr, three.value_repr) == ("0", "3")
    assert empty.arms_total == three.arms_total == 2
    assert len(empty.arms) == 1 and sorted(three.arms) == [0, 1]
    assert 4 not in empty.lines and 4 in three.lines
    assert three.lines_total == 5 - 1  # `def` is not a line of code the call runs


def test_carried_helpers_and_lambdas_count_and_raising_calls_report(traced: Sandbox) -> None:
    (results,) = traced.run([(HELPER, "doubled_sum", ["([1, 2],)", "([0],)"])])
    ok, raised = results
    assert ok.status == "ok" and ok.value_repr == "6"
    assert raised.status == "error" and raised.error_type == "ValueError"
    assert 2 in ok.lines, "the helper's body is the function's code"
    # The raising case still says what it ran, up to the raise.
    assert raised.lines is not None and 8 in raised.lines and 9 not in raised.lines
    assert ok.lines_total == raised.lines_total == 6  # helper 1, lambda 1 (on line 5), body 4
    assert set(ok.arms) != set(raised.arms)


def test_annotations_are_not_code_a_call_runs(traced: Sandbox) -> None:
    # CPython 3.14+ compiles annotations into an `__annotate__` function run on request only.
    annotated = "def add(a: int, b: int = 0) -> int:\n    return a + b\n"
    (results,) = traced.run([(annotated, "add", ["(1, 2)"])])
    assert (results[0].value_repr, results[0].lines, results[0].lines_total) == ("3", [2], 1)
    assert results[0].arms_total == 0


def test_no_coverage_without_a_call_or_when_off(traced: Sandbox) -> None:
    (results,) = traced.run([(SIGN, "sign", ["not a call", "(1,)"])])
    assert results[0].status == "invalid_input" and results[0].lines is None
    assert results[1].lines == [5, 6]
    (broken,) = traced.run([("def f(:\n    pass\n", "f", ["()"])])
    assert broken[0].status == "error" and broken[0].arms is None
    with Sandbox(Limits(coverage=False), workers=1) as plain:
        (untraced,) = plain.run([(SIGN, "sign", ["(1,)"])])
    assert untraced[0].value_repr == "'positive'" and untraced[0].lines is None


def test_tracing_leaves_results_and_arm_numbering_unchanged(traced: Sandbox) -> None:
    calls = [
        (SIGN, "sign", ["(1,)", "(-2,)", "(0,)"]),
        (LOOP, "total", ["(5,)", "(0,)"]),
        (HELPER, "doubled_sum", ["([3, 4],)", "([],)"]),
    ]
    with Sandbox(Limits(coverage=False), workers=1) as plain:
        untraced = plain.run(calls)
    with Sandbox(Limits(coverage=True, isolation="case"), workers=1) as per_case:
        alone = per_case.run(calls)
    together = traced.run(calls)
    for got, want in zip(together, untraced, strict=True):
        assert [(r.status, r.value_repr, r.error) for r in got] == [
            (r.status, r.value_repr, r.error) for r in want
        ]
    # A fresh interpreter per case numbers the arms the same way.
    assert [[r.arms for r in job] for job in alone] == [[r.arms for r in job] for job in together]


def test_code_that_takes_the_tracer_away_only_loses_its_own_coverage(traced: Sandbox) -> None:
    hostile = """import sys


def grab(x):
    m = sys.monitoring
    if m.get_tool(m.COVERAGE_ID) is not None:
        m.set_local_events(m.COVERAGE_ID, grab.__code__, 0)
        m.free_tool_id(m.COVERAGE_ID)
    return x + 1
"""
    results = traced.run([(hostile, "grab", ["(1,)", "(2,)"]), (SIGN, "sign", ["(0,)"])])
    assert [r.value_repr for r in results[0]] == ["2", "3"]
    assert results[1][0].lines == [5, 7, 9], "the next function is traced in its own instance"
