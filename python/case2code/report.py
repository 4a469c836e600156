"""The final report of a `c2c run`: what was read, how long each stage took, what was kept.

One document is built from the run summary and the samples table, then written twice: as
`report.md` (plots linked as `report-plots/<stem>.svg`, each followed by a table of its numbers,
so the Markdown reads well without images) and as `report.html` (one self-contained file, the
plots inline). Plots are hand-written SVG horizontal bar charts from one helper, `bar_chart_svg`.
Nothing here reads a clock: the same inputs give byte-identical files.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl

from case2code.assemble import REPR_ERROR_EXPLANATION, UNSTABLE_EXPLANATION
from case2code.atomic import write_text
from case2code.coverage import TENTHS
from case2code.export import REVEAL_TOKENS, TURN_TOKENS, template_tokens

PLOTS_DIR = "report-plots"
TITLE = "Case2Code run report"
MISSING = "-"  # a number or name the summary lacks
TOP_REASONS = 10
TOP_FORMATS = 10
# Upper bounds of the output-length buckets, in characters; the last bucket is open.
LENGTH_BOUNDS = (1, 5, 10, 20, 50, 100, 200)
# SVG layout, in pixels.
WIDTH = 640
ROW = 22
BAR = 16
LABEL_WIDTH = 200
VALUE_WIDTH = 130
LABEL_CHARS = 28  # about 180 px at 12 px
# Tableau 10: distinct and readable for the colour-blind too; one colour per bar group.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
CSS = (
    "body{font-family:system-ui,sans-serif;max-width:780px;margin:2em auto;padding:0 1em;"
    "color:#222;line-height:1.45}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "th,td{border:1px solid #ddd;padding:2px 8px;text-align:left}"
    "td.n,th.n{text-align:right}"
    "code{background:#f3f3f3;padding:0 3px}"
    "svg{display:block;margin:1em 0 .5em}"
)


# ---------------------------------------------------------------- charts


@dataclass(frozen=True)
class Bar:
    """One bar: `cells` are its numbers as the table shows them; the first labels the bar."""

    label: str
    value: float
    cells: tuple[str, ...]

    @property
    def text(self) -> str:
        first, *rest = self.cells
        return f"{first} ({', '.join(rest)})" if rest else first


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart of groups of bars (one untitled group for a flat chart).

    `columns` head its table: the label column, then one per cell of a bar; `group_column`
    heads the column of group titles that comes first in a grouped chart's table.
    """

    stem: str
    title: str
    columns: tuple[str, ...]
    groups: tuple[tuple[str, tuple[Bar, ...]], ...]
    group_column: str = ""

    @property
    def bars(self) -> list[Bar]:
        return [bar for _, bars in self.groups for bar in bars]

    def table(self) -> tuple[tuple[str, ...], list[tuple[str, ...]], int]:
        """Its numbers as a table: header, rows and the first numeric column."""
        if not self.group_column:
            return self.columns, [(bar.label, *bar.cells) for bar in self.bars], 1
        rows = [(title, bar.label, *bar.cells) for title, bars in self.groups for bar in bars]
        return (self.group_column, *self.columns), rows, 2


def _clip(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg_text(x: float, y: float, text: str, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(text)}</text>'


def bar_chart_svg(chart: Chart) -> str:
    """The chart as a standalone SVG; each group's bars are scaled to the group's largest."""
    x0 = LABEL_WIDTH + 8
    span = WIDTH - x0 - VALUE_WIDTH
    body = [_svg_text(8, 20, chart.title, ' font-size="15" font-weight="bold"')]
    y = 32.0
    for index, (title, bars) in enumerate(chart.groups):
        color = PALETTE[index % len(PALETTE)]
        if title:
            body.append(_svg_text(8, y + 15, title, ' font-weight="bold"'))
            y += ROW
        top = max((bar.value for bar in bars), default=0) or 1
        for bar in bars:
            width = span * max(bar.value, 0) / top
            middle = y + ROW / 2 + 4
            body.append(_svg_text(LABEL_WIDTH, middle, _clip(bar.label), ' text-anchor="end"'))
            body.append(
                f'<rect class="bar" x="{x0}" y="{y + (ROW - BAR) / 2:.1f}" width="{width:.1f}" '
                f'height="{BAR}" fill="{color}"><title>{escape(f"{bar.label}: {bar.text}")}'
                "</title></rect>"
            )
            body.append(_svg_text(x0 + width + 6, middle, bar.text))
            y += ROW
    if not chart.bars:
        body.append(_svg_text(x0, y + 15, "no data", ' fill="#777"'))
        y += ROW
    height = round(y + 10)
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="system-ui, sans-serif" '
            f'font-size="12" fill="#222" role="img" aria-label="{escape(chart.title)}">',
            *body,
            "</svg>",
            "",
        ]
    )


