"""The dedup stage: exact and near-duplicate removal, and decontamination against benchmarks.

Functions are compared on their code: comments, docstrings and layout are gone and string
literals are their values whatever their quoting, so a copy with its docstring rewritten or
its code reformatted is an exact duplicate (`raw_text` compares the tokens as written).

Three steps (docs/architecture.md):

1. `SignStep`, per partition: a signature row per function id (rows sharing an id share
   their source: `copies` counts them, the best by the keep rule stands for them): the exact
   hash of its normalised tokens, LSH band keys, MinHash sketch and shingle set.
2. `ClusterStep`, global, on the signatures read in batches: the Rust `Deduper` (a few dozen
   bytes per function in RAM, the rest in temporary files) adds the benchmark tasks, finds
   candidate pairs by LSH bands, verifies them by exact Jaccard, joins clusters and keeps the
   best of each. Its decisions give each function id a `cluster_id` (the id kept, or
   `<benchmark>:<task_id>` when `contaminated`), a `dedup_reason` (`kept`, `exact`, `near`,
   `contaminated`) and an `exact_hash`.
3. `LabelStep`, per partition: each row with its decision (the other rows of a kept id are
   `exact`); the kept rows only, for the unique table.

Keep rules: `shortest` source (ties: the smaller function id), `first` in the corpus (by
origin: corpus, file, row, line; without those columns, by function id), or the highest
`score_column`.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import polars as pl

from case2code import _core
from case2code.benchmarks import Against, BenchmarkTask, reference_parts, reference_tasks
from case2code.dedup_report import DedupReport, DedupResult, report_of
from case2code.errors import C2CError
from case2code.executors.local import LocalExecutor, Progress
from case2code.steps.base import (
    KEY,
    GlobalStep,
    Partition,
    Process,
    Schema,
    Stats,
    Step,
    SummaryReader,
)
from case2code.validate import at_least, between, one_of

KeepRule = Literal["shortest", "first", "score"]
# Functions per partition of the signature and label steps: big, as their work per function is
# a fraction of a millisecond.
DEDUP_PARTITION_FUNCTIONS = 16_384
LABELS: Schema = {"cluster_id": pl.Utf8(), "dedup_reason": pl.Utf8(), "exact_hash": pl.Utf8()}
SIGNATURE_SCHEMA: Schema = {
    KEY: pl.Utf8(),
    "name": pl.Utf8(),
    "copies": pl.UInt32(),
    "rank": pl.Float64(),
    "order": pl.Utf8(),
    "exact_hash": pl.Utf8(),
    "bands": pl.Binary(),
    "sketch": pl.Binary(),
    "shingles": pl.Binary(),
}
DECISION_SCHEMA: Schema = {
    KEY: pl.Utf8(),
    "name": pl.Utf8(),
    "copies": pl.UInt32(),
    **LABELS,
    "benchmark": pl.Utf8(),
    "task_id": pl.Utf8(),
}


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

    def __post_init__(self) -> None:
        at_least(
            1,
            ngram=self.ngram,
            permutations=self.permutations,
            bands=self.bands,
            rows=self.rows,
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

    def settings(self) -> dict[str, Any]:
        """What changes the result: every setting but the thread count."""
        return {k: v for k, v in asdict(self).items() if k != "threads"}

    def deduper(self) -> _core.Deduper:
        rust = {k: v for k, v in asdict(self).items() if k not in ("keep", "score_column")}
        return _checked(_core.Deduper, **rust)


T = TypeVar("T")


def _checked(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A call into the Rust core; refused settings and its temporary files' errors named."""
    try:
        return call(*args, **kwargs)
    except (ValueError, OSError) as e:
        raise C2CError(f"dedup: {e}") from None


# ------------------------------------------------------------ which row stands for an id


def _rank(config: DedupConfig) -> pl.Expr:
    """Lower wins: the source's length, the negated score (a missing one loses), or 0 (the
    `first` rule ranks by corpus order)."""
    if config.keep == "shortest":
        return pl.col("source").str.len_chars().fill_null(0).cast(pl.Float64)
    if config.keep == "score":
        score = pl.col(config.score_column or "").cast(pl.Float64, strict=False)
        return (-score).fill_null(float("inf"))
    return pl.lit(0.0)


ORIGIN_TEXT, ORIGIN_NUMBERS = ("origin_corpus", "origin"), ("origin_row", "line")


