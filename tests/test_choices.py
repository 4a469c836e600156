"""The seeded choices as global steps (`steps.choices`) choose what the pipeline chose before
they were steps: the same `max_functions` sample and the same evaluation split for the same
seed, on the real functions of the standard library, taken from a Parquet table through the
executor's `decide` (which reads only the summary columns)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from case2code.errors import C2CError
from case2code.executors import LocalExecutor
from case2code.extract import extract
from case2code.steps.choices import EvalSplit, SampleFunctions

# ------------------------------------------------ the choices as pipeline.py made them before


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def reference_sample(functions: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    if functions.height <= n:
        return functions
    ranked = functions.with_columns(
        pl.col("function_id")
        .map_elements(lambda f: _digest("sample", seed, f), return_dtype=pl.Utf8)
        .alias("_rank")
    )
    return ranked.sort("_rank").head(n).drop("_rank").sort("function_id")


def reference_eval(
    function_ids: list[str], share: float, most: int, seed: int, writable: Callable[[str], bool]
) -> set[str]:
    wanted = min(most, math.floor(share * len(function_ids) + 0.5))
    ranked = sorted(function_ids, key=lambda f: _digest("eval", seed, f))
    return set(itertools.islice((f for f in ranked if writable(f)), wanted))


# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def functions_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The standard library's self-contained functions, each once (as after dedup).
    functions = extract().functions.unique("function_id", keep="first", maintain_order=True)
    assert functions.height > 500
    path = tmp_path_factory.mktemp("choices") / "unique.parquet"
    functions.write_parquet(path)
    return path


@pytest.mark.parametrize(("count", "seed"), [(10, 0), (50, 3), (77, 12345), (10**6, 1)])
def test_sample_is_the_one_chosen_before(functions_path: Path, count: int, seed: int) -> None:
    functions = pl.read_parquet(functions_path)
    chosen = LocalExecutor().decide(SampleFunctions(count, seed), functions_path)
    expected = reference_sample(functions, count, seed)["function_id"].sort()
    assert chosen["function_id"].to_list() == expected.to_list()
    assert chosen.height == min(count, functions.height)


def test_no_sample_keeps_all_and_ignores_the_seed(functions_path: Path) -> None:
    ids = pl.read_parquet(functions_path)["function_id"].unique().sort()
    chosen = LocalExecutor().decide(SampleFunctions(0, 7), functions_path)
    assert chosen["function_id"].to_list() == ids.to_list()
    assert SampleFunctions(0, 7).fingerprint() == SampleFunctions(0, 8).fingerprint()
    assert SampleFunctions(5, 7).fingerprint() != SampleFunctions(5, 8).fingerprint()


@pytest.mark.parametrize(("share", "most", "seed"), [(0.02, 500, 0), (0.1, 500, 3), (0.5, 7, 9)])
def test_eval_split_is_the_one_chosen_before(
    functions_path: Path, tmp_path: Path, share: float, most: int, seed: int
) -> None:
    ids = pl.read_parquet(functions_path)["function_id"].to_list()
    # A real share of functions the paper-format writer refuses: every third by digest.
    refused = {f for f in ids if int(_digest("refused", f), 16) % 3 == 0}
    summary = pl.DataFrame({"function_id": ids, "writable": [f not in refused for f in ids]})
    path = tmp_path / "eval_records.parquet"
    summary.with_columns(pl.lit("unused").alias("line")).write_parquet(path)
    step = EvalSplit(share, most, seed)
    held = LocalExecutor().decide(step, path)["function_id"].to_list()
    expected = reference_eval(ids, share, most, seed, lambda f: f not in refused)
    assert held == sorted(expected) and expected
    assert not set(held) & refused


def test_a_summary_without_its_columns_is_refused(functions_path: Path) -> None:
    with pytest.raises(C2CError, match=r"eval_records: missing column.*writable"):
        LocalExecutor().decide(EvalSplit(0.1, 10, 0), functions_path)
