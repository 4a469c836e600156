"""Stage 1: find self-contained functions in a Python corpus.

The work is done by the Rust core (tree-sitter, all cores, GIL released); this
module feeds it batches from `corpus`, gathers the columns into polars frames and
keeps the counts for the summary. The rules are in docs/extraction-rules.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import sysconfig
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from case2code import _core
from case2code.atomic import TABLE_ROW_GROUP_ROWS, sink_parquet, write_parquet
from case2code.corpus import Batch, Corpus, FileBatch, Unreadable, batches, plan
from case2code.errors import C2CError
from case2code.shards import ShardedOutput
from case2code.steps.base import KEY, sum_counters
from case2code.tables import RUN_ROW_GROUP_ROWS, sink_sorted_runs
from case2code.validate import at_least, known_names

# The last rule is checked here, not in Rust: CPython's own compiler (docs/extraction-rules.md).
COMPILE_RULE = "compiles"
RULES: tuple[str, ...] = (*_core.rule_names(), COMPILE_RULE)

PARAM_TYPE = pl.Struct(
    {"name": pl.String, "kind": pl.String, "annotation": pl.String, "default": pl.String}
)
FUNCTION_SCHEMA: dict[str, pl.DataType] = {
    "function_id": pl.String(),
    "name": pl.String(),
    "source": pl.String(),
    "signature": pl.String(),
    "params": pl.List(PARAM_TYPE),
    "returns": pl.String(),
    "docstring": pl.String(),
    "origin": pl.String(),
    "origin_row": pl.Int64(),
    "line": pl.Int64(),
    "n_lines": pl.Int64(),
    "helpers": pl.List(pl.String),
    "origin_corpus": pl.String(),
}
REJECTION_SCHEMA: dict[str, pl.DataType] = {
    "name": pl.String(),
    "origin": pl.String(),
    "origin_row": pl.Int64(),
    "line": pl.Int64(),
    "reason": pl.String(),
    "detail": pl.String(),
}
SKIPPED_SCHEMA: dict[str, pl.DataType] = {
    "origin": pl.String(),
    "origin_row": pl.Int64(),
    "reason": pl.String(),
    "detail": pl.String(),
}


# Installed third-party packages live inside the stdlib directory; the default corpus skips them.
THIRD_PARTY_DIRS = ("site-packages", "dist-packages")


def stdlib_path() -> Path:
    """The running interpreter's standard library: the embedded default corpus."""
    return Path(sysconfig.get_paths()["stdlib"])


@dataclass(frozen=True)
class ExtractConfig:
    """What to keep and how to read the corpus.

    `rules` switches rules off by name (see `RULES`); `lists` replaces any of the name
    lists (`stdlib_modules`, `builtins`, `denied_builtins`, `denied_modules`,
    `denied_attributes`, `allowed_decorators`). The byte caps bound what one function puts
    into a sample: its standalone source, and its longest literal (docstrings not counted).
    """

    rules: Mapping[str, bool] = field(default_factory=dict)
    min_lines: int = 3
    max_lines: int = 200
    max_file_bytes: int = 32 << 20
    max_source_bytes: int = 20_000
    max_literal_bytes: int = 1_000
    lists: Mapping[str, Sequence[str]] = field(default_factory=dict)
    text_column: str = "content"
    exclude_dirs: tuple[str, ...] = ()
    threads: int = 0
    batch_bytes: int = 8 << 20

    def __post_init__(self) -> None:
        at_least(1, min_lines=self.min_lines)
        if self.max_lines < self.min_lines:
            raise C2CError(f"max_lines = {self.max_lines} is below min_lines = {self.min_lines}")
        at_least(
            1,
            max_file_bytes=self.max_file_bytes,
            max_source_bytes=self.max_source_bytes,
            max_literal_bytes=self.max_literal_bytes,
            batch_bytes=self.batch_bytes,
        )
        at_least(0, threads=self.threads)
        known_names("rules", self.rules, RULES, noun="rule")

    def settings(self) -> dict[str, Any]:
        """What changes the result: every setting but the thread count and the batch size."""
        return {k: v for k, v in asdict(self).items() if k not in ("threads", "batch_bytes")}

    def extractor(self) -> Any:
        try:
            return _core.Extractor(
                rules={k: v for k, v in self.rules.items() if k != COMPILE_RULE},
                min_lines=self.min_lines,
                max_lines=self.max_lines,
                max_file_bytes=self.max_file_bytes,
                max_source_bytes=self.max_source_bytes,
                max_literal_bytes=self.max_literal_bytes,
                lists={k: list(v) for k, v in self.lists.items()},
            )
        except ValueError as error:
            raise C2CError(f"extraction config: {error}") from error

    @property
    def check_compile(self) -> bool:
        return bool(self.rules.get(COMPILE_RULE, True))


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # positional_only, positional_or_keyword, var_positional, keyword_only, var_keyword
    annotation: str | None
    default: str | None

    @property
    def required(self) -> bool:
        """A caller must pass it: no default, and not `*args`/`**kwargs`."""
        return self.default is None and self.kind not in ("var_positional", "var_keyword")

    @property
    def positional(self) -> bool:
        return self.kind in ("positional_only", "positional_or_keyword")