# ---------------------------------------------------------------- reading the inputs


def _number(value: Any) -> float | None:
    """A count or duration from the summary, or None when missing or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _count(n: float) -> str:
    return f"{round(n):,}"


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else MISSING


def _seconds(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.1f} s"


def _rate(n: float | None, seconds: float | None) -> str:
    return f"{n / seconds:,.1f}" if n is not None and seconds else MISSING


def _plural(n: float, word: str) -> str:
    return f"{_count(n)} {word}{'' if n == 1 else 's'}"


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value or () if isinstance(item, Mapping)]


Samples = pl.DataFrame | pl.LazyFrame


@dataclass(frozen=True)
class _SampleFigures:
    """What the report needs from the samples table: counts only, so a run of any size is
    reported in bounded memory (each figure is one aggregating query over the table)."""

    rows: int
    functions: int
    shown: dict[int, int]  # cases per sample -> samples
    held_out: dict[int, int]
    output_buckets: list[int]  # shown cases per LENGTH_BOUNDS bucket (empty: no shown case)
    template_ids: dict[str, int]  # template id -> samples


def _sample_figures(samples: Samples) -> _SampleFigures:
    table = samples.lazy()
    columns = table.collect_schema().names()

    def counts(expr: pl.Expr, *needs: str) -> dict[Any, int]:
        """`value -> n` for the values of `expr` (nulls left out), counted by polars."""
        if not set(needs) <= set(columns):
            return {}
        query = table.select(expr.alias("value")).drop_nulls().group_by("value").len()
        found = query.collect(engine="streaming")
        return dict(zip(found["value"].to_list(), found["len"].to_list(), strict=True))

    rows = table.select(pl.len()).collect().item()
    functions = (
        table.select(pl.col("function_id").n_unique()).collect().item()
        if "function_id" in columns
        else 0
    )
    # Null outputs (and the null an empty list explodes to) are no shown case.
    lengths = pl.col("shown").explode().struct.field("output").drop_nulls().str.len_chars()
    # A length's bucket: the number of LENGTH_BOUNDS it is above.
    bucket = pl.sum_horizontal(*[(lengths > bound).cast(pl.UInt32) for bound in LENGTH_BOUNDS])
    buckets = counts(bucket, "shown")
    total = sum(buckets.values())
    return _SampleFigures(
        rows=rows,
        functions=functions,
        shown=counts(pl.col("shown").list.len(), "shown"),
        held_out=counts(pl.col("held_out").list.len(), "held_out"),
        output_buckets=[buckets.get(i, 0) for i in range(len(LENGTH_BOUNDS) + 1)] if total else [],
        template_ids=counts(pl.col("template_id"), "template_id"),
    )


def _stages(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": str(stage.get("name") or "?"),
            "status": str(stage.get("status") or MISSING),
            "seconds": _number(stage.get("seconds")),
            "rows_in": _number(stage.get("rows_in")),
            "rows_out": _number(stage.get("rows_out")),
        }
        for stage in _mappings(summary.get("stages"))
    ]


def _stage_figures(summary: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The figures a stage recorded (its `stage.json`), or nothing."""
    for stage in _mappings(summary.get("stages")):
        figures = stage.get("figures")
        if stage.get("name") == name and isinstance(figures, Mapping):
            return figures
    return {}


def _funnel(summary: Mapping[str, Any]) -> list[tuple[str, float]]:
    steps = []
    for step in _mappings(summary.get("funnel")):
        count = _number(step.get("count"))
        if count is not None:
            steps.append((str(step.get("label") or "?"), count))
    return steps


