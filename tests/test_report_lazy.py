"""The run report read lazily: `c2c run` hands it the samples table as `pl.scan_parquet`, so it
only counts (bounded memory at any run size). The report from the scanned file is byte for byte
the report from the table in memory, and its output-length figures count exactly the shown cases
that have an output (an empty case list and a null output are no case)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from case2code.assemble import AssembleConfig, assemble
from case2code.report import LENGTH_BOUNDS, write_run_report
from hand_functions import run_hand_functions
from test_report import INPUTS, SOURCE, Report, _summary, _table


@pytest.fixture(scope="module")
def samples() -> pl.DataFrame:
    functions, results = run_hand_functions(SOURCE, INPUTS)
    table = assemble(functions, results, AssembleConfig(seed=5, samples_per_function=4)).samples
    # One sample with no shown case, one whose first shown case has no output.
    shown = table["shown"].to_list()
    shown[0] = []
    shown[1] = [{**shown[1][0], "output": None}, *shown[1][1:]]
    return table.with_columns(pl.Series("shown", shown, dtype=table.schema["shown"]))


def _buckets(samples: pl.DataFrame) -> list[int]:
    """Shown cases with an output per length bucket, counted in plain Python."""
    counts = [0] * (len(LENGTH_BOUNDS) + 1)
    for cases in samples["shown"].to_list():
        for case in cases or []:
            if case and case["output"] is not None:
                counts[sum(len(case["output"]) > bound for bound in LENGTH_BOUNDS)] += 1
    return counts


def test_lazy_report_equals_the_in_memory_one(samples: pl.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "samples.parquet"
    samples.write_parquet(path)
    summary = _summary(samples)
    eager, lazy = tmp_path / "eager", tmp_path / "lazy"
    write_run_report(summary, samples, eager)
    write_run_report(summary, pl.scan_parquet(path), lazy)
    for file in sorted(eager.rglob("*")):
        if file.is_file():
            assert (lazy / file.relative_to(eager)).read_bytes() == file.read_bytes(), file


def test_output_lengths_count_only_cases_with_an_output(samples: pl.DataFrame) -> None:
    markdown = Report(_summary(samples), samples.lazy()).markdown
    rows = _table(markdown, "characters")
    counted = [int(row[1].replace(",", "")) for row in rows]
    assert counted == _buckets(samples)
    assert sum(counted) < sum(len(cases) for cases in samples["shown"].to_list())
    assert f"Samples: {samples.height:,} of" in markdown
