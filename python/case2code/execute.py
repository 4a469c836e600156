"""The execute stage: (functions, inputs) tables in, one row per case out.

Functions come from `c2c extract` (`function_id`, `name`, `source`); inputs are one row per
input (`function_id`, `input`) or one row per function with a list column `inputs`. The stage
is a step (`ExecuteStep`) run by an executor: long runs write their results in shards, each
atomically, and a rerun skips the shards already written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from case2code import coverage
from case2code.executors.local import PARTITION_FUNCTIONS, LocalExecutor
from case2code.sandbox import CASE_SCHEMA, Limits, Sandbox
from case2code.steps.base import Partition, Process, Schema, Stats, Step, by_count, sum_counters
from case2code.tables import require_columns

# The execute stage's table: the function, the input, then the sandbox's case columns.
RESULT_SCHEMA: dict[str, pl.DataType] = {
    "function_id": pl.Utf8(),
    "case": CASE_SCHEMA["case"],
    "input": pl.Utf8(),
    **{name: dtype for name, dtype in CASE_SCHEMA.items() if name != "case"},
}
RESULT_COLUMNS = tuple(RESULT_SCHEMA)

Progress = Callable[[int, int], None]


def inputs_per_function(inputs: pl.DataFrame, what: str = "inputs") -> pl.DataFrame:
    """(function_id, inputs: list[str]) with input order kept, from either accepted layout."""
    require_columns(inputs, ("function_id",), what)
    if "inputs" in inputs.columns:
        table = inputs.select("function_id", pl.col("inputs").cast(pl.List(pl.Utf8)))
        return table.group_by("function_id", maintain_order=True).agg(pl.col("inputs").explode())
    require_columns(inputs, ("input",), what)
    return inputs.group_by("function_id", maintain_order=True).agg(
        pl.col("input").cast(pl.Utf8).alias("inputs")
    )


def plan(functions: pl.DataFrame, inputs: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Jobs to run, in a stable order, and how many inputs named no known function."""
    require_columns(functions, ("function_id", "name", "source"), "functions")
    per_function = inputs_per_function(inputs)
    known = functions.select("function_id", "name", "source").unique(
        "function_id", keep="first", maintain_order=True
    )
    jobs = known.join(per_function, on="function_id", how="inner").sort("function_id")
    orphans = per_function.join(known, on="function_id", how="anti")
    orphan_inputs = int(orphans["inputs"].list.len().sum() or 0)
    return jobs, orphan_inputs


def run_jobs(sandbox: Sandbox, jobs: pl.DataFrame) -> pl.DataFrame:
    """Execute a block of jobs; one row per case."""
    calls = list(zip(jobs["source"], jobs["name"], jobs["inputs"], strict=True))
    table = sandbox.run_table(calls)
    # The sandbox returns cases in job order, each job's cases in input order.
    return table.with_columns(
        jobs["function_id"].gather(table["job"]).alias("function_id"),
        jobs["inputs"].explode().cast(pl.Utf8).alias("input"),
    ).select(RESULT_COLUMNS)


class ExecuteStep(Step):
    """Every input of every function of a partition, run in the sandbox."""

    name = "execute"
    reads = ("functions", "inputs")
    concurrent = True  # Sandbox.run_table releases the GIL; the pool is shared safely

    def __init__(self, limits: Limits | None = None, workers: int | None = None) -> None:
        self.limits = limits or Limits()
        self.workers = workers

    def check(self, schemas: Mapping[str, Schema]) -> None:
        functions, inputs = _empty(schemas["functions"]), _empty(schemas["inputs"])
        require_columns(functions, ("function_id", "name", "source"), "functions")
        if "inputs" not in inputs.columns:
            require_columns(inputs, ("input",), "inputs")

    def schema(self, schemas: Mapping[str, Schema]) -> Schema:
        return RESULT_SCHEMA

    def settings(self) -> Mapping[str, Any]:
        return {"limits": asdict(self.limits)}  # the worker count changes no result

    @contextmanager
    def worker(self) -> Iterator[Process]:
        with Sandbox(self.limits, self.workers) as sandbox:
            yield lambda partition: self._process(sandbox, partition)

    def _process(self, sandbox: Sandbox, partition: Partition) -> tuple[pl.DataFrame, Stats]:
        jobs, orphan_inputs = plan(partition["functions"], partition["inputs"])
        table = run_jobs(sandbox, jobs) if jobs.height else pl.DataFrame(schema=RESULT_SCHEMA)
        statuses = table["status"].value_counts()
        stats = {
            "statuses": dict(zip(statuses["status"], statuses["count"], strict=True)),
            "functions": jobs.height,
            "cases": table.height,
            "orphan_inputs": orphan_inputs,
            "coverage": coverage.tally(coverage.summary(table, ["function_id"]).collect()),
        }
        return table, stats

    def merge_stats(self, stats: Sequence[Stats]) -> Stats:
        """Cases by status, then the functions run, the cases, the inputs of no function and
        the coverage of each function's cases (`coverage.means`; when traced)."""
        total = sum_counters(stats)
        statuses = by_count(total.pop("statuses", {}))
        counts = {k: total.get(k, 0) for k in ("functions", "cases", "orphan_inputs")}
        traced = total.get("coverage", {})
        return {
            **statuses,
            **counts,
            **({"coverage": coverage.means(traced)} if traced.get("functions") else {}),
        }


def _empty(schema: Schema) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(schema))


def execute(
    functions: pl.DataFrame,
    inputs: pl.DataFrame,
    limits: Limits | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """Run every input of every function in the sandbox, in memory."""
    executor = LocalExecutor(progress=progress)
    run = executor.run(ExecuteStep(limits, workers), {"functions": functions, "inputs": inputs})
    assert run.table is not None
    return run.table


def execute_to_parquet(
    functions_path: str | Path,
    inputs_path: str | Path,
    output: str | Path,
    limits: Limits | None = None,
    workers: int | None = None,
    shard_functions: int = PARTITION_FUNCTIONS,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Execute into `output`, resumably: shards go to `<output>.parts/` as they finish and are
    merged at the end; a rerun after a crash skips the shards already there. Returns the cases
    by status, and `functions` (with inputs), `cases` and `orphan_inputs` (inputs of no
    known function)."""
    executor = LocalExecutor(shard_functions, progress=progress)
    tables = {"functions": functions_path, "inputs": inputs_path}
    return executor.run(ExecuteStep(limits, workers), tables, output).stats
