"""The local executor: runs a step over partitions of its input tables on this machine.

It owns what the steps leave out: partitioning, ordering, scheduling, resume shards, atomic
outputs, progress and the merged figures.

- **Partitioning**: the driving table (the step's first input) is cut into ranges of sorted
  `function_id`, `partition_functions` distinct ids each; every input table is read for a
  range with a filter (`pl.scan_parquet(...).filter(...)`, so only one partition is in memory
  and Parquet row groups outside the range are skipped). The first range is open below (and
  holds rows without an id), the last open above, so no row of any table is lost or doubled.
- **Order**: partitions follow the ids and are stored in that order, so the output is sorted
  by function id whatever the partition count, and progress only moves forward.
- **Scheduling**: a step that allows it (`concurrent`) gets `in_flight` partitions processed at
  once, on threads sharing one worker: while one partition's last slow function runs, the next
  one's jobs keep the other sandbox workers busy (`Sandbox.run_table` releases the GIL and the
  Rust pool hands jobs to whichever worker is free), so small partitions cost little speed.
  Threads run at most `_Scheduler.AHEAD` partitions past the oldest one not yet stored.
- **Resume**: with an output path, each finished partition is a shard written atomically into
  `<output>.parts/` (`case2code.shards.ShardedOutput`) with its counters beside it; a rerun
  after a crash computes only the missing ones. The shards are stamped with the step's
  fingerprint and the input tables' digests, and shards of another run are refused. At the end
  the shards are streamed into the output and removed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from case2code.atomic import TABLE_ROW_GROUP_ROWS, sink_parquet, write_parquet, write_text
from case2code.errors import C2CError
from case2code.shards import ShardedOutput
from case2code.steps.base import KEY, GlobalStep, Partition, Process, Schema, Stats, Step
from case2code.validate import at_least

# Functions per partition: small, since scheduling keeps the sandbox workers busy across
# partitions; a crash loses at most this many functions' work per partition in flight.
PARTITION_FUNCTIONS = 256
IN_FLIGHT = 2  # partitions processed at once by a concurrent step

Source = str | os.PathLike[str] | pl.DataFrame
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class StepRun:
    """What a run of a step gave: the output table (None when written to a path), the step's
    merged figures, every partition's own counters, and how many partitions this run computed
    (the rest were resumed from shards)."""

    table: pl.DataFrame | None
    stats: Stats
    partition_stats: list[Stats]
    partitions: int
    computed: int


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
        self.frames: dict[int, pl.DataFrame] = {}
        self.stats: dict[int, Stats] = {}

    def done(self, index: int) -> bool:
        return index in self.frames

    def put(self, index: int, frame: pl.DataFrame, stats: Stats) -> None:
        self.frames[index], self.stats[index] = frame, stats

    def finish(self, count: int, empty: pl.DataFrame) -> tuple[pl.DataFrame, list[Stats]]:
        frames = [self.frames[i] for i in range(count)]
        return pl.concat([empty, *frames]), [self.stats[i] for i in range(count)]


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


class LocalExecutor:
    def __init__(
        self,
        partition_functions: int = PARTITION_FUNCTIONS,
        in_flight: int = IN_FLIGHT,
        progress: Progress | None = None,
    ) -> None:
        at_least(1, partition_functions=partition_functions, in_flight=in_flight)
        self.partition_functions = partition_functions
        self.in_flight = in_flight
        self.progress = progress

    def run(
        self,
        step: Step,
        inputs: Mapping[str, Source],
        output: str | os.PathLike[str] | None = None,
        report: str | os.PathLike[str] | None = None,
    ) -> StepRun:
        """Run `step` on its input tables (paths or DataFrames, by the names in `step.reads`).
        With `output`, resumably into that Parquet file (and its figures as JSON into
        `report`); without, in memory (`StepRun.table`)."""
        tables = [_Table(inputs[name], name) for name in step.reads]
        schemas = {table.what: table.schema for table in tables}
        step.check(schemas)
        plan = _Plan.of(tables[0].ids(), self.partition_functions)
        store: _Memory | _Shards = (
            _Memory()
            if output is None
            else _Shards(Path(output), self._stamp(step, tables), plan.count)
        )
        pending = [i for i in range(plan.count) if not store.done(i)]
        expected = step.schema(schemas)
        self._compute(step, tables, plan, pending, store, expected)
        table, partition_stats = store.finish(plan.count, step.empty(schemas))
        stats = step.merge_stats(partition_stats)
        if report is not None:
            write_text(json.dumps(stats, indent=2), report)
        if isinstance(store, _Shards):
            store.clean()
        return StepRun(table, stats, partition_stats, plan.count, len(pending))

    def _stamp(self, step: Step, tables: Sequence[_Table]) -> str:
        """What the resume shards belong to: the step's settings, the partitioning and the
        input tables' contents."""
        stamp = {
            "step": step.fingerprint(),
            "partition_functions": self.partition_functions,
            "inputs": {table.what: table.digest() for table in tables},
        }
        return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()

    def _compute(
        self,
        step: Step,
        tables: Sequence[_Table],
        plan: _Plan,
        pending: list[int],
        store: _Memory | _Shards,
        expected: Schema,
    ) -> None:
        total = sum(plan.sizes)
        done = total - sum(plan.sizes[i] for i in pending)
        if self.progress and done:
            self.progress(done, total)

        def read(index: int) -> Partition:
            within = plan.within(index)
            rows = {t.what: t.rows(within, sort=t is tables[0]) for t in tables}
            return Partition(index, plan.count, rows)

        if not pending:
            return
        threads = self.in_flight if step.concurrent else 1
        # The scheduler is entered first, so it exits last: on an error or a Ctrl-C the worker
        # closes its resources (a sandbox) first, which ends the partitions still running at
        # their next call into it, and the scheduler then waits for their threads.
        with _Scheduler(read, pending, threads) as scheduler, step.worker() as process:
            for index, frame, stats in scheduler.results(process):
                store.put(index, _conform(frame, expected, step, index), stats)
                done += plan.sizes[index]
                if self.progress:
                    self.progress(done, total)

    def decide(
        self,
        step: GlobalStep,
        source: Source,
        output: str | os.PathLike[str] | None = None,
    ) -> pl.DataFrame:
        """Run a global step on the summary columns of its table (written to `output`)."""
        table = _Table(source, step.reads)
        missing = [c for c in step.summary_columns if c not in table.schema]
        if missing:
            raise C2CError(
                f"{step.reads}: missing column(s) {', '.join(missing)} "
                f"(has {', '.join(table.schema)})"
            )
        summary = table._collect(table.frame.select(step.summary_columns).collect)
        decision = _conform(step.decide(summary), step.decision_schema, step, 0)
        if output is not None:
            write_parquet(decision, output)
        return decision


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


