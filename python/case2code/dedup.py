"""The dedup stage: exact and near-duplicate removal, and decontamination against benchmarks.

Functions are compared on their code: comments, docstrings and layout are gone and string
literals are their values whatever their quoting, so a copy with its docstring rewritten, a
comment added or its code reformatted is an exact duplicate; `raw_text` compares the tokens as
written instead. Functions stream into the Rust `Deduper` in blocks; it keeps a record per
function (`bytes_per_function`, 625 bytes with the defaults, of which the band keys and sketch,
592, go to an unnamed temporary file, with its shingle set, 4 bytes a shingle), never the
sources, then clusters with MinHash LSH, exact Jaccard verification and union-find.
Functions are known by their row: a `function_id` is no key (exact copies share one).
`dedup_parquet` reads the table twice, its sources in blocks and then every column in batches
to write the outputs, so its memory does not grow with the table's sources. Every row gets a
`cluster_id` (the `function_id` of the function kept for its cluster), a `dedup_reason`
(`kept`, `exact`, `near`, `contaminated`) and an `exact_hash` of its normalised tokens. A
function near-duplicate to a benchmark task (its whole source, or any function in it) is
`contaminated`, and its `cluster_id` names the task (`humaneval:HumanEval/0`).
"""

from __future__ import annotations

import ast
import json
import secrets
import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import polars as pl

from case2code import _core
from case2code.atomic import TABLE_ROW_GROUP_ROWS, sink_parquet, write_parquet, write_text
from case2code.benchmarks import BenchmarkTask, load_benchmarks
from case2code.errors import C2CError
from case2code.tables import parquet_slices
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
    # Compare tokens as written (comments, docstrings, string quoting) instead of the code.
    raw_text: bool = False
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
                self.raw_text,
                self.seed,
                self.threads,
            )
        except (ValueError, OSError) as e:  # refused settings; its temporary record files
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
        _add(
            deduper,
            block["source"].cast(pl.Utf8).fill_null("").to_list(),
            _ranks(block, start, config),
        )
        count += block.height
    if reference:
        _add(deduper, list(reference), [0.0] * len(reference), reference=True)
    try:
        columns = deduper.finish()
    except OSError as e:
        raise C2CError(f"dedup: {e}") from None
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


def _function_sources(source: str) -> list[str]:
    """The top-level functions of a benchmark task's source, each alone (none when it does not
    parse, or is one function and nothing else). Parsed with `ast`, never run."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    lines = source.splitlines(keepends=True)
    parts = [
        "".join(lines[min(d.lineno for d in [node, *node.decorator_list]) - 1 : node.end_lineno])
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    return [p for p in parts if p.strip() != source.strip()]


def reference_parts(tasks: Sequence[BenchmarkTask]) -> list[BenchmarkTask]:
    """What corpus functions are checked against: each task's whole source, and each function
    in it alone (a task's helper, such as HumanEval/10's `is_palindrome`, is extracted from a
    copy as a function of its own, far from the whole task)."""
    return [
        part
        for task in tasks
        for part in (
            task,
            *(replace(task, source=f) for f in _function_sources(task.source)),
        )
    ]


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
    parts = reference_parts(tasks)
    table, per_function = assign(
        _blocks(functions, config.block_size), config, [p.source for p in parts]
    )
    ids = (
        functions["function_id"]
        if "function_id" in functions.columns
        else pl.Series([str(i) for i in range(functions.height)])
    )
    out = functions.with_columns(
        _cluster_ids(ids, table["cluster_row"], parts), table["dedup_reason"], table["exact_hash"]
    )
    if "name" not in out.columns:
        out = out.with_columns(pl.lit(None, pl.Utf8).alias("name"))
    hits = _contaminated(table, ids, out["name"], parts)
    return DedupResult(out, _report(out, per_function, tasks, hits))


def _table_columns(source: Path, needed: Sequence[str]) -> list[str]:
    """The functions table's column names; a missing file or column is a C2CError."""
    if not source.is_file():
        raise C2CError(f"dedup: {source} does not exist")
    try:
        names = pl.scan_parquet(source).collect_schema().names()
    except (pl.exceptions.PolarsError, OSError) as e:
        raise C2CError(f"dedup: cannot read {source}: {e}") from None
    missing = [c for c in [*needed, "function_id"] if c not in names]
    if missing:
        raise C2CError(f"dedup: {source} has no column(s) {', '.join(missing)}")
    return names


