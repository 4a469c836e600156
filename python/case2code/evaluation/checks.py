"""Self-checks run with every evaluation: does the grader agree with the data?

- The reference code of every task, graded as an answer, should score 100% on our own split
  (its outputs were made by this sandbox). On the paper's file, made with CPython 3.x natively,
  the tasks it does not reproduce are listed by cause.
- A baseline that returns each task's most common expected value should score near 0: a grader
  that passes it often compares too little.
"""

from __future__ import annotations

import ast
from collections import Counter, defaultdict
from typing import Any

import polars as pl

from case2code.evaluation.answers import ANSWER_SCHEMA
from case2code.evaluation.grade import CORRECT, grade_answers
from case2code.evaluation.passk import mean_pass_at_k
from case2code.sandbox import Sandbox

# Why the reference code's output can differ from the paper's recorded one.
ADDRESS = "memory address in the output"
MESSAGE = "exception message differs between Python versions"
ORDER = "hash-seed order (sets, hash())"
FLOAT = "float rounding differs (e.g. sum() is compensated since Python 3.12)"
RAISES = "raises in one grader only (state kept between cases or names rebound there)"
EXITS = "the function exits the interpreter (the paper's grader disabled exit and quit)"
LIMIT = "a sandbox limit (time, memory or output)"
OTHER = "another value"


def answers_of(tasks: pl.DataFrame, completions: list[str]) -> pl.DataFrame:
    """One answer (sample 0) per task with the given completions."""
    n = tasks.height
    return pl.DataFrame(
        {
            "id": tasks["id"],
            "sample": [0] * n,
            "completion": completions,
            "truncated": [False] * n,
            "failed": [None] * n,
            "prompt_tokens": [None] * n,
            "completion_tokens": [None] * n,
        },
        schema=ANSWER_SCHEMA,
    )


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
    if got is None:
        return LIMIT
    if " at 0x" in expected or " at 0x" in got:
        return ADDRESS
    got_raised = status in ("exception", "syntax_error")
    if raises != got_raised:
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
