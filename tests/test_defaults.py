"""Each setting's default is defined for Python in its dataclass and for Rust in its `Default`;
`_core.defaults()` exposes Rust's, and these tests hold the two equal, field by field."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from case2code import _core
from case2code.dedup import DedupConfig
from case2code.extract import ExtractConfig
from case2code.sandbox import Limits

RUST = _core.defaults()
# The Python dataclass of each Rust settings type. Python-only fields (how the corpus is read,
# the keep rule, block sizes) have no Rust counterpart; every Rust field must have a Python one.
SETTINGS: dict[str, type[Any]] = {"limits": Limits, "dedup": DedupConfig, "extract": ExtractConfig}


def python_defaults(settings: type[Any]) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(settings)}


def test_rust_exposes_a_default_for_every_settings_type() -> None:
    assert set(RUST) == set(SETTINGS)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_python_defaults_equal_rust_defaults(name: str) -> None:
    python = python_defaults(SETTINGS[name])
    rust = RUST[name]
    assert set(rust) <= set(python), (
        f"Rust {name} settings missing in Python: {set(rust) - set(python)}"
    )
    for key, value in rust.items():
        assert python[key] == value, f"{name}.{key}: Python {python[key]!r}, Rust {value!r}"
        assert type(python[key]) is type(value), (
            f"{name}.{key}: {type(python[key])} vs {type(value)}"
        )


def test_every_limit_is_shared_with_rust() -> None:
    # Limits crosses the boundary field by field: Python may not hold one Rust does not read.
    assert set(python_defaults(Limits)) == set(RUST["limits"])


def test_rust_default_rules_and_lists_are_those_python_assumes() -> None:
    # ExtractConfig's empty `rules` and `lists` mean "every rule on, the built-in lists".
    assert ExtractConfig().rules == {} and ExtractConfig().lists == {}
    assert set(_core.default_lists()) == {
        "stdlib_modules",
        "builtins",
        "denied_builtins",
        "denied_modules",
        "denied_attributes",
        "allowed_decorators",
    }


def test_rust_settings_left_out_take_the_rust_defaults() -> None:
    # The constructors take no defaults of their own: a Deduper or Extractor built without
    # arguments behaves as one built from the defaults, and one built from a changed setting
    # does not.
    sources = ["def f(a):\n    b = a + 1\n    return b * 2\n"] * 2
    plain, explicit = _core.Deduper(), _core.Deduper(**RUST["dedup"])
    for deduper in (plain, explicit):
        deduper.add(sources, [0.0, 1.0])
    assert plain.finish() == explicit.finish()
    assert plain.bytes_per_function() == explicit.bytes_per_function()
    assert _core.Deduper(bands=10).bytes_per_function() != plain.bytes_per_function()

    text = "def g(x):\n    y = x * 3\n    z = y - 1\n    return z\n"
    by_default = _core.Extractor().extract_texts([text])
    assert by_default == _core.Extractor(**RUST["extract"]).extract_texts([text])
    assert by_default["functions"]["name"] == ["g"]
    assert _core.Extractor(min_lines=10).extract_texts([text])["functions"]["name"] == []