def _table_batches(
    source: Path, columns: Sequence[str] | None, rows: int
) -> Iterator[tuple[int, pl.DataFrame]]:
    """`columns` (None: all) of the table in batches of `rows`, with their first row."""
    start = 0
    try:
        for start, batch in parquet_slices(source, columns, rows):
            yield start, batch
    except (pl.exceptions.PolarsError, OSError) as e:
        raise C2CError(f"dedup: cannot read {source} (row {start:,} on): {e}") from None


def _add(deduper: _core.Deduper, sources: list[str], ranks: list[float], **kw: bool) -> None:
    try:
        deduper.add(sources, ranks, **kw)
    except OSError as e:  # its records go to the temporary directory
        raise C2CError(f"dedup: {e}") from None


_EMPTY_OUTCOME = pl.DataFrame(
    schema={
        "row": pl.Int64,
        "cluster_row": pl.Int64,
        "dedup_reason": pl.Utf8,
        "exact_hash": pl.Utf8,
    }
)


@dataclass
class _Outcome:
    """What clustering found, summarised without a row per function: the reason counts, the
    number of duplicates of each representative that has some, and the benchmark hits."""

    count: int
    reasons: Counter[str]
    duplicates: pl.DataFrame  # cluster_row, duplicates
    hits: pl.DataFrame  # row, cluster_row (-(k + 1) for task k)


def _outcome_slice(deduper: _core.Deduper, count: int, start: int, stop: int) -> pl.DataFrame:
    """Rows `start..stop` of the outcome `Deduper.cluster` kept: row, cluster_row (the kept
    row, or -(k + 1) for reference k, as `assign` gives), dedup_reason, exact_hash."""
    columns = deduper.outcome(start, stop)
    cluster = pl.Series(columns["cluster"], dtype=pl.Int64)
    return pl.DataFrame(
        {
            "row": pl.int_range(start, start + len(cluster), eager=True, dtype=pl.Int64),
            # A reference hit points at reference k as -(k + 1).
            "cluster_row": pl.select(
                pl.when(cluster >= count).then(count - 1 - cluster).otherwise(cluster)
            ).to_series(),
            "dedup_reason": pl.Series(columns["reason"], dtype=pl.Utf8),
            "exact_hash": pl.Series(columns["exact_hash"], dtype=pl.Utf8),
        },
        schema=_EMPTY_OUTCOME.schema,
    )


def _outcome_slices(deduper: _core.Deduper, count: int, rows: int) -> Iterator[pl.DataFrame]:
    for start in range(0, count, rows):
        yield _outcome_slice(deduper, count, start, min(count, start + rows))


def _summarise(deduper: _core.Deduper, count: int, rows: int) -> _Outcome:
    reasons: Counter[str] = Counter()
    duplicates = [pl.DataFrame(schema={"cluster_row": pl.Int64, "duplicates": pl.UInt32})]
    hits = [pl.DataFrame(schema={"row": pl.Int64, "cluster_row": pl.Int64})]
    for frame in _outcome_slices(deduper, count, rows):
        reasons.update(frame["dedup_reason"].to_list())
        duplicates.append(
            frame.filter(pl.col("dedup_reason").is_in(["exact", "near"]))
            .group_by("cluster_row")
            .agg(pl.len().alias("duplicates"))
        )
        hits.append(
            frame.filter(pl.col("dedup_reason") == "contaminated").select("row", "cluster_row")
        )
    per_rep = pl.concat(duplicates).group_by("cluster_row").agg(pl.col("duplicates").sum())
    return _Outcome(count, reasons, per_rep, pl.concat(hits))


