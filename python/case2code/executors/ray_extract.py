"""Extraction on Ray Data: the corpus cut into partitions on the driver, each read and
extracted by the Rust core in a Ray Data actor, its result stored by the driver as a resume
shard, the shards merged as `extract_to_parquet` merges its own.

- **Partitions** are cut from what is known without reading a source: Python files by their
  sizes (about `shard_bytes` a partition); a Parquet table by its row groups (a run of whole
  row groups holding about `shard_bytes` of text by the footer, so a partition reads only
  its own); a JSONL or JSON file whole. Sources that cannot be read at all make a partition of
  their own, first: they are only counted.
- **Actors**: `map_batches(..., compute=ActorPoolStrategy(size=actors))`, `cpus_per_actor`
  CPUs each (the extractor's threads too), each opening `ExtractStep.worker()` once. Parquet
  rows are numbered within their file, as the local reader numbers them (`ray.data.
  read_parquet` has no per-file row index). The corpus must be readable at the same paths on
  every node.
- **Order and resume**: the driver writes each result as a shard sorted by function id into
  `<output>.ray.parts/` (stamped with the corpus, the settings and the partition size; the
  local shards are cut otherwise, hence their own folder) and merges them with
  `extract.merge_shards`: `extract_to_parquet`'s table row for row, and its figures. A
  restarted run extracts only the partitions without a shard.
- **Failures**: a `C2CError` in a partition stops the run with its message, the finished
  shards kept; a lost actor is restarted and its partition retried `RETRIES` times, then the
  run stops with a C2CError.

Rejections (`rejected=`) hold the local executor's rows, in partition order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import pickle
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl

from case2code.corpus import (
    PARQUET_SUFFIXES,
    UNREADABLE,
    Batch,
    Corpus,
    Unreadable,
    chunk_batches,
    file_batches,
    file_size,
    jsonl_batches,
    parquet_columns,
    require_text_column,
)
from case2code.errors import C2CError
from case2code.executors.ray import _first_line
from case2code.extract import (
    SHARD_BYTES,
    ExtractConfig,
    ExtractResult,
    ExtractStep,
    ExtractSummary,
    ProgressCallback,
    _corpus,
    _shards_fingerprint,
    _size,
    _source_bytes,
    merge_shards,
    write_shard,
)
from case2code.shards import ShardedOutput


@dataclass(frozen=True)
class SourcesPart:
    """Python files in batches for the Rust core, and sources that could not be read."""

    batches: tuple[Batch, ...]

    @property
    def bytes(self) -> int:
        return sum(_size(batch) for batch in self.batches)

    def read(self, text_column: str, batch_bytes: int) -> Iterator[Batch]:
        yield from self.batches


@dataclass(frozen=True)
class RowGroupsPart:
    """Rows `start` to `start + rows` of a Parquet table: a run of whole row groups."""

    path: str
    start: int
    rows: int
    declared: int  # the table's rows, by its footer
    columns: tuple[str, ...]  # the text column, then the origin columns it has
    row_bytes: float  # the table's size on disk per row, for progress

    @property
    def bytes(self) -> int:
        return int(self.row_bytes * self.rows)

    def read(self, text_column: str, batch_bytes: int) -> Iterator[Batch]:
        """Its rows as batches of about `batch_bytes` of text, numbered within the table; a
        read error, or rows missing, is reported as the local reader reports it."""
        try:
            chunk = pl.scan_parquet(self.path).select(self.columns)
            chunk = chunk.slice(self.start, self.rows).collect()
        except Exception as error:  # polars raises several types for a damaged file
            yield Unreadable(self.path, None, UNREADABLE, f"read failed part way: {error}")
            return
        yield from chunk_batches(
            chunk, self.start, self.path, self.columns, self.row_bytes, batch_bytes
        )
        if chunk.height < self.rows:
            end = self.start + chunk.height
            reason = f"read failed part way: {end:,} of {self.declared:,} rows read"
            yield Unreadable(self.path, None, UNREADABLE, reason)


@dataclass(frozen=True)
class TablePart:
    """A JSONL file (or JSON array) read whole: its rows are known only by reading it."""

    path: str
    size: int

    @property
    def bytes(self) -> int:
        return self.size

    def read(self, text_column: str, batch_bytes: int) -> Iterator[Batch]:
        yield from jsonl_batches(Path(self.path), text_column, batch_bytes)


Part = SourcesPart | RowGroupsPart | TablePart


def plan_parts(corpus: Corpus, config: ExtractConfig, shard_bytes: int) -> list[Part]:
    """The corpus cut into partitions, in corpus order (the order ties keep in the output)."""
    require_text_column(corpus.tables, config.text_column)
    parts: list[Part] = []
    unreadable: list[Batch] = list(corpus.unreadable)
    files: list[Batch] = []
    size = 0
    for batch in file_batches(corpus.files, config.batch_bytes):
        files.append(batch)
        size += _source_bytes(batch)
        if size >= shard_bytes:
            parts.append(SourcesPart(tuple(files)))
            files, size = [], 0
    if files:
        parts.append(SourcesPart(tuple(files)))
    for table in corpus.tables:
        if table.name.lower().endswith(PARQUET_SUFFIXES):
            table_parts = _parquet_parts(table, config.text_column, shard_bytes)
        else:
            table_parts = [TablePart(str(table), file_size(table))]
        for part in table_parts:
            if isinstance(part, Unreadable):
                unreadable.append(part)
            else:
                parts.append(part)
    if unreadable:  # counted only: a partition of their own, first
        parts.insert(0, SourcesPart(tuple(unreadable)))
    return parts


def _parquet_parts(
    path: Path, text_column: str, shard_bytes: int
) -> list[RowGroupsPart] | list[Unreadable]:
    """A Parquet table's row groups grouped into partitions of about `shard_bytes` of text
    (uncompressed, by the footer), or why the table cannot be read at all."""
    import pyarrow.parquet as pq  # Ray Data's own dependency

    origin = str(path)
    columns = parquet_columns(path, text_column)
    if isinstance(columns, Unreadable):
        return [columns]
    try:
        metadata = pq.read_metadata(path)
    except Exception as error:  # pyarrow: ArrowInvalid, OSError, ...
        return [Unreadable(origin, None, UNREADABLE, f"not a readable Parquet file ({error})")]
    row_bytes = file_size(path) / (metadata.num_rows or 1)
    parts: list[RowGroupsPart] = []
    start = rows = text_bytes = 0
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        rows += group.num_rows
        text_bytes += _column_bytes(group, text_column)
        if text_bytes >= shard_bytes or index == metadata.num_row_groups - 1:
            part = RowGroupsPart(origin, start, rows, metadata.num_rows, tuple(columns), row_bytes)
            parts.append(part)
            start, rows, text_bytes = start + rows, 0, 0
    return parts


def _column_bytes(group: Any, name: str) -> int:
    """A row group's uncompressed size of one top-level column."""
    for index in range(group.num_columns):
        column = group.column(index)
        if column.path_in_schema == name:
            return int(column.total_uncompressed_size)
    return 0


