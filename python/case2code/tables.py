"""Reading a stage's input table and checking its columns, with errors that name the table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from case2code.errors import C2CError


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
