"""The local executor: runs a step over partitions of its input tables on this machine.

It owns what the steps leave out: partitioning, ordering, scheduling, resume shards, atomic
outputs, progress and the merged figures.

- **Partitioning**: the driving table (the step's first input) is cut into ranges of sorted
  `function_id`, `partition_functions` distinct ids each; every input table is read for a
  range with a filter, so only one partition is in memory and Parquet row groups outside the
  range are skipped. The first range is open below (and holds rows without an id), the last
  open above, so no row of any table is lost or doubled.
- **Order**: partitions are stored in id order, so the output is sorted by function id
  whatever the partition count, and progress only moves forward.
- **Scheduling**: a `concurrent` step gets `in_flight` partitions processed at once, on
  threads sharing one worker: while one partition's last slow function runs, the next one's
  jobs keep the other sandbox workers busy (`Sandbox.run_table` releases the GIL), so small
  partitions cost little speed. At most `AHEAD` partitions run past the oldest one not stored.
- **Resume**: with an output path, each finished partition is a shard in `<output>.parts/`
  (`case2code.shards.ShardedOutput`), stamped with the step's fingerprint and the input
  tables' digests; a rerun computes only the missing ones, shards of another run are refused.
  At the end the shards are streamed into the output and removed.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from case2code.atomic import TABLE_ROW_GROUP_ROWS, sink_parquet, write_parquet, write_text
from case2code.executors.partitions import (
    PartitionProgress,
    Progress,
    Source,
    _Memory,
    _Plan,
    _Shards,
    _Table,
    decisions,
    partition_size,
    read_partition,
    resume_stamp,
    store_results,
)
from case2code.steps.base import GlobalStep, Process, Schema, Stats, Step
from case2code.validate import at_least

# Functions per partition: small, since scheduling keeps the sandbox workers busy across
# partitions; a crash loses at most this many functions' work per partition in flight.
PARTITION_FUNCTIONS = 256
IN_FLIGHT = 2  # partitions processed at once by a concurrent step
# Partitions computed past the oldest one not yet stored: the finished work a slow partition
# holds up in memory.
AHEAD = 8


@dataclass(frozen=True)
class StepRun:
    """What a run of a step gave: the output table (None when written to a path), the merged
    figures, every partition's counters, and how many partitions this run computed (the rest
    were resumed from shards)."""

    table: pl.DataFrame | None
    stats: Stats
    partition_stats: list[Stats]
    partitions: int
    computed: int


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
        size = partition_size(step, self.partition_functions)
        plan = _Plan.of(tables[0].ids(), size)
        store: _Memory | _Shards = (
            _Memory()
            if output is None
            else _Shards(Path(output), resume_stamp(step, tables, size), plan.count)
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

    def _compute(
        self,
        step: Step,
        tables: Sequence[_Table],
        plan: _Plan,
        pending: list[int],
        store: _Memory | _Shards,
        expected: Schema,
    ) -> None:
        progress = PartitionProgress(plan, pending, self.progress)
        if not pending:
            return
        threads = min(self.in_flight if step.concurrent else 1, len(pending))
        # The pool is entered first, so it exits last: on an error or a Ctrl-C the worker
        # closes its resources (a sandbox) first, which ends the partitions still running at
        # their next call into it, and the pool then waits for their threads.
        with ThreadPoolExecutor(threads, "c2c-partition") as pool, step.worker() as process:
            try:
                results = _in_order(pool, process, tables, plan, pending, threads)
                store_results(results, step, expected, store, progress)
            finally:
                pool.shutdown(wait=False, cancel_futures=True)  # what is queued never starts

    def decide(
        self, step: GlobalStep, source: Source, output: str | os.PathLike[str] | None = None
    ) -> pl.DataFrame:
        """Run a global step on the summary columns of its table (written to `output`)."""
        pieces = list(decisions(step, source))
        decision = pl.concat([pl.DataFrame(schema=dict(step.decision_schema)), *pieces])
        if output is not None:
            write_parquet(decision, output)
        return decision

    def decide_into(self, step: GlobalStep, source: Source, output: str | os.PathLike[str]) -> None:
        """Run a global step whose decision is as big as its table (dedup's clusters): its
        pieces go to disk as they come and are streamed into `output`, never held together."""
        output = Path(output)
        parts = output.with_name(f".{output.name}.pieces")
        shutil.rmtree(parts, ignore_errors=True)
        try:
            paths = []
            for index, piece in enumerate(decisions(step, source)):
                paths.append(parts / f"{index:06d}.parquet")
                write_parquet(piece, paths[-1])
            empty = pl.LazyFrame(schema=dict(step.decision_schema))
            merged = pl.scan_parquet([str(p) for p in paths]) if paths else empty
            sink_parquet(merged, output, row_group_size=TABLE_ROW_GROUP_ROWS)
        finally:
            shutil.rmtree(parts, ignore_errors=True)


def _in_order(
    pool: ThreadPoolExecutor,
    process: Process,
    tables: Sequence[_Table],
    plan: _Plan,
    pending: Sequence[int],
    threads: int,
) -> Iterator[tuple[int, pl.DataFrame, Stats]]:
    """(index, table, stats) of the pending partitions in order. With one thread they are
    computed here, one by one (a worker's resources may be bound to the thread that opened
    them); with more, on the pool, at most `AHEAD` past the oldest one not yet yielded."""
    if threads == 1:
        for index in pending:
            yield index, *process(read_partition(tables, plan, index))
        return

    def submit(index: int) -> tuple[int, Future[tuple[pl.DataFrame, Stats]]]:
        return index, pool.submit(lambda: process(read_partition(tables, plan, index)))

    upcoming = iter(pending)
    running = deque(submit(index) for index in itertools.islice(upcoming, AHEAD))
    while running:
        index, future = running.popleft()
        frame, stats = future.result()
        running.extend(submit(index) for index in itertools.islice(upcoming, 1))
        yield index, frame, stats