class _ExtractActor:
    """A Ray Data actor: `ExtractStep.worker()` opened once, then each pickled partition of a
    batch read and extracted. Its config and the corpus's roots are set on a subclass made
    per run (`_actor_class`): constructor arguments would sit in the object store, which a
    restarted actor cannot count on."""

    config: ExtractConfig
    roots: list[str]
    with_rejected: bool

    def __init__(self) -> None:
        corpus = Corpus([], [], [], 0, self.roots)  # provenance needs only the roots
        self._worker = ExtractStep(self.config, corpus).worker()
        self._process = self._worker.__enter__()

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        answers = [self._answer(pickle.loads(item)) for item in batch.column("part").to_pylist()]
        return pa.table(
            {
                "index": batch.column("index"),
                "answer": pa.array(answers, type=pa.large_binary()),
            }
        )

    def _answer(self, part: Part) -> bytes:
        """The partition's result (skipped sources dropped: only their counts are kept), or a
        step's error as its message."""
        config = self.config
        try:
            result = self._process(list(part.read(config.text_column, config.batch_bytes)))
        except C2CError as error:
            return pickle.dumps(str(error), protocol=5)
        result.skipped = result.skipped.clear()
        if not self.with_rejected:
            result.rejected = result.rejected.clear()
        return pickle.dumps(result, protocol=5)


def _actor_class(config: ExtractConfig, roots: list[str], with_rejected: bool) -> type:
    return type(
        "ExtractActor",
        (_ExtractActor,),
        {"config": config, "roots": roots, "with_rejected": with_rejected},
    )


