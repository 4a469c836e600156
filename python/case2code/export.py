"""The export stage: assembled samples in, files users load out.

Samples, sorted by `sample_id`, are written as sharded `data/train-XXXXX-of-YYYYY-DIGEST.parquet`
(and `.jsonl`) files, each atomically, beside a dataset card (`README.md`) whose front matter
points Hugging Face `datasets.load_dataset(out_dir)` at the Parquet shards. Every row has the
chat form (`messages`, assistant answer last), the plain form (`prompt`, `completion`) and the
structured fields (ids, source, shown and held-out cases, template id, origin and licence).

Memory does not grow with the samples or with `shard_rows`: a Parquet table is copied PIECE_ROWS
rows at a time in training layout (less the evaluation split's functions) into a scratch file,
sorted only when not already in order; every shard is written PIECE_ROWS rows at a time, and the
card's figures are streaming queries. A frame in memory gives the same files.

DIGEST (16 hex digits of SHA-256 over the rows) is in the card's `data_files` pattern because
`datasets` keys its cache of a local folder on the card's YAML and the folder's name only: without
it a re-export into the same folder loaded an earlier export's rows from the cache.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
from polars.io.plugins import register_io_source

from case2code.assemble import REPR_ERROR_EXPLANATION, UNSTABLE_EXPLANATION
from case2code.atomic import _publish as publish  # a file written by a function, atomically
from case2code.atomic import sink_parquet, write_text
from case2code.errors import C2CError
from case2code.tables import parquet_slices, require_columns

FORMATS = ("parquet", "jsonl")
# The chat form, the plain form, then the structured fields; any other column follows.
LEADING_COLUMNS = (
    "messages",
    "prompt",
    "completion",
    "sample_id",
    "function_id",
    "name",
    "source",
    "template_id",
    "shown",
    "held_out",
)
SPLIT = "train"
SHARD_ROWS = 50_000  # rows per shard file
DIGEST_CHARS = 16
# Shards written before their digest is known, and the scratch copy of the samples.
STAGED, SCRATCH = ".staged-", ".scratch-"
# Rows read, copied or turned into JSON text at once (samples run to several KB each: 256 of
# them, about 1 MB, keep the export's peak flat from a few thousand samples up).
PIECE_ROWS = 256
# Rows per row group of a Parquet shard (what its writer holds): a shard of up to this many
# rows is one row group, byte for byte what `write_parquet` writes.
SHARD_ROW_GROUP_ROWS = 1_024
# Ours, digest or not (exports before the digest had none): a re-export removes stale ones.
SHARD_NAME = re.compile(
    rf"{SPLIT}-\d{{5}}-of-\d{{5}}(-[0-9a-f]{{{DIGEST_CHARS}}})?\.(parquet|jsonl)"
)
# template_id tokens naming how the answer was revealed and how the chat was split up.
REVEAL_TOKENS = {"sig": "signature", "nam": "name only", "hid": "hidden"}
TURN_TOKENS = {
    "single": "single turn",
    "multic": "multi-turn, cases first",
    "multit": "multi-turn, task first",
}
CITATION = """@inproceedings{shao2025case2code,
  title     = {Case2Code: Scalable Synthetic Data for Code Generation},
  author    = {Shao, Yunfan and others},
  booktitle = {Proceedings of the 31st International Conference on Computational Linguistics
               (COLING 2025)},
  year      = {2025}
}"""


@dataclass(frozen=True)
class ExportSummary:
    out_dir: Path
    rows: int
    shards: int
    files: tuple[Path, ...]
    card: Path


def check_export(
    samples: pl.DataFrame | pl.LazyFrame, formats: Sequence[str], shard_rows: int
) -> None:
    frame = samples.lazy()
    require_columns(pl.DataFrame(schema=frame.collect_schema()), LEADING_COLUMNS, "samples")
    if not frame.select(pl.len()).collect().item():
        raise C2CError("samples: no rows to export (did every function get dropped?)")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise C2CError(f"formats: one or more of {', '.join(FORMATS)}, not {list(formats)}")
    if shard_rows < 1:
        raise C2CError(f"shard_rows must be at least 1, not {shard_rows}")


def training_layout(samples: pl.DataFrame) -> pl.DataFrame:
    """The columns in training order, rows sorted by sample_id so output is deterministic."""
    return _layout(samples.lazy()).sort("sample_id").collect()


def _layout(samples: pl.LazyFrame) -> pl.LazyFrame:
    rest = [c for c in samples.collect_schema() if c not in LEADING_COLUMNS]
    return samples.select(*LEADING_COLUMNS, *rest)


def shard_path(out_dir: Path, index: int, count: int, digest: str, fmt: str) -> Path:
    return out_dir / "data" / f"{SPLIT}-{index:05d}-of-{count:05d}-{digest}.{fmt}"


def shard_pattern(digest: str, fmt: str) -> str:
    """The card's `data_files` pattern: this export's shards, and only them."""
    return f"data/{SPLIT}-*-{digest}.{fmt}"


def _remove_stale(data_dir: Path, keep: Iterable[Path]) -> None:
    """Shards of an earlier export with another shard count would be globbed in with ours;
    staged files of an interrupted export are left-overs."""
    kept = set(keep)
    for path in data_dir.iterdir():
        ours = SHARD_NAME.fullmatch(path.name) or path.name.startswith(STAGED)
        if ours and path not in kept:
            path.unlink()


def _pieces(table: pl.LazyFrame, start: int, rows: int) -> Iterator[pl.DataFrame]:
    """Rows `start` to `start + rows` of the table, PIECE_ROWS at a time (over Parquet files,
    each slice a query of its own that reads only the row groups it spans)."""
    for begin in range(start, start + rows, PIECE_ROWS):
        yield table.slice(begin, min(PIECE_ROWS, start + rows - begin)).collect()


def _stream(pieces: Callable[[], Iterator[pl.DataFrame]], schema: pl.Schema) -> pl.LazyFrame:
    """The frames `pieces()` yields, as one lazy frame that polars reads a piece at a time: its
    Parquet sink then holds a row group's worth of rows, never the whole table."""

    def source(
        with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None, _: Any
    ) -> Iterator[pl.DataFrame]:
        left = n_rows
        for piece in pieces():
            if predicate is not None:
                piece = piece.filter(predicate)
            if with_columns is not None:
                piece = piece.select(with_columns)
            if left is not None:
                piece, left = piece.head(left), left - min(left, piece.height)
            yield piece
            if left == 0:
                return

    return register_io_source(source, schema=schema)


