"""The assemble stage on real extract output and real sandbox results: drops, case choice,
determinism, and every sample's answer reproducing its cases in the sandbox."""

from __future__ import annotations

import random
import re
import subprocess
import sys

import polars as pl
import pytest
from case2code import C2CError, ExtractConfig, extract_source
from case2code.assemble import AssembleConfig, argument_texts, assemble, drop_reason, select_cases
from case2code.execute import plan, run_jobs
from case2code.render import Case

SOURCE = """
def scale_sum(xs, factor):
    if not xs:
        raise ValueError("empty list")
    return sum(xs) * factor

def describe(n):
    if n < 0:
        return "negative"
    if n == 0:
        return "zero"
    return "small" if n < 10 else "large"

def pad_left(text, width):
    return text.rjust(width, "*")

def always_seven(x):
    return 7

def always_fails(x):
    return int("x" + str(x))

def first_of(a, b):
    return a

def make_counter(x):
    return lambda: x
"""
INPUTS = {
    "scale_sum": ["([1, 2], 3)", "([], 2)", "([5], 0)", "([4, 4], 1)", "([7, 1], -1)", "([2], 2)"],
    "describe": ["(-3)", "(0)", "(4)", "(12)", "(9)", "(100)"],
    "pad_left": ["('ab', 4)", "('', 2)", "('xyz', 1)", "('q', 3)", "('hi', 5)"],
    "always_seven": ["(1)", "(2)", "('a')", "([])", "(None)"],
    "always_fails": ["(1)", "(2)", "('a')", "(3.5)", "(None)"],
    "first_of": ["(1, 2)", "('abc', 0)", "([1], 2)", "(None, 5)", "(2.5, 1)"],
    "make_counter": ["(1)", "(2)", "(3)", "(4)", "(5)"],
}
NORMAL = {"scale_sum", "describe", "pad_left"}
FENCE = re.compile(r"\A```python\n(.*)\n```\Z", re.DOTALL)


@pytest.fixture(scope="module")
def functions() -> pl.DataFrame:
    table = extract_source(SOURCE, "hand.py", ExtractConfig(min_lines=1)).functions
    assert set(table["name"]) == set(INPUTS)
    return table.with_columns(licence=pl.lit("MIT"))


@pytest.fixture(scope="module")
def results(functions: pl.DataFrame, sandbox) -> pl.DataFrame:
    ids = dict(zip(functions["name"], functions["function_id"], strict=True))
    inputs = pl.DataFrame(
        [(ids[name], text) for name, texts in INPUTS.items() for text in texts],
        schema=["function_id", "input"],
        orient="row",
    )
    jobs, _ = plan(functions, inputs)
    return run_jobs(sandbox, jobs)


@pytest.fixture(scope="module")
def assembled(functions: pl.DataFrame, results: pl.DataFrame):
    return assemble(functions, results, AssembleConfig(seed=1, samples_per_function=4))


def test_drops_bad_functions_with_reasons(assembled, functions, results) -> None:
    report = assembled.report
    # make_counter returns a lambda, whose repr shows its address: a sandbox with the stability
    # check marks every case `unstable` (the function is dropped as such); without it, the
    # address filter drops each case and the function has too few left.
    counter = functions.filter(pl.col("name") == "make_counter")["function_id"].item()
    statuses = set(results.filter(pl.col("function_id") == counter)["status"])
    checked = statuses == {"unstable"}
    assert checked or statuses == {"ok"}
    assert report["dropped"] == {
        "constant_output": 1,
        "all_errors": 1,
        "echoes_input": 1,
        "unstable" if checked else "too_few_cases": 1,
    }
    assert set(assembled.samples["name"]) == NORMAL
    assert report["functions_in"] == len(INPUTS)
    assert report["functions_with_samples"] == len(NORMAL)
    assert report["samples"] == 4 * len(NORMAL)
    assert report["cases_kept"] == 17
    dropped_as = "status_unstable" if checked else "memory_address"
    assert report["cases_dropped"] == {dropped_as: len(INPUTS["make_counter"])}
    assert report["unstable_cases"] == (len(INPUTS["make_counter"]) if checked else 0)
    assert sum(report["template_mix"].values()) <= report["samples"]


def test_cases_come_from_the_results(assembled, results: pl.DataFrame) -> None:
    samples = assembled.samples
    assert samples["sample_id"].to_list() == [
        f"{fid}-{i % 4}" for i, fid in enumerate(samples["function_id"])
    ]
    outputs = {
        (row["function_id"], row["input"]): (row["value_repr"], False)
        if row["status"] == "ok"
        else (row["error"], True)
        for row in results.iter_rows(named=True)
    }
    for row in samples.iter_rows(named=True):
        shown = [(c["input"], c["output"], c["is_error"]) for c in row["shown"]]
        held = [(c["input"], c["output"], c["is_error"]) for c in row["held_out"]]
        assert 3 <= len(shown) and len(held) == 2
        assert not {c[0] for c in shown} & {c[0] for c in held}
        for text, output, is_error in shown + held:
            assert outputs[(row["function_id"], text)] == (output, is_error)
        assert row["completion"].strip("`\n").removeprefix("python\n").startswith("def ")
        assert row["licence"] == "MIT" and row["origin"] == "hand.py"
        assert row["messages"][-1] == {"role": "assistant", "content": row["completion"]}
    # scale_sum's empty-list exception is a case like any other.
    errors = [c for row in samples.iter_rows(named=True) for c in row["shown"] + row["held_out"]]
    assert "<class 'ValueError'>: empty list" in {c["output"] for c in errors if c["is_error"]}


