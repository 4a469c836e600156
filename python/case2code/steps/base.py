"""The stage contract: what a stage computes, written once, run by any executor.

A **step** turns one partition of its input tables into a partition of its output table plus
counters (`process(partition) -> (table, stats)`). It is deterministic, and a function's
output rows depend on that function's input rows only, so an executor may cut the input
anywhere between functions and run the partitions in any order or place: the output (in
partition order) and the merged counters come out the same. A step never opens a run folder,
a progress bar or a thread; an executor never knows what a step computes.

- `reads`: its input tables. The first drives the partitioning; the others are
  co-partitioned with it by `function_id`.
- `check(schemas)` refuses input tables that lack a needed column, before any work;
  `schema(schemas)` is its output's schema.
- `settings()`: everything that changes its output (JSON-able); `fingerprint()` derives from it.
- `worker()`: a context manager that opens what a worker needs (a sandbox) and yields `process`.
- `merge_stats(stats)`: the stage's figures from every partition's counters.
- `partition_functions`: at least this many functions per partition (None: the executor's
  choice); steps with tiny work per function (dedup's) ask for big partitions.

A **global step** needs the whole picture, but only of a compact summary: a few columns per
function in, a decision table keyed by `function_id` out (dedup's clustering, the seeded
`max_functions` sample, the evaluation split). A summary too big for memory (dedup's
signatures) is read in batches, as often as the step needs (`decide_stream`).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

# The column every table between stages is partitioned and ordered by.
KEY = "function_id"

Schema = Mapping[str, pl.DataType]
Stats = dict[str, Any]


@dataclass(frozen=True)
class Partition:
    """Partition `index` of `count`: the rows of each input table whose function id falls in
    its range. The driving table's rows come sorted by function id (ties in table order); the
    other tables' rows in table order."""

    index: int
    count: int
    tables: Mapping[str, pl.DataFrame]

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.tables[name]


Process = Callable[[Partition], tuple[pl.DataFrame, Stats]]
SummaryReader = Callable[[Sequence[str]], Iterator[pl.DataFrame]]


def fingerprint_of(name: str, settings: Mapping[str, Any]) -> str:
    """A digest of a step's name and settings (canonical JSON: key order does not matter)."""
    text = json.dumps({"step": name, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Step(ABC):
    name: ClassVar[str]
    reads: ClassVar[tuple[str, ...]]
    # Whether `process` may run on two partitions at once (from two threads of one worker):
    # an executor then keeps the next partition's work going while one finishes.
    concurrent: bool = False
    partition_functions: ClassVar[int | None] = None

    def check(self, schemas: Mapping[str, Schema]) -> None:  # noqa: B027 (optional hook)
        """Raise a C2CError naming the table when one lacks a column the step needs."""

    @abstractmethod
    def schema(self, schemas: Mapping[str, Schema]) -> Schema:
        """The output table's schema, given the input tables' schemas."""

    @abstractmethod
    def settings(self) -> Mapping[str, Any]:
        """Everything that changes the output besides the input rows (JSON-able)."""

    def fingerprint(self) -> str:
        return fingerprint_of(self.name, self.settings())

    @abstractmethod
    def worker(self) -> AbstractContextManager[Process]:
        """Open the worker's resources; yield `process`; close them at exit."""

    def merge_stats(self, stats: Sequence[Stats]) -> Stats:
        """The stage's figures: by default every partition's counters summed."""
        return sum_counters(stats)

    def empty(self, schemas: Mapping[str, Schema]) -> pl.DataFrame:
        return pl.DataFrame(schema=dict(self.schema(schemas)))


class GlobalStep(ABC):
    """A decision over the whole corpus taken on a compact summary of one table."""

    name: ClassVar[str]
    reads: ClassVar[str]  # the table summarised
    summary_columns: ClassVar[tuple[str, ...]]  # the few columns per function it needs
    decision_schema: ClassVar[Schema]  # keyed by function_id

    @abstractmethod
    def settings(self) -> Mapping[str, Any]: ...

    def fingerprint(self) -> str:
        return fingerprint_of(self.name, self.settings())

    @abstractmethod
    def decide(self, summary: pl.DataFrame) -> pl.DataFrame:
        """The decision table (one row per function id it decides about)."""

    def decide_stream(self, read: SummaryReader) -> Iterator[pl.DataFrame]:
        """The decision table in pieces, in order. `read(columns)` yields the summary's rows in
        batches, in table order, each time it is called. By default: the summary whole."""
        yield self.decide(pl.concat(list(read(self.summary_columns))))


def sum_counters(stats: Iterable[Mapping[str, Any]]) -> Stats:
    """Counters summed key by key; nested mappings are summed the same way."""
    total: Stats = {}
    for one in stats:
        for key, value in one.items():
            if isinstance(value, Mapping):
                total[key] = sum_counters([total.get(key, {}), value])
            else:
                total[key] = total.get(key, 0) + value
    return total


def busy_seconds(intervals: Iterable[Sequence[float]]) -> float:
    """The time covered by (start, end) intervals, overlaps counted once: how long a stage
    worked when partitions ran side by side, or in several runs resumed after a crash."""
    covered, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            covered += stop - max(start, end)
            end = stop
    return covered


def by_count(counter: Mapping[str, int], top: int | None = None) -> dict[str, int]:
    """Most frequent first, ties by name: the same order however the counts were merged."""
    ordered = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return dict(ordered[:top] if top is not None else ordered)
