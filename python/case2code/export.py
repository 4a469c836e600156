"""The export stage: assembled samples in, files users load out.

Samples are sorted by `sample_id` and written as sharded `data/train-XXXXX-of-YYYYY-DIGEST.parquet`
(and `.jsonl`) files under the output directory, each atomically, beside a dataset card
(`README.md`) whose YAML front matter points Hugging Face `datasets.load_dataset(out_dir)` at the
Parquet shards.

DIGEST is 16 hex digits of SHA-256 over the rows, and the card's `data_files` pattern names it.
Why: for a local folder with a `configs:` block, `datasets` keys its cache on the card's YAML and
the folder's name only (the patterns, not the files they match), so without it a re-export into
the same folder, or another folder of the same name, loaded an earlier export's rows from the
cache. New rows give a new pattern, hence a new cache entry; the same rows give the same files.

Every row has the chat form (`messages`, assistant answer last), the plain form
(`prompt`, `completion`) and the structured fields (ids, source, shown and held-out cases,
template id, origin and licence fields when present).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from case2code.assemble import REPR_ERROR_EXPLANATION, UNSTABLE_EXPLANATION
from case2code.atomic import write_parquet, write_text
from case2code.errors import C2CError
from case2code.tables import require_columns

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


def citation_section() -> list[str]:
    """The card's closing section: how to cite the paper."""
    return ["## Citation", "", "```bibtex", CITATION, "```", ""]


@dataclass(frozen=True)
class ExportSummary:
    out_dir: Path
    rows: int
    shards: int
    files: tuple[Path, ...]
    card: Path


def check_export(samples: pl.DataFrame, formats: Sequence[str], shard_rows: int) -> None:
    require_columns(samples, LEADING_COLUMNS, "samples")
    if samples.is_empty():
        raise C2CError("samples: no rows to export (did every function get dropped?)")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise C2CError(f"formats: one or more of {', '.join(FORMATS)}, not {list(formats)}")
    if shard_rows < 1:
        raise C2CError(f"shard_rows must be at least 1, not {shard_rows}")


def training_layout(samples: pl.DataFrame) -> pl.DataFrame:
    """The columns in training order, rows sorted by sample_id so output is deterministic."""
    rest = [c for c in samples.columns if c not in LEADING_COLUMNS]
    return samples.select(*LEADING_COLUMNS, *rest).sort("sample_id")


def content_digest(table: pl.DataFrame, shard_rows: int) -> str:
    """SHA-256 over the rows as JSON lines (a shard at a time, to bound memory), shortened."""
    digest = hashlib.sha256()
    for start in range(0, table.height, shard_rows):
        digest.update(table.slice(start, shard_rows).write_ndjson().encode())
    return digest.hexdigest()[:DIGEST_CHARS]


def shard_path(out_dir: Path, index: int, count: int, digest: str, fmt: str) -> Path:
    return out_dir / "data" / f"{SPLIT}-{index:05d}-of-{count:05d}-{digest}.{fmt}"


def shard_pattern(digest: str, fmt: str) -> str:
    """The card's `data_files` pattern: this export's shards, and only them."""
    return f"data/{SPLIT}-*-{digest}.{fmt}"


def _write_shard(frame: pl.DataFrame, path: Path, fmt: str) -> Path:
    if fmt == "parquet":
        return write_parquet(frame, path)
    return write_text(frame.write_ndjson(), path)


def _remove_stale(data_dir: Path, keep: Iterable[Path]) -> None:
    """Shards of an earlier export with another shard count would be globbed in with ours."""
    kept = set(keep)
    for path in data_dir.iterdir():
        if SHARD_NAME.fullmatch(path.name) and path not in kept:
            path.unlink()


