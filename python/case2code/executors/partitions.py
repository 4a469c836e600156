"""What every executor shares: input tables read a range of function ids at a time, the
partition plan, the stores of finished partitions (in memory, or resume shards), the resume
stamp, the schema check and global steps' summaries. The local and the Ray executor both use
it, so they make the same partitions and resume each other's shards.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from case2code.atomic import TABLE_ROW_GROUP_ROWS, sink_parquet
from case2code.errors import C2CError
from case2code.shards import ShardedOutput
from case2code.steps.base import KEY, GlobalStep, Partition, Schema, Stats, Step
from case2code.tables import parquet_slices

Source = str | os.PathLike[str] | pl.DataFrame
Progress = Callable[[int, int], None]


class _Table:
    """One input table, read a range of function ids at a time."""

    def __init__(self, source: Source, what: str) -> None:
        self.what = what
        self.path: Path | None = None
        if isinstance(source, pl.DataFrame):
            self.frame = source.lazy()
            self._source: Source = source
        else:
            self.path = Path(source)
            if not self.path.is_file():
                raise C2CError(f"{what}: {self.path} does not exist")
            self._source = self.path
            if self.path.suffix in (".jsonl", ".ndjson"):
                self.frame = pl.scan_ndjson(self.path, infer_schema_length=None)
            else:
                self.frame = pl.scan_parquet(self.path)
        self.schema: Schema = self._collect(lambda: self.frame.collect_schema())
        if KEY not in self.schema:
            raise C2CError(f"{what}: missing column(s) {KEY} (has {', '.join(self.schema)})")

    def _collect(self, query: Callable[[], Any]) -> Any:
        """Run a query on the table; polars' and the OS's errors name the table."""
        try:
            return query()
        except (pl.exceptions.PolarsError, OSError) as e:
            where = f" {self.path}" if self.path else ""
            raise C2CError(f"{self.what}: cannot read{where}: {e}") from None

    def ids(self) -> pl.Series:
        """Its distinct function ids, sorted (the only column read whole)."""
        query = self.frame.select(pl.col(KEY).drop_nulls().unique().sort())
        return self._collect(lambda: query.collect()[KEY])

    def rows(self, within: pl.Expr, *, sort: bool) -> pl.DataFrame:
        frame = self.frame.filter(within)
        if sort:
            frame = frame.sort(KEY, maintain_order=True, nulls_last=False)
        return self._collect(frame.collect)

    def digest(self) -> str:
        """The table's content digest, for the resume stamp."""
        digest = hashlib.sha256()
        if isinstance(self._source, pl.DataFrame):
            buffer = io.BytesIO()
            self._source.write_ipc(buffer)
            digest.update(buffer.getvalue())
        else:
            with open(self._source, "rb") as file:
                while chunk := file.read(1 << 20):
                    digest.update(chunk)
        return digest.hexdigest()


@dataclass(frozen=True)
class _Plan:
    """The partitions: ranges of sorted function ids, `size` distinct ids each."""

    bounds: list[Any]  # partition i covers [bounds[i], bounds[i + 1]); None: open
    sizes: list[int]  # distinct function ids per partition (the progress's units)
    dtype: pl.DataType

    @classmethod
    def of(cls, ids: pl.Series, size: int) -> _Plan:
        starts = list(range(0, len(ids), size)) or [0]
        bounds = [None, *(ids[start] for start in starts[1:]), None]
        sizes = [min(size, len(ids) - start) for start in starts]
        return cls(bounds, sizes, ids.dtype)

    @property
    def count(self) -> int:
        return len(self.sizes)

    def within(self, index: int) -> pl.Expr:
        """Rows of partition `index`; the first also takes rows without a function id."""
        key = pl.col(KEY)
        lower, upper = self.bounds[index], self.bounds[index + 1]
        expr = pl.lit(True)
        if lower is not None:
            expr = key >= pl.lit(lower, dtype=self.dtype)
        if upper is not None:
            expr = expr & (key < pl.lit(upper, dtype=self.dtype))
        if index == 0 and upper is not None:
            expr = expr | key.is_null()
        return expr


class _Memory:
    """Partitions kept in memory (no output path): nothing to resume."""

    def __init__(self) -> None:
        self.done_parts: dict[int, tuple[pl.DataFrame, Stats]] = {}

    def done(self, index: int) -> bool:
        return index in self.done_parts

    def put(self, index: int, frame: pl.DataFrame, stats: Stats) -> None:
        self.done_parts[index] = frame, stats

    def finish(self, count: int, empty: pl.DataFrame) -> tuple[pl.DataFrame, list[Stats]]:
        parts = [self.done_parts[i] for i in range(count)]
        return pl.concat([empty, *(frame for frame, _ in parts)]), [stats for _, stats in parts]


