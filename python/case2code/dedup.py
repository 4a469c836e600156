"""The dedup stage: exact and near-duplicate removal, and decontamination against benchmarks.

Functions stream into the Rust `Deduper` in blocks; it keeps a compact record per function
(`bytes_per_function`, 617 bytes with the defaults), never the sources, then clusters with
MinHash LSH and union-find. Every row gets a `cluster_id` (the `function_id` of the function
kept for its cluster), a `dedup_reason` (`kept`, `exact`, `near`, `contaminated`) and an
`exact_hash` of its normalised tokens. A function near-duplicate to a benchmark task is
`contaminated`, and its `cluster_id` names the task (`humaneval:HumanEval/0`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from case2code import _core
from case2code.atomic import sink_parquet, write_text
from case2code.benchmarks import BenchmarkTask, load_benchmarks
from case2code.errors import C2CError
from case2code.validate import at_least, between, one_of

KeepRule = Literal["shortest", "first", "score"]
# Benchmarks to decontaminate against: one spec (`humaneval` or a benchmark file), or a
# sequence of specs, loaded tasks, or (the older form) function sources.
Against = str | Path | Sequence[str | Path | BenchmarkTask]


@dataclass(frozen=True)
class DedupConfig:
    """5-token shingles, 256 permutations and Jaccard 0.7 as in The Stack; 42 bands x 6 rows
    because candidates are verified (see rust/src/dedup/mod.rs)."""

    ngram: int = 5
    permutations: int = 256
    bands: int = 42
    rows: int = 6
    threshold: float = 0.7
    verify: bool = True
    structural: bool = False
    keep: KeepRule = "shortest"
    score_column: str | None = None
    seed: int = 1
    threads: int = 0
    block_size: int = 50_000

    def __post_init__(self) -> None:
        at_least(
            1,
            ngram=self.ngram,
            permutations=self.permutations,
            bands=self.bands,
            rows=self.rows,
            block_size=self.block_size,
        )
        at_least(0, threads=self.threads)
        between(0.0, 1.0, threshold=self.threshold)
        if self.bands * self.rows > self.permutations:
            raise C2CError(
                f"bands x rows ({self.bands} x {self.rows}) exceeds "
                f"permutations = {self.permutations}"
            )
        one_of("keep", self.keep, ("shortest", "first", "score"))
        if self.keep == "score" and not self.score_column:
            raise C2CError("keep = 'score' needs a score_column")

    def deduper(self) -> _core.Deduper:
        if self.keep not in ("shortest", "first", "score"):
            raise C2CError(f"dedup: keep must be shortest, first or score, not {self.keep!r}")
        if self.keep == "score" and not self.score_column:
            raise C2CError("dedup: keep='score' needs a score_column")
        try:
            return _core.Deduper(
                self.ngram,
                self.permutations,
                self.bands,
                self.rows,
                self.threshold,
                self.verify,
                self.structural,
                self.seed,
                self.threads,
            )
        except ValueError as e:
            raise C2CError(f"dedup: {e}") from None


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


def _ranks(block: pl.DataFrame, start: int, config: DedupConfig) -> list[float]:
    if config.keep == "shortest":
        return block["source"].str.len_chars().fill_null(0).cast(pl.Float64).to_list()
    if config.keep == "first":
        return [float(start + i) for i in range(block.height)]
    column = config.score_column or ""
    if column not in block.columns:
        raise C2CError(f"dedup: no score column {column!r} (has {', '.join(block.columns)})")
    # Higher scores win; a missing score loses.
    scores = block[column].cast(pl.Float64, strict=False)
    return (-scores).fill_null(float("inf")).to_list()


def _blocks(frame: pl.DataFrame, size: int) -> Iterator[tuple[int, pl.DataFrame]]:
    for start in range(0, frame.height, size):
        yield start, frame.slice(start, size)


def assign(
    sources: Iterator[tuple[int, pl.DataFrame]],
    config: DedupConfig,
    reference: Sequence[str] = (),
) -> tuple[pl.DataFrame, int]:
    """Feed blocks of (`source`[, score]) rows; returns one row per function with `row`,
    `cluster_row` (the kept row, or -(k + 1) for reference k), `dedup_reason`, `exact_hash`."""
    deduper = config.deduper()
    count = 0
    for start, block in sources:
        if "source" not in block.columns:
            raise C2CError(f"dedup: the functions table has no source column ({block.columns})")
        deduper.add(
            block["source"].cast(pl.Utf8).fill_null("").to_list(), _ranks(block, start, config)
        )
        count += block.height
    if reference:
        deduper.add(list(reference), [0.0] * len(reference), reference=True)
    columns = deduper.finish()
    table = pl.DataFrame(columns).with_row_index("row").head(count)
    table = table.with_columns(
        # A reference hit points at reference k as -(k + 1).
        pl.when(pl.col("cluster") >= count)
        .then(count - 1 - pl.col("cluster").cast(pl.Int64))
        .otherwise(pl.col("cluster").cast(pl.Int64))
        .alias("cluster_row")
    ).select("row", "cluster_row", pl.col("reason").alias("dedup_reason"), "exact_hash")
    return table, deduper.bytes_per_function()


def reference_tasks(against: Against | None) -> list[BenchmarkTask]:
    """The tasks `against` names. A string with a line break is a function's source (the older
    form), task k of benchmark `reference`; any other string or path is a benchmark spec."""
    if against is None:
        return []
    if isinstance(against, (str, Path)):
        against = [against]
    tasks: list[BenchmarkTask] = []
    specs: list[str | Path] = []
    for k, item in enumerate(against):
        if isinstance(item, BenchmarkTask):
            tasks.append(item)
        elif isinstance(item, str) and "\n" in item:
            tasks.append(BenchmarkTask("reference", str(k), item))
        else:
            specs.append(item)
    return tasks + load_benchmarks(specs)


def _contaminated(
    table: pl.DataFrame, ids: pl.Series, names: pl.Series | None, tasks: Sequence[BenchmarkTask]
) -> list[dict[str, object]]:
    """One entry per contaminated function: its id and name, and the task it leaks."""
    hits = table.filter(pl.col("dedup_reason") == "contaminated")
    rows = hits["row"]
    found = names.gather(rows).to_list() if names is not None else [None] * hits.height
    return [
        {
            "function_id": function_id,
            "name": name,
            "benchmark": tasks[-cluster_row - 1].benchmark,
            "task_id": tasks[-cluster_row - 1].task_id,
        }
        for function_id, name, cluster_row in zip(
            ids.cast(pl.Utf8).gather(rows).to_list(), found, hits["cluster_row"], strict=True
        )
    ]


def _report(
    functions: pl.DataFrame,
    bytes_per_function: int,
    tasks: Sequence[BenchmarkTask],
    contaminated: list[dict[str, object]],
    examples: int = 10,
) -> DedupReport:
    reasons = Counter(functions["dedup_reason"].to_list())
    sizes = (
        functions.filter(pl.col("dedup_reason") != "contaminated")
        .group_by("cluster_id")
        .agg(pl.len().alias("size"), pl.col("name").head(5).alias("names"))
        .filter(pl.col("size") > 1)
        .sort(["size", "cluster_id"], descending=[True, False])
    )
    largest = [
        {"cluster_id": row["cluster_id"], "size": row["size"], "names": row["names"]}
        for row in sizes.head(examples).iter_rows(named=True)
    ]
    return DedupReport(
        functions=functions.height,
        kept=reasons.get("kept", 0),
        removed={k: v for k, v in sorted(reasons.items()) if k != "kept"},
        clusters=sizes.height,
        largest=largest,
        bytes_per_function=bytes_per_function,
        benchmarks=dict(sorted(Counter(t.benchmark for t in tasks).items())),
        contaminated=contaminated,
    )


def _cluster_ids(
    ids: pl.Series, cluster_row: pl.Series, tasks: Sequence[BenchmarkTask]
) -> pl.Series:
    """The kept function's id for each row, or `<benchmark>:<task_id>` for a benchmark hit."""
    frame = pl.DataFrame({"row": cluster_row})
    kept = ids.cast(pl.Utf8).gather(frame["row"].clip(lower_bound=0))
    labels = pl.Series([f"{t.benchmark}:{t.task_id}" for t in tasks] or [""], dtype=pl.Utf8)
    leaked = labels.gather((-frame["row"] - 1).clip(lower_bound=0))
    return frame.select(
        pl.when(pl.col("row") >= 0).then(kept).otherwise(leaked).alias("cluster_id")
    )["cluster_id"]


