"""Read a corpus as batches of sources: Python files, or rows of JSONL / JSON / Parquet.

Directories and Python files (`.py`, `.pyw`, `.ipynb` notebooks) become batches of paths
(Rust reads them); JSONL, JSON arrays and Parquet files become batches of texts with their row
numbers and origin columns (as in The Stack: path, repository, licence). Batches are bounded in
bytes, so a corpus of any size streams through in bounded memory (a JSON array is read whole).
A missing path is refused at once; a table that cannot be read is reported as one `Unreadable`
and the others are still read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from case2code import _core
from case2code.errors import C2CError
from case2code.tables import parquet_slices

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

# Read as Python source; the same list as SOURCE_EXTENSIONS in rust/src/extract/driver.rs,
# which walks directories. Notebooks (`.ipynb`) give their code cells.
PYTHON_SUFFIXES = (".py", ".pyw", ".ipynb")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet",)
# Source code compresses about this much in Parquet: the guess that sizes a read chunk.
PARQUET_COMPRESSION = 4

# Jupyter's autosaved copies of notebooks: walking into them would read every notebook twice.
NOTEBOOK_CHECKPOINTS = ".ipynb_checkpoints"

# Skip reasons for a whole table: its bytes cannot be read as its format (I/O error, a
# truncated Parquet file, a JSON file that does not parse), or it is not a table of source.
UNREADABLE = "unreadable"
BAD_TABLE = "bad_table"


@dataclass
class FileBatch:
    """Python files for Rust to read."""

    paths: list[str]
    bytes: int


@dataclass
class RowBatch:
    """Source texts taken from rows of one corpus file. `bytes` is its share of the file's
    size (progress is shown against file sizes), `text_bytes` the size of its texts."""

    origin: str
    rows: list[int]
    texts: list[str]
    extra: dict[str, list[Any]] = field(default_factory=dict)
    bytes: int = 0

    @property
    def text_bytes(self) -> int:
        return sum(len(text) for text in self.texts)


@dataclass
class Unreadable:
    """A source (file, table or row) that could not be read at all (counted, never fatal)."""

    origin: str
    row: int | None
    reason: str
    detail: str


Batch = FileBatch | RowBatch | Unreadable


@dataclass
class Corpus:
    """What `plan` found: the total size to show progress against, and the inputs. `roots`
    are the directories and Python files given, as `files` spell their paths."""

    files: list[tuple[str, int]]
    tables: list[Path]
    unreadable: list[Unreadable]
    total_bytes: int
    roots: list[str] = field(default_factory=list)

    def provenance(self, path: str) -> tuple[str, str]:
        """(corpus, origin) of a file read from the corpus: the name of the root it was found
        under (a directory's or a file's own name) and its path inside that root, so that a
        dataset names no folder of the machine that built it."""
        for root in sorted(self.roots, key=len, reverse=True):
            if path == root:
                return _name(root), _name(root)
            if path.startswith(root.rstrip(os.sep) + os.sep):
                return _name(root), Path(path).relative_to(root).as_posix()
        return _name(path), _name(path)


def _name(path: str | Path) -> str:
    """A path's last component (`.` and friends resolved first)."""
    return Path(path).resolve().name or str(path)


def _require_exists(path: Path) -> None:
    """A corpus path that is not there is a mistake in the command, refused before any work."""
    try:
        exists = path.exists()
    except OSError as error:
        raise C2CError(f"{path}: cannot be read ({error.strerror})") from None
    if not exists:
        raise C2CError(f"{path}: no such file or directory")