@contextmanager
def _quiet(ray_data: ModuleType) -> Iterator[None]:
    """Ray Data without its progress bars and execution notes: the caller shows progress."""
    with warnings.catch_warnings():  # made on first use, it warns of its deprecated fields
        warnings.simplefilter("ignore", DeprecationWarning)
        context = ray_data.DataContext.get_current()
    saved = context.enable_progress_bars, context.print_on_execution_start
    logger = logging.getLogger("ray.data")
    level = logger.level
    context.enable_progress_bars = context.print_on_execution_start = False
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        context.enable_progress_bars, context.print_on_execution_start = saved
        logger.setLevel(level)


@dataclass(frozen=True)
class Pool:
    """The actors: how many, CPUs each, and how often a lost one is restarted."""

    actors: int
    cpus_per_actor: int
    retries: int


def extract_on_ray(
    ray: ModuleType,
    pool: Callable[[int], Pool],
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None,
    output: str | os.PathLike[str],
    config: ExtractConfig | None = None,
    *,
    rejected: str | os.PathLike[str] | None = None,
    shard_bytes: int = SHARD_BYTES,
    progress: ProgressCallback | None = None,
) -> ExtractSummary:
    """`extract_to_parquet` on a connected Ray: the same table and figures (see the module's
    docstring); `pool(partitions)` sizes the actor pool for the partitions left to do."""
    config = config or ExtractConfig()
    started = time.perf_counter()
    corpus = _corpus(inputs, config)
    config.extractor()  # settings the Rust core refuses: refused here, not in every actor
    parts = plan_parts(corpus, config, shard_bytes)
    local = _shards_fingerprint(corpus, config, shard_bytes, rejected is not None)
    fingerprint = hashlib.sha256(f"{local}\0ray partitions".encode()).hexdigest()
    # Its own `<output>.ray.parts/`: the local executor's shards are cut otherwise.
    sharded = ShardedOutput(Path(output).with_name(Path(output).name + ".ray"), fingerprint, 0, 1)
    pending = [index for index in range(len(parts)) if not sharded.done(index)]
    total = corpus.total_bytes
    done = sum(part.bytes for part in parts) - sum(parts[index].bytes for index in pending)
    if progress is not None:
        progress(min(done, total), total)
    if pending:
        answers = _answers(ray, pool(len(pending)), parts, pending, config, corpus.roots, rejected)
        with contextlib.closing(answers):  # an error here stops the actors at once
            for index, result in answers:
                write_shard(sharded, index, result, rejected is not None)
                done += parts[index].bytes
                if progress is not None:
                    progress(min(done, total), total)
    return merge_shards(sharded, len(parts), output, rejected, started)


def _answers(
    ray: ModuleType,
    pool: Pool,
    parts: Sequence[Part],
    pending: Sequence[int],
    config: ExtractConfig,
    roots: list[str],
    rejected: str | os.PathLike[str] | None,
) -> Iterator[tuple[int, ExtractResult]]:
    """(index, result) of every pending partition, as the actors finish them."""
    from ray import data as ray_data  # `import ray` alone does not load it

    actor_config = dataclasses.replace(config, threads=pool.cpus_per_actor)
    actor = _actor_class(actor_config, roots, rejected is not None)
    items = [{"index": i, "part": pickle.dumps(parts[i], protocol=5)} for i in pending]
    with _quiet(ray_data):
        with warnings.catch_warnings():
            # Ray Data restarts a lost actor and retries its task forever by default: a
            # partition that crashes its actor would loop. Only `ray_remote_args` bound that
            # in Ray 2.60 (deprecated for named parameters that do not cover it yet).
            warnings.simplefilter("ignore", DeprecationWarning)
            dataset = ray_data.from_items(items, override_num_blocks=len(items)).map_batches(
                actor,
                batch_size=1,
                batch_format="pyarrow",
                compute=ray_data.ActorPoolStrategy(size=pool.actors),
                num_cpus=pool.cpus_per_actor,
                max_restarts=pool.retries,
                max_task_retries=pool.retries,
            )
        rows = iter(dataset.iter_rows())
        try:
            for row in rows:
                answer = pickle.loads(row["answer"])
                if isinstance(answer, str):
                    raise C2CError(answer)
                yield row["index"], answer
        except ray.exceptions.RayActorError as error:
            raise C2CError(
                f"ray: an extraction actor was lost ({_first_line(error)}); the finished "
                "partitions are kept: run again to resume"
            ) from None
        finally:
            close = getattr(rows, "close", None)
            if close is not None:  # the dataset's execution stopped, its actors released
                close()
