"""What a function's cases exercise: the union of the lines and branch arms their calls ran.

Each case's coverage comes from the sandbox (`Limits.coverage`, traced in the guest): the lines
of the standalone source and the arms (two per conditional jump) of the function's own code the
call ran, and how many the function has. A function's coverage is the union over a set of its
cases (the shown ones, or all of them) divided by those totals. Branch coverage is null for a
function without a conditional jump: there is nothing to cover, and a mean over such functions
would only say how many of them there are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import polars as pl

# A histogram's bars of coverage fractions: "0.0" holds [0, 0.1), ..., "0.9" [0.9, 1.0), "1.0" full.
TENTHS = tuple(f"{t / 10:.1f}" for t in range(11))


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


def tenth(share: float) -> str:
    """The bar of `TENTHS` a coverage fraction falls in."""
    return TENTHS[min(int(share * 10), 10)]


def tally(per_function: pl.DataFrame) -> dict[str, Any]:
    """Summable counters of a `summary` table, for a stage's stats: functions traced, those with
    branches, the sums behind the means, and functions by `tenth` of branch coverage."""
    branchy = per_function.filter(pl.col("arms_total") > 0)
    return {
        "functions": per_function.height,
        "with_branches": branchy.height,
        "branch_coverage_sum": float(branchy["branch_coverage"].sum() or 0.0),
        "line_coverage_sum": float(per_function["line_coverage"].drop_nulls().sum() or 0.0),
        "by_tenth": dict(Counter(map(tenth, branchy["branch_coverage"]))),
    }


def means(counters: Mapping[str, Any]) -> dict[str, Any]:
    """Summed `tally` counters as the report shows them: means and the histogram in order."""
    functions, branchy = counters.get("functions", 0), counters.get("with_branches", 0)
    return {
        "functions": functions,
        "with_branches": branchy,
        "mean_branch_coverage": mean_of(counters["branch_coverage_sum"], branchy),
        "mean_line_coverage": mean_of(counters["line_coverage_sum"], functions),
        "by_tenth": dict(sorted(counters.get("by_tenth", {}).items())),
    }


def mean_of(total: float, count: int) -> float | None:
    """A mean of per-function fractions summed partition by partition, rounded so that the
    order the partial sums came in (1, 3 or 17 partitions) does not show in the last digit."""
    return round(total / count, 12) if count else None