def _order(columns: Sequence[str]) -> pl.Expr:
    """A function's place in the corpus as a sortable string (null when the table has none)."""
    parts = [pl.col(c).cast(pl.Utf8).fill_null("") for c in ORIGIN_TEXT if c in columns]
    parts += [
        (pl.col(c).cast(pl.Int64).fill_null(-1) + 1).cast(pl.Utf8).str.zfill(20)
        for c in ORIGIN_NUMBERS
        if c in columns
    ]
    if not parts:
        return pl.lit(None, pl.Utf8)
    return pl.concat_str(parts, separator="\x00")


def _occurrences(rows: pl.DataFrame, config: DedupConfig) -> pl.DataFrame:
    """The rows with `_rank`, `_order` and `_position` (in the partition), sorted so that the
    first row of each function id is the one that stands for it."""
    if rows[KEY].null_count():
        raise C2CError(f"functions: {rows[KEY].null_count()} row(s) have no {KEY}")
    return (
        rows.with_row_index("_position")
        .with_columns(_rank(config).alias("_rank"), _order(rows.columns).alias("_order"))
        .sort([KEY, "_rank", "_order", "_position"], nulls_last=True)
    )


def _check_functions(schemas: Mapping[str, Schema], config: DedupConfig) -> None:
    columns = schemas["functions"]
    needed = ["source"] + ([config.score_column or ""] if config.keep == "score" else [])
    missing = [c for c in needed if c not in columns]
    if missing:
        raise C2CError(
            f"dedup: the functions table has no column(s) {', '.join(missing)} "
            f"(has {', '.join(columns)})"
        )


# ------------------------------------------------------------ the steps


class SignStep(Step):
    """Functions in, one signature row per function id out."""

    name = "dedup_signatures"
    reads = ("functions",)
    partition_functions = DEDUP_PARTITION_FUNCTIONS

    def __init__(self, config: DedupConfig) -> None:
        self.config = config

    def check(self, schemas: Mapping[str, Schema]) -> None:
        _check_functions(schemas, self.config)

    def schema(self, schemas: Mapping[str, Schema]) -> Schema:
        return SIGNATURE_SCHEMA

    def settings(self) -> Mapping[str, Any]:
        return self.config.settings()

    @contextlib.contextmanager
    def worker(self) -> Iterator[Process]:
        deduper = self.config.deduper()

        def process(partition: Partition) -> tuple[pl.DataFrame, Stats]:
            rows = partition["functions"]
            name = pl.col("name") if "name" in rows.columns else pl.lit(None, pl.Utf8)
            best = (
                _occurrences(rows, self.config)
                .group_by(KEY, maintain_order=True)
                .agg(
                    name.first().cast(pl.Utf8).alias("name"),
                    pl.len().cast(pl.UInt32).alias("copies"),
                    pl.col("_rank").first().alias("rank"),
                    pl.col("_order").first().alias("order"),
                    pl.col("source").first().cast(pl.Utf8).fill_null(""),
                )
                if not rows[KEY].is_unique().all()
                else rows.select(  # the common case, without a sort: one row per id
                    KEY,
                    name.cast(pl.Utf8).alias("name"),
                    pl.lit(1, pl.UInt32).alias("copies"),
                    _rank(self.config).alias("rank"),
                    _order(rows.columns).alias("order"),
                    pl.col("source").cast(pl.Utf8).fill_null(""),
                )
            )
            signed = _checked(deduper.signatures, best["source"].to_list())
            table = best.drop("source").hstack(
                pl.DataFrame(signed, schema={c: SIGNATURE_SCHEMA[c] for c in signed})
            )
            return table.select(list(SIGNATURE_SCHEMA)), {"functions": rows.height}

        yield process


