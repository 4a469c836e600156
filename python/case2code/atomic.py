"""Write output files so that a crash never leaves a half-written one behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import polars as pl


def _publish(path: str | os.PathLike[str], write: Callable[[str], None]) -> Path:
    """Run `write` on a temporary file beside `path`, then rename it into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_parquet(frame: pl.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write `frame` atomically."""
    return _publish(path, frame.write_parquet)


def sink_parquet(frame: pl.LazyFrame, path: str | os.PathLike[str]) -> Path:
    """Stream `frame` to `path` atomically (polars' streaming engine, bounded memory)."""
    return _publish(path, frame.sink_parquet)


def write_text(text: str, path: str | os.PathLike[str]) -> Path:
    """Write `text` atomically."""
    return _publish(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
