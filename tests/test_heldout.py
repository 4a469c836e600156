"""Inferable held-out cases: every branch arm a held-out case takes is taken by a shown case,
on hand-made results tables with the sandbox's coverage columns and on the real sandbox; the
fallbacks (no coverage, `held_out_choice = "random"`), the figures, the per-sample `coverage`
and the evaluation split built from the same choice."""

from __future__ import annotations

import random
from typing import Any

import polars as pl
import pytest
from case2code import C2CError
from case2code.assemble import (
    SAMPLE_SCHEMA,
    AssembleConfig,
    assemble,
    choose_cases,
    select_cases,
)
from case2code.coverage import summary as summary_of
from case2code.evalsplit import EvalRecordsStep, write_records
from case2code.execute import plan, run_jobs
from case2code.executors.local import LocalExecutor
from case2code.render import Case
from case2code.sandbox import Limits, Sandbox

# classify(x): four paths; with if/elif/elif, arms 0-1 are the first test, 2-3 the second,
# 4-5 the third (one taken per test reached).
CLASSIFY = """def classify(x):
    if x < 0:
        return "negative"
    elif x == 0:
        return "zero"
    elif x < 10:
        return "small"
    return "large"
"""
PATHS = {"negative": [0], "zero": [1, 2], "small": [1, 3, 4], "large": [1, 3, 5]}
LINES = {"negative": [2, 3], "zero": [2, 4, 5], "small": [2, 4, 6, 7], "large": [2, 4, 6, 8]}


def _label(x: int) -> str:
    return "negative" if x < 0 else "zero" if x == 0 else "small" if x < 10 else "large"


def _rows(function_id: str, xs: list[int], traced: bool = True) -> list[dict[str, Any]]:
    """classify's result rows, with the coverage the sandbox would write (null untraced)."""
    return [
        {
            "function_id": function_id,
            "case": case,
            "input": f"({x},)",
            "status": "ok",
            "value_repr": repr(_label(x)),
            "error_type": None,
            "error": None,
            "lines": LINES[_label(x)] if traced else None,
            "arms": PATHS[_label(x)] if traced else None,
            "lines_total": 7 if traced else None,
            "arms_total": 6 if traced else None,
        }
        for case, x in enumerate(xs)
    ]


RESULT_SCHEMA = {
    "function_id": pl.Utf8,
    "case": pl.UInt32,
    "input": pl.Utf8,
    "status": pl.Utf8,
    "value_repr": pl.Utf8,
    "error_type": pl.Utf8,
    "error": pl.Utf8,
    "lines": pl.List(pl.UInt32),
    "arms": pl.List(pl.UInt32),
    "lines_total": pl.UInt32,
    "arms_total": pl.UInt32,
}


