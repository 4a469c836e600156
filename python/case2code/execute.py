"""The execute stage: (functions, inputs) tables in, one row per case out.

Functions come from `c2c extract` (`function_id`, `name`, `source`); inputs are one row per
input (`function_id`, `input`) or one row per function with a list column `inputs`. Long runs
write their results in shards, each atomically, and a rerun skips the shards already written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import polars as pl

from case2code.sandbox import CASE_SCHEMA, Limits, Sandbox
from case2code.shards import ShardedOutput
from case2code.tables import read_table, require_columns

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


def execute(
    functions: pl.DataFrame,
    inputs: pl.DataFrame,
    limits: Limits | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """Run every input of every function in the sandbox, in memory."""
    jobs, _ = plan(functions, inputs)
    sandbox = Sandbox(limits, workers)
    parts = []
    for start in range(0, jobs.height, 256):
        parts.append(run_jobs(sandbox, jobs.slice(start, 256)))
        if progress:
            progress(min(start + 256, jobs.height), jobs.height)
    return _concat(parts)


def _concat(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The blocks as one table; with none, an empty table of the same schema."""
    return pl.concat(parts) if parts else pl.DataFrame(schema=RESULT_SCHEMA)


def _fingerprint(jobs: pl.DataFrame, limits: Limits, shard_functions: int) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(asdict(limits), sort_keys=True).encode())
    digest.update(str(shard_functions).encode())
    for function_id, inputs in zip(jobs["function_id"], jobs["inputs"], strict=True):
        digest.update(function_id.encode())
        digest.update(json.dumps(list(inputs)).encode())
    return digest.hexdigest()


def execute_to_parquet(
    functions_path: str | Path,
    inputs_path: str | Path,
    output: str | Path,
    limits: Limits | None = None,
    workers: int | None = None,
    shard_functions: int = 512,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Execute into `output`, resumably: shards go to `<output>.parts/` as they finish and are
    merged at the end; a rerun after a crash skips the shards already there."""
    limits = limits or Limits()
    functions = read_table(functions_path, "functions")
    inputs = read_table(inputs_path, "inputs")
    jobs, orphan_inputs = plan(functions, inputs)
    sharded = ShardedOutput(
        output, _fingerprint(jobs, limits, shard_functions), jobs.height, shard_functions
    )
    sandbox: Sandbox | None = None

    def compute(start: int, stop: int) -> tuple[pl.DataFrame, None]:
        nonlocal sandbox
        sandbox = sandbox or Sandbox(limits, workers)
        return run_jobs(sandbox, jobs.slice(start, stop - start)), None

    try:
        sharded.compute_missing(compute, progress)
    finally:
        if sandbox is not None:
            sandbox.close()
    results = sharded.merge(RESULT_SCHEMA)
    sharded.clean()
    counts = results["status"].value_counts()
    summary = {row["status"]: int(row["count"]) for row in counts.iter_rows(named=True)}
    summary["functions"] = jobs.height
    summary["cases"] = results.height
    summary["orphan_inputs"] = orphan_inputs
    return summary