def plan(inputs: Sequence[str | os.PathLike[str]], exclude_dirs: Sequence[str] = ()) -> Corpus:
    """Sort inputs into Python files (directories expanded, skipping directories named
    in `exclude_dirs` and notebook checkpoints) and table files; a path that does not exist
    is refused."""
    py_roots: list[str] = []
    tables: list[Path] = []
    for raw in inputs:
        path = Path(raw)
        _require_exists(path)
        name = path.name.lower()
        if path.is_dir() or name.endswith(PYTHON_SUFFIXES):
            py_roots.append(str(path))
        elif name.endswith(JSONL_SUFFIXES + PARQUET_SUFFIXES):
            tables.append(path)
        else:
            raise C2CError(
                f"{path}: not a directory, Python ({', '.join(PYTHON_SUFFIXES)}), "
                f"JSONL ({', '.join(JSONL_SUFFIXES)}) or Parquet file"
            )
    files: list[tuple[str, int]] = []
    unreadable: list[Unreadable] = []
    if py_roots:
        found, errors = _core.discover(py_roots, [*exclude_dirs, NOTEBOOK_CHECKPOINTS])
        for found_path in found:
            try:
                files.append((str(found_path), os.stat(found_path).st_size))
            except OSError as error:
                unreadable.append(Unreadable(str(found_path), None, UNREADABLE, str(error)))
        unreadable.extend(
            Unreadable(str(path), None, UNREADABLE, reason) for path, reason in errors
        )
    total = sum(size for _, size in files) + sum(file_size(t) for t in tables)
    return Corpus(files, tables, unreadable, total, py_roots)


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reading it will fail too, and be counted then


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


# One record of a JSON corpus file: (row, bytes it took, the parsed value, None for a blank
# line, or an `Unreadable` for a line that does not parse).
JsonRecord = tuple[int, int, Any]


def _jsonl_records(handle: BinaryIO, origin: str) -> Iterator[JsonRecord]:
    for row, line in enumerate(handle):
        if not line.strip():
            yield row, len(line), None
            continue
        try:
            yield row, len(line), json.loads(line)
        except ValueError as error:
            yield row, len(line), Unreadable(origin, row, "bad_row", f"invalid JSON: {error}")


def _starts_with_array(handle: BinaryIO) -> bool:
    """Whether the file's first non-blank byte opens a JSON array; the handle is rewound."""
    head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    handle.seek(0)
    return head.startswith(b"[")


def jsonl_batches(
    path: Path, text_column: str, batch_bytes: int
) -> Iterator[RowBatch | Unreadable]:
    """Rows of a JSONL file, or of a JSON array of records (a `.json` whose first byte is
    `[`); a bad row is reported with its number and skipped, a file that cannot be read or
    parsed is reported whole. Rows read before a read error are kept."""
    origin = str(path)
    try:
        with path.open("rb") as handle:
            if path.name.lower().endswith(".json") and _starts_with_array(handle):
                try:  # read whole: the standard library has no streaming parser
                    values = json.load(handle)
                except ValueError as error:
                    yield Unreadable(origin, None, UNREADABLE, f"invalid JSON: {error}")
                    return
                share = path.stat().st_size // max(1, len(values))
                records: Iterator[JsonRecord] = ((r, share, v) for r, v in enumerate(values))
            else:
                records = _jsonl_records(handle, origin)
            yield from _record_batches(records, origin, text_column, batch_bytes)
    except OSError as error:
        yield Unreadable(origin, None, UNREADABLE, f"cannot read: {error}")


def _record_batches(
    records: Iterator[JsonRecord], origin: str, text_column: str, batch_bytes: int
) -> Iterator[RowBatch | Unreadable]:
    batch = RowBatch(origin, [], [])
    for row, size, record in records:
        batch.bytes += size
        if record is None:
            continue
        if isinstance(record, Unreadable):
            yield record
            continue
        if not isinstance(record, dict):
            yield Unreadable(origin, row, "bad_row", "a record is not a JSON object")
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


def _parquet_schema(path: Path) -> pl.Schema | str:
    """A Parquet file's schema, or why it cannot be read."""
    try:
        return pl.read_parquet_schema(path)
    except Exception as error:  # polars raises several types for a corrupt file
        return f"not a readable Parquet file ({error})"


def _text_column_problem(path: Path, schema: pl.Schema, text_column: str) -> str | None:
    if text_column not in schema:
        return (
            f"{path}: no column {text_column!r}; columns are {', '.join(schema)} "
            f"(choose one with --text-column)"
        )
    if schema[text_column] not in (pl.String, pl.Binary):
        return f"{path}: column {text_column!r} is {schema[text_column]}, not text"
    return None