def write_shards(
    table: pl.DataFrame, out_dir: Path, formats: Sequence[str], shard_rows: int
) -> tuple[str, int, list[Path]]:
    """Write `table`, in its order, as this export's shards under `out_dir`/data and remove
    other exports' shards; returns (digest, shard count, files)."""
    count = -(-table.height // shard_rows)
    digest = content_digest(table, shard_rows)
    files = []
    for index in range(count):
        shard = table.slice(index * shard_rows, shard_rows)
        for fmt in formats:
            files.append(_write_shard(shard, shard_path(out_dir, index, count, digest, fmt), fmt))
    _remove_stale(out_dir / "data", files)
    return digest, count, files


def export(
    samples: pl.DataFrame,
    out_dir: str | Path,
    formats: Sequence[str] = FORMATS,
    shard_rows: int = SHARD_ROWS,
    report: Mapping[str, Any] | None = None,
) -> ExportSummary:
    """Write `samples` as sharded training files plus a dataset card under `out_dir`."""
    formats = tuple(dict.fromkeys(formats))
    check_export(samples, formats, shard_rows)
    out = Path(out_dir)
    table = training_layout(samples)
    digest, count, files = write_shards(table, out, formats, shard_rows)
    card = write_text(dataset_card(table, formats, report, digest), out / "README.md")
    return ExportSummary(out, table.height, count, tuple(files), card)


# ---------------------------------------------------------------- the dataset card


def _size_category(rows: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")]
    bounds += [(1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]
    return next((label for bound, label in bounds if rows < bound), "n>10M")


def front_matter(
    rows: int, formats: Sequence[str], digest: str, pretty_name: str = "Case2Code"
) -> str:
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


def _stats_row(label: str, values: pl.Series) -> str:
    mean, low, high = values.mean(), values.min(), values.max()
    return f"| {label} | {mean:.1f} | {low} | {high} |"


def stats_table(table: pl.DataFrame) -> list[str]:
    """Cases per sample and lengths of answers and outputs: mean, min, max."""
    outputs = pl.concat([table["shown"].explode(), table["held_out"].explode()]).drop_nulls()
    return [
        "| | mean | min | max |",
        "|---|---:|---:|---:|",
        _stats_row("shown cases per sample", table["shown"].list.len()),
        _stats_row("held-out cases per sample", table["held_out"].list.len()),
        _stats_row("answer length (characters)", table["completion"].str.len_chars()),
        _stats_row(
            "case output length (characters)", outputs.struct.field("output").str.len_chars()
        ),
    ]


def template_tokens(template_ids: Iterable[str]) -> Counter[str]:
    """Every token of every template id (see `case2code.render.render`), counted."""
    return Counter(token for tid in template_ids if tid for token in tid.split("-"))


def _mix_table(title: str, counts: Mapping[str, int], total: int) -> list[str]:
    lines = [f"| {title} | samples | share |", "|---|---:|---:|"]
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"| {key} | {n} | {100 * n / total:.1f}% |")
    return lines


def _template_mix(table: pl.DataFrame, top: int = 10) -> list[str]:
    tokens = template_tokens(table["template_id"].to_list())
    total = table.height
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


def dataset_card(
    table: pl.DataFrame,
    formats: Sequence[str],
    report: Mapping[str, Any] | None = None,
    digest: str | None = None,
) -> str:
    """The README.md of an export: Hugging Face front matter, description and statistics."""
    functions = table["function_id"].n_unique()
    digest = digest or content_digest(table, max(table.height, 1))
    files = ", ".join(f"`{shard_pattern(digest, fmt)}`" for fmt in formats)
    body = [
        front_matter(table.height, formats, digest),
        "",
        "# Case2Code",
        "",
        "Execution-verified Case2Code data: each sample shows input/output cases of a real Python "
        "function, run in a sandbox, and asks for the function; the answer is its source. "
        'Built with the method of Shao et al., "Case2Code: Scalable Synthetic Data for Code '
        'Generation", COLING 2025.',
        "",
        f"Files: {files}. Columns: `messages` (chat, assistant answer last), `prompt` and "
        "`completion` (plain), and the structured fields `sample_id`, `function_id`, `name`, "
        "`source`, `template_id`, `shown` and `held_out` (cases: `input`, `output`, `is_error`), "
        "plus origin and licence fields when the input had them.",
        "",
        "## Counts",
        "",
        f"- Samples: {table.height}",
        f"- Functions: {functions}",
        "",
        *stats_table(table),
        "",
        "## Template mix",
        "",
        *_template_mix(table),
        "",
        *_drop_reasons(report),
        *citation_section(),
    ]
    return "\n".join(body)
