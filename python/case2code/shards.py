"""Resumable stage output: shards written atomically into `<output>.parts/`, merged at the end.

A stage splits its `items` (functions, usually) into blocks of `block_size` and computes each
into a Parquet shard (plus an optional JSON side file of counters). A rerun after a crash finds
the finished shards and skips them; a `RUN` stamp holding the fingerprint of the stage's inputs
and settings refuses to mix shards of a different run. Every file goes through atomic.py, so a
full disk or a read-only folder is a C2CError naming the file, and no shard is half-written.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from case2code.atomic import write_parquet, write_text
from case2code.errors import C2CError


class ShardedOutput:
    def __init__(
        self, output: str | os.PathLike[str], fingerprint: str, items: int, block_size: int
    ) -> None:
        self.output = Path(output)
        self.items = items
        self.block_size = block_size
        self.blocks = -(-items // block_size)
        self.parts = self.output.with_name(self.output.name + ".parts")
        stamp = self.parts / "RUN"
        if self.parts.exists() and (
            not stamp.is_file() or stamp.read_text().strip() != fingerprint
        ):
            raise C2CError(
                f"{self.parts} holds shards of a different run (other inputs or settings); "
                "delete it to start over"
            )
        write_text(fingerprint + "\n", stamp)

    def shard(self, index: int) -> Path:
        return self.parts / f"part-{index:05d}.parquet"

    def done(self, index: int) -> bool:
        return self.shard(index).is_file()

    def write(
        self,
        index: int,
        frame: pl.DataFrame,
        stats: dict[str, Any] | None = None,
        row_group_size: int | None = None,
    ) -> None:
        """Publish shard `index`; its stats first, so a shard never exists without them."""
        if stats is not None:
            write_text(json.dumps(stats, sort_keys=True), self._stats_path(index))
        write_parquet(frame, self.shard(index), row_group_size=row_group_size)

    def stats(self, index: int) -> dict[str, Any]:
        path = self._stats_path(index)
        return json.loads(path.read_text()) if path.is_file() else {}

    def _stats_path(self, index: int) -> Path:
        return self.parts / f"part-{index:05d}.json"

    def compute_missing(
        self,
        compute: Callable[[int, int], tuple[pl.DataFrame, dict[str, Any] | None]],
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Compute every block not already on disk, in order: `compute(start, stop)` gets the
        block's item range; `progress(items_done, items)` follows."""
        for index in range(self.blocks):
            start = index * self.block_size
            stop = min(start + self.block_size, self.items)
            if not self.done(index):
                frame, stats = compute(start, stop)
                self.write(index, frame, stats)
            if progress:
                progress(stop, self.items)

    def merge(self, schema: dict[str, pl.DataType]) -> pl.DataFrame:
        """All shards as one table, written to the output (the parts stay until `clean`)."""
        frames = [pl.read_parquet(self.shard(i)) for i in range(self.blocks)]
        table = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
        write_parquet(table, self.output)
        return table

    def clean(self) -> None:
        shutil.rmtree(self.parts)
