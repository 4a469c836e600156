"""The run report of real `c2c run`s (case2code.pipeline) on corpora of 1, 2 and 3 functions: a
report in Markdown and HTML for every size, histograms with their gaps as zero rows (a gap used
to be a KeyError, so a small run ended with no report), and the left-out cases section."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from case2code.pipeline import Pipeline
from case2code.report import write_run_report
from case2code.run_config import RunConfig

FUNCTIONS = (
    """def clamp(x, low, high):
    if low > high:
        raise ValueError("low > high")
    return max(low, min(x, high))
""",
    """def initials(name):
    parts = name.split()
    return "".join(part[0].upper() for part in parts)
""",
    """def digit_sum(n):
    total = 0
    for d in str(abs(n)):
        total += int(d)
    return total
""",
)


@pytest.fixture(scope="module", params=[1, 2, 3], ids=lambda n: f"{n}-functions")
def small_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    n = request.param
    root = tmp_path_factory.mktemp(f"run{n}")
    corpus = root / "corpus.py"
    corpus.write_text("\n\n".join(FUNCTIONS[:n]))
    config = RunConfig(out=root / "run", corpus=(str(corpus),), workers=2, against=())
    pipeline = Pipeline(config)
    summary = pipeline.run()
    samples = pl.read_parquet(pipeline.table("assemble"))
    return n, root / "run", summary, samples


def _table(markdown: str, section: str) -> list[list[str]]:
    """The first Markdown table under `## section`, as body rows of cells."""
    lines = markdown.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_every_run_size_writes_both_reports(small_run: tuple[int, Path, Any, Any]) -> None:
    n, out, summary, samples = small_run
    markdown = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert samples["function_id"].n_unique() == n
    assert f"Samples: {samples.height:,} of {n} function{'' if n == 1 else 's'}" in markdown
    ET.fromstring(html.split("\n", 1)[1])  # well-formed after the doctype
    assert "<h2>Cases per sample</h2>" in html and "<h2>Cases left out</h2>" in html
    for stem in ("case-counts", "output-lengths", "template-mix", "funnel"):
        ET.fromstring((out / "report-plots" / f"{stem}.svg").read_text())
    write_run_report(summary, samples, out)  # the report is made of the summary and samples
    assert (out / "report.md").read_text() == markdown


def test_case_count_histograms_include_their_gaps(small_run: tuple[int, Path, Any, Any]) -> None:
    _, out, _, samples = small_run
    rows = _table((out / "report.md").read_text(), "Cases per sample")
    for kind, column in (("shown cases", "shown"), ("held-out cases", "held_out")):
        bars = {int(cases): int(count) for group, cases, count in rows if group == kind}
        lengths = samples[column].list.len().to_list()
        # One row per count from the least to the most, the counts that never occur as 0.
        assert list(bars) == list(range(min(lengths), max(lengths) + 1))
        assert bars == {k: lengths.count(k) for k in bars}


def test_unstable_cases_line_explains_itself(small_run: tuple[int, Path, Any, Any]) -> None:
    _, out, summary, _ = small_run
    assemble = next(s for s in summary["stages"] if s["name"] == "assemble")["figures"]
    markdown = (out / "report.md").read_text()
    assert f"- Unstable cases: {assemble['unstable_cases']}. Their output changed" in markdown
