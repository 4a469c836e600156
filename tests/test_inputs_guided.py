"""Coverage-guided input generation (issue 17), through the real sandbox: the guided stage
reaches branches the unguided one misses with the same seed and rounds, its kept inputs cover
at least as many arms and carry the coverage the execute stage measures, and an LLM's re-prompt
names the source lines no input ran."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import polars as pl
import pytest
from case2code import ExtractConfig, execute, extract_source
from case2code.coverage import summary
from case2code.inputs import BuiltinGenerator, FunctionSpec, InputsConfig, Proposal, Request
from case2code.inputs.guide import code_lines, novel, select_covering
from case2code.inputs.llm import LLMSettings, build_prompts
from case2code.inputs.spec import Candidate, Tried
from case2code.inputs.stage import VALIDATION_LIMITS, generate_block, report
from case2code.sandbox import Limits, Sandbox

SOURCE = '''
def bucket(n):
    if not isinstance(n, int):
        raise TypeError("int wanted")
    if n > 1000:
        if n % 2 == 0:
            return "big even"
        return "big odd"
    if n < 0:
        return "negative"
    return "small"


def first_words(text, limit):
    """The first `limit` words of the text."""
    words = text.split()
    # a comment line holds no code
    if len(words) > limit:
        if limit < 0:
            raise ValueError("negative limit")
        return words[:limit]
    return words
'''
SEEDS = range(6)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(VALIDATION_LIMITS, workers=1) as opened:
        yield opened


@pytest.fixture(scope="module")
def functions() -> pl.DataFrame:
    return extract_source(SOURCE, config=ExtractConfig(min_lines=1)).functions


def specs_of(functions: pl.DataFrame) -> list[FunctionSpec]:
    return [FunctionSpec.from_row(row) for row in functions.iter_rows(named=True)]


def arms_reached(frame: pl.DataFrame, functions: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """Per function name: (arms the kept inputs ran together, arms in total)."""
    per = frame.group_by("function_id").agg(
        pl.col("arms").explode().drop_nulls().n_unique().alias("hit"),
        pl.col("arms_total").max(),
    )
    named = per.join(functions.select("function_id", "name"), on="function_id")
    return {
        name: (hit, total) for name, hit, total in named.select("name", "hit", "arms_total").rows()
    }


def run(functions: pl.DataFrame, sandbox: Sandbox, seed: int, guided: bool):
    config = InputsConfig(seed=seed, guided=guided)
    return generate_block(specs_of(functions), BuiltinGenerator(), config, sandbox)


def test_guided_reaches_a_branch_the_unguided_stage_misses(functions, sandbox) -> None:
    # Seed 1: ten first guesses of `bucket` return, none above 1000; unguided, the function is
    # done; guided, it stays while arms are missing and mutation (x2, +1, ...) gets past 1000.
    unguided, _ = run(functions, sandbox, seed=1, guided=False)
    guided, tally = run(functions, sandbox, seed=1, guided=True)
    assert arms_reached(unguided, functions)["bucket"] == (5, 8)
    assert arms_reached(guided, functions)["bucket"] == (8, 8)
    assert tally.stopped["no_new_arm"] == 0, "it stopped once nothing was left to reach"


def test_guided_covers_at_least_as_many_arms_for_every_seed(functions, sandbox) -> None:
    gained = 0
    for seed in SEEDS:
        unguided = arms_reached(run(functions, sandbox, seed, guided=False)[0], functions)
        guided = arms_reached(run(functions, sandbox, seed, guided=True)[0], functions)
        for name, (hit, total) in guided.items():
            assert unguided[name][0] <= hit == total, (seed, name)
            gained += hit - unguided[name][0]
    assert gained >= len(SEEDS), "guidance adds arms on most seeds, not by chance on one"


def test_guided_is_deterministic_and_its_coverage_is_the_execute_stages(functions, sandbox) -> None:
    frame, tally = run(functions, sandbox, seed=3, guided=True)
    again, _ = run(functions, sandbox, seed=3, guided=True)
    assert frame.equals(again)
    # Each kept input's arms and lines are what the execute stage traces for it.
    results = execute(functions, frame.select("function_id", "input"), limits=Limits(), workers=1)
    traced = results.select("function_id", "input", "lines", "arms", "lines_total", "arms_total")
    kept = frame.select(traced.columns)
    assert kept.sort("function_id", "input").equals(traced.sort("function_id", "input"))
    figures = report(tally, InputsConfig(seed=3))
    by_function = summary(results, ["function_id"]).collect()
    assert figures["mean_branch_coverage"] == pytest.approx(by_function["branch_coverage"].mean())
    assert figures["functions_with_branches"] == by_function.height == 2
    assert figures["branch_coverage_bins"]["1.0"] == 2, "both at full coverage"
    assert sum(figures["branch_coverage_bins"].values()) == 2


def test_selection_takes_new_arms_first_then_new_outputs() -> None:
    tried = [
        Tried("(1,)", "ok", output="'small'", arms=(0, 2)),
        Tried("(2,)", "ok", output="'small'", arms=(0, 2)),
        Tried("(3,)", "ok", output="'three'", arms=(0, 2)),
        Tried("('x',)", "error", error="<class 'TypeError'>: int wanted", arms=(1,)),
        Tried("(2000,)", "ok", output="'big even'", arms=(0, 3, 4)),
        Tried("(2002,)", "ok", output="'big even'", arms=(0, 3, 4)),
    ]
    # As without guidance, a slot goes to the distinct error when errors may be kept; the
    # returns are the ones with most new arms, then a new output, the earliest first.
    assert [t.input for t in select_covering(tried, 2, max_errors=1)] == ["('x',)", "(2000,)"]
    assert [t.input for t in select_covering(tried, 3, max_errors=1)] == [
        "(1,)",
        "('x',)",
        "(2000,)",
    ]
    assert [t.input for t in select_covering(tried, 3, max_errors=0)] == [
        "(1,)",
        "(3,)",
        "(2000,)",
    ]
    assert select_covering(tried[3:4], 3, max_errors=1) == [], "a raise only beside a return"
    assert novel(tried) == {"(1,)", "('x',)", "(2000,)"}


def test_code_lines_are_the_lines_the_tracer_reports(functions, sandbox) -> None:
    """Every line `code_lines` names is one a call can run: the inputs that take every path
    run exactly those lines (no docstring, comment, blank or `def` line)."""
    calls = {"bucket": ["(2000,)", "(2001,)", "(-1,)", "(5,)", "('x',)"],
             "first_words": ["('a b c', 1)", "('a b c', -1)", "('a', 3)"]}  # fmt: skip
    specs = {s.name: s for s in specs_of(functions)}
    for name, inputs in calls.items():
        spec = specs[name]
        (cases,) = sandbox.run([(spec.source, name, inputs)])
        ran = {line for case in cases for line in case.lines or ()}
        assert set(code_lines(spec.source)) == ran, name
        assert {len(ran)} == {case.lines_total for case in cases}, name


class Scripted:
    """A stand-in for an LLM: answers each request with the next fixed inputs, and keeps the
    requests it was sent (the model is not what is tested here; the rounds and prompts are)."""

    name = "scripted"
    model = "scripted"

    def __init__(self, answers: Sequence[Sequence[str]]) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []

    def propose(self, requests: Sequence[Request]) -> list[Proposal]:
        self.requests += requests
        answer = self.answers[len(self.requests) - 1]
        return [
            Proposal(r.spec.function_id, [Candidate(a, self.name) for a in answer])
            for r in requests
        ]


def test_an_llm_is_re_prompted_with_the_lines_no_input_ran(functions, sandbox) -> None:
    spec = next(s for s in specs_of(functions) if s.name == "bucket")
    model = Scripted([[f"({n},)" for n in range(1, 11)], ["(2000,)", "(2001,)"]])
    config = InputsConfig(n_inputs=10, min_valid=5, rounds=3, reprompts=1, seed=0)
    frame, _ = generate_block([spec], model, config, sandbox)
    first, again = model.requests
    assert first.unreached == ()
    # Ten small numbers ran neither the raise, the `big` branch nor the negative one.
    source = spec.source.splitlines()
    named = [source[line - 1].strip() for line in again.unreached]
    assert named == [
        'raise TypeError("int wanted")',
        "if n % 2 == 0:",
        'return "big even"',
        'return "big odd"',
        'return "negative"',
    ]
    settings = LLMSettings()
    [prompt] = build_prompts([again], settings, settings.load_templates())
    asked = prompt.messages[-1]["content"]
    assert "No input so far ran these lines of `bucket`" in asked
    assert 'return "big even"' in asked and "if n > 1000" not in asked.split("No input")[1]
    # The re-prompt's inputs reached the branch: kept first, as they bring new arms.
    assert {"(2000,)", "(2001,)"} <= set(frame["input"])
    unguided = Scripted(model.answers)
    generate_block([spec], unguided, InputsConfig(seed=0, guided=False), sandbox)
    assert len(unguided.requests) == 1, "unguided, a function with its inputs is not re-asked"