@dataclass(frozen=True)
class ExtractedFunction:
    """One kept function; `source` runs on its own (imports, constants and helpers included)."""

    function_id: str
    name: str
    source: str
    signature: str
    params: tuple[Param, ...]
    returns: str | None
    docstring: str | None
    origin: str
    origin_row: int | None
    line: int
    n_lines: int
    helpers: tuple[str, ...]
    origin_corpus: str | None = None


@dataclass
class ExtractSummary:
    sources: int = 0
    bytes: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    kept: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def seen(self) -> int:
        return self.kept + sum(self.rejected.values())

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    @property
    def functions_per_s(self) -> float:
        return self.seen / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "bytes": self.bytes,
            "skipped": dict(self.skipped),
            "functions_seen": self.seen,
            "kept": self.kept,
            "rejected": dict(self.rejected),
            "seconds": round(self.seconds, 3),
            "mb_per_s": round(self.mb_per_s, 2),
            "functions_per_s": round(self.functions_per_s, 1),
        }


@dataclass
class ExtractResult:
    functions: pl.DataFrame
    rejected: pl.DataFrame
    skipped: pl.DataFrame
    summary: ExtractSummary

    def records(self) -> Iterator[ExtractedFunction]:
        """The kept functions as typed records."""
        for row in self.functions.select(list(FUNCTION_SCHEMA)).iter_rows(named=True):
            row["params"] = tuple(Param(**p) for p in row["params"])
            row["helpers"] = tuple(row["helpers"])
            yield ExtractedFunction(**row)


# Named in compile errors: syntax newer than the host's CPython is rejected too.
HOST_PYTHON = f"host Python {sys.version_info.major}.{sys.version_info.minor}"


def compile_error(source: str, origin: str) -> str | None:
    """Why the host's CPython compiler rejects `source`, or None. It is compiled, never run.
    Call it with warnings silenced (`compile_errors`): invalid escapes only warn."""
    try:
        compile(source, origin, "exec", dont_inherit=True)
    except SyntaxError as error:  # TabError and IndentationError too
        where = f" (line {error.lineno} of the standalone source)" if error.lineno else ""
        return f"{type(error).__name__}: {error.msg}{where}; {HOST_PYTHON}"
    except (ValueError, RecursionError, MemoryError, OverflowError) as error:
        return f"{type(error).__name__}: {error}; {HOST_PYTHON}"
    return None


