"""The run report on samples made for real (extract, sandbox execute, assemble): Markdown whose
tables hold the summary's and the samples' numbers, SVG plots with one bar per row, one
self-contained HTML file that escapes what it shows, byte-identical rewrites, and a report of a
run that made nothing."""

from __future__ import annotations

import re
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import hand_functions
import polars as pl
import pytest
from case2code.assemble import SAMPLE_SCHEMA, AssembleConfig, assemble
from case2code.export import REVEAL_TOKENS, TURN_TOKENS
from case2code.report import write_run_report
from hand_functions import run_hand_functions

SOURCE = (
    hand_functions.SOURCE
    + """
def repeat_word(word, n):
    return " ".join([word] * n)
"""
)
INPUTS = {
    **hand_functions.INPUTS,
    "digit_sum": [*hand_functions.INPUTS["digit_sum"], "(10**30)"],
    "repeat_word": ["('ab', 3)", "('hello', 20)", "('x', 0)", "('yo', 1)", "('q', 70)"],
}
EVIL = "<script>alert('x')</script>"
STEMS = {
    "funnel",
    "rejections",
    "case-counts",
    "coverage",
    "output-lengths",
    "template-mix",
    "stage-time",
}
SECTIONS = [
    "## Stages",
    "## Funnel",
    "## Rejections",
    "## Cases per sample",
    "## Coverage",
    "## Output lengths",
    "## Template mix",
    "## Outputs",
]


@pytest.fixture(scope="module")
def samples() -> pl.DataFrame:
    functions, results = run_hand_functions(SOURCE, INPUTS)
    config = AssembleConfig(seed=5, samples_per_function=4, held_out=1)
    table = assemble(functions, results, config).samples
    assert table.height >= 8
    return table


# The execute stage's coverage figures (`coverage.means`): 40 of 50 functions have a branch.
COVERAGE = {
    "functions": 50,
    "with_branches": 40,
    "mean_branch_coverage": 0.8125,
    "mean_line_coverage": 0.9,
    "by_tenth": {"0.2": 2, "0.5": 6, "1.0": 32},
}


def _summary(samples: pl.DataFrame) -> dict[str, Any]:
    extract = {f"reason_{i:02d}": 100 - i for i in range(13)}  # more than the top 10
    return {
        "corpus": ["/usr/lib/python3.11", "src/"],
        "generator": "vllm",
        "model": "Qwen/Qwen2.5-Coder-1.5B-Instruct",
        "seconds": 312.5,
        "stages": [
            {"name": "extract", "seconds": 5.3, "status": "ran", "rows_in": 16281, "rows_out": 70},
            {"name": "dedup", "seconds": 1.2, "status": "cached", "rows_in": 70, "rows_out": 60},
            {"name": "inputs", "seconds": 200.0, "status": "resumed", "rows_in": 60},
            {
                "name": "execute",
                "seconds": 90.25,
                "status": "ran",
                "rows_in": 300,
                "figures": {"coverage": COVERAGE},
            },
            {"name": "assemble", "seconds": 3.0, "status": "ran", "rows_out": samples.height},
            {"name": "export", "seconds": 0.5, "status": "ran"},
        ],
        "funnel": [
            {"label": "functions seen", "count": 69023},
            {"label": "self-contained", "count": 5376},
            {"label": "unique", "count": 4871},
            {"label": "with samples", "count": samples["function_id"].n_unique()},
        ],
        "rejections": {
            "extract": extract,
            "dedup": {"exact": 300, "near": 200, "contaminated": 1},
            "assemble": {"too_few_cases": 5, "constant_output": 1},
        },
        "contaminated": [
            {"function_id": "ab12", "name": EVIL, "benchmark": "humaneval", "task_id": "HE/0"}
        ],
        "dataset": {"path": "out/dataset", "rows": samples.height, "shards": 1},
        "eval_split": {"path": "out/eval/case2code-eval.jsonl", "functions": 2},
    }


class Report:
    """A report written for real by `write_run_report`: its Markdown, its HTML, its plots."""

    def __init__(self, summary: dict[str, Any], samples: pl.DataFrame | pl.LazyFrame) -> None:
        with tempfile.TemporaryDirectory() as out:
            md, html = write_run_report(summary, samples, out)
            self.markdown, self.html = md.read_text(), html.read_text()
            plots = Path(out) / "report-plots"
            self.plots = {svg.stem: svg.read_text() for svg in sorted(plots.glob("*.svg"))}