class _Shards:
    """Partitions as resume shards in `<output>.parts/`, streamed into `output` at the end."""

    def __init__(self, output: Path, stamp: str, count: int) -> None:
        self.output = output
        self.sharded = ShardedOutput(output, stamp, count, 1)

    def done(self, index: int) -> bool:
        return self.sharded.done(index)

    def put(self, index: int, frame: pl.DataFrame, stats: Stats) -> None:
        self.sharded.write(index, frame, stats)

    def finish(self, count: int, empty: pl.DataFrame) -> tuple[None, list[Stats]]:
        shards = [str(self.sharded.shard(i)) for i in range(count)]
        merged = pl.scan_parquet(shards) if shards else empty.lazy()
        sink_parquet(merged, self.output, row_group_size=TABLE_ROW_GROUP_ROWS)
        return None, [self.sharded.stats(i) for i in range(count)]

    def clean(self) -> None:
        self.sharded.clean()


def _conform(
    frame: pl.DataFrame, expected: Schema, step: Step | GlobalStep, index: int
) -> pl.DataFrame:
    """The step's table, checked against its declared schema (a mismatch is a bug in it)."""
    if dict(frame.schema) != dict(expected):
        raise RuntimeError(
            f"step {step.name}, partition {index}: made columns {dict(frame.schema)}, "
            f"declared {dict(expected)}"
        )
    return frame


class PartitionProgress:
    """Functions done out of a step's, for the progress callback (`done, total`): partitions
    resumed from shards count as done from the start."""

    def __init__(self, plan: _Plan, pending: Sequence[int], callback: Progress | None) -> None:
        self.sizes, self.callback = plan.sizes, callback
        self.total = sum(plan.sizes)
        self.done = self.total - sum(plan.sizes[i] for i in pending)
        if callback and self.done:
            callback(self.done, self.total)

    def stored(self, index: int) -> None:
        self.done += self.sizes[index]
        if self.callback:
            self.callback(self.done, self.total)


def store_results(
    results: Iterable[tuple[int, pl.DataFrame, Stats]],
    step: Step,
    expected: Schema,
    store: _Memory | _Shards,
    progress: PartitionProgress,
) -> None:
    """Each processed partition checked against the step's schema, stored, and counted."""
    for index, frame, stats in results:
        store.put(index, _conform(frame, expected, step, index), stats)
        progress.stored(index)


def read_partition(tables: Sequence[_Table], plan: _Plan, index: int) -> Partition:
    """Partition `index`: every table's rows in its range, the driving table's sorted by id."""
    within = plan.within(index)
    rows = {t.what: t.rows(within, sort=t is tables[0]) for t in tables}
    return Partition(index, plan.count, rows)


def resume_stamp(step: Step, tables: Sequence[_Table], partition_functions: int) -> str:
    """What the resume shards belong to: the step's settings, the partitioning and the input
    tables' contents."""
    stamp = {
        "step": step.fingerprint(),
        "partition_functions": partition_functions,
        "inputs": {table.what: table.digest() for table in tables},
    }
    return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()


# Rows per batch when a global step reads its summary in pieces.
SUMMARY_BATCH_ROWS = 50_000


def partition_size(step: Step, executor_size: int) -> int:
    """Functions per partition: the executor's size, or more when the step asks for it."""
    return max(executor_size, step.partition_functions or 0)


def decisions(step: GlobalStep, source: Source) -> Iterator[pl.DataFrame]:
    """A global step's decision pieces from the summary columns of its table, each checked
    against its declared schema."""
    table = _Table(source, step.reads)
    missing = [c for c in step.summary_columns if c not in table.schema]
    if missing:
        raise C2CError(
            f"{step.reads}: missing column(s) {', '.join(missing)} (has {', '.join(table.schema)})"
        )

    def read(columns: Sequence[str]) -> Iterator[pl.DataFrame]:
        if table.path is None:
            frame = table.frame.select(columns).collect()
            yield from frame.iter_slices(SUMMARY_BATCH_ROWS)
            return
        try:
            for _, batch in parquet_slices(table.path, columns, SUMMARY_BATCH_ROWS):
                yield batch
        except (pl.exceptions.PolarsError, OSError) as e:
            raise C2CError(f"{table.what}: cannot read {table.path}: {e}") from None

    for index, piece in enumerate(step.decide_stream(read)):
        yield _conform(piece, step.decision_schema, step, index)