def dedup(
    functions: pl.DataFrame,
    config: DedupConfig | None = None,
    against: Against | None = None,
) -> DedupResult:
    """Cluster `functions` (needs `source`; `function_id` and `name` are used when present)
    and pick one per cluster; drop any near-duplicate of a task in `against` (benchmark specs
    such as `["humaneval", "mbpp.jsonl"]`, see `reference_tasks`)."""
    config = config or DedupConfig()
    tasks = reference_tasks(against)
    table, per_function = assign(
        _blocks(functions, config.block_size), config, [t.source for t in tasks]
    )
    ids = (
        functions["function_id"]
        if "function_id" in functions.columns
        else pl.Series([str(i) for i in range(functions.height)])
    )
    out = functions.with_columns(
        _cluster_ids(ids, table["cluster_row"], tasks), table["dedup_reason"], table["exact_hash"]
    )
    if "name" not in out.columns:
        out = out.with_columns(pl.lit(None, pl.Utf8).alias("name"))
    hits = _contaminated(table, ids, out["name"], tasks)
    return DedupResult(out, _report(out, per_function, tasks, hits))


def dedup_parquet(
    source: str | Path,
    output: str | Path,
    config: DedupConfig | None = None,
    against: Against | None = None,
    all_rows: str | Path | None = None,
) -> DedupReport:
    """Stream a functions Parquet file through dedup; write the kept rows (and, if asked, all
    rows with their reasons) atomically."""
    config = config or DedupConfig()
    source = Path(source)
    if not source.is_file():
        raise C2CError(f"dedup: {source} does not exist")
    columns = ["source"] + (
        [config.score_column] if config.keep == "score" and config.score_column else []
    )
    try:
        names = pl.scan_parquet(source).collect_schema().names()
    except (pl.exceptions.PolarsError, OSError) as e:
        raise C2CError(f"dedup: cannot read {source}: {e}") from None
    missing = [c for c in [*columns, "function_id"] if c not in names]
    if missing:
        raise C2CError(f"dedup: {source} has no column(s) {', '.join(missing)}")

    def batches() -> Iterator[tuple[int, pl.DataFrame]]:
        start = 0
        for batch in (
            pl.scan_parquet(source).select(columns).collect_batches(chunk_size=config.block_size)
        ):
            yield start, batch
            start += batch.height

    # Benchmarks load first, so a bad one fails before the long pass over the functions.
    tasks = reference_tasks(against)
    table, per_function = assign(batches(), config, [t.source for t in tasks])
    ids = pl.scan_parquet(source).select("function_id").collect()["function_id"]
    table = table.with_columns(_cluster_ids(ids, table["cluster_row"], tasks))
    rows = (
        pl.scan_parquet(source)
        .with_row_index("row")
        .join(
            table.lazy().select("row", "cluster_id", "dedup_reason", "exact_hash"),
            on="row",
            maintain_order="left",
        )
        .drop("row")
    )
    if all_rows is not None:
        sink_parquet(rows, all_rows)
    sink_parquet(rows.filter(pl.col("dedup_reason") == "kept"), output)
    summary = rows.select(
        "cluster_id", "dedup_reason", "name" if "name" in names else pl.lit(None).alias("name")
    ).collect()
    # Names are read only when there are hits to name.
    leaked = "name" in names and (table["dedup_reason"] == "contaminated").any()
    function_names = pl.scan_parquet(source).select("name").collect()["name"] if leaked else None
    hits = _contaminated(table, ids, function_names, tasks)
    return _report(summary, per_function, tasks, hits)


def write_report(report: DedupReport, path: str | Path) -> None:
    write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n", path)
