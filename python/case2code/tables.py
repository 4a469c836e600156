"""Reading a stage's input table and checking its columns, with errors that name the table."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from case2code.atomic import TABLE_ROW_GROUP_ROWS, sink_parquet, write_parquet
from case2code.errors import C2CError


def json_object(line: str, where: str) -> dict[str, Any]:
    """One JSONL line that must hold a JSON object; C2CError names `where` (file:line)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise C2CError(f"{where}: not JSON ({e})") from None
    if not isinstance(record, dict):
        raise C2CError(f"{where}: not a JSON object")
    return record


def require_columns(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise C2CError(
            f"{what}: missing column(s) {', '.join(missing)} (has {', '.join(frame.columns)})"
        )


def read_table(path: str | Path, what: str) -> pl.DataFrame:
    """A Parquet or JSONL table; a missing or unreadable file is a C2CError naming it."""
    path = Path(path)
    if not path.is_file():
        raise C2CError(f"{what}: {path} does not exist")
    try:
        if path.suffix in (".jsonl", ".ndjson"):
            return pl.read_ndjson(path)
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as e:
        raise C2CError(f"{what}: cannot read {path}: {e}") from None


def parquet_slices(
    path: str | Path, columns: Sequence[str] | None, rows: int, total: int | None = None
) -> Iterator[tuple[int, pl.DataFrame]]:
    """`columns` (None: all) of a Parquet table, `rows` at a time, with each slice's first
    row; stops at `total` rows (None: the footer's count) or at a short slice. Each slice is a
    query of its own that reads only its row groups: `collect_batches` reads ahead of a slow
    consumer and would hold most of a big table. polars' errors are the caller's to word."""
    frame = pl.scan_parquet(path)
    if columns is not None:
        frame = frame.select(columns)
    if total is None:
        total = pl.scan_parquet(path).select(pl.len()).collect().item()
    for start in range(0, total, rows):
        piece = frame.slice(start, rows).collect()
        yield start, piece
        if piece.height < min(rows, total - start):
            return


# Rows of a sorted run per row group: small, so that a range of keys reads few rows beyond it.
RUN_ROW_GROUP_ROWS = 2_000
# Rows gathered and sorted at once when sorted runs are merged: what the merge holds in memory.
MERGE_RANGE_ROWS = 50_000
HEX_DIGITS = 8  # leading hex digits the ranges are cut at
HEX_SPACE = 16**HEX_DIGITS


def sink_sorted_runs(
    runs: Sequence[pl.LazyFrame], output: str | os.PathLike[str], key: str
) -> None:
    """Merge runs sorted by `key` into `output`, sorted (ties in run order), in bounded
    memory: the key space is cut into ranges of about `MERGE_RANGE_ROWS` rows; each range is
    read from every run (row groups outside it are skipped by their statistics), sorted and
    set aside; the pieces are then streamed out. Keys are function ids, hex digests spread
    evenly, so the ranges are cut at evenly spaced leading hex digits, without reading the
    keys; other keys merge just as well, in ranges of uneven size."""
    output = Path(output)
    table = pl.concat(list(runs))
    rows = table.select(pl.len()).collect().item()
    count = max(1, -(-rows // MERGE_RANGE_ROWS))
    cuts = [format(i * HEX_SPACE // count, f"0{HEX_DIGITS}x") for i in range(1, count)]
    bounds = [None, *cuts, None]
    pieces = output.with_name(f".{output.name}.ranges")
    shutil.rmtree(pieces, ignore_errors=True)
    try:
        paths = []
        for index, (lower, upper) in enumerate(itertools.pairwise(bounds)):
            inside = pl.lit(True) if lower is None else pl.col(key) >= lower
            if upper is not None:
                inside = inside & (pl.col(key) < upper)
            if lower is None:  # the first range takes the null keys too
                inside = inside | pl.col(key).is_null()
            piece = table.filter(inside).sort(key, maintain_order=True, nulls_last=False)
            paths.append(pieces / f"{index:06d}.parquet")
            write_parquet(piece.collect(), paths[-1])
        sink_parquet(
            pl.scan_parquet([str(p) for p in paths]), output, row_group_size=TABLE_ROW_GROUP_ROWS
        )
    finally:
        shutil.rmtree(pieces, ignore_errors=True)