# ---------------------------------------------------------------- the six charts


def _funnel_chart(summary: Mapping[str, Any]) -> Chart:
    steps = _funnel(summary)
    first = steps[0][1] if steps else 0
    bars = tuple(Bar(label, n, (_count(n), _share(n, first))) for label, n in steps)
    return Chart("funnel", "Funnel", ("step", "functions", "of first"), (("", bars),))


def _ranked(counts: Mapping[str, float], top: int, total: float | None = None) -> tuple[Bar, ...]:
    """The `top` largest counts as bars, largest first, the rest summed into one more bar.

    With a `total`, each bar also shows its share of it.
    """

    def bar(label: str, n: float) -> Bar:
        return Bar(label, n, (_count(n),) + ((_share(n, total),) if total is not None else ()))

    ranked = sorted(((k, n) for k, n in counts.items() if n), key=lambda kv: (-kv[1], kv[0]))
    bars = [bar(key, n) for key, n in ranked[:top]]
    rest = ranked[top:]
    if rest:
        bars.append(bar(f"({len(rest)} others)", sum(n for _, n in rest)))
    return tuple(bars)


def _rejections_chart(summary: Mapping[str, Any]) -> Chart:
    rejections = summary.get("rejections") or {}
    groups = []
    for stage, reasons in rejections.items() if isinstance(rejections, Mapping) else ():
        if not isinstance(reasons, Mapping):
            continue
        counts = {str(k): n for k, v in reasons.items() if (n := _number(v)) is not None}
        bars = _ranked(counts, TOP_REASONS)
        if bars:
            groups.append((str(stage), bars))
    return Chart("rejections", "Rejections by stage", ("reason", "count"), tuple(groups), "stage")


def _histogram(counts: Mapping[int, int]) -> tuple[Bar, ...]:
    """One bar per case count from the least to the most, gaps included (as zero bars)."""
    if not counts:
        return ()
    low, high = min(counts), max(counts)
    return tuple(
        Bar(str(k), counts.get(k, 0), (_count(counts.get(k, 0)),)) for k in range(low, high + 1)
    )


def _coverage_chart(summary: Mapping[str, Any]) -> Chart:
    """Functions by tenth of the branch coverage their cases reached (execute's figures)."""
    traced = _stage_figures(summary, "execute").get("coverage")
    by_tenth = traced.get("by_tenth") if isinstance(traced, Mapping) else None
    counts = {k: n for k, v in (by_tenth or {}).items() if (n := _number(v)) is not None}
    bars = ()
    if counts:
        found = [(_tenth_label(t), counts.get(key, 0)) for t, key in enumerate(TENTHS)]
        bars = tuple(Bar(label, n, (_count(n),)) for label, n in found)
    return Chart("coverage", "Branch coverage", ("branch coverage", "functions"), (("", bars),))


def _coverage_means(summary: Mapping[str, Any]) -> str:
    traced = _stage_figures(summary, "execute").get("coverage") or {}
    branch, line = traced.get("mean_branch_coverage"), traced.get("mean_line_coverage")
    return (
        f"Each function's cases together (all of them, shown and held out), traced in the "
        f"sandbox: mean branch coverage {_share(branch or 0, 1)} over "
        f"{_count(traced.get('with_branches', 0))} functions with a branch, mean line coverage "
        f"{_share(line or 0, 1)} over {_count(traced.get('functions', 0))} functions."
    )


def _tenth_label(tenth: int) -> str:
    return "100%" if tenth == 10 else f"{tenth * 10}-{tenth * 10 + 9}%"


def _case_counts_chart(figures: _SampleFigures) -> Chart:
    groups = (
        ("shown cases", _histogram(figures.shown)),
        ("held-out cases", _histogram(figures.held_out)),
    )
    return Chart("case-counts", "Cases per sample", ("cases", "samples"), groups, "kind")


def _length_label(index: int) -> str:
    if index == len(LENGTH_BOUNDS):
        return f">{LENGTH_BOUNDS[-1]}"
    low = LENGTH_BOUNDS[index - 1] + 1 if index else 0
    return f"{low}-{LENGTH_BOUNDS[index]}"


