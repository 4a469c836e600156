"""What dedup found, in figures: computed from its decision table (one row per function id,
with `copies`, the rows that share the id), by streaming queries, never from the corpus."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from case2code.atomic import write_text
from case2code.benchmarks import BenchmarkTask
from case2code.steps.base import KEY

EXAMPLES = 10  # largest clusters listed
NAMES_PER_CLUSTER = 5


@dataclass
class DedupReport:
    functions: int
    kept: int
    removed: dict[str, int]
    clusters: int
    largest: list[dict[str, object]] = field(default_factory=list)
    bytes_per_function: int = 0
    # Tasks checked against, per benchmark, and one entry per contaminated function.
    benchmarks: dict[str, int] = field(default_factory=dict)
    contaminated: list[dict[str, object]] = field(default_factory=list)

    def contaminated_by_benchmark(self) -> dict[str, int]:
        counts = Counter(str(hit["benchmark"]) for hit in self.contaminated)
        return {name: counts.get(name, 0) for name in sorted(set(self.benchmarks) | set(counts))}

    def as_dict(self) -> dict[str, object]:
        return {
            "functions": self.functions,
            "kept": self.kept,
            "removed": self.removed,
            "clusters_with_duplicates": self.clusters,
            "largest_clusters": self.largest,
            "bytes_per_function": self.bytes_per_function,
            "benchmarks": self.benchmarks,
            "contaminated_by_benchmark": self.contaminated_by_benchmark(),
            "contaminated": self.contaminated,
        }


@dataclass
class DedupResult:
    """Every input row with its cluster and reason; `unique` holds the kept ones."""

    functions: pl.DataFrame
    report: DedupReport

    @property
    def unique(self) -> pl.DataFrame:
        return self.functions.filter(pl.col("dedup_reason") == "kept")


def _by_reason(decisions: pl.LazyFrame) -> dict[str, tuple[int, int]]:
    """Per reason: the rows (every copy counted) and the function ids, in one pass."""
    counts = decisions.group_by("dedup_reason").agg(
        pl.col("copies").cast(pl.Int64).sum().alias("rows"), pl.len().alias("ids")
    )
    return {reason: (rows, ids) for reason, rows, ids in counts.collect().iter_rows()}


def _removed(by_reason: dict[str, tuple[int, int]]) -> dict[str, int]:
    """Rows dropped, by reason. The other rows of a kept function id are exact copies."""
    counts = {reason: rows for reason, (rows, _) in by_reason.items()}
    kept_rows, kept_ids = by_reason.get("kept", (0, 0))
    counts["exact"] = counts.get("exact", 0) + kept_rows - kept_ids
    return {reason: rows for reason, rows in sorted(counts.items()) if reason != "kept" and rows}


def _largest(decisions: pl.LazyFrame) -> tuple[int, list[dict[str, object]]]:
    """How many clusters have duplicates, and the biggest (by size, then id) with the names of
    their first members (by function id, a name per row)."""
    members = decisions.filter(pl.col("dedup_reason") != "contaminated")
    sizes = (
        members.group_by("cluster_id")
        .agg(pl.col("copies").cast(pl.Int64).sum().alias("size"))
        .filter(pl.col("size") > 1)
    )
    count = sizes.select(pl.len()).collect().item()
    top = sizes.sort(["size", "cluster_id"], descending=[True, False]).head(EXAMPLES).collect()
    named = (
        members.filter(pl.col("cluster_id").is_in(top["cluster_id"].implode()))
        .select("cluster_id", KEY, "name", "copies")
        .sort(KEY)
        .collect()
    )
    largest = []
    for cluster_id, size in top.iter_rows():
        rows = named.filter(pl.col("cluster_id") == cluster_id)
        names = [
            n for n, copies in zip(rows["name"], rows["copies"], strict=True) for _ in range(copies)
        ]
        largest.append({"cluster_id": cluster_id, "size": size, "names": names[:NAMES_PER_CLUSTER]})
    return count, largest


def report_of(
    decisions: pl.LazyFrame, tasks: Sequence[BenchmarkTask], bytes_per_function: int
) -> DedupReport:
    by_reason = _by_reason(decisions)
    hits = decisions.filter(pl.col("dedup_reason") == "contaminated").select(
        KEY, "name", "copies", "benchmark", "task_id"
    )
    clusters, largest = _largest(decisions)
    return DedupReport(
        functions=sum(rows for rows, _ in by_reason.values()),
        kept=by_reason.get("kept", (0, 0))[1],
        removed=_removed(by_reason),
        clusters=clusters,
        largest=largest,
        bytes_per_function=bytes_per_function,
        benchmarks=dict(sorted(Counter(t.benchmark for t in tasks).items())),
        contaminated=[
            {"function_id": fid, "name": name, "benchmark": bench, "task_id": task}
            for fid, name, copies, bench, task in hits.collect().iter_rows()
            for _ in range(copies)
        ],
    )


def write_report(report: DedupReport, path: str | Path) -> None:
    write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n", path)