def parquet_batches(
    path: Path, text_column: str, batch_bytes: int
) -> Iterator[RowBatch | Unreadable]:
    """Rows of a Parquet file, streamed in chunks; null texts are reported and skipped. A file
    that cannot be read, or whose text column is missing or not text, is reported whole; a
    read error part way keeps the rows read before it."""
    origin = str(path)
    columns = parquet_columns(path, text_column)
    if isinstance(columns, Unreadable):
        yield columns
        return
    try:
        size = path.stat().st_size
        declared = pl.scan_parquet(path).select(pl.len()).collect().item()
    except Exception as error:  # polars: ComputeError, OSError, ...
        yield Unreadable(origin, None, UNREADABLE, f"not a readable Parquet file ({error})")
        return
    row_bytes = size / (declared or 1)
    # Rows per chunk: aim at `batch_bytes` of text from the file's average (compressed) row
    # size; chunks are cut further by their texts' size (`chunk_batches`).
    chunk_rows = max(64, int(batch_bytes / max(1, PARQUET_COMPRESSION * row_bytes)))
    chunks = parquet_slices(path, columns, chunk_rows, declared)
    read = 0
    while True:
        try:
            start, chunk = next(chunks)
        except StopIteration:
            # A damaged row group can end the rows early instead of raising (polars 1.34):
            # the rows the footer declares tell.
            if read < declared:
                reason = f"read failed part way: {read:,} of {declared:,} rows read"
                yield Unreadable(origin, None, UNREADABLE, reason)
            return
        except Exception as error:
            yield Unreadable(origin, None, UNREADABLE, f"read failed part way: {error}")
            return
        read += chunk.height
        yield from chunk_batches(chunk, start, origin, columns, row_bytes, batch_bytes)


def parquet_columns(path: Path, text_column: str) -> list[str] | Unreadable:
    """The columns to read from a Parquet table (its text column, then the origin columns it
    has), or why it cannot be read as a table of source."""
    schema = _parquet_schema(path)
    if isinstance(schema, str):
        return Unreadable(str(path), None, UNREADABLE, schema)
    problem = _text_column_problem(path, schema, text_column)
    if problem is not None:
        return Unreadable(str(path), None, BAD_TABLE, problem)
    return [text_column, *(c for c in ORIGIN_COLUMNS if c in schema and c != text_column)]


def chunk_batches(
    chunk: pl.DataFrame,
    start: int,
    origin: str,
    columns: Sequence[str],
    row_bytes: float,
    batch_bytes: int,
) -> Iterator[RowBatch | Unreadable]:
    """A table's rows from row `start` on (`columns`: the text column first) as batches of
    about `batch_bytes` of text (a compressed Parquet file says little of its texts' size, so
    a chunk can be far bigger than a batch); a row whose text is null or not UTF-8 is reported."""
    text = columns[0]
    chunk = chunk.with_columns(
        pl.col(text).cast(pl.String, strict=False),
        pl.int_range(start, start + chunk.height).alias("__row"),
    )
    ends = (chunk[text].str.len_bytes().fill_null(0).cum_sum() // batch_bytes).to_list()
    first = 0
    for end in range(1, chunk.height + 1):
        if end == chunk.height or ends[end] != ends[first]:
            piece = chunk.slice(first, end - first)
            for row in piece.filter(pl.col(text).is_null())["__row"]:
                yield Unreadable(origin, row, "bad_row", f"{text!r} is null or not UTF-8")
            kept = piece.filter(pl.col(text).is_not_null())
            extra = {c: kept[c].to_list() for c in columns[1:]}
            rows, texts = kept["__row"].to_list(), kept[text].to_list()
            yield RowBatch(origin, rows, texts, extra, int(row_bytes * piece.height))
            first = end


def require_text_column(tables: Sequence[Path], text_column: str) -> None:
    """A text column that no readable Parquet table of the corpus has is a mistake in the
    settings (`--text-column`), refused before any work; one table without it is skipped."""
    first_missing = None
    for table in tables:
        if not table.name.lower().endswith(PARQUET_SUFFIXES):
            continue
        schema = _parquet_schema(table)
        if isinstance(schema, str):
            continue
        if text_column in schema:
            return
        first_missing = first_missing or _text_column_problem(table, schema, text_column)
    if first_missing is not None:
        raise C2CError(first_missing)


def batches(corpus: Corpus, text_column: str, batch_bytes: int) -> Iterator[Batch]:
    require_text_column(corpus.tables, text_column)
    yield from corpus.unreadable
    yield from file_batches(corpus.files, batch_bytes)
    for table in corpus.tables:
        if table.name.lower().endswith(PARQUET_SUFFIXES):
            yield from parquet_batches(table, text_column, batch_bytes)
        else:
            yield from jsonl_batches(table, text_column, batch_bytes)
