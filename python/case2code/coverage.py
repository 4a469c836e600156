"""What a function's cases exercise: the union of the lines and branch arms their calls ran.

Each case's coverage comes from the sandbox (`Limits.coverage`, traced in the guest): the lines
of the standalone source and the arms (two per conditional jump) of the function's own code the
call ran, and how many the function has. A function's coverage is the union over a set of its
cases (the shown ones, or all of them) divided by those totals. Branch coverage is null for a
function without a conditional jump: there is nothing to cover, and a mean over such functions
would only say how many of them there are.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import polars as pl

# The per-case columns the sandbox writes (sandbox.CASE_SCHEMA).
CASE_COLUMNS = ("lines", "arms", "lines_total", "arms_total")


def union_size(column: str) -> pl.Expr:
    """How many distinct line numbers or arms the group's cases ran together."""
    return pl.col(column).explode().drop_nulls().n_unique().cast(pl.UInt32)


def summary(cases: pl.DataFrame | pl.LazyFrame, by: Sequence[str]) -> pl.LazyFrame:
    """Per group of `by` (a function, or a function's shown cases): lines and arms run
    together, their totals, and `line_coverage` / `branch_coverage` as fractions (null where
    no case was traced, branch coverage also where there is no branch)."""
    traced = cases.lazy().filter(pl.col("lines_total").is_not_null())
    return (
        traced.group_by(list(by))
        .agg(
            union_size("lines").alias("lines_hit"),
            pl.col("lines_total").max(),
            union_size("arms").alias("arms_hit"),
            pl.col("arms_total").max(),
        )
        .with_columns(
            ratio("lines_hit", "lines_total").alias("line_coverage"),
            ratio("arms_hit", "arms_total").alias("branch_coverage"),
        )
    )


def ratio(hit: str, total: str) -> pl.Expr:
    return pl.when(pl.col(total) > 0).then(pl.col(hit) / pl.col(total)).otherwise(None)


def covered(runs: Sequence[Collection[int]], total: int | None) -> float | None:
    """The share of a function's `total` lines or arms that `runs` (one set per case) ran
    together; None when it has none, as in `summary`."""
    if not total:
        return None
    return len(set().union(*runs)) / total