class ClusterStep(GlobalStep):
    """Signatures in, a decision per function id out (module docstring)."""

    name = "dedup_clusters"
    reads = "signatures"
    summary_columns = tuple(SIGNATURE_SCHEMA)
    decision_schema = DECISION_SCHEMA

    def __init__(self, config: DedupConfig, tasks: Sequence[BenchmarkTask] = ()) -> None:
        self.config = config
        self.tasks = list(tasks)
        self.parts = reference_parts(self.tasks)

    def settings(self) -> Mapping[str, Any]:
        tasks = [
            [t.benchmark, t.task_id, hashlib.sha256(t.source.encode()).hexdigest()]
            for t in self.tasks
        ]
        return {"dedup": self.config.settings(), "against": tasks}

    def decide(self, summary: pl.DataFrame) -> pl.DataFrame:
        pieces = self.decide_stream(lambda columns: iter([summary.select(columns)]))
        return pl.concat([pl.DataFrame(schema=dict(DECISION_SCHEMA)), *pieces])

    def decide_stream(self, read: SummaryReader) -> Iterator[pl.DataFrame]:
        deduper = self.config.deduper()
        ids: list[pl.Series] = []
        signed = ("exact_hash", "bands", "sketch", "shingles")
        for batch, ranks in self._ranked(read, signed):
            _checked(deduper.add_signatures, *(batch[c].to_list() for c in signed), ranks)
            ids.append(batch[KEY])
        if self.parts:
            sources = [part.source for part in self.parts]
            _checked(deduper.add, sources, [0.0] * len(sources), reference=True)
        _checked(deduper.cluster)
        yield from self._decisions(read, deduper, ids)

    def _ranked(
        self, read: SummaryReader, columns: Sequence[str]
    ) -> Iterator[tuple[pl.DataFrame, list[float]]]:
        """The signatures' batches (function id, rank, then `columns`), each with its
        functions' ranks: their `rank`, or under the `first` rule their place in the corpus
        (their `order`; without one, after those that have one, by function id)."""
        ranks = None
        if self.config.keep == "first":
            orders = pl.concat([batch["order"] for batch in read(["order"])])
            ranked = pl.DataFrame({"order": orders}).with_row_index("row")
            ranked = ranked.sort(["order", "row"], nulls_last=True).with_row_index("rank")
            ranks = ranked.sort("row")["rank"].cast(pl.Float64).to_list()
        start = 0
        for batch in read([KEY, "rank", *columns]):
            yield batch, ranks[start : start + batch.height] if ranks else batch["rank"].to_list()
            start += batch.height

    def _decisions(
        self, read: SummaryReader, clustered: Any, ids: list[pl.Series]
    ) -> Iterator[pl.DataFrame]:
        """The decision table in pieces, from a finished clustering (a `Deduper` or a
        `ClusterReplay`) of the functions `ids`, in table order."""
        every_id = pl.concat(ids) if ids else pl.Series(KEY, [], pl.Utf8)
        start = 0
        for batch in read([KEY, "name", "copies"]):
            outcome = clustered.outcome(start, start + batch.height)
            yield self._decided(batch, outcome, every_id, len(every_id))
            start += batch.height

    def _decided(
        self, batch: pl.DataFrame, outcome: dict[str, list[Any]], ids: pl.Series, count: int
    ) -> pl.DataFrame:
        cluster = pl.Series(outcome["cluster"], dtype=pl.Int64)
        task = (cluster - count).clip(lower_bound=0)
        labels = [(part.benchmark, part.task_id) for part in self.parts] or [("", "")]
        benchmarks = pl.Series([b for b, _ in labels], dtype=pl.Utf8).gather(task)
        task_ids = pl.Series([t for _, t in labels], dtype=pl.Utf8).gather(task)
        kept_id = ids.gather(cluster.clip(upper_bound=max(count - 1, 0)))
        reason = pl.Series(outcome["reason"], dtype=pl.Utf8)
        leaked = reason == "contaminated"
        return batch.select(
            pl.col(KEY).cast(pl.Utf8),
            pl.col("name").cast(pl.Utf8),
            pl.col("copies").cast(pl.UInt32),
            pl.when(leaked)
            .then(pl.concat_str([benchmarks, task_ids], separator=":"))
            .otherwise(kept_id)
            .alias("cluster_id"),
            reason.alias("dedup_reason"),
            pl.Series(outcome["exact_hash"], dtype=pl.Utf8).alias("exact_hash"),
            pl.when(leaked).then(benchmarks).alias("benchmark"),
            pl.when(leaked).then(task_ids).alias("task_id"),
        )


