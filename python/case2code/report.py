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
    def grouped(self) -> bool:
        return bool(self.group_column)

    @property
    def bars(self) -> list[Bar]:
        return [bar for _, bars in self.groups for bar in bars]


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


def _counts(query: pl.LazyFrame) -> dict[Any, int]:
    """`value -> n` from a query of one column `value`, counted by polars (nulls left out)."""
    counts = query.drop_nulls().group_by("value").len().collect(engine="streaming")
    return dict(zip(counts["value"].to_list(), counts["len"].to_list(), strict=True))


def _length_bucket(lengths: pl.Expr) -> pl.Expr:
    """A length's bucket: the number of LENGTH_BOUNDS it is above."""
    return pl.sum_horizontal(*[(lengths > bound).cast(pl.UInt32) for bound in LENGTH_BOUNDS])


def _sample_figures(samples: Samples) -> _SampleFigures:
    table = samples.lazy()
    columns = table.collect_schema().names()

    def counts(expr: pl.Expr, *needs: str) -> dict[Any, int]:
        if not set(needs) <= set(columns):
            return {}
        return _counts(table.select(expr.alias("value")))

    rows = table.select(pl.len()).collect().item()
    functions = (
        table.select(pl.col("function_id").n_unique()).collect().item()
        if "function_id" in columns
        else 0
    )
    # Null outputs (and the null an empty list explodes to) are no shown case.
    lengths = pl.col("shown").explode().struct.field("output").drop_nulls().str.len_chars()
    buckets = counts(_length_bucket(lengths), "shown")
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
        _output_lengths_chart(figures),
        _template_chart(figures),
        _stage_time_chart(summary),
    ]
    return {chart.stem: chart for chart in charts}


def plots(summary: Mapping[str, Any], samples: Samples) -> dict[str, str]:
    """Every plot of the report: file stem -> SVG text (a 'no data' plot when nothing to show)."""
    charts = _charts(summary, _sample_figures(samples))
    return {stem: bar_chart_svg(chart) for stem, chart in charts.items()}


# ---------------------------------------------------------------- the document


@dataclass(frozen=True)
class _Code:
    text: str


@dataclass(frozen=True)
class _Link:
    text: str
    href: str


_Inline = str | _Code | _Link
_Line = tuple[_Inline, ...]


@dataclass(frozen=True)
class _Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class _Para:
    line: _Line


@dataclass(frozen=True)
class _Bullets:
    lines: tuple[_Line, ...]


