"""The built-in generator reads what failed calls say (issue 17): a TypeError naming the type it
wanted steers the next round's kinds for the parameters that held the type it got, a ValueError
naming the range an int had to be in steers that parameter's ints into it, and a `**kwargs`
parameter is given keywords. Real standard-library functions, the real sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from case2code import ExtractConfig, extract, extract_source
from case2code.inputs import BuiltinGenerator, FunctionSpec, InputsConfig
from case2code.inputs.stage import VALIDATION_LIMITS, generate_block
from case2code.inputs.wanted import wanted, wanted_range
from case2code.sandbox import Sandbox


class Unsteered(BuiltinGenerator):
    """The generator without either: no kinds from errors, no keywords."""

    wanted_share = 0.0
    keywords_rate = 0.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(VALIDATION_LIMITS, workers=1) as opened:
        yield opened


def stdlib_spec(stdlib_dir: Path, relative: str, name: str) -> FunctionSpec:
    functions = extract(stdlib_dir / relative, config=ExtractConfig(min_lines=1)).functions
    row = functions.filter(pl.col("name") == name).row(0, named=True)
    return FunctionSpec.from_row(row)


def valid_inputs(spec: FunctionSpec, generator: BuiltinGenerator, sandbox: Sandbox) -> set[str]:
    frame, _ = generate_block([spec], generator, InputsConfig(seed=0), sandbox)
    return set(frame.filter(pl.col("status") == "ok")["input"])


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("<class 'TypeError'>: a bytes-like object is required, not 'str'", ("str", ("bytes",))),
        ("<class 'TypeError'>: utf_16_le_decode() argument 2 must be str or None, not tuple",
         ("tuple", ("str",))),
        ("<class 'TypeError'>: 'float' object cannot be interpreted as an integer",
         ("float", ("int",))),
        ("<class 'TypeError'>: Value after ** must be a mapping, not list",
         ("list", ("dict[str,int]", "dict[str,str]"))),
        ("<class 'TypeError'>: expected str, bytes or os.PathLike object, not list",
         ("list", ("str",))),
        ("<class 'TypeError'>: unsupported format string passed to list.__format__",
         ("list", ("int", "float"))),
        # Not a TypeError, or one that names no wanted type: no evidence.
        ("<class 'ValueError'>: a bytes-like object is required, not 'str'", None),
        ("<class 'TypeError'>: '<=' not supported between instances of 'int' and 'str'",
         ("str", ("int",))),
        ("<class 'ValueError'>: Unknown format code 'd' for object of type 'float'",
         ("float", ("int",))),
        ("<class 'TypeError'>: '<' not supported between instances of 'str' and 'list'", None),
        (None, None),
    ],
)  # fmt: skip
def test_errors_name_the_kind_wanted(error: str | None, expected: tuple | None) -> None:
    assert wanted(error) == expected


def test_a_codec_wanting_bytes_gets_them_from_its_errors(stdlib_dir, sandbox) -> None:
    # `decode(input, errors='strict')`: the body says nothing of bytes; every other kind fails
    # with "a bytes-like object is required, not 'str'" (or 'list', ...).
    spec = stdlib_spec(stdlib_dir, "encodings/utf_16_le.py", "decode")
    steered = valid_inputs(spec, BuiltinGenerator(), sandbox)
    assert len(steered) >= 5
    assert all(text.startswith("(b'") for text in steered)
    assert len(valid_inputs(spec, Unsteered(), sandbox)) < 5, "as it was without steering"


def test_a_function_of_keywords_only_is_given_keywords(sandbox) -> None:
    source = "def settings(**options):\n    return sorted(options.items())\n"
    row = extract_source(source, config=ExtractConfig(min_lines=1)).functions.row(0, named=True)
    spec = FunctionSpec.from_row(row)
    given = valid_inputs(spec, BuiltinGenerator(), sandbox)
    assert len(given) >= 5
    assert "()" in given and any("=" in text for text in given)
    assert valid_inputs(spec, Unsteered(), sandbox) == {"()"}, "before: one input, ever"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("<class 'ValueError'>: month must be in 1..12, not 2000", (2000, 1, 12)),
        ("<class 'ValueError'>: day 400 must be in range 1..31 for month 5 in year 187",
         (400, 1, 31)),
        ("<class 'ValueError'>: hour must be in 0..23, not -1", (-1, 0, 23)),
        ("<class 'TypeError'>: month must be in 1..12, not 2000", None),
        ("<class 'ValueError'>: math domain error", None),
    ],
)  # fmt: skip
def test_errors_name_the_range_wanted(error: str, expected: tuple | None) -> None:
    assert wanted_range(error) == expected


def test_a_date_function_gets_ints_in_the_ranges_its_errors_name(stdlib_dir, sandbox) -> None:
    # `weekday(year, month, day)`: the body's constants (400, 2000) make poor months and days;
    # "month must be in 1..12, not 2000" and "day 400 must be in range 1..31" say where to look.
    spec = stdlib_spec(stdlib_dir, "calendar.py", "weekday")
    assert len(valid_inputs(spec, BuiltinGenerator(), sandbox)) >= 5
    assert len(valid_inputs(spec, Unsteered(), sandbox)) < 5, "as it was without steering"
