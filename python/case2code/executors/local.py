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

import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from case2code.atomic import write_text
from case2code.executors.partitions import (
    PartitionProgress,
    Source,
    _Memory,
    _Plan,
    _Shards,
    _Table,
    decide,
    decide_into,
    partition_size,
    read_partition,
    resume_stamp,
    store_results,
)
from case2code.steps.base import GlobalStep, Partition, Process, Schema, Stats, Step
from case2code.validate import at_least

# Functions per partition: small, since scheduling keeps the sandbox workers busy across
# partitions; a crash loses at most this many functions' work per partition in flight.
PARTITION_FUNCTIONS = 256
IN_FLIGHT = 2  # partitions processed at once by a concurrent step

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

        def read(index: int) -> Partition:
            return read_partition(tables, plan, index)

        if not pending:
            return
        threads = self.in_flight if step.concurrent else 1
        # The scheduler is entered first, so it exits last: on an error or a Ctrl-C the worker
        # closes its resources (a sandbox) first, which ends the partitions still running at
        # their next call into it, and the scheduler then waits for their threads.
        with _Scheduler(read, pending, threads) as scheduler, step.worker() as process:
            store_results(scheduler.results(process), step, expected, store, progress)

    def decide(
        self,
        step: GlobalStep,
        source: Source,
        output: str | os.PathLike[str] | None = None,
    ) -> pl.DataFrame:
        """Run a global step on the summary columns of its table (written to `output`)."""
        return decide(step, source, output)

    def decide_into(self, step: GlobalStep, source: Source, output: str | os.PathLike[str]) -> None:
        """Run a global step whose decision is as big as its table, streamed into `output`."""
        decide_into(step, source, output)


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