def _output_lengths_chart(figures: _SampleFigures) -> Chart:
    counts = figures.output_buckets
    total = sum(counts)
    bars = tuple(
        Bar(_length_label(i), n, (_count(n), _share(n, total))) for i, n in enumerate(counts)
    )
    return Chart(
        "output-lengths",
        "Output length of shown cases (characters)",
        ("characters", "cases", "share"),
        (("", bars),),
    )


def _template_chart(figures: _SampleFigures) -> Chart:
    tokens: Counter[str] = Counter()
    for template_id, n in figures.template_ids.items():
        for token, k in template_tokens([template_id]).items():
            tokens[token] += k * n
    total = figures.rows
    formats = {t[2:]: n for t, n in tokens.items() if t.startswith("f:")}
    reveals = {label: tokens[token] for token, label in REVEAL_TOKENS.items()}
    turns = {label: tokens[token] for token, label in TURN_TOKENS.items()}
    groups = (
        ("case format", _ranked(formats, TOP_FORMATS, total)),
        ("function shown as", _ranked(reveals, len(reveals), total)),
        ("chat", _ranked(turns, len(turns), total)),
    )
    return Chart("template-mix", "Template mix", ("kind", "samples", "share"), groups, "part")


def _stage_time_chart(summary: Mapping[str, Any]) -> Chart:
    stages = [s for s in _stages(summary) if s["seconds"] is not None]
    total = sum(s["seconds"] for s in stages)
    bars = tuple(
        Bar(s["name"], s["seconds"], (_seconds(s["seconds"]), _share(s["seconds"], total)))
        for s in stages
    )
    return Chart("stage-time", "Time per stage", ("stage", "time", "share"), (("", bars),))


def _charts(summary: Mapping[str, Any], figures: _SampleFigures) -> dict[str, Chart]:
    charts = [
        _funnel_chart(summary),
        _rejections_chart(summary),
        _case_counts_chart(figures),
        _coverage_chart(summary),
        _output_lengths_chart(figures),
        _template_chart(figures),
        _stage_time_chart(summary),
    ]
    return {chart.stem: chart for chart in charts}


# ---------------------------------------------------------------- the two formats