def test_without_errors(functions: pl.DataFrame, results: pl.DataFrame) -> None:
    result = assemble(functions, results, AssembleConfig(keep_errors=False))
    cases = result.samples["shown"].explode().struct.field("is_error")
    assert not cases.any()
    # always_fails now has no usable case at all (nor make_counter, unless the sandbox found
    # its cases unstable, a reason checked first).
    dropped = result.report["dropped"]
    assert dropped["too_few_cases"] + dropped.get("unstable", 0) == 2


def test_reveal_shares(functions: pl.DataFrame, results: pl.DataFrame) -> None:
    config = AssembleConfig(reveal_shares={"hidden": 1.0}, multi_turn_share=0.0)
    samples = assemble(functions, results, config).samples
    for row in samples.iter_rows(named=True):
        assert "-hid-" in row["template_id"] and row["template_id"].endswith("-single")
        assert f"{row['name']}(" not in row["prompt"]
    with pytest.raises(C2CError):
        AssembleConfig(reveal_shares={"everything": 1.0})


def test_deterministic_for_a_seed(functions: pl.DataFrame, results: pl.DataFrame) -> None:
    def templates(seed: int) -> list[str]:
        config = AssembleConfig(seed=seed, samples_per_function=4)
        return assemble(functions, results, config).samples["template_id"].to_list()

    first = assemble(functions, results, AssembleConfig(seed=5)).samples
    assert first.equals(assemble(functions, results, AssembleConfig(seed=5)).samples)
    assert templates(5) == templates(5)
    assert templates(5) != templates(6)


def test_echo_compares_argument_texts() -> None:
    assert argument_texts("('abc')") == {"'abc'"}
    assert argument_texts("([1, 2], key={'a': 1.5})") == {"[1, 2]", "{'a': 1.5}"}
    assert argument_texts("(open('x'))") == set()  # not a literal: never evaluated
    echo = [Case("('abc', 1)", "'abc'"), Case("(2, 3)", "3"), Case("([], 0)", "[]")] * 2
    assert drop_reason(echo, AssembleConfig()) == "echoes_input"
    assert drop_reason([*echo, Case("(1, 1)", "2")], AssembleConfig()) is None


def test_select_prefers_distinct_outputs() -> None:
    cases = [Case(f"({i})", "0" if i < 6 else str(i)) for i in range(9)]
    config = AssembleConfig(shown=4, held_out=2)
    for seed in range(20):
        shown, held = select_cases(cases, config, random.Random(seed))
        assert len({c.output for c in shown}) == 4 and len(held) == 2
        assert not set(map(id, shown)) & set(map(id, held))


def test_answers_reproduce_their_cases(assembled, sandbox) -> None:
    calls = []
    expected = []
    for row in assembled.samples.iter_rows(named=True):
        match = FENCE.match(row["completion"])
        source = match.group(1) if match else row["completion"]
        cases = row["shown"] + row["held_out"]
        calls.append((source, row["name"], [c["input"] for c in cases]))
        expected.append([c["output"] for c in cases])
    got = [[r.paper_output for r in rs] for rs in sandbox.run(calls)]
    assert got == expected


def test_cli_assemble_writes_a_loadable_dataset(functions, results, tmp_path) -> None:
    functions.write_parquet(tmp_path / "functions.parquet")
    results.write_parquet(tmp_path / "results.parquet")
    out = tmp_path / "dataset"
    done = subprocess.run(
        [sys.executable, "-m", "case2code", "assemble", str(tmp_path / "functions.parquet"),
         str(tmp_path / "results.parquet"), "-o", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    samples = pl.read_parquet(out / "data" / "*.parquet")
    assert set(samples["name"]) == NORMAL
    assert (out / "README.md").is_file()
    assert "held-out choice: inferable" in done.stderr  # the results were traced
    random = subprocess.run(
        [sys.executable, "-m", "case2code", "assemble", str(tmp_path / "functions.parquet"),
         str(tmp_path / "results.parquet"), "-o", str(tmp_path / "random"),
         "--held-out-choice", "random"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert random.returncode == 0, random.stderr
    assert "held-out choice: random" in random.stderr
    wrong = subprocess.run(
        [sys.executable, "-m", "case2code", "assemble", str(tmp_path / "functions.parquet"),
         str(tmp_path / "results.parquet"), "--held-out-choice", "inferrable"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert wrong.returncode == 2 and "inferable" in wrong.stderr and "Traceback" not in wrong.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "case2code", "assemble", str(tmp_path / "functions.parquet"),
         str(tmp_path / "nope.parquet")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    message = " ".join(missing.stderr.split())
    assert missing.returncode != 0 and "nope.parquet does not exist" in message
    assert "Traceback" not in message