@dataclass(frozen=True)
class _Table:
    """Cells are plain text; the columns from `left` on hold numbers and are right-aligned."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    left: int = 1


@dataclass(frozen=True)
class _Figure:
    chart: Chart
    table: bool = True  # False when a table nearby already holds its numbers


_Block = _Heading | _Para | _Bullets | _Table | _Figure


def _chart_table(chart: Chart) -> _Table:
    grouped = chart.grouped
    rows = tuple(
        ((title,) if grouped else ()) + (bar.label, *bar.cells)
        for title, bars in chart.groups
        for bar in bars
    )
    header = (chart.group_column, *chart.columns) if grouped else chart.columns
    return _Table(header, rows, left=2 if grouped else 1)


def _href(path: str, base: str | Path | None) -> str:
    """`path` as a link from a file in `base` (cwd-relative paths stay as given without one)."""
    if base is None or "://" in path:
        return path
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive on Windows
        return path


def _header(summary: Mapping[str, Any], figures: _SampleFigures) -> list[_Block]:
    seconds = _number(summary.get("seconds"))
    corpus = summary.get("corpus") or ()
    corpus = [corpus] if isinstance(corpus, str | Path) else [str(c) for c in corpus]
    generator = str(summary.get("generator") or MISSING)
    model = summary.get("model")
    steps = dict(_funnel(summary))
    functions = steps.get("unique", next(iter(steps.values()), None))
    corpus_line: list[_Inline] = ["Corpus: "]
    for i, path in enumerate(corpus):
        corpus_line += [", "] * bool(i) + [_Code(str(path))]
    generator_line: list[_Inline] = ["Input generator: ", _Code(generator)]
    if model:
        generator_line += [", model ", _Code(str(model))]
    return [
        _Heading(TITLE, 1),
        _Bullets(
            (
                tuple(corpus_line) if corpus else (f"Corpus: {MISSING}",),
                tuple(generator_line),
                (
                    f"Total time: {_seconds(seconds)}; {_rate(functions, seconds)} functions/s, "
                    f"{_rate(figures.rows, seconds)} samples/s",
                ),
                (f"Samples: {figures.rows:,} of {_plural(figures.functions, 'function')}",),
            )
        ),
    ]


def _stage_section(summary: Mapping[str, Any], chart: Chart) -> list[_Block]:
    stages = _stages(summary)
    if not stages:
        return [_Heading("Stages"), _Para(("No stages recorded.",))]
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
        _Heading("Stages"),
        _Para((f"Shares are of the stages' total, {_seconds(total)}.",)),
        _Table(header, tuple(rows), left=2),
        _Figure(chart, table=False),
    ]


def _figure_section(title: str, chart: Chart, empty: str) -> list[_Block]:
    return [_Heading(title), _Figure(chart) if chart.bars else _Para((empty,))]


def _left_out(summary: Mapping[str, Any]) -> list[_Block]:
    """Cases no sample may show, and functions an exception cost, with what each means."""
    assemble = _stage_figures(summary, "assemble")
    lines: list[_Line] = []
    unstable = _number(assemble.get("unstable_cases"))
    if unstable is not None:
        lines.append((f"Unstable cases: {_count(unstable)}. {UNSTABLE_EXPLANATION}",))
    repr_errors = _number(assemble.get("repr_error_cases"))
    if repr_errors:
        lines.append((f"repr() errors: {_count(repr_errors)}. {REPR_ERROR_EXPLANATION}",))
    for stage, key, what in (
        ("inputs", "function_errors", "Functions an exception cost in input generation"),
        ("assemble", "samples_failed", "Samples whose rendering raised"),
    ):
        counts = _stage_figures(summary, stage).get(key)
        if isinstance(counts, Mapping) and counts:
            listed = ", ".join(
                f"{reason} {_count(n)}"
                for reason, value in sorted(counts.items())
                if (n := _number(value)) is not None
            )
            lines.append((f"{what}: {listed}.",))
    if not lines:
        return []
    return [_Heading("Cases left out"), _Bullets(tuple(lines))]


def _contamination(summary: Mapping[str, Any]) -> list[_Block]:
    found = _mappings(summary.get("contaminated"))
    if not found:
        return []
    keys = ("name", "function_id", "benchmark", "task_id")
    rows = tuple(tuple(str(item.get(key) or MISSING) for key in keys) for item in found)
    return [
        _Heading("Contamination"),
        _Para((f"Left out as matching a benchmark: {_plural(len(found), 'function')}.",)),
        _Table(("function", "function id", "benchmark", "task"), rows, left=len(keys)),
    ]


def _outputs(summary: Mapping[str, Any], base: str | Path | None) -> list[_Block]:
    lines: list[_Line] = []
    dataset = summary.get("dataset") or {}
    if isinstance(dataset, Mapping) and dataset.get("path"):
        path = str(dataset["path"])
        rows, shards = _number(dataset.get("rows")), _number(dataset.get("shards"))
        counts = []
        if rows is not None:
            counts.append(_plural(rows, "row"))
        if shards is not None:
            counts.append(_plural(shards, "shard"))
        tail = (f" ({', '.join(counts)})",) if counts else ()
        lines.append(("Dataset: ", _Link(path, _href(path, base)), *tail))
    split = summary.get("eval_split") or {}
    if isinstance(split, Mapping) and split.get("path"):
        path = str(split["path"])
        functions = _number(split.get("functions"))
        tail = (f" ({_plural(functions, 'function')})",) if functions is not None else ()
        lines.append(("Eval split: ", _Link(path, _href(path, base)), *tail))
    body: _Block = _Bullets(tuple(lines)) if lines else _Para(("No dataset was written.",))
    return [_Heading("Outputs"), body]


def _document(
    summary: Mapping[str, Any],
    figures: _SampleFigures,
    charts: Mapping[str, Chart],
    base: str | Path | None,
) -> list[_Block]:
    return [
        *_header(summary, figures),
        *_stage_section(summary, charts["stage-time"]),
        *_figure_section("Funnel", charts["funnel"], "No funnel counts recorded."),
        *_figure_section("Rejections", charts["rejections"], "No rejections recorded."),
        *_figure_section("Cases per sample", charts["case-counts"], "No samples."),
        *_figure_section("Output lengths", charts["output-lengths"], "No shown cases."),
        *_figure_section("Template mix", charts["template-mix"], "No samples."),
        *_left_out(summary),
        *_contamination(summary),
        *_outputs(summary, base),
    ]


# ---------------------------------------------------------------- Markdown


def _md_escape(text: str) -> str:
    text = " ".join(text.split("\n"))
    return "".join("\\" + c if c in "\\`*[]<|" else c for c in text)


def _md_inline(piece: _Inline) -> str:
    if isinstance(piece, _Code):
        text = " ".join(piece.text.split("\n"))
        if "`" not in text:
            return f"`{text}`"
        fence = "`" * (max(len(run) for run in re.findall("`+", text)) + 1)
        return f"{fence} {text} {fence}"
    if isinstance(piece, _Link):
        return f"[{_md_escape(piece.text)}]({quote(piece.href, safe='/:#')})"
    return _md_escape(piece)


def _md_line(line: _Line) -> str:
    return "".join(_md_inline(piece) for piece in line)


def _md_table(table: _Table) -> str:
    rule = ["---" if i < table.left else "---:" for i in range(len(table.header))]
    rows = [table.header, rule, *table.rows]
    cells = [[_md_escape(c) if row is not rule else c for c in row] for row in rows]
    return "\n".join("| " + " | ".join(row) + " |" for row in cells)


def _md_block(block: _Block, plots_dir_name: str) -> str:
    if isinstance(block, _Heading):
        return f"{'#' * block.level} {_md_escape(block.text)}"
    if isinstance(block, _Para):
        return _md_line(block.line)
    if isinstance(block, _Bullets):
        return "\n".join(f"- {_md_line(line)}" for line in block.lines)
    if isinstance(block, _Table):
        return _md_table(block)
    image = f"![{_md_escape(block.chart.title)}]({plots_dir_name}/{block.chart.stem}.svg)"
    return image + ("\n\n" + _md_table(_chart_table(block.chart)) if block.table else "")


def render_markdown(
    summary: Mapping[str, Any],
    samples: Samples,
    plots_dir_name: str = PLOTS_DIR,
    *,
    base: str | Path | None = None,
) -> str:
    """The report as Markdown, plots linked as `<plots_dir_name>/<stem>.svg`.

    `base` is the directory the report goes to: the dataset and eval paths are linked relative
    to it (without one they are linked as given).
    """
    figures = _sample_figures(samples)
    blocks = _document(summary, figures, _charts(summary, figures), base)
    return _markdown(blocks, plots_dir_name)


def _markdown(blocks: Iterable[_Block], plots_dir_name: str) -> str:
    return "\n\n".join(_md_block(block, plots_dir_name) for block in blocks) + "\n"


# ---------------------------------------------------------------- HTML


def _html_inline(piece: _Inline) -> str:
    if isinstance(piece, _Code):
        return f"<code>{escape(piece.text)}</code>"
    if isinstance(piece, _Link):
        return f'<a href="{escape(quote(piece.href, safe="/:#"))}">{escape(piece.text)}</a>'
    return escape(piece)


def _html_line(line: _Line) -> str:
    return "".join(_html_inline(piece) for piece in line)


def _html_row(cells: Sequence[str], tag: str, left: int) -> str:
    numeric = ' class="n"'
    out = [f"<{tag}{'' if i < left else numeric}>{escape(c)}</{tag}>" for i, c in enumerate(cells)]
    return "<tr>" + "".join(out) + "</tr>"


def _html_table(table: _Table) -> str:
    head = _html_row(table.header, "th", table.left)
    body = "\n".join(_html_row(row, "td", table.left) for row in table.rows)
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _html_block(block: _Block) -> str:
    if isinstance(block, _Heading):
        return f"<h{block.level}>{escape(block.text)}</h{block.level}>"
    if isinstance(block, _Para):
        return f"<p>{_html_line(block.line)}</p>"
    if isinstance(block, _Bullets):
        items = "\n".join(f"<li>{_html_line(line)}</li>" for line in block.lines)
        return f"<ul>\n{items}\n</ul>"
    if isinstance(block, _Table):
        return _html_table(block)
    svg = bar_chart_svg(block.chart).rstrip("\n")
    return svg + ("\n" + _html_table(_chart_table(block.chart)) if block.table else "")


def render_html(
    summary: Mapping[str, Any], samples: Samples, *, base: str | Path | None = None
) -> str:
    """The report as one self-contained HTML file (plots inline; `base` as in Markdown)."""
    figures = _sample_figures(samples)
    return _html(_document(summary, figures, _charts(summary, figures), base))


def _html(blocks: Iterable[_Block]) -> str:
    # Well-formed XML too (void elements closed), so any XML parser can read it.
    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8" />\n'
        f"<title>{escape(TITLE)}</title>\n<style>{CSS}</style>\n</head>\n<body>"
    )
    body = "\n".join(_html_block(block) for block in blocks)
    return f"{head}\n{body}\n</body>\n</html>\n"


# ---------------------------------------------------------------- files


def write_run_report(
    summary: Mapping[str, Any], samples: Samples, out_dir: str | Path
) -> tuple[Path, Path]:
    """Write `report.md`, `report.html` and `report-plots/*.svg` under `out_dir`, atomically.
    `samples` may be lazy (`pl.scan_parquet`): the report reads only counts from it."""
    out = Path(out_dir)
    figures = _sample_figures(samples)
    charts = _charts(summary, figures)
    for stem, chart in charts.items():
        write_text(bar_chart_svg(chart), out / PLOTS_DIR / f"{stem}.svg")
    blocks = _document(summary, figures, charts, out)
    md = write_text(_markdown(blocks, PLOTS_DIR), out / "report.md")
    html = write_text(_html(blocks), out / "report.html")
    return md, html
