"""One function's failure never stops the inputs stage: the real lone-surrogate constant through
the real built-in generator and sandbox, and injected generator failures, each counted under its
reason while the other functions' inputs stay exactly what a run without the failure gives."""

from __future__ import annotations

import polars as pl
import pytest
from case2code import ExtractConfig, extract_source
from case2code.errors import C2CError
from case2code.inputs import (
    BuiltinGenerator,
    FunctionSpec,
    InputsConfig,
    Request,
    generate_inputs,
)
from case2code.inputs.literals import render_value
from case2code.inputs.parse import parse_response
from case2code.inputs.spec import Proposal

# `is_marker` holds the constant that killed a stdlib run 512 functions in: the built-in
# generator turned it into bytes for the `bytes`-annotated parameter (UnicodeEncodeError).
SOURCE = r"""
def is_marker(data: bytes, text: str):
    if text == '\udc00':
        return 'marker'
    return len(data) + len(text)

def add_one(x: int):
    return x + 1

def initials(name: str):
    return "".join(part[0] for part in name.split())

def double(values: list):
    return [v * 2 for v in values]

def scale(x: float, factor: float):
    return x * factor
"""
CONFIG = InputsConfig(n_inputs=5, min_valid=3, rounds=2, seed=3)


@pytest.fixture(scope="module")
def functions() -> pl.DataFrame:
    return extract_source(SOURCE, "hand.py", ExtractConfig(min_lines=1)).functions


def _inputs_of(inputs: pl.DataFrame, names: list[str], functions: pl.DataFrame) -> pl.DataFrame:
    ids = functions.filter(pl.col("name").is_in(names))["function_id"]
    return inputs.filter(pl.col("function_id").is_in(ids.implode())).sort("function_id", "input_id")


def test_lone_surrogate_constant_runs_through_the_builtin_generator(functions, sandbox) -> None:
    result = generate_inputs(functions, BuiltinGenerator(), CONFIG, sandbox=sandbox)
    assert result.report()["function_errors"] == {}
    marker_id = functions.filter(pl.col("name") == "is_marker")["function_id"].item()
    tried = result.inputs.filter(pl.col("function_id") == marker_id)["input"].to_list()
    assert tried and all(text.isascii() for text in tried)
    # The surrogate reached the sandbox as the str constant, written as an escape: the input
    # text stays valid UTF-8.
    assert any("'\\udc00'" in text for text in tried)
    # And the generator draws it in bytes too (UTF-8 with surrogatepass), where it used to raise.
    spec = FunctionSpec.from_row(
        functions.filter(pl.col("function_id") == marker_id).row(0, named=True)
    )
    [proposal] = BuiltinGenerator().propose([Request(spec, 10, seed=CONFIG.seed)])
    assert any("b'\\xed\\xb0\\x80'" in c.input for c in proposal.candidates)
    alone = generate_inputs(
        functions.filter(pl.col("name") != "is_marker"), BuiltinGenerator(), CONFIG, sandbox=sandbox
    )
    others = [n for n in functions["name"] if n != "is_marker"]
    assert _inputs_of(result.inputs, others, functions).equals(
        _inputs_of(alone.inputs, others, functions)
    )


class FailingFor(BuiltinGenerator):
    """The built-in generator, raising for the named functions (its `propose` then raises for
    every batch that holds one of them)."""

    def __init__(self, names: set[str], error: Exception) -> None:
        super().__init__()
        self.names, self.error = names, error
        self.batches: list[int] = []

    def propose(self, requests):  # type: ignore[no-untyped-def]
        self.batches.append(len(requests))
        return super().propose(requests)

    def propose_one(self, request: Request) -> Proposal:
        if request.spec.name in self.names:
            raise self.error
        return super().propose_one(request)


def test_a_generator_raising_for_some_functions_costs_only_those(functions, sandbox) -> None:
    failing = {"initials", "scale"}
    generator = FailingFor(failing, KeyError("boom"))
    result = generate_inputs(functions, generator, CONFIG, sandbox=sandbox)
    report = result.report()
    assert report["function_errors"] == {"generator_error: KeyError": 2}
    assert report["functions"] == 5
    kept = set(result.inputs["function_id"])
    ids = dict(zip(functions["name"], functions["function_id"], strict=True))
    assert {name for name, fid in ids.items() if fid in kept} == set(ids) - failing
    # The rest are untouched: the same inputs as a run of the built-in generator without them.
    clean = generate_inputs(
        functions.filter(~pl.col("name").is_in(sorted(failing))),
        BuiltinGenerator(),
        CONFIG,
        sandbox=sandbox,
    )
    assert result.inputs.sort("function_id", "input_id").equals(
        clean.inputs.sort("function_id", "input_id")
    )
    # A failing function is asked no more after its first error: later rounds send full
    # batches of the others only.
    assert generator.batches[0] == 5 and max(generator.batches[1:]) <= 3


def test_a_settings_mistake_in_the_generator_still_stops_the_run(functions, sandbox) -> None:
    generator = FailingFor({"add_one"}, C2CError("model not found: fix --model"))
    with pytest.raises(C2CError, match="model not found"):
        generate_inputs(functions, generator, CONFIG, sandbox=sandbox)


def test_huge_int_literals_are_refused_not_raised() -> None:
    # More digits than int_max_str_digits: hex parses, but cannot be written in decimal.
    huge = "0x" + "f" * 5000
    parsed = parse_response(f"f({huge})\nf(3)", "f", ["x"])
    assert parsed.inputs == ["(3)"]
    assert "cannot be written" in parsed.rejected[0].reason
    with pytest.raises(TypeError, match="20000-bit int"):
        render_value(int("f" * 5000, 16))
