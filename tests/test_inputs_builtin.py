"""The built-in input generator and the inputs stage, against the real sandbox and real stdlib
functions."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import polars as pl
import pytest
from case2code import ExtractConfig, extract, extract_source
from case2code.errors import C2CError
from case2code.inputs import (
    INPUT_SCHEMA,
    BuiltinGenerator,
    FunctionSpec,
    InputsConfig,
    Request,
    generate_inputs,
    generate_inputs_to_parquet,
)
from case2code.inputs.analyze import analyze, annotation_kinds
from case2code.inputs.literals import NotLiteral, canonical, render_arguments, values
from case2code.inputs.mutate import mutate
from case2code.inputs.stage import Tried, report_path, select
from case2code.inputs.values import KINDS, Sampler, kind_of


def spec_of(source: str, name: str) -> FunctionSpec:
    """The function as the extraction stage delivers it."""
    functions = extract_source(source, config=ExtractConfig(min_lines=1)).functions
    return FunctionSpec.from_row(functions.filter(pl.col("name") == name).row(0, named=True))


# ------------------------------------------------------------------ literals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1, [2,3], key='x',", "(1, [2, 3], key='x')"),
        ("(1)", "(1)"),
        ("((1, 2), 3)", "((1, 2), 3)"),
        ("(1, 2), (3, 4)", "((1, 2), (3, 4))"),
        ("(-1.5, 2+3j, b'x', None)", "(-1.5, 2 + 3j, b'x', None)"),
        ("(frozenset({1}), float('inf'), *[1], **{'a': 2})", None),
    ],
)
def test_canonical_argument_lists(text: str, expected: str | None) -> None:
    out = canonical(text)
    assert out == (expected or out)
    assert canonical(out) == out


@pytest.mark.parametrize(
    "text", ["(f(1))", "(x)", "('a' * 10)", "(lambda: 1)", "([i for i in range(3)])", "(1"]
)
def test_non_literals_are_refused(text: str) -> None:
    with pytest.raises(NotLiteral):
        canonical(text)


def test_host_never_evaluates_sized_constructors() -> None:
    # bytes(10**9) would allocate a gigabyte here; the host leaves it to the sandbox.
    assert canonical("(bytes(1000000000))") == "(bytes(1000000000))"
    assert values("(bytes(1000000000))") is None
    assert values("(int('9' * 5))") is None


def test_values_round_trip_through_render() -> None:
    rng = random.Random(7)
    sampler = Sampler(rng)
    for _ in range(300):
        args = [sampler.sample(rng.choice(KINDS)) for _ in range(rng.randint(0, 3))]
        text = render_arguments(args, {"key": sampler.sample("dict[str,int]")})
        parsed = values(text)
        assert parsed is not None
        assert list(parsed.args) == args
        assert parsed.render() == text


# ------------------------------------------------------------------ analysis


@pytest.mark.parametrize(
    ("annotation", "kinds"),
    [
        ("int", {"int"}),
        ("Optional[str]", {"str", "none"}),
        ("list[int] | None", {"list[int]", "none"}),
        ("Sequence[str]", {"list[str]"}),
        ("Dict[str, str]", {"dict[str,str]"}),
        ("'float'", {"float"}),
        ("MyClass", set()),
    ],
)
def test_annotations_give_kinds(annotation: str, kinds: set[str]) -> None:
    assert set(annotation_kinds(annotation)) == kinds


def top(weights: dict[str, float]) -> str:
    return max(weights, key=weights.get)


def test_usage_names_and_defaults_give_kinds() -> None:
    spec = spec_of(
        "def f(text, items, table, count=3, flag=False):\n"
        "    words = text.split()\n"
        "    items.append(len(words))\n"
        "    if table['mode'] == 'fast':\n"
        "        return count + 1\n"
        "    return flag\n",
        "f",
    )
    weights = analyze(spec).weights
    assert top(weights["text"]) == "str"
    assert top(weights["items"]).startswith("list")
    assert top(weights["table"]).startswith("dict")
    assert top(weights["count"]) == "int"
    assert top(weights["flag"]) == "bool"


def test_doctests_and_compared_constants_are_harvested() -> None:
    spec = spec_of(
        'def g(mode, n):\n    """\n    >>> g("GET", 3)\n    4\n    """\n'
        "    if mode == 'POST':\n        return n * 2\n    return n + 1\n",
        "g",
    )
    hints = analyze(spec)
    assert hints.examples == ["('GET', 3)"]
    assert "POST" in hints.per_param_constants["mode"]


# ------------------------------------------------------------------ mutation


def test_mutation_keeps_types() -> None:
    rng = random.Random(3)
    sampler = Sampler(rng)
    changed = 0
    for _ in range(500):
        kind = rng.choice([k for k in KINDS if k != "none"])
        original = values(render_arguments([sampler.sample(kind)]))
        assert original is not None
        child = mutate(original, sampler)
        value = child.args[0]
        assert type(value) is type(original.args[0])
        changed += child != original
        assert values(child.render()) == child
    assert changed > 350


def test_kind_of_inverts_sampling() -> None:
    sampler = Sampler(random.Random(1))
    loose = {"digits": {"str", "char"}, "str": {"str", "char"}}
    for kind in KINDS:
        for _ in range(30):
            value = sampler.sample(kind)
            if isinstance(value, (list, tuple, set, dict)) and not value:
                continue  # an empty container's element kind is unknowable
            assert kind_of(value) in loose.get(kind, {kind}), (kind, value)


# ------------------------------------------------------------------ selection


def test_select_prefers_new_outputs_and_caps_errors() -> None:
    tried = [Tried(f"({i})", "ok", None, str(i % 3)) for i in range(6)]
    tried += [Tried(f"('e{i}')", "error", f"<class 'E'>: {i % 2}") for i in range(4)]
    tried += [Tried("(9)", "timeout")]
    chosen = select(tried, n=5, max_errors=1)
    assert [t.input for t in chosen] == ["(0)", "(1)", "(2)", "(3)", "('e0')"]
    assert select([Tried("('x')", "error", "boom")], n=5, max_errors=2) == []


# ------------------------------------------------------------------ the stage, for real


@pytest.fixture(scope="module")
def stdlib_functions() -> pl.DataFrame:
    functions = extract(config=ExtractConfig(min_lines=1)).functions
    return functions.unique("function_id").sort("function_id")


def test_builtin_inputs_run_on_real_stdlib_functions(stdlib_functions, sandbox) -> None:
    sample = stdlib_functions.sample(60, seed=11)
    config = InputsConfig(n_inputs=8, min_valid=5, rounds=3)
    result = generate_inputs(sample, BuiltinGenerator(), config, sandbox=sandbox)
    inputs = result.inputs
    figures = result.report()
    assert figures["functions"] == 60
    # Most real functions reach five valid inputs (the benchmark measures the exact share).
    assert figures["share_with_min_valid"] > 0.5
    assert inputs.group_by("function_id").len()["len"].max() <= 8
    assert set(inputs["status"]) <= {"ok", "error"}
    assert inputs.select(pl.struct("function_id", "input").is_unique().all()).item()
    for text in inputs["input"]:
        assert canonical(text) == text
    # What the stage kept as valid, the sandbox still runs without error.
    kept = inputs.filter(pl.col("status") == "ok").group_by("function_id").agg("input")
    sources = sample.select("function_id", "name", "source").join(kept, on="function_id")
    calls = list(zip(sources["source"], sources["name"], sources["input"], strict=True))
    for cases in sandbox.run(calls):
        assert all(case.status == "ok" for case in cases)


def test_builtin_generation_is_deterministic(stdlib_functions, sandbox) -> None:
    sample = stdlib_functions.sample(25, seed=5)
    config = InputsConfig(rounds=2, seed=4)
    first = generate_inputs(sample, BuiltinGenerator(), config, sandbox=sandbox).inputs
    again = generate_inputs(sample, BuiltinGenerator(), config, sandbox=sandbox).inputs
    assert first.equals(again)
    other = generate_inputs(
        sample, BuiltinGenerator(), InputsConfig(rounds=2, seed=5), sandbox=sandbox
    ).inputs
    assert not first.equals(other)


def test_later_rounds_learn_from_the_sandbox() -> None:
    # `s` has no evidence at all; after round 0 fails for every non-str, str must dominate.
    spec = spec_of("def shout(s):\n    return s.upper() + '!'\n", "shout")
    generator = BuiltinGenerator()
    history = tuple(
        Tried(c.input, "ok" if c.input.startswith("('") else "error")
        for c in generator.propose_one(Request(spec, 10)).candidates
    )
    later = generator.propose_one(Request(spec, 10, round=1, history=history))
    strings = sum(c.input.startswith("('") for c in later.candidates)
    assert strings / len(later.candidates) > 0.7


def test_inputs_stage_resumes_after_a_crash(stdlib_functions, tmp_path) -> None:
    functions = tmp_path / "functions.parquet"
    stdlib_functions.sample(30, seed=2).write_parquet(functions)
    config = InputsConfig(rounds=2, workers=2)
    whole = generate_inputs_to_parquet(
        functions, tmp_path / "whole.parquet", BuiltinGenerator(), config, shard_functions=10
    )

    class Crash(Exception):
        pass

    def crash_after_first_shard(done: int, total: int) -> None:
        if done >= 10:
            raise Crash

    resumed = tmp_path / "resumed.parquet"
    with pytest.raises(Crash):
        generate_inputs_to_parquet(
            functions, resumed, BuiltinGenerator(), config, 10, crash_after_first_shard
        )
    parts = resumed.with_name("resumed.parquet.parts")
    assert sorted(p.name for p in parts.glob("part-*")) == ["part-00000.json", "part-00000.parquet"]
    again = generate_inputs_to_parquet(
        functions, resumed, BuiltinGenerator(), config, shard_functions=10
    )
    assert pl.read_parquet(resumed).equals(pl.read_parquet(tmp_path / "whole.parquet"))
    assert again.report()["functions"] == whole.report()["functions"] == 30
    assert json.loads(report_path(resumed).read_text())["candidates"] == whole.tally.candidates
    assert not parts.exists()
    # Other settings must not mix with these shards.
    with pytest.raises(Crash):
        generate_inputs_to_parquet(
            functions, resumed, BuiltinGenerator(), config, 10, crash_after_first_shard
        )
    with pytest.raises(C2CError, match="different run"):
        generate_inputs_to_parquet(
            functions, resumed, BuiltinGenerator(), InputsConfig(rounds=3), 10
        )


def test_cli_inputs_writes_table_and_report(stdlib_functions, tmp_path) -> None:
    functions = tmp_path / "functions.parquet"
    stdlib_functions.sample(12, seed=8).write_parquet(functions)
    out = tmp_path / "inputs.parquet"
    done = subprocess.run(
        [sys.executable, "-m", "case2code", "inputs", str(functions), "-o", str(out),
         "--rounds", "2", "--workers", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "with >= 5 valid inputs" in done.stderr
    table = pl.read_parquet(out)
    assert table.columns == list(INPUT_SCHEMA)
    assert json.loads(report_path(out).read_text())["functions"] == 12
    bad = subprocess.run(
        [sys.executable, "-m", "case2code", "inputs", str(tmp_path / "nope.parquet")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode != 0
    message = " ".join(bad.stderr.split())  # rich wraps long lines
    assert "nope.parquet does not exist" in message and "Traceback" not in message