class LabelStep(Step):
    """Functions and decisions in; the functions with their labels out (kept ones only, when
    `kept_only`)."""

    name = "dedup_labels"
    reads = ("functions", "decisions")
    partition_functions = DEDUP_PARTITION_FUNCTIONS

    def __init__(self, config: DedupConfig, kept_only: bool) -> None:
        self.config, self.kept_only = config, kept_only

    def check(self, schemas: Mapping[str, Schema]) -> None:
        _check_functions(schemas, self.config)

    def schema(self, schemas: Mapping[str, Schema]) -> Schema:
        own = {k: v for k, v in schemas["functions"].items() if k not in LABELS}
        return {**own, **LABELS}

    def settings(self) -> Mapping[str, Any]:
        return {"dedup": self.config.settings(), "kept_only": self.kept_only}

    @contextlib.contextmanager
    def worker(self) -> Iterator[Process]:
        yield self.process

    def process(self, partition: Partition) -> tuple[pl.DataFrame, Stats]:
        rows = partition["functions"].drop(list(LABELS), strict=False)
        decisions = partition["decisions"].select(KEY, *LABELS)
        labelled = rows.with_row_index("_position").join(
            decisions, on=KEY, how="left", maintain_order="left"
        )
        if rows[KEY].is_unique().all():  # the common case: every row stands for its id
            standing = labelled.select("_position")
        else:
            standing = _occurrences(rows, self.config).group_by(KEY, maintain_order=True).first()
        if labelled["dedup_reason"].null_count():
            missing = labelled.filter(pl.col("dedup_reason").is_null())[KEY][0]
            raise C2CError(f"dedup: no decision for function {missing} (decisions out of date)")
        stands = pl.col("_position").is_in(standing["_position"].implode())
        reason = pl.col("dedup_reason")
        labelled = labelled.with_columns(
            pl.when(stands | (reason != "kept")).then(reason).otherwise(pl.lit("exact"))
        ).drop("_position")
        if self.kept_only:
            labelled = labelled.filter(pl.col("dedup_reason") == "kept")
        return labelled, {"rows": rows.height, "written": labelled.height}


# ------------------------------------------------------------ running the stage

SIGNATURES, DECISIONS = "signatures.parquet", "decisions.parquet"


def run_dedup(
    executor: LocalExecutor,
    functions: str | Path,
    work: Path,
    outputs: Sequence[tuple[Path, bool]],
    config: DedupConfig,
    tasks: Sequence[BenchmarkTask],
) -> DedupReport:
    """The three steps on a functions table, resumably: signatures and decisions in `work`
    (the signatures are removed once clustered), each output (path, kept rows only?) written
    by the label step."""
    signatures, decisions = work / SIGNATURES, work / DECISIONS
    executor.run(SignStep(config), {"functions": functions}, signatures)
    executor.decide_into(ClusterStep(config, tasks), signatures, decisions)
    signatures.unlink()
    for path, kept_only in outputs:
        tables = {"functions": functions, "decisions": decisions}
        executor.run(LabelStep(config, kept_only), tables, path)
    per_function = config.deduper().bytes_per_function()
    return report_of(pl.scan_parquet(decisions), tasks, per_function)


def dedup(
    functions: pl.DataFrame,
    config: DedupConfig | None = None,
    against: Against | None = None,
) -> DedupResult:
    """Cluster `functions` (needs `source`; `function_id`, `name` and the origin columns are
    used when present: without ids, row k is function `k` zero-padded) and pick one per
    cluster; drop any near-duplicate of a task in `against` (benchmark specs such as
    `["humaneval", "mbpp.jsonl"]`, see `case2code.benchmarks.reference_tasks`)."""
    config = config or DedupConfig()
    tasks = reference_tasks(against)
    if KEY not in functions.columns:
        ids = [f"{k:012d}" for k in range(functions.height)]
        functions = functions.with_columns(pl.Series(KEY, ids, dtype=pl.Utf8))
    executor = LocalExecutor()
    signed = executor.run(SignStep(config), {"functions": functions}).table
    assert signed is not None
    decisions = executor.decide(ClusterStep(config, tasks), signed)
    tables = {"functions": functions, "decisions": decisions}
    labelled = executor.run(LabelStep(config, kept_only=False), tables).table
    assert labelled is not None
    per_function = config.deduper().bytes_per_function()
    return DedupResult(labelled, report_of(decisions.lazy(), tasks, per_function))


def dedup_parquet(
    source: str | Path,
    output: str | Path,
    config: DedupConfig | None = None,
    against: Against | None = None,
    all_rows: str | Path | None = None,
    progress: Progress | None = None,
) -> DedupReport:
    """Dedup a functions Parquet table into `output` (the kept rows) and, if asked, `all_rows`
    (every row with its labels), in bounded memory and resumably: the signatures' shards wait
    in a folder beside the output (`.<output>.dedup/`), removed when done."""
    config = config or DedupConfig()
    # Benchmarks load first, so a bad one fails before the long pass over the functions.
    tasks = reference_tasks(against)
    output = Path(output)
    work = output.with_name(f".{output.name}.dedup")
    outputs = [(output, True)] + ([(Path(all_rows), False)] if all_rows is not None else [])
    report = run_dedup(LocalExecutor(progress=progress), source, work, outputs, config, tasks)
    shutil.rmtree(work, ignore_errors=True)
    return report


__all__ = [
    "ClusterStep",
    "DedupConfig",
    "DedupReport",
    "DedupResult",
    "LabelStep",
    "SignStep",
    "dedup",
    "dedup_parquet",
    "run_dedup",
]