def _rows_of(source: Path, rows: pl.Series, columns: Sequence[str], block: int) -> pl.DataFrame:
    """`row` and `columns` of the given rows, read by streaming the table once."""
    picked = [pl.DataFrame(schema={"row": pl.Int64, **{c: pl.Utf8 for c in columns}})]
    for start, batch in _table_batches(source, columns, block):
        numbered = batch.select(
            pl.int_range(start, start + batch.height, dtype=pl.Int64).alias("row"),
            *(pl.col(c).cast(pl.Utf8) for c in columns),
        )
        picked.append(numbered.filter(pl.col("row").is_in(rows.implode())))
    return pl.concat(picked)


def _largest(
    outcome: _Outcome,
    rep_ids: pl.DataFrame,
    deduper: _core.Deduper,
    names: Callable[[pl.Series], dict[int, str | None]],
    block: int,
    examples: int = 10,
) -> tuple[int, list[dict[str, object]]]:
    """How many clusters have duplicates, and the biggest (by size, then id) with their first
    five members' names."""
    sizes = (
        outcome.duplicates.join(rep_ids, left_on="cluster_row", right_on="row")
        .group_by("cluster_id")
        .agg(pl.col("cluster_row"), (pl.col("duplicates").sum() + pl.len()).alias("size"))
        .sort(["size", "cluster_id"], descending=[True, False])
    )
    top = sizes.head(examples)
    if top.height == 0:
        return sizes.height, []
    reps = top["cluster_row"].explode()
    members = pl.concat(
        frame.filter(pl.col("cluster_row").is_in(reps.implode())).select("row", "cluster_row")
        for frame in _outcome_slices(deduper, outcome.count, block)
    )
    named = names(members["row"])
    largest = []
    for cluster_id, cluster_rows, size in top.select("cluster_id", "cluster_row", "size").rows():
        rows = members.filter(pl.col("cluster_row").is_in(cluster_rows))["row"].sort().head(5)
        largest.append(
            {"cluster_id": cluster_id, "size": size, "names": [named.get(r) for r in rows]}
        )
    return sizes.height, largest


def _labelled(
    batch: pl.DataFrame, outcome: pl.DataFrame, rep_ids: pl.DataFrame, labels: pl.Series
) -> pl.DataFrame:
    """A batch of the table with its `cluster_id` (its own id when kept, its representative's,
    or `<benchmark>:<task_id>`), `dedup_reason` and `exact_hash`."""
    reps = outcome.join(
        rep_ids, left_on="cluster_row", right_on="row", how="left", maintain_order="left"
    )
    leaked = labels.gather((-outcome["cluster_row"] - 1).clip(lower_bound=0))
    cluster_id = pl.select(
        pl.when(outcome["dedup_reason"] == "kept")
        .then(batch["function_id"].cast(pl.Utf8))
        .when(outcome["cluster_row"] < 0)
        .then(leaked)
        .otherwise(reps["cluster_id"])
        .alias("cluster_id")
    ).to_series()
    return batch.with_columns(cluster_id, outcome["dedup_reason"], outcome["exact_hash"])


# Rows per batch when the table is streamed again to write the output: all its columns are
# read, so batches are kept smaller than the source-only batches of the first pass.
OUTPUT_BATCH_ROWS = 10_000


def _write_labelled(
    source: Path,
    deduper: _core.Deduper,
    count: int,
    rep_ids: pl.DataFrame,
    labels: pl.Series,
    outputs: Sequence[tuple[Path, bool]],
) -> None:
    """Stream the table again, label each batch and publish each output (path, kept rows
    only?) atomically, from per-batch parts in a folder beside it that is then removed."""
    parts = [path.with_name(f".{path.name}.parts-{secrets.token_hex(4)}") for path, _ in outputs]
    try:
        for part in parts:
            part.mkdir(parents=True)
        index = 0
        for start, batch in _table_batches(source, None, OUTPUT_BATCH_ROWS):
            outcome = _outcome_slice(deduper, count, start, start + batch.height)
            labelled = _labelled(batch, outcome, rep_ids, labels)
            for part, (_, kept_only) in zip(parts, outputs, strict=True):
                rows = labelled.filter(pl.col("dedup_reason") == "kept") if kept_only else labelled
                write_parquet(rows, part / f"{index:06d}.parquet")
            index += 1
        for part, (path, _) in zip(parts, outputs, strict=True):
            if index == 0:  # an empty table: its schema, with the three new columns
                empty = pl.scan_parquet(source).head(0).collect()
                write_parquet(_labelled(empty, _EMPTY_OUTCOME, rep_ids, labels), part / "0.parquet")
            batches = pl.scan_parquet(sorted(part.glob("*.parquet")))
            sink_parquet(batches, path, row_group_size=TABLE_ROW_GROUP_ROWS)
    finally:
        for part in parts:
            shutil.rmtree(part, ignore_errors=True)