def _json_pieces(table: pl.LazyFrame, start: int, rows: int) -> Iterator[memoryview]:
    """The shard's rows as JSON lines (UTF-8), a piece at a time: the text of a whole shard is
    several times the size of its rows, and as bytes from polars, not a `str` (which takes 4
    bytes a character once one is outside Latin-1, and then another copy to encode)."""
    for piece in _pieces(table, start, rows):
        buffer = io.BytesIO()
        piece.write_ndjson(buffer)
        yield buffer.getbuffer()


def _write_jsonl_shard(table: pl.LazyFrame, start: int, rows: int, path: Path, digest: Any) -> Path:
    """One JSON lines shard; its text also feeds the content digest."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as file:
            for text in _json_pieces(table, start, rows):
                digest.update(text)
                file.write(text)

    return publish(path, write)


def write_shards(
    table: pl.DataFrame | pl.LazyFrame, out_dir: Path, formats: Sequence[str], shard_rows: int
) -> tuple[str, int, list[Path]]:
    """Write `table` in its order as this export's shards under `out_dir`/data and remove other
    exports' shards; returns (digest, shard count, files). Each shard is written PIECE_ROWS rows
    at a time (its Parquet file in row groups of SHARD_ROW_GROUP_ROWS: the bytes
    `write_parquet` gives), so memory does not grow with `shard_rows` or with the table. The
    digest, over the rows as JSON lines, names the files but is known only after the last
    shard: each is staged under a temporary name, then renamed."""
    table = table.lazy()
    schema = table.collect_schema()
    data = out_dir / "data"
    digest = hashlib.sha256()
    staged: list[Path] = []
    total = table.select(pl.len()).collect().item()
    for index, start in enumerate(range(0, total, shard_rows)):
        rows = min(shard_rows, total - start)
        for fmt in formats:
            path = data / f"{STAGED}{index:05d}.{fmt}"
            if fmt == "parquet":
                stream = _stream(partial(_pieces, table, start, rows), schema)
                staged.append(sink_parquet(stream, path, row_group_size=SHARD_ROW_GROUP_ROWS))
            else:
                staged.append(_write_jsonl_shard(table, start, rows, path, digest))
        if "jsonl" not in formats:
            for text in _json_pieces(table, start, rows):
                digest.update(text)
    name, count = digest.hexdigest()[:DIGEST_CHARS], len(staged) // len(formats)
    files = []
    for position, path in enumerate(staged):
        fmt = formats[position % len(formats)]
        files.append(path.replace(shard_path(out_dir, position // len(formats), count, name, fmt)))
    _remove_stale(data, files)
    return name, count, files


def export(
    samples: pl.DataFrame | str | Path,
    out_dir: str | Path,
    formats: Sequence[str] = FORMATS,
    shard_rows: int = SHARD_ROWS,
    report: Mapping[str, Any] | None = None,
    drop_functions: Collection[str] = (),
) -> ExportSummary:
    """Write `samples` (a frame, or a Parquet file streamed in bounded memory), less the
    samples of `drop_functions`, as sharded training files plus a dataset card under
    `out_dir`."""
    formats = tuple(dict.fromkeys(formats))
    kept = ~pl.col("function_id").is_in(list(drop_functions))
    if isinstance(samples, pl.DataFrame):
        check_export(samples.filter(kept), formats, shard_rows)
    else:
        check_export(pl.scan_parquet(samples).filter(kept), formats, shard_rows)
    out = Path(out_dir)
    with _sample_order(samples, kept, out / "data") as table:
        digest, count, files = write_shards(table, out, formats, shard_rows)
        card_text = dataset_card(table, formats, report, digest)
        rows = table.select(pl.len()).collect().item()
    card = write_text(card_text, out / "README.md")
    return ExportSummary(out, rows, count, tuple(files), card)


@contextmanager
def _sample_order(
    samples: pl.DataFrame | str | Path, kept: pl.Expr, scratch: Path
) -> Iterator[pl.LazyFrame]:
    """The kept samples in training layout and sample_id order. A frame is sorted in memory;
    a Parquet file is copied PIECE_ROWS rows at a time into a scratch file (removed after),
    kept as it is when already in order (the pipeline's tables, sorted by function id, are),
    else sorted by polars' streaming engine into another."""
    if isinstance(samples, pl.DataFrame):
        yield training_layout(samples.filter(kept)).lazy()
        return
    scratch.mkdir(parents=True, exist_ok=True)
    for left in scratch.glob(f"{SCRATCH}*"):  # by an interrupted export
        left.unlink()
    copy, ordered = scratch / f"{SCRATCH}copy.parquet", scratch / f"{SCRATCH}sorted.parquet"
    try:
        if _copy_kept(Path(samples), kept, copy):
            yield pl.scan_parquet(copy)
        else:
            sorted_rows = pl.scan_parquet(copy).sort("sample_id")
            sink_parquet(sorted_rows, ordered, row_group_size=PIECE_ROWS)
            copy.unlink()
            yield pl.scan_parquet(ordered)
    finally:
        copy.unlink(missing_ok=True)
        ordered.unlink(missing_ok=True)


def _copy_kept(samples: Path, kept: pl.Expr, copy: Path) -> bool:
    """Copy the kept rows of `samples` in training layout to `copy`, in row groups of
    PIECE_ROWS, reading PIECE_ROWS rows at a time; returns whether they are in sample_id
    order (checked piece by piece on the way)."""
    in_order = True

    def pieces() -> Iterator[pl.DataFrame]:
        nonlocal in_order
        last: str | None = None
        for _, piece in parquet_slices(samples, None, PIECE_ROWS):
            piece = _layout(piece.lazy().filter(kept)).collect()
            ids = piece["sample_id"]
            if piece.height:
                in_order &= ids.is_sorted() and (last is None or last <= ids[0])
                last = ids[-1]
            yield piece

    schema = _layout(pl.scan_parquet(samples)).collect_schema()
    sink_parquet(_stream(pieces, schema), copy, row_group_size=PIECE_ROWS)
    return in_order


# ---------------------------------------------------------------- the dataset card


def _size_category(rows: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")]
    bounds += [(1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]
    return next((label for bound, label in bounds if rows < bound), "n>10M")


def _front_matter(rows: int, formats: Sequence[str], digest: str, pretty_name: str) -> str:
    # Parquet when written: typed columns load faster and keep the struct types exactly.
    fmt = "parquet" if "parquet" in formats else "jsonl"
    return "\n".join(
        [
            "---",
            f"pretty_name: {pretty_name}",
            "task_categories:",
            "- text-generation",
            "language:",
            "- en",
            "tags:",
            "- code",
            "- synthetic",
            "- case2code",
            "size_categories:",
            f"- {_size_category(rows)}",
            "configs:",
            "- config_name: default",
            "  data_files:",
            f"  - split: {SPLIT}",
            f"    path: {shard_pattern(digest, fmt)}",
            "---",
        ]
    )


def _stats_row(label: str, values: pl.LazyFrame) -> str:
    """Mean, min and max of the frame's one column, computed by a streaming query."""
    stats = pl.first().mean().alias("mean"), pl.first().min().alias("min"), pl.first().max()
    mean, low, high = values.select(stats).collect(engine="streaming").row(0)
    return f"| {label} | {mean:.1f} | {low} | {high} |"


def _output_lengths(table: pl.LazyFrame, column: str) -> pl.LazyFrame:
    lengths = pl.element().struct.field("output").str.len_chars()
    return table.select(pl.col(column).list.eval(lengths).explode().alias("n"))


def stats_table(table: pl.DataFrame | pl.LazyFrame) -> list[str]:
    """Cases per sample and lengths of answers and outputs: mean, min, max."""
    table = table.lazy()
    outputs = pl.concat([_output_lengths(table, "shown"), _output_lengths(table, "held_out")])
    return [
        "| | mean | min | max |",
        "|---|---:|---:|---:|",
        _stats_row("shown cases per sample", table.select(pl.col("shown").list.len())),
        _stats_row("held-out cases per sample", table.select(pl.col("held_out").list.len())),
        _stats_row(
            "answer length (characters)", table.select(pl.col("completion").str.len_chars())
        ),
        _stats_row("case output length (characters)", outputs),
    ]


def template_tokens(template_ids: Iterable[str]) -> Counter[str]:
    """Every token of every template id (see `case2code.render.render`), counted."""
    return Counter(token for tid in template_ids if tid for token in tid.split("-"))


def _mix_table(title: str, counts: Mapping[str, int], total: int) -> list[str]:
    lines = [f"| {title} | samples | share |", "|---|---:|---:|"]
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"| {key} | {n} | {100 * n / total:.1f}% |")
    return lines


def _template_mix(table: pl.LazyFrame, top: int = 10) -> list[str]:
    # In order of first appearance: ties in the mix keep the order of the rows, as before.
    counts = table.group_by("template_id", maintain_order=True).len().collect()
    tokens: Counter[str] = Counter()
    for template_id, n in counts.iter_rows():
        for token, k in template_tokens([template_id]).items():
            tokens[token] += k * n
    total = int(counts["len"].sum())
    formats = Counter({t[2:]: n for t, n in tokens.items() if t.startswith("f:")})
    reveals = {label: tokens[t] for t, label in REVEAL_TOKENS.items() if tokens[t]}
    turns = {label: tokens[t] for t, label in TURN_TOKENS.items() if tokens[t]}
    lines = [f"{len(formats)} case formats in use; the top {min(top, len(formats))}:", ""]
    lines += _mix_table("case format", dict(formats.most_common(top)), total)
    lines += ["", *_mix_table("function shown as", reveals, total)]
    lines += ["", *_mix_table("chat", turns, total)]
    return lines


def _drop_reasons(report: Mapping[str, Any] | None) -> list[str]:
    if not report:
        return []
    lines = ["## Filtering", ""]
    if "functions_in" in report:
        lines += [f"Functions in: {report['functions_in']}.", ""]
    if "unstable_cases" in report:
        lines += [f"Unstable cases: {report['unstable_cases']}. {UNSTABLE_EXPLANATION}", ""]
    if report.get("repr_error_cases"):
        lines += [f"repr() errors: {report['repr_error_cases']}. {REPR_ERROR_EXPLANATION}", ""]
    for key, what in (("dropped", "Functions dropped"), ("cases_dropped", "Cases dropped")):
        reasons = report.get(key) or {}
        lines += [f"| {what.lower()}: reason | count |", "|---|---:|"]
        lines += [f"| {reason} | {n} |" for reason, n in reasons.items()] or ["| (none) | 0 |"]
        lines.append("")
    return lines


def card(
    title: str,
    rows: int,
    formats: Sequence[str],
    digest: str,
    about: str,
    columns: str,
    sections: Sequence[str],
) -> str:
    """An export's README.md: Hugging Face front matter, what the data is, its files and
    columns, then `sections` and how to cite the paper."""
    files = ", ".join(f"`{shard_pattern(digest, fmt)}`" for fmt in formats)
    head = [_front_matter(rows, formats, digest, title), "", f"# {title}", "", about, ""]
    citation = ["## Citation", "", "```bibtex", CITATION, "```", ""]
    return "\n".join([*head, f"Files: {files}. {columns}", "", *sections, *citation])


def dataset_card(
    table: pl.LazyFrame,
    formats: Sequence[str],
    report: Mapping[str, Any] | None,
    digest: str,
) -> str:
    """The README.md of an export, each figure a streaming query over the exported rows."""
    query = table.select(pl.len(), pl.col("function_id").n_unique())
    rows, functions = query.collect(engine="streaming").row(0)
    about = (
        "Execution-verified Case2Code data: each sample shows input/output cases of a real Python "
        "function, run in a sandbox, and asks for the function; the answer is its source. "
        'Built with the method of Shao et al., "Case2Code: Scalable Synthetic Data for Code '
        'Generation", COLING 2025.'
    )
    columns = (
        "Columns: `messages` (chat, assistant answer last), `prompt` and "
        "`completion` (plain), and the structured fields `sample_id`, `function_id`, `name`, "
        "`source`, `template_id`, `shown` and `held_out` (cases: `input`, `output`, `is_error`), "
        "`coverage` (line and branch coverage of the shown and of all usable cases, and whether "
        "every held-out case takes only branches a shown one took; null when untraced), "
        "plus origin and licence fields when the input had them."
    )
    sections = [
        "## Counts",
        "",
        f"- Samples: {rows}",
        f"- Functions: {functions}",
        "",
        *stats_table(table),
        "",
        *_coverage_lines(table),
        "## Template mix",
        "",
        *_template_mix(table),
        "",
        *_drop_reasons(report),
    ]
    return card("Case2Code", rows, formats, digest, about, columns, sections)


def _coverage_lines(table: pl.LazyFrame) -> list[str]:
    """Mean coverage of the samples' shown and of all their cases, traced in the sandbox (over
    the samples where the figure exists: branch coverage needs a branch); nothing untraced."""
    if "coverage" not in table.collect_schema().names():
        return []
    fields = {
        "shown_branch_coverage": "branch coverage of the shown cases",
        "branch_coverage": "branch coverage of all cases",
        "shown_line_coverage": "line coverage of the shown cases",
        "line_coverage": "line coverage of all cases",
    }
    query = table.select(
        *(pl.col("coverage").struct.field(f).mean().alias(f) for f in fields),
        *(pl.col("coverage").struct.field(f).count().alias(f"{f}_n") for f in fields),
        pl.col("coverage").struct.field("held_out_inferable").mean().alias("inferable"),
    )
    figures = query.collect(engine="streaming").row(0, named=True)
    if not figures["line_coverage_n"]:
        return []
    lines = ["## Coverage", "", "| mean | value | samples |", "|---|---:|---:|"]
    for field, label in fields.items():
        if figures[f"{field}_n"]:
            lines.append(f"| {label} | {figures[field]:.1%} | {figures[f'{field}_n']} |")
    if figures["inferable"] is not None:
        lines += [
            "",
            f"Samples whose held-out cases take only branches a shown case took: "
            f"{figures['inferable']:.1%}.",
        ]
    return [*lines, ""]
