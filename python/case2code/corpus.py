"""Read a corpus as batches of sources: Python files, or rows of JSONL / Parquet.

Directories and `.py` files become batches of paths (Rust reads them); JSONL and
Parquet files become batches of texts with their row numbers and origin columns
(as in The Stack: path, repository, licence). Batches are bounded in bytes, so a
corpus of any size streams through in bounded memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from case2code import _core
from case2code.errors import C2CError

# Columns carried from corpus rows into `origin_<name>` when present (The Stack and kin).
ORIGIN_COLUMNS = (
    "path",
    "repo_name",
    "repository_name",
    "license",
    "licenses",
    "hexsha",
    "max_stars_repo_path",
    "max_stars_repo_name",
    "max_stars_repo_licenses",
    "max_stars_count",
)

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet",)


@dataclass
class FileBatch:
    """Python files for Rust to read."""

    paths: list[str]
    bytes: int


@dataclass
class RowBatch:
    """Source texts taken from rows of one corpus file."""

    origin: str
    rows: list[int]
    texts: list[str]
    extra: dict[str, list[Any]] = field(default_factory=dict)
    bytes: int = 0


@dataclass
class Unreadable:
    """A source that could not be read at all (counted, never fatal)."""

    origin: str
    row: int | None
    reason: str
    detail: str


Batch = FileBatch | RowBatch | Unreadable


@dataclass
class Corpus:
    """What `plan` found: the total size to show progress against, and the inputs."""

    files: list[tuple[str, int]]
    tables: list[Path]
    unreadable: list[Unreadable]
    total_bytes: int


def plan(inputs: Sequence[str | os.PathLike[str]], exclude_dirs: Sequence[str] = ()) -> Corpus:
    """Sort inputs into Python files (directories expanded, skipping directories named
    in `exclude_dirs`) and table files."""
    py_roots: list[str] = []
    tables: list[Path] = []
    for raw in inputs:
        path = Path(raw)
        name = path.name.lower()
        if path.is_dir() or name.endswith(".py"):
            py_roots.append(str(path))
        elif name.endswith(JSONL_SUFFIXES + PARQUET_SUFFIXES):
            if not path.is_file():
                raise C2CError(f"{path}: no such file")
            tables.append(path)
        elif not path.exists():
            raise C2CError(f"{path}: no such file or directory")
        else:
            raise C2CError(
                f"{path}: not a directory, .py file, JSONL ({', '.join(JSONL_SUFFIXES)}) "
                f"or Parquet file"
            )
    files: list[tuple[str, int]] = []
    unreadable: list[Unreadable] = []
    if py_roots:
        found, errors = _core.discover(py_roots, list(exclude_dirs))
        for found_path in found:
            try:
                files.append((str(found_path), os.stat(found_path).st_size))
            except OSError as error:
                unreadable.append(Unreadable(str(found_path), None, "unreadable", str(error)))
        unreadable.extend(
            Unreadable(str(path), None, "unreadable", reason) for path, reason in errors
        )
    total = sum(size for _, size in files) + sum(t.stat().st_size for t in tables)
    return Corpus(files, tables, unreadable, total)


def file_batches(files: list[tuple[str, int]], batch_bytes: int) -> Iterator[FileBatch]:
    batch: list[str] = []
    size = 0
    for path, file_size in files:
        batch.append(path)
        size += file_size
        if size >= batch_bytes or len(batch) >= 4096:
            yield FileBatch(batch, size)
            batch, size = [], 0
    if batch:
        yield FileBatch(batch, size)


def jsonl_batches(
    path: Path, text_column: str, batch_bytes: int
) -> Iterator[RowBatch | Unreadable]:
    """Rows of a JSONL file; a bad line is reported with its row number and skipped."""
    origin = str(path)
    batch = RowBatch(origin, [], [])
    with path.open("rb") as handle:
        for row, line in enumerate(handle):
            batch.bytes += len(line)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as error:
                yield Unreadable(origin, row, "bad_row", f"invalid JSON: {error}")
                continue
            if not isinstance(record, dict):
                yield Unreadable(origin, row, "bad_row", "a JSON line is not an object")
                continue
            text = record.get(text_column)
            if not isinstance(text, str):
                yield Unreadable(origin, row, "bad_row", f"no string column {text_column!r}")
                continue
            batch.rows.append(row)
            batch.texts.append(text)
            for column in ORIGIN_COLUMNS:
                if column in record:
                    batch.extra.setdefault(column, [None] * (len(batch.rows) - 1))
            for column, values in batch.extra.items():
                values.append(record.get(column))
            if batch.bytes >= batch_bytes:
                yield batch
                batch = RowBatch(origin, [], [])
    if batch.rows or batch.bytes:
        yield batch


def parquet_batches(
    path: Path, text_column: str, batch_bytes: int
) -> Iterator[RowBatch | Unreadable]:
    """Rows of a Parquet file, streamed in chunks; null texts are reported and skipped."""
    origin = str(path)
    try:
        schema = pl.read_parquet_schema(path)
    except Exception as error:  # polars raises several types for a corrupt file
        raise C2CError(f"{path}: not a readable Parquet file ({error})") from error
    if text_column not in schema:
        raise C2CError(
            f"{path}: no column {text_column!r}; columns are {', '.join(schema)} "
            f"(choose one with --text-column)"
        )
    if schema[text_column] not in (pl.String, pl.Binary):
        raise C2CError(f"{path}: column {text_column!r} is {schema[text_column]}, not text")
    extras = [c for c in ORIGIN_COLUMNS if c in schema and c != text_column]
    file_size = path.stat().st_size
    n_rows = pl.scan_parquet(path).select(pl.len()).collect().item() or 1
    frame = pl.scan_parquet(path).select([text_column, *extras]).with_row_index("__row")
    # Rows per chunk: aim at `batch_bytes` of text, from the file's average row size.
    chunk_rows = max(64, int(batch_bytes / max(1, file_size / n_rows)))
    for chunk in frame.collect_batches(chunk_size=chunk_rows):
        texts = chunk.get_column(text_column)
        if texts.dtype == pl.Binary:
            texts = texts.cast(pl.String, strict=False)
        rows = chunk.get_column("__row").to_list()
        batch = RowBatch(origin, [], [], {c: [] for c in extras})
        batch.bytes = int(file_size * len(rows) / n_rows)
        extra_values = {c: chunk.get_column(c).to_list() for c in extras}
        for index, (row, text) in enumerate(zip(rows, texts.to_list(), strict=True)):
            if text is None:
                yield Unreadable(origin, row, "bad_row", f"{text_column!r} is null or not UTF-8")
                continue
            batch.rows.append(row)
            batch.texts.append(text)
            for column in extras:
                batch.extra[column].append(extra_values[column][index])
        yield batch


def batches(corpus: Corpus, text_column: str, batch_bytes: int) -> Iterator[Batch]:
    yield from corpus.unreadable
    yield from file_batches(corpus.files, batch_bytes)
    for table in corpus.tables:
        if table.name.lower().endswith(PARQUET_SUFFIXES):
            yield from parquet_batches(table, text_column, batch_bytes)
        else:
            yield from jsonl_batches(table, text_column, batch_bytes)