class _Markdown:
    """The report's pieces in Markdown; a plot is linked as `report-plots/<stem>.svg`."""

    def text(self, text: str) -> str:
        text = " ".join(text.split("\n"))
        return "".join("\\" + c if c in "\\`*[]<|" else c for c in text)

    def code(self, text: str) -> str:
        text = " ".join(text.split("\n"))
        if "`" not in text:
            return f"`{text}`"
        fence = "`" * (max(len(run) for run in re.findall("`+", text)) + 1)
        return f"{fence} {text} {fence}"

    def link(self, text: str, href: str) -> str:
        return f"[{self.text(text)}]({quote(href, safe='/:#')})"

    def heading(self, text: str, level: int = 2) -> str:
        return f"{'#' * level} {self.text(text)}"

    def para(self, text: str) -> str:
        return self.text(text)

    def bullets(self, lines: Iterable[str]) -> str:
        return "\n".join(f"- {line}" for line in lines)

    def table(self, header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> str:
        """Cells are plain text; the columns from `left` on hold numbers, right-aligned."""
        rule = ["---" if i < left else "---:" for i in range(len(header))]
        head, *body = [[self.text(cell) for cell in row] for row in (header, *rows)]
        return "\n".join("| " + " | ".join(row) + " |" for row in (head, rule, *body))

    def figure(self, chart: Chart, table: bool = True) -> str:
        image = f"![{self.text(chart.title)}]({PLOTS_DIR}/{chart.stem}.svg)"
        return image + ("\n\n" + self.table(*chart.table()) if table else "")

    def page(self, blocks: Iterable[str]) -> str:
        return "\n\n".join(blocks) + "\n"


class _Html:
    """The report's pieces in HTML, plots inline; well-formed XML too (void elements closed),
    so any XML parser reads it."""

    def text(self, text: str) -> str:
        return escape(text)

    def code(self, text: str) -> str:
        return f"<code>{escape(text)}</code>"

    def link(self, text: str, href: str) -> str:
        return f'<a href="{escape(quote(href, safe="/:#"))}">{escape(text)}</a>'

    def heading(self, text: str, level: int = 2) -> str:
        return f"<h{level}>{escape(text)}</h{level}>"

    def para(self, text: str) -> str:
        return f"<p>{escape(text)}</p>"

    def bullets(self, lines: Iterable[str]) -> str:
        items = "\n".join(f"<li>{line}</li>" for line in lines)
        return f"<ul>\n{items}\n</ul>"

    def table(self, header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> str:
        def row(cells: Sequence[str], tag: str) -> str:
            numeric = ' class="n"'
            out = [
                f"<{tag}{'' if i < left else numeric}>{escape(c)}</{tag}>"
                for i, c in enumerate(cells)
            ]
            return "<tr>" + "".join(out) + "</tr>"

        body = "\n".join(row(cells, "td") for cells in rows)
        return f"<table>\n<thead>{row(header, 'th')}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"

    def figure(self, chart: Chart, table: bool = True) -> str:
        svg = bar_chart_svg(chart).rstrip("\n")
        return svg + ("\n" + self.table(*chart.table()) if table else "")

    def page(self, blocks: Iterable[str]) -> str:
        head = (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8" />\n'
            f"<title>{escape(TITLE)}</title>\n<style>{CSS}</style>\n</head>\n<body>"
        )
        return head + "\n" + "\n".join(blocks) + "\n</body>\n</html>\n"


_Writer = _Markdown | _Html


# ---------------------------------------------------------------- the document


def _href(path: str, base: Path) -> str:
    """`path` as a link from a file in `base`."""
    if "://" in path:
        return path
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive on Windows
        return path


def _header(summary: Mapping[str, Any], figures: _SampleFigures, w: _Writer) -> list[str]:
    seconds = _number(summary.get("seconds"))
    corpus = summary.get("corpus") or ()
    corpus = [corpus] if isinstance(corpus, str | Path) else [str(c) for c in corpus]
    steps = dict(_funnel(summary))
    functions = steps.get("unique", next(iter(steps.values()), None))
    paths = ", ".join(w.code(str(path)) for path in corpus) if corpus else MISSING
    generator = w.code(str(summary.get("generator") or MISSING))
    if summary.get("model"):
        generator += ", model " + w.code(str(summary["model"]))
    throughput = (
        f"Total time: {_seconds(seconds)}; {_rate(functions, seconds)} functions/s, "
        f"{_rate(figures.rows, seconds)} samples/s"
    )
    samples = f"Samples: {figures.rows:,} of {_plural(figures.functions, 'function')}"
    return [
        w.heading(TITLE, 1),
        w.bullets(
            [
                "Corpus: " + paths,
                "Input generator: " + generator,
                w.text(throughput),
                w.text(samples),
            ]
        ),
    ]


def _stage_section(summary: Mapping[str, Any], chart: Chart, w: _Writer) -> list[str]:
    stages = _stages(summary)
    if not stages:
        return [w.heading("Stages"), w.para("No stages recorded.")]
    total = sum(s["seconds"] or 0 for s in stages)
    rows = []
    for s in stages:
        rows_in, rows_out, seconds = s["rows_in"], s["rows_out"], s["seconds"]
        flow = " → ".join(MISSING if n is None else _count(n) for n in (rows_in, rows_out))
        share = _share(seconds, total) if seconds is not None else MISSING
        rows.append(
            (s["name"], s["status"], _seconds(seconds), share, flow, _rate(rows_in, seconds))
        )
    header = ("stage", "status", "time", "share", "rows in → out", "rows in/s")
    return [
        w.heading("Stages"),
        w.para(f"Shares are of the stages' total, {_seconds(total)}."),
        w.table(header, rows, left=2),
        w.figure(chart, table=False),  # the table above holds its numbers
    ]


def _left_out(summary: Mapping[str, Any], w: _Writer) -> list[str]:
    """Cases no sample may show, and functions an exception cost, with what each means."""
    assemble = _stage_figures(summary, "assemble")
    lines = []
    unstable = _number(assemble.get("unstable_cases"))
    if unstable is not None:
        lines.append(f"Unstable cases: {_count(unstable)}. {UNSTABLE_EXPLANATION}")
    repr_errors = _number(assemble.get("repr_error_cases"))
    if repr_errors:
        lines.append(f"repr() errors: {_count(repr_errors)}. {REPR_ERROR_EXPLANATION}")
    for stage, key, what in (
        ("inputs", "function_errors", "Functions an exception cost in input generation"),
        ("assemble", "samples_failed", "Samples left out (rendering raised, or no inferable case)"),
        ("assemble", "held_out_choice", "How each function's held-out cases were chosen"),
    ):
        counts = _stage_figures(summary, stage).get(key)
        if isinstance(counts, Mapping) and counts:
            listed = ", ".join(
                f"{reason} {_count(n)}"
                for reason, value in sorted(counts.items())
                if (n := _number(value)) is not None
            )
            lines.append(f"{what}: {listed}.")
    if not lines:
        return []
    return [w.heading("Cases left out"), w.bullets(map(w.text, lines))]


def _contamination(summary: Mapping[str, Any], w: _Writer) -> list[str]:
    found = _mappings(summary.get("contaminated"))
    if not found:
        return []
    keys = ("name", "function_id", "benchmark", "task_id")
    rows = [[str(item.get(key) or MISSING) for key in keys] for item in found]
    return [
        w.heading("Contamination"),
        w.para(f"Left out as matching a benchmark: {_plural(len(found), 'function')}."),
        w.table(("function", "function id", "benchmark", "task"), rows, left=len(keys)),
    ]


def _outputs(summary: Mapping[str, Any], base: Path, w: _Writer) -> list[str]:
    """The dataset and the eval split, linked, with their counts (summary keys `rows`...)."""
    lines = []
    for key, label, counted in (
        ("dataset", "Dataset: ", ("row", "shard")),
        ("eval_split", "Eval split: ", ("function",)),
    ):
        entry = summary.get(key) or {}
        if not isinstance(entry, Mapping) or not entry.get("path"):
            continue
        path = str(entry["path"])
        counts = [
            _plural(n, word)
            for word in counted
            if (n := _number(entry.get(f"{word}s"))) is not None
        ]
        tail = f" ({', '.join(counts)})" if counts else ""
        lines.append(label + w.link(path, _href(path, base)) + tail)
    return [w.heading("Outputs"), w.bullets(lines) if lines else w.para("No dataset was written.")]


def _render(summary: Mapping[str, Any], figures: _SampleFigures, base: Path, w: _Writer) -> str:
    """The whole report; `base` is the folder it goes to, links are relative to it."""
    charts = _charts(summary, figures)
    figure_sections = (
        ("Funnel", "funnel", "No funnel counts recorded."),
        ("Rejections", "rejections", "No rejections recorded."),
        ("Cases per sample", "case-counts", "No samples."),
        ("Coverage", "coverage", "No traced cases ([execute] coverage = false)."),
        ("Output lengths", "output-lengths", "No shown cases."),
        ("Template mix", "template-mix", "No samples."),
    )
    blocks = [*_header(summary, figures, w), *_stage_section(summary, charts["stage-time"], w)]
    for title, stem, empty in figure_sections:
        chart = charts[stem]
        blocks += [w.heading(title), w.figure(chart) if chart.bars else w.para(empty)]
        if stem == "coverage" and chart.bars:
            blocks.append(w.para(_coverage_means(summary)))
    blocks += [*_left_out(summary, w), *_contamination(summary, w), *_outputs(summary, base, w)]
    return w.page(blocks)


def write_run_report(
    summary: Mapping[str, Any], samples: Samples, out_dir: str | Path
) -> tuple[Path, Path]:
    """Write `report.md`, `report.html` and `report-plots/*.svg` under `out_dir`, atomically.
    `samples` may be lazy (`pl.scan_parquet`): the report reads only counts from it."""
    out = Path(out_dir)
    figures = _sample_figures(samples)
    for stem, chart in _charts(summary, figures).items():
        write_text(bar_chart_svg(chart), out / PLOTS_DIR / f"{stem}.svg")
    md = write_text(_render(summary, figures, out, _Markdown()), out / "report.md")
    html = write_text(_render(summary, figures, out, _Html()), out / "report.html")
    return md, html