def compile_errors(sources: Sequence[str], origins: Sequence[str]) -> list[str | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [compile_error(s, o) for s, o in zip(sources, origins, strict=True)]


def _params_column(params: list[list[tuple[str, str, str | None, str | None]]]) -> pl.Series:
    """Each function's parameters as a list of structs, built from flat columns: built from
    Python dicts, polars' List(Struct) kept ~6 KB per function (65 MB a batch) however few
    parameters it holds."""
    fields = list(PARAM_TYPE.to_schema())
    flat = [param for row in params for param in row]
    values = zip(*flat, strict=True) if flat else ([] for _ in fields)
    columns = {field: list(column) for field, column in zip(fields, values, strict=True)}
    flat_frame = pl.DataFrame(
        {"row": [row for row, own in enumerate(params) for _ in own], **columns},
        schema={"row": pl.Int64, **PARAM_TYPE.to_schema()},
    )
    grouped = flat_frame.group_by("row", maintain_order=True).agg(pl.struct(fields).alias("params"))
    every_row = pl.DataFrame({"row": pl.int_range(0, len(params), eager=True, dtype=pl.Int64)})
    joined = every_row.join(grouped, on="row", how="left", maintain_order="left")["params"]
    return joined.fill_null(pl.lit([], dtype=pl.List(PARAM_TYPE)))


class _Collector:
    """Turns the Rust core's column batches into frames and counts."""

    def __init__(self, check_compile: bool = True) -> None:
        self.check_compile = check_compile
        self.functions: list[pl.DataFrame] = []
        self.rejected: list[pl.DataFrame] = []
        self.skipped: list[tuple[str, int | None, str, str | None]] = []
        self.summary = ExtractSummary()

    def add_unreadable(self, item: Unreadable) -> None:
        self.summary.sources += 1
        self._skip(item.origin, item.row, item.reason, item.detail)

    def _skip(self, origin: str, row: int | None, reason: str, detail: str | None) -> None:
        self.summary.skipped[reason] += 1
        self.skipped.append((origin, row, reason, detail))

    def add(
        self,
        columns: dict[str, dict[str, list[Any]]],
        origins: list[str],
        rows: list[int | None],
        extra: Mapping[str, list[Any]],
        provenance: list[tuple[str | None, str]] | None = None,
    ) -> None:
        """One batch's columns; `origins` name its sources in skips, `provenance` gives each
        source's (corpus, origin) for its functions (default: no corpus, `origins`)."""
        sources = columns["sources"]
        self.summary.sources += len(origins)
        self.summary.bytes += sum(sources["bytes"])
        for index, reason in enumerate(sources["skipped"]):
            if reason is not None:
                self._skip(origins[index], rows[index], reason, None)
        functions = columns["functions"]
        index = functions.pop("source_index")
        named = provenance or [(None, origin) for origin in origins]
        functions["origin"] = [named[i][1] for i in index]
        functions["origin_corpus"] = [named[i][0] for i in index]
        functions["origin_row"] = [rows[i] for i in index]
        functions["params"] = _params_column(functions["params"])
        frame = pl.DataFrame(functions, schema=FUNCTION_SCHEMA)
        if extra:
            frame = frame.with_columns(
                pl.Series(f"origin_{name}", [values[i] for i in index], strict=False)
                for name, values in extra.items()
            )
        if self.check_compile:
            frame = self._drop_uncompilable(frame)
        self.functions.append(frame)
        self.summary.kept += frame.height

        rejections = columns["rejections"]
        index = rejections.pop("source_index")
        rejections["origin"] = [named[i][1] for i in index]
        rejections["origin_row"] = [rows[i] for i in index]
        self.summary.rejected.update(rejections["reason"])
        self.rejected.append(pl.DataFrame(rejections, schema=REJECTION_SCHEMA))

    def _drop_uncompilable(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Move the functions CPython's compiler rejects to the rejections."""
        errors = compile_errors(frame["source"].to_list(), frame["origin"].to_list())
        if not any(errors):
            return frame
        failed = pl.Series([error is not None for error in errors])
        rejected = frame.filter(failed).select(
            "name",
            "origin",
            "origin_row",
            "line",
            pl.lit("compile_error").alias("reason"),
            pl.Series("detail", [error for error in errors if error is not None]),
        )
        self.summary.rejected["compile_error"] += rejected.height
        self.rejected.append(rejected.cast(REJECTION_SCHEMA))
        return frame.filter(~failed)

    def result(self, seconds: float) -> ExtractResult:
        self.summary.seconds = seconds
        functions = (
            pl.concat(self.functions, how="diagonal_relaxed")
            if self.functions
            else pl.DataFrame(schema=FUNCTION_SCHEMA)
        )
        rejected = (
            pl.concat(self.rejected) if self.rejected else pl.DataFrame(schema=REJECTION_SCHEMA)
        )
        skipped = pl.DataFrame(self.skipped, schema=SKIPPED_SCHEMA, orient="row")
        return ExtractResult(functions, rejected, skipped, self.summary)


ProgressCallback = Callable[[int, int], None]

# Source per shard of `extract_to_parquet`: what a crash can lose, and what is held in memory
# (about 25,000 functions, 40 MB as frames).
SHARD_BYTES = 16 << 20


def _corpus(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None,
    config: ExtractConfig,
) -> Corpus:
    """The files and tables to read; None is the standard library (less the third-party
    packages installed inside it)."""
    if inputs is None:
        return plan([stdlib_path()], (*config.exclude_dirs, *THIRD_PARTY_DIRS))
    if isinstance(inputs, (str, os.PathLike)):
        return plan([inputs], config.exclude_dirs)
    return plan(list(inputs), config.exclude_dirs)


def _feed(
    extractor: Any, batch: Batch, collector: _Collector, threads: int, corpus: Corpus
) -> None:
    """Extract one batch of `corpus` into `collector`."""
    if isinstance(batch, Unreadable):
        collector.add_unreadable(batch)
    elif isinstance(batch, FileBatch):
        columns = extractor.extract_files(batch.paths, threads)
        named = [corpus.provenance(path) for path in batch.paths]
        collector.add(columns, batch.paths, [None] * len(batch.paths), {}, named)
    else:
        columns = extractor.extract_texts(batch.texts, threads)
        # A table is its own corpus; its rows' own origin columns (The Stack's) are kept.
        table = Path(batch.origin).name
        named = [(table, table)] * len(batch.rows)
        origins = [batch.origin] * len(batch.rows)
        collector.add(columns, origins, list(batch.rows), batch.extra, named)


def extract(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    config: ExtractConfig | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> ExtractResult:
    """Extract self-contained functions from directories, Python files (`.py`, `.pyw`,
    `.ipynb` notebooks), JSONL, JSON arrays and Parquet; a missing path is refused.

    With no inputs, the running interpreter's standard library (without the third-party
    packages installed inside it) is the corpus. The functions come sorted by function id
    (ties in corpus order), as `extract_to_parquet` writes them.
    `progress(done_bytes, total_bytes)` is called after every batch.
    """
    config = config or ExtractConfig()
    started = time.perf_counter()
    corpus = _corpus(inputs, config)
    ((_, result),) = _shards(corpus, config, None, lambda _: False, progress)
    assert result is not None
    result.summary.seconds = time.perf_counter() - started
    result.functions = result.functions.sort(KEY, maintain_order=True, nulls_last=False)
    return result


class ExtractStep:
    """Extraction as a step: a partition of the corpus (a list of its batches) in, its
    functions, rejections and counts out, here or in a Ray task. Its partitions are cut by
    size, not by function id: ids exist only after it."""

    name = "extract"

    def __init__(self, config: ExtractConfig, corpus: Corpus) -> None:
        self.config, self.corpus = config, corpus

    @contextlib.contextmanager
    def worker(self) -> Iterator[Callable[[Sequence[Batch]], ExtractResult]]:
        extractor = self.config.extractor()

        def process(partition: Sequence[Batch]) -> ExtractResult:
            collector = _Collector(self.config.check_compile)
            for batch in partition:
                _feed(extractor, batch, collector, self.config.threads, self.corpus)
            return collector.result(0.0)

        yield process


def _shards(
    corpus: Corpus,
    config: ExtractConfig,
    shard_bytes: int | None,
    finished: Callable[[int], bool],
    progress: ProgressCallback | None,
) -> Iterator[tuple[int, ExtractResult | None]]:
    """The corpus's batches grouped into shards of about `shard_bytes` of source (None: one
    shard), each shard's extraction in turn; a shard `finished` says is done gives None, its
    batches read past without being parsed."""
    index, shard_size, done = 0, 0, 0
    shard: list[Batch] = []
    with ExtractStep(config, corpus).worker() as process:
        for batch in batches(corpus, config.text_column, config.batch_bytes):
            shard.append(batch)
            shard_size += _source_bytes(batch)
            done += _size(batch)
            if shard_bytes is not None and shard_size >= shard_bytes:
                yield index, None if finished(index) else process(shard)
                index, shard, shard_size = index + 1, [], 0
            if progress is not None:
                progress(min(done, corpus.total_bytes), corpus.total_bytes)
        if shard or index == 0:
            yield index, None if finished(index) else process(shard)


def _size(batch: Batch) -> int:
    """The batch's share of the corpus's size on disk, for progress."""
    return 0 if isinstance(batch, Unreadable) else batch.bytes


def _source_bytes(batch: Batch) -> int:
    """The source the batch holds, for sizing shards: its files' sizes, or its texts' (a
    row's share of a compressed table's size would make shards several times too big)."""
    if isinstance(batch, Unreadable):
        return 0
    return batch.bytes if isinstance(batch, FileBatch) else batch.text_bytes


def _identity(path: str | Path) -> str:
    """What a stat tells of a file's bytes: size, inode and both modification times. Any
    write changes the ctime, which no one can set back (utime sets the mtime only), so an
    edit that keeps the size and restores the mtime still shows; nothing is read."""
    try:
        stat = os.stat(path)
    except OSError as error:
        return f"unreadable: {error.strerror}"
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}:{stat.st_dev}"


def _corpus_digest(corpus: Corpus) -> str:
    """The corpus's files and tables, each with its identity (`_identity`)."""
    digest = hashlib.sha256()
    for path in [*(path for path, _ in corpus.files), *corpus.tables]:
        digest.update(f"{path}\0{_identity(path)}\0".encode())
    return digest.hexdigest()


def corpus_fingerprint(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None,
    config: ExtractConfig | None = None,
) -> str:
    """A digest of the corpus `extract` would read (None: the standard library), so that a
    cached extraction is redone when files come, go or change (even in place, to the same
    size)."""
    return _corpus_digest(_corpus(inputs, config or ExtractConfig()))


def _shards_fingerprint(
    corpus: Corpus, config: ExtractConfig, shard_bytes: int, rejected: bool
) -> str:
    """What the shards depend on: the corpus, every setting but the thread count, and whether
    rejections are kept too."""
    settings = {k: v for k, v in asdict(config).items() if k != "threads"}
    text = json.dumps([settings, shard_bytes, _corpus_digest(corpus)], default=str)
    if rejected:
        text += "\0rejected"
    return hashlib.sha256(text.encode()).hexdigest()


def _rejected_shard(sharded: ShardedOutput, index: int) -> Path:
    return sharded.parts / f"rejected-{index:05d}.parquet"


def _merge(
    parts: Sequence[Path],
    output: str | os.PathLike[str],
    empty: pl.DataFrame,
    sorted_by: str | None = None,
) -> None:
    """Stream the shards into `output` (a shard at a time; merged in `sorted_by` order when
    the shards are runs sorted by it). Shards of tables with other origin columns are given
    each other's, as nulls, in one order."""
    schemas = [pl.read_parquet_schema(part) for part in parts]
    # The columns and types a diagonal, relaxed concatenation gives, from empty frames.
    columns = pl.concat(
        [pl.LazyFrame(schema=schema) for schema in [empty.schema, *schemas]],
        how="diagonal_relaxed",
    ).collect_schema()
    frames = [
        pl.scan_parquet(part).select(
            pl.col(name).cast(dtype) if name in schema else pl.lit(None, dtype).alias(name)
            for name, dtype in columns.items()
        )
        for part, schema in zip(parts, schemas, strict=True)
    ]
    if frames and sorted_by is not None:
        sink_sorted_runs(frames, output, sorted_by)
        return
    table = pl.concat(frames) if frames else empty.lazy()
    sink_parquet(table, output, row_group_size=TABLE_ROW_GROUP_ROWS)


def extract_to_parquet(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None,
    output: str | os.PathLike[str],
    config: ExtractConfig | None = None,
    *,
    rejected: str | os.PathLike[str] | None = None,
    shard_bytes: int = SHARD_BYTES,
    progress: ProgressCallback | None = None,
) -> ExtractSummary:
    """Extract into `output` (and the rejected functions, with reasons, into `rejected`),
    resumably and in bounded memory: shards of about `shard_bytes` of source go to
    `<output>.parts/` as they are done (a rerun reads past finished shards without parsing
    them), and are merged in function-id order at the end."""
    config = config or ExtractConfig()
    started = time.perf_counter()
    corpus = _corpus(inputs, config)
    fingerprint = _shards_fingerprint(corpus, config, shard_bytes, rejected is not None)
    sharded = ShardedOutput(output, fingerprint, 0, 1)
    count = 0
    for index, result in _shards(corpus, config, shard_bytes, sharded.done, progress):
        count = index + 1
        if result is not None:
            write_shard(sharded, index, result, rejected is not None)
    return merge_shards(sharded, count, output, rejected, started)


def write_shard(
    sharded: ShardedOutput, index: int, result: ExtractResult, with_rejected: bool
) -> None:
    """Shard `index`: its functions as a run sorted by function id (ties in corpus order), its
    figures, and its rejections when they are kept."""
    if with_rejected:  # before the shard: a shard never exists without it
        write_parquet(result.rejected, _rejected_shard(sharded, index))
    functions = result.functions.sort(KEY, maintain_order=True, nulls_last=False)
    stats = {k: v for k, v in vars(result.summary).items() if k != "seconds"}
    sharded.write(index, functions, stats, row_group_size=RUN_ROW_GROUP_ROWS)


def merge_shards(
    sharded: ShardedOutput,
    count: int,
    output: str | os.PathLike[str],
    rejected: str | os.PathLike[str] | None,
    started: float,
) -> ExtractSummary:
    """The `count` finished shards (each sorted by function id, with its rejections when
    `rejected` is asked for) merged into `output` in function-id order, their figures summed;
    the shards then removed. `started`: the `perf_counter` the extraction began at."""
    shards = [sharded.shard(i) for i in range(count)]
    _merge(shards, output, pl.DataFrame(schema=FUNCTION_SCHEMA), sorted_by=KEY)
    if rejected is not None:
        parts = [_rejected_shard(sharded, i) for i in range(count)]
        _merge(parts, rejected, pl.DataFrame(schema=REJECTION_SCHEMA))
    total = sum_counters(sharded.stats(i) for i in range(count))
    counts = {k: Counter(v) if isinstance(v, dict) else v for k, v in total.items()}
    summary = ExtractSummary(**counts, seconds=time.perf_counter() - started)
    sharded.clean()
    return summary


def extract_texts(
    texts: Sequence[str],
    origins: Sequence[str] | None = None,
    config: ExtractConfig | None = None,
) -> ExtractResult:
    """Extract from in-memory source strings; `origins` names each (default `<string N>`)."""
    config = config or ExtractConfig()
    if origins is None:
        origins = [f"<string {i}>" for i in range(len(texts))]
    if len(origins) != len(texts):
        raise C2CError(f"{len(texts)} texts but {len(origins)} origins")
    extractor = config.extractor()
    started = time.perf_counter()
    collector = _Collector(config.check_compile)
    columns = extractor.extract_texts(list(texts), config.threads)
    collector.add(columns, list(origins), [None] * len(texts), {})
    return collector.result(time.perf_counter() - started)


def extract_source(
    text: str, origin: str = "<string>", config: ExtractConfig | None = None
) -> ExtractResult:
    """Extract from one source string."""
    return extract_texts([text], [origin], config)