def _tables(runs: dict[str, tuple[list[int], bool]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A functions table of classify under several ids and its results, per id: (xs, traced)."""
    functions = pl.DataFrame(
        [
            {"function_id": fid, "name": "classify", "source": CLASSIFY, "signature": "(x)"}
            for fid in runs
        ]
    )
    rows = [row for fid, (xs, traced) in runs.items() for row in _rows(fid, xs, traced)]
    return functions, pl.DataFrame(rows, schema=RESULT_SCHEMA)


def _arms_of(cases: list[dict[str, Any]]) -> set[int]:
    return {a for c in cases for a in PATHS[eval(c["output"])]}


def _cases(xs: list[int]) -> tuple[list[Case], list[frozenset[int]]]:
    cases = [Case(f"({x},)", repr(_label(x))) for x in xs]
    return cases, [frozenset(PATHS[_label(x)]) for x in xs]


# ---------------------------------------------------------------- the choice


@pytest.mark.parametrize("shown", [None, 3, 5])
def test_every_held_out_arm_is_shown(shown: int | None) -> None:
    cases, arms = _cases([-5, -1, 0, 0, 3, 4, 7, 20, 30, 11])
    config = AssembleConfig(shown=shown, held_out=2)
    for seed in range(200):
        shown_at, held_at = choose_cases(cases, config, random.Random(seed), arms)
        assert len(held_at) == 2 and not set(shown_at) & set(held_at)
        taken = frozenset().union(*(arms[i] for i in shown_at))
        assert all(arms[i] <= taken for i in held_at), seed
        if shown is not None:
            assert len(shown_at) == shown


def test_random_choice_breaks_the_rule_the_inferable_one_keeps() -> None:
    """The paper's choice (no arms) holds out a path no shown case took for some seeds."""
    cases, arms = _cases([-1, 0, 0, 5, 5, 20])
    config = AssembleConfig(shown=3, held_out=2)
    broken = 0
    for seed in range(100):
        shown_at, held_at = choose_cases(cases, config, random.Random(seed))
        taken = frozenset().union(*(arms[i] for i in shown_at))
        broken += not all(arms[i] <= taken for i in held_at)
    assert broken > 10


def test_same_arms_everywhere_shows_what_the_plain_choice_shows() -> None:
    """Where the rule cannot bind (one path for every case), the inferable choice shows the
    cases the diverse choice of before shows, seed for seed, and holds out as many, as many
    different outputs at least."""
    cases = [Case(f"({i},)", str(i % 4)) for i in range(10)]
    same = [frozenset({1, 3})] * 10
    differs = 0
    for shown in (None, 4):
        config = AssembleConfig(shown=shown, held_out=2)
        for seed in range(50):
            plain_shown, plain_held = select_cases(cases, config, random.Random(seed))
            ours_shown, ours_held = select_cases(cases, config, random.Random(seed), same)
            assert ours_shown == plain_shown and len(ours_held) == len(plain_held) == 2
            outputs = len({c.output for c in ours_held})
            assert outputs >= len({c.output for c in plain_held})
            differs += outputs > len({c.output for c in plain_held})
    assert differs, "a repeat held out twice by the plain choice is replaced"


def test_too_few_inferable_holds_out_fewer_never_an_uninferable_one() -> None:
    # Every case takes its own path: nothing can be held out.
    cases, arms = _cases([-1, 0, 5, 20])
    for seed in range(20):
        shown_at, held_at = choose_cases(
            cases, AssembleConfig(held_out=2), random.Random(seed), arms
        )
        assert held_at == [] and len(shown_at) == 3
    # One path twice: one case can be held out, shown beside its twin.
    cases, arms = _cases([-1, 0, 5, 20, 30])
    for seed in range(20):
        shown_at, held_at = choose_cases(
            cases, AssembleConfig(shown=3, held_out=2), random.Random(seed), arms
        )
        assert len(held_at) == 1 and cases[held_at[0]].output == "'large'"
        assert "'large'" in {cases[i].output for i in shown_at}


def test_held_out_cases_differ_in_output_first() -> None:
    """Shown: one case per path; held out: two different outputs rather than a repeat."""
    cases, arms = _cases([-1, -2, -3, 0, 0, 5, 6, 20])
    config = AssembleConfig(shown=4, held_out=2)
    for seed in range(50):
        shown_at, held_at = choose_cases(cases, config, random.Random(seed), arms)
        assert {cases[i].output for i in shown_at} == {"'negative'", "'zero'", "'small'", "'large'"}
        assert len({cases[i].output for i in held_at}) == 2


def test_bad_choice_name_is_refused() -> None:
    with pytest.raises(C2CError, match=r"held_out_choice = 'randm' .*did you mean 'random'"):
        AssembleConfig(held_out_choice="randm")


# ---------------------------------------------------------------- the stage


def test_assemble_counts_how_each_function_was_chosen_and_writes_coverage() -> None:
    functions, results = _tables(
        {
            "a-full": ([-3, -1, 0, 0, 4, 5, 20, 30], True),
            "b-paths": ([-1, 0, 5, 20], True),  # every case its own path: none inferable
            "c-fewer": ([-1, 0, 5, 20, 30], True),  # only a `large` case can be held out
            "d-untraced": ([-3, -1, 0, 0, 4, 5, 20, 30], False),
        }
    )
    run = assemble(functions, results, AssembleConfig(seed=1, held_out=2))
    assert run.report["held_out_choice"] == {"inferable": 1, "inferable_fewer": 1, "untraced": 1}
    assert run.report["dropped"] == {"held_out_not_inferable": 1}
    assert run.report["samples_failed"] == {"held_out_not_inferable": 1}
    assert run.samples.schema == pl.Schema(SAMPLE_SCHEMA)
    rows = {r["function_id"]: r for r in run.samples.iter_rows(named=True)}
    assert set(rows) == {"a-full", "c-fewer", "d-untraced"}
    for fid in ("a-full", "c-fewer"):
        assert _arms_of(rows[fid]["held_out"]) <= _arms_of(rows[fid]["shown"])
    assert len(rows["a-full"]["held_out"]) == 2
    assert [c["output"] for c in rows["c-fewer"]["held_out"]] == ["'large'"]
    coverage = rows["c-fewer"]["coverage"]
    shown_arms = _arms_of(rows["c-fewer"]["shown"])
    shown_lines = {n for c in rows["c-fewer"]["shown"] for n in LINES[eval(c["output"])]}
    assert coverage == {
        "shown_line_coverage": len(shown_lines) / 7,
        "shown_branch_coverage": len(shown_arms) / 6,
        "line_coverage": 1.0,
        "branch_coverage": 1.0,
        "held_out_inferable": True,
    }
    assert coverage["shown_branch_coverage"] < 1.0  # three of the four paths shown
    assert rows["d-untraced"]["coverage"] is None


def test_the_random_choice_keeps_a_function_the_rule_drops() -> None:
    functions, results = _tables({"b-paths": ([-1, 0, 5, 20], True)})
    run = assemble(functions, results, AssembleConfig(held_out_choice="random"))
    (row,) = run.samples.iter_rows(named=True)
    assert len(row["held_out"]) == 1 and row["coverage"]["held_out_inferable"] is False


def test_random_choice_is_counted_and_its_coverage_says_when_it_breaks_the_rule() -> None:
    xs = [-1, 0, 0, 5, 5, 5, 20, 20, 30]
    functions, results = _tables({f"f{i}": (xs, True) for i in range(30)})
    run = assemble(functions, results, AssembleConfig(held_out_choice="random"))
    assert run.report["held_out_choice"] == {"random": 30}
    flags = [c["held_out_inferable"] for c in run.samples["coverage"].to_list()]
    for row, flag in zip(run.samples.iter_rows(named=True), flags, strict=True):
        assert flag == (_arms_of(row["held_out"]) <= _arms_of(row["shown"]))
    assert 0 < flags.count(False) < 30


def test_results_without_coverage_columns_fall_back() -> None:
    """A results table written before coverage existed assembles as before."""
    functions, results = _tables({"old": ([-3, -1, 0, 0, 4, 5, 20, 30], True)})
    old = results.drop("lines", "arms", "lines_total", "arms_total")
    run = assemble(functions, old, AssembleConfig(seed=3))
    assert run.report["held_out_choice"] == {"untraced": 1}
    plain = assemble(functions, results, AssembleConfig(seed=3, held_out_choice="random"))
    assert run.samples.drop("coverage").equals(plain.samples.drop("coverage"))


# ---------------------------------------------------------------- the evaluation split


def test_eval_split_counts_records_whose_held_out_cases_are_not_inferable(tmp_path) -> None:
    functions, results = _tables(
        {"a-full": ([-3, -1, 0, 0, 4, 5, 20, 30], True), "c-fewer": ([-1, 0, 5, 20, 30], True)}
    )
    functions = functions.with_columns(
        params=pl.lit([{"name": "x", "kind": "positional_or_keyword"}])
    )
    samples = assemble(functions, results, AssembleConfig(seed=1)).samples
    tables = {"samples": samples, "functions": functions}
    records = LocalExecutor().run(EvalRecordsStep(), tables).table
    assert records is not None
    assert records["held_out_inferable"].to_list() == [True, True]
    assert write_records(records, tmp_path / "eval.jsonl") == {"functions": 2}
    # A random choice that broke the rule is counted among the records written.
    random_choice = assemble(functions, results, AssembleConfig(held_out_choice="random"))
    assert random_choice.samples["coverage"].struct.field("held_out_inferable").to_list() == [
        True,
        False,
    ]
    tables["samples"] = random_choice.samples
    records = LocalExecutor().run(EvalRecordsStep(), tables).table
    assert records is not None
    counts = write_records(records, tmp_path / "eval.jsonl")
    assert counts == {"functions": 2, "held_out_not_inferable": 1}


# ---------------------------------------------------------------- on the real sandbox


def test_real_traced_results_hold_out_inferable_cases() -> None:
    """classify run with coverage in the sandbox: every sample's held-out cases take only arms
    its shown ones took (read from the results table), all-case coverage is what
    `coverage.summary` says, and a function whose every case takes its own path is dropped.
    """
    functions, _ = _tables({"many": ([], True), "paths": ([], True)})
    xs = {"many": [-3, -1, 0, 0, 4, 5, 20, 30], "paths": [-1, 0, 5, 20]}
    inputs = pl.DataFrame(
        [(fid, f"({x},)") for fid, values in xs.items() for x in values],
        schema=["function_id", "input"],
        orient="row",
    )
    with Sandbox(Limits(coverage=True), workers=1) as sandbox:
        results = run_jobs(sandbox, plan(functions, inputs)[0])
    assert results["arms"].null_count() == 0
    run = assemble(functions, results, AssembleConfig(seed=2, samples_per_function=10))
    assert run.report["held_out_choice"] == {"inferable": 1}
    assert run.report["dropped"] == {"held_out_not_inferable": 1}  # `paths`
    arms = {(r["function_id"], r["input"]): set(r["arms"]) for r in results.iter_rows(named=True)}
    summary = {
        r["function_id"]: r for r in summary_of(results, ["function_id"]).collect().to_dicts()
    }
    for row in run.samples.iter_rows(named=True):
        fid = row["function_id"]
        shown = set().union(*(arms[fid, c["input"]] for c in row["shown"]))
        assert all(arms[fid, c["input"]] <= shown for c in row["held_out"])
        assert len(row["held_out"]) == 2
        coverage = row["coverage"]
        assert coverage["held_out_inferable"] is True
        assert coverage["branch_coverage"] == summary[fid]["branch_coverage"] == 1.0
        assert coverage["line_coverage"] == summary[fid]["line_coverage"] == 1.0
        assert coverage["shown_branch_coverage"] == len(shown) / summary[fid]["arms_total"]