def _table(markdown: str, header_start: str) -> list[list[str]]:
    """The body rows of the Markdown table whose header row starts with `| header_start |`."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header_start} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _int(cell: str) -> int:
    return int(cell.replace(",", ""))


def _bars(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return [e for e in root.iter("{http://www.w3.org/2000/svg}rect") if e.get("class") == "bar"]


def test_markdown_has_every_section_in_order(samples: pl.DataFrame) -> None:
    markdown = Report(_summary(samples), samples).markdown
    positions = [markdown.index(f"\n{section}\n") for section in SECTIONS]
    assert positions == sorted(positions)
    assert markdown.startswith("# Case2Code run report\n")
    assert "## Contamination" in markdown
    for stem in STEMS:
        assert f"](report-plots/{stem}.svg)" in markdown


def test_header_gives_corpus_generator_and_throughput(samples: pl.DataFrame) -> None:
    summary = _summary(samples)
    header = Report(summary, samples).markdown.split("\n## ")[0]
    assert "`/usr/lib/python3.11`, `src/`" in header
    assert "`vllm`" in header and "`Qwen/Qwen2.5-Coder-1.5B-Instruct`" in header
    functions_per_s = float(re.search(r"([\d.]+) functions/s", header)[1])
    samples_per_s = float(re.search(r"([\d.]+) samples/s", header)[1])
    assert functions_per_s == pytest.approx(4871 / 312.5, abs=0.05)  # the funnel's "unique"
    assert samples_per_s == pytest.approx(samples.height / 312.5, abs=0.05)


def test_stage_table_matches_the_summary(samples: pl.DataFrame) -> None:
    summary = _summary(samples)
    rows = _table(Report(summary, samples).markdown, "stage | status")
    stages = summary["stages"]
    assert [(r[0], r[1]) for r in rows] == [(s["name"], s["status"]) for s in stages]
    shares = [float(r[3].rstrip("%")) for r in rows]
    assert sum(shares) == pytest.approx(100, abs=0.2)
    total = sum(s["seconds"] for s in stages)
    for row, stage in zip(rows, stages, strict=True):
        assert float(row[3].rstrip("%")) == pytest.approx(100 * stage["seconds"] / total, abs=0.06)
    assert rows[0][4] == "16,281 → 70"
    assert rows[2][4] == "60 → -"  # no rows_out recorded
    assert float(rows[0][5].replace(",", "")) == pytest.approx(16281 / 5.3, abs=0.06)
    assert rows[5][5] == "-"


def test_funnel_and_rejection_tables(samples: pl.DataFrame) -> None:
    summary = _summary(samples)
    markdown = Report(summary, samples).markdown
    funnel = _table(markdown, "step")
    assert [(r[0], _int(r[1])) for r in funnel] == [
        (step["label"], step["count"]) for step in summary["funnel"]
    ]
    assert funnel[0][2] == "100.0%"
    assert float(funnel[2][2].rstrip("%")) == pytest.approx(100 * 4871 / 69023, abs=0.06)

    rejections = _table(markdown, "stage | reason")
    for stage, reasons in summary["rejections"].items():
        rows = [r for r in rejections if r[0] == stage]
        assert sum(_int(r[2]) for r in rows) == sum(reasons.values())  # nothing lost
        assert len(rows) == min(len(reasons), 11)
    extract = [r for r in rejections if r[0] == "extract"]
    assert [r[1] for r in extract[:10]] == sorted(summary["rejections"]["extract"])[:10]
    assert extract[10][1] == "(3 others)"


def test_case_and_length_histograms_count_every_sample(samples: pl.DataFrame) -> None:
    markdown = Report(_summary(samples), samples).markdown
    cases = _table(markdown, "kind | cases")
    for kind, column in (("shown cases", "shown"), ("held-out cases", "held_out")):
        rows = [r for r in cases if r[0] == kind]
        assert sum(_int(r[2]) for r in rows) == samples.height
        counts = samples[column].list.len().to_list()
        assert {int(r[1]): _int(r[2]) for r in rows if _int(r[2])} == {
            n: counts.count(n) for n in set(counts)
        }
    lengths = _table(markdown, "characters")
    outputs = [case["output"] for shown in samples["shown"] for case in shown]
    assert sum(_int(r[1]) for r in lengths) == len(outputs)
    assert [r[0] for r in lengths][:3] == ["0-1", "2-5", "6-10"] and lengths[-1][0] == ">200"
    long = sum(len(o) > 200 for o in outputs)
    assert _int(lengths[-1][1]) == long
    assert _int(lengths[1][1]) == sum(2 <= len(o) <= 5 for o in outputs)


def test_template_mix_splits_every_sample_three_ways(samples: pl.DataFrame) -> None:
    rows = _table(Report(_summary(samples), samples).markdown, "part | kind")
    ids = samples["template_id"].to_list()
    for part in ("case format", "function shown as", "chat"):
        assert sum(_int(r[2]) for r in rows if r[0] == part) == samples.height
    formats = [(r[1], _int(r[2])) for r in rows if r[0] == "case format"]
    used = Counter(re.search(r"-f:(\w+)-", tid)[1] for tid in ids)
    ranked = sorted(used.items(), key=lambda kv: (-kv[1], kv[0]))
    others = ranked[10:]  # the top 10 are shown, the rest summed
    assert formats == ranked[:10] + [(f"({len(others)} others)", sum(n for _, n in others))] * bool(
        others
    )
    reveals = {r[1] for r in rows if r[0] == "function shown as"}
    turns = {r[1] for r in rows if r[0] == "chat"}
    assert reveals <= set(REVEAL_TOKENS.values()) and turns <= set(TURN_TOKENS.values())


def test_plots_parse_with_one_bar_per_table_row(samples: pl.DataFrame) -> None:
    summary = _summary(samples)
    report = Report(summary, samples)
    svgs, markdown = report.plots, report.markdown
    assert set(svgs) == STEMS
    tables = {
        "funnel": "step",
        "rejections": "stage | reason",
        "case-counts": "kind | cases",
        "output-lengths": "characters",
        "template-mix": "part | kind",
        "stage-time": "stage | status",
        "coverage": "branch coverage",
    }
    for stem, header in tables.items():
        rows = _table(markdown, header)
        bars = _bars(svgs[stem])
        assert len(bars) == len(rows), stem
        labels = [
            r[1] if stem in ("rejections", "case-counts", "template-mix") else r[0] for r in rows
        ]
        tooltips = [bar.find("{http://www.w3.org/2000/svg}title").text for bar in bars]
        assert [t.split(": ")[0] for t in tooltips] == labels, stem
        widths = [float(bar.get("width")) for bar in bars]
        assert all(0 <= w <= 640 for w in widths) and max(widths) > 0
    funnel = [float(bar.get("width")) for bar in _bars(svgs["funnel"])]
    assert funnel == sorted(funnel, reverse=True)  # the funnel narrows


def test_coverage_shows_every_tenth_and_the_means(samples: pl.DataFrame) -> None:
    markdown = Report(_summary(samples), samples).markdown
    rows = _table(markdown, "branch coverage")
    assert [r[0] for r in rows] == [f"{t}-{t + 9}%" for t in range(0, 100, 10)] + ["100%"]
    assert [int(r[1]) for r in rows] == [0, 0, 2, 0, 0, 6, 0, 0, 0, 0, 32]
    assert "mean branch coverage 81.2% over 40 functions with a branch" in markdown
    assert "mean line coverage 90.0% over 50 functions" in markdown


def test_html_is_self_contained_and_escaped(samples: pl.DataFrame) -> None:
    html = Report(_summary(samples), samples).html

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []
            self.text: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append(tag)

        def handle_data(self, data: str) -> None:
            self.text.append(data)

    parser = Tags()
    parser.feed(html)
    parser.close()
    assert "script" not in parser.tags
    assert not {"img", "link", "iframe"} & set(parser.tags)  # nothing fetched from elsewhere
    assert parser.tags.count("svg") == len(STEMS)
    assert EVIL in "".join(parser.text)  # shown as text
    for svg in re.findall(r"<svg .*?</svg>", html, flags=re.S):
        ET.fromstring(svg)
    root = ET.fromstring(html.removeprefix("<!DOCTYPE html>\n"))  # well-formed as a whole
    assert [h.text for h in root.iter("h2")] == [s[3:] for s in SECTIONS[:-1]] + [
        "Contamination",
        "Outputs",
    ]


def test_markdown_escapes_names(samples: pl.DataFrame) -> None:
    markdown = Report(_summary(samples), samples).markdown
    assert EVIL not in markdown
    row = _table(markdown, "function")[0]
    assert row[0] == EVIL.replace("<", "\\<") and row[2:] == ["humaneval", "HE/0"]


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_write_run_report_is_deterministic(samples: pl.DataFrame, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = _summary(samples) | {"dataset": {"path": str(out / "dataset"), "rows": 3}}
    md, html = write_run_report(summary, samples, out)
    assert (md, html) == (out / "report.md", out / "report.html")
    first = _files(out)
    assert sorted(first) == sorted(
        ["report.md", "report.html", *(f"report-plots/{stem}.svg" for stem in STEMS)]
    )
    markdown = md.read_text()
    for image in re.findall(r"!\[[^]]*\]\(([^)]+)\)", markdown):
        assert (out / image).is_file()
    assert "](dataset)" in markdown  # linked from where the report is
    write_run_report(summary, samples, out)
    assert _files(out) == first


def test_empty_run_still_renders(tmp_path: Path) -> None:
    empty = pl.DataFrame(schema=SAMPLE_SCHEMA)
    sparse = {"corpus": ["x/"], "stages": [{"name": "extract", "status": "ran"}], "funnel": []}
    for summary, table in ((sparse, empty), ({}, empty), ({}, pl.DataFrame())):
        report = Report(summary, table)
        assert all(section in report.markdown for section in SECTIONS)
        assert "## Contamination" not in report.markdown
        assert set(report.plots) == STEMS
        for svg in report.plots.values():
            assert _bars(svg) == [] and "no data" in svg
        ET.fromstring(report.html.removeprefix("<!DOCTYPE html>\n"))
    md, html = write_run_report(sparse, empty, tmp_path)
    assert "No funnel counts recorded." in md.read_text()
    assert "No funnel counts recorded." in html.read_text()
    assert len(list((tmp_path / "report-plots").glob("*.svg"))) == len(STEMS)