class _Scheduler:
    """Processes partitions, `threads` at once, and yields (index, table, stats) in partition
    order. A thread takes the next partition when it is free, up to `AHEAD` partitions past
    the oldest one not yet yielded: a slow partition holds up only that much finished work in
    memory. Threads only compute; when the consumer stops early (an error, a Ctrl-C), results
    still to come are never stored, and leaving the context waits for the threads."""

    AHEAD = 8

    def __init__(
        self, read: Callable[[int], Partition], pending: Sequence[int], threads: int
    ) -> None:
        self.read, self.pending = read, list(pending)
        self.threads = max(1, min(threads, len(self.pending)))
        self.stopped = False
        self.changed = threading.Condition()
        self.taken = 0  # positions in `pending` handed to a thread
        self.yielded = 0  # positions handed to the consumer
        self.ready: dict[int, tuple[Any, BaseException | None]] = {}
        self.running: list[threading.Thread] = []

    def __enter__(self) -> _Scheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        with self.changed:
            self.stopped = True
            self.changed.notify_all()
        for thread in self.running:
            thread.join()

    def results(self, process: Process) -> Iterator[tuple[int, pl.DataFrame, Stats]]:
        if self.threads == 1:
            for index in self.pending:
                frame, stats = process(self.read(index))
                yield index, frame, stats
            return
        for n in range(self.threads):
            thread = threading.Thread(
                target=self._work, args=(process,), name=f"c2c-partition-{n}", daemon=True
            )
            thread.start()
            self.running.append(thread)
        for position, index in enumerate(self.pending):
            with self.changed:
                while position not in self.ready:
                    self.changed.wait()
                result, error = self.ready.pop(position)
                self.yielded = position + 1
                self.changed.notify_all()
            if error is not None:
                raise error
            yield index, *result

    def _take(self) -> int | None:
        """The next position to process; None when there is none or the run stopped."""
        with self.changed:
            while not self.stopped and self.taken < len(self.pending):
                if self.taken < self.yielded + self.AHEAD:
                    self.taken += 1
                    return self.taken - 1
                self.changed.wait()
            return None

    def _work(self, process: Process) -> None:
        while (position := self._take()) is not None:
            try:
                result: tuple[Any, BaseException | None] = (
                    process(self.read(self.pending[position])),
                    None,
                )
            except BaseException as error:  # handed to the consumer, raised there
                result = (None, error)
            with self.changed:
                self.ready[position] = result
                self.changed.notify_all()
            if result[1] is not None:
                return