def dedup_parquet(
    source: str | Path,
    output: str | Path,
    config: DedupConfig | None = None,
    against: Against | None = None,
    all_rows: str | Path | None = None,
) -> DedupReport:
    """Stream a functions Parquet file through dedup; write the kept rows (and, if asked, all
    rows with their reasons) atomically.

    Memory does not grow with the table's sources: the first pass reads the sources in blocks
    into the `Deduper`'s fixed-size records, clustering runs over those, and the outputs are
    written by streaming the table again, batch by batch, beside the outcome kept in Rust. Only
    the representatives that have duplicates are named (their `function_id`) in memory."""
    config = config or DedupConfig()
    source = Path(source)
    scored = [config.score_column] if config.keep == "score" and config.score_column else []
    names = _table_columns(source, ["source", *scored])
    # Benchmarks load first, so a bad one fails before the long pass over the functions.
    tasks = reference_tasks(against)
    parts = reference_parts(tasks)
    deduper = config.deduper()
    count = 0
    for start, block in _table_batches(source, ["source", *scored], config.block_size):
        sources = block["source"].cast(pl.Utf8).fill_null("").to_list()
        _add(deduper, sources, _ranks(block, start, config))
        count += block.height
    if parts:
        _add(deduper, [p.source for p in parts], [0.0] * len(parts), reference=True)
    try:
        deduper.cluster()
    except OSError as e:
        raise C2CError(f"dedup: {e}") from None
    outcome = _summarise(deduper, count, config.block_size)

    def read(rows: pl.Series, column: str) -> dict[int, str | None]:
        """`column` of a few rows (the benchmark hits, the largest clusters' members)."""
        if column not in names or rows.is_empty():
            return {}
        found = _rows_of(source, rows, [column], config.block_size)
        return dict(zip(found["row"].to_list(), found[column].to_list(), strict=True))

    # The representatives that have duplicates are the only rows named in memory.
    rep_ids = _rows_of(
        source, outcome.duplicates["cluster_row"], ["function_id"], config.block_size
    ).rename({"function_id": "cluster_id"})
    ids = read(outcome.hits["row"], "function_id")
    labels = pl.Series([f"{p.benchmark}:{p.task_id}" for p in parts] or [""], dtype=pl.Utf8)
    outputs = [(Path(all_rows), False)] if all_rows is not None else []
    _write_labelled(source, deduper, count, rep_ids, labels, [*outputs, (Path(output), True)])
    clusters, largest = _largest(
        outcome, rep_ids, deduper, lambda r: read(r, "name"), OUTPUT_BATCH_ROWS
    )
    hit_names = read(outcome.hits["row"], "name")
    contaminated = [
        {
            "function_id": ids.get(row),
            "name": hit_names.get(row),
            "benchmark": parts[-cluster_row - 1].benchmark,
            "task_id": parts[-cluster_row - 1].task_id,
        }
        for row, cluster_row in outcome.hits.iter_rows()
    ]
    return DedupReport(
        functions=count,
        kept=outcome.reasons.get("kept", 0),
        removed={k: v for k, v in sorted(outcome.reasons.items()) if k != "kept"},
        clusters=clusters,
        largest=largest,
        bytes_per_function=deduper.bytes_per_function(),
        benchmarks=dict(sorted(Counter(t.benchmark for t in tasks).items())),
        contaminated=contaminated,
    )


def write_report(report: DedupReport, path: str | Path) -> None:
    write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n", path)
