"""`c2c eval`: grade a model's code induction on Case2Code tasks in the sandbox.

    import case2code
    result = case2code.evaluate("c2c-run/eval/case2code-eval.jsonl",
                                predictions="preds.jsonl", output="eval-out")
    result.figures["pass@1"], result.tasks, result.samples, result.self_check

Tasks come from our split or the paper's file (tasks.py); answers from a predictions file or a
model (answers.py: an OpenAI-compatible server or vLLM); the code in each answer (sanitize.py)
runs on all cases of its task in the sandbox (grade.py); pass@k (passk.py), the files
(results.py) and the self-checks (checks.py, cached per data file) follow. With `output`,
grading writes shards to `<output>/samples.parquet.parts/` as it goes and a rerun resumes there;
generated answers are kept in `<output>/answers.parquet` so a rerun does not ask again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from case2code.atomic import write_parquet, write_text
from case2code.errors import C2CError
from case2code.evaluation.grade import GRADING_LIMITS, VERDICT_SCHEMA, grade_answers
from case2code.evaluation.results import figures, task_results, write_results
from case2code.evaluation.tasks import load_tasks
from case2code.sandbox import Limits, Sandbox
from case2code.shards import ShardedOutput

# Answers graded per shard: a killed evaluation loses at most this many.
SHARD_ANSWERS = 128
GRADED_FILE = "samples.parquet"
ANSWERS_FILE = "answers.parquet"

# progress(stage, done, total), stage one of "answers", "grading", "self-check".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EvalResult:
    """An evaluation: `tasks` (one row per task: n, correct, cases, first failing status and the
    task's traits), `samples` (one verdict per answer), `figures` (pass@1, pass@k, mean case
    share, statuses), `self_check` (reference and baseline pass@1; None when not run), the
    `summary` written to results.json and the `files` written (none without `output`)."""

    tasks: pl.DataFrame
    samples: pl.DataFrame
    figures: dict[str, Any]
    self_check: dict[str, Any] | None
    summary: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)


def evaluate(
    data: str | Path,
    predictions: str | Path | None = None,
    generator: str | None = None,
    *,
    output: str | Path | None = None,
    model: str | None = None,
    base_url: str | None = None,
    n: int = 1,
    temperature: float = 0.0,
    max_tokens: int = 2048,
    concurrency: int = 8,
    limits: Limits | None = None,
    workers: int | None = None,
    self_check: bool = True,
    progress: Progress | None = None,
) -> EvalResult:
    """Grade answers to the tasks of `data` (our split or the paper's file): from a
    `predictions` JSONL file, or from `generator` ("openai" with `base_url`, or "vllm" with
    `model`) sampling `n` answers per task. Writes the result files into `output` if given."""
    if (predictions is None) == (generator is None):
        raise C2CError("evaluate: give either predictions (a JSONL file) or a generator")
    from case2code.evaluation.answers import read_predictions

    limits = limits or GRADING_LIMITS
    report = progress or (lambda stage, done, total: None)
    tasks = load_tasks(data)
    folder = Path(output) if output is not None else None
    settings: dict[str, Any] = {"limits": json.loads(limits.to_json())}
    if predictions is not None:
        answers = read_predictions(predictions, tasks["id"].to_list())
        settings["predictions"] = str(predictions)
    else:
        asked = {"n": n, "temperature": temperature, "max_tokens": max_tokens}
        settings |= {"generator": generator, **asked}
        answers = _generated(
            tasks, str(generator), asked, model, base_url, concurrency, folder, report
        )
    unanswered = tasks.height - answers["id"].n_unique()
    answers = _with_missing_tasks(tasks, answers)
    opened: list[Sandbox] = []  # started on first use: cached answers and checks need none

    def sandbox() -> Sandbox:
        if not opened:
            opened.append(Sandbox(limits, workers))
        return opened[0]

    def grade(block: pl.DataFrame) -> pl.DataFrame:
        return grade_answers(sandbox(), tasks, block)

    try:
        verdicts = _graded(tasks, answers, limits, folder, grade, report)
        check = None
        if self_check:
            from case2code.evaluation.checks import cached_self_check
            from case2code.evaluation.checks import self_check as run_self_check

            report("self-check", 0, tasks.height)
            check = cached_self_check(data, limits, lambda: run_self_check(sandbox(), tasks))
            report("self-check", tasks.height, tasks.height)
    finally:
        for box in opened:
            box.close()
    table = task_results(tasks, verdicts)
    overall = figures(table, verdicts)
    summary = {
        "data": str(data),
        "model": model,
        **overall,
        "tasks_without_answers": unanswered,
        "settings": settings,
        "self_check": check,
    }
    files = write_results(folder, summary, table, verdicts, tasks) if folder else {}
    return EvalResult(table, verdicts, overall, check, summary, files)


def _with_missing_tasks(tasks: pl.DataFrame, answers: pl.DataFrame) -> pl.DataFrame:
    """Answers, plus failed ones for tasks with none (as many as the most answered task has),
    so that a task left unanswered counts as failed, as the paper's grader counts it."""
    from case2code.evaluation.answers import ANSWER_SCHEMA, answer_row

    answered = set(answers["id"].unique().to_list())
    missing = [task_id for task_id in tasks["id"] if task_id not in answered]
    if not missing:
        return answers
    most = int(answers.group_by("id").len()["len"].max() or 1)  # type: ignore[arg-type]
    filler = [answer_row(t, k, "", failed="no answer given") for t in missing for k in range(most)]
    return pl.concat([answers, pl.DataFrame(filler, schema=ANSWER_SCHEMA)])


def _graded(
    tasks: pl.DataFrame,
    answers: pl.DataFrame,
    limits: Limits,
    folder: Path | None,
    grade: Callable[[pl.DataFrame], pl.DataFrame],
    report: Progress,
) -> pl.DataFrame:
    """Every answer graded; with a folder, in shards that a rerun finds and skips."""
    if folder is None:
        parts = []
        for start in range(0, answers.height, SHARD_ANSWERS):
            parts.append(grade(answers.slice(start, SHARD_ANSWERS)))
            report("grading", min(start + SHARD_ANSWERS, answers.height), answers.height)
        return pl.concat(parts) if parts else pl.DataFrame(schema=VERDICT_SCHEMA)
    fingerprint = _fingerprint(tasks, answers, limits)
    sharded = ShardedOutput(folder / GRADED_FILE, fingerprint, answers.height, SHARD_ANSWERS)
    sharded.compute_missing(
        lambda a, b: (grade(answers.slice(a, b - a)), None),
        lambda done, total: report("grading", done, total),
    )
    verdicts = sharded.merge(VERDICT_SCHEMA)
    sharded.clean()
    return verdicts


def _fingerprint(tasks: pl.DataFrame, answers: pl.DataFrame, limits: Limits) -> str:
    """What the graded shards depend on: the tasks' cases, the answers, the limits."""
    digest = hashlib.sha256(limits.to_json().encode())
    digest.update(str(SHARD_ANSWERS).encode())
    for frame, columns in (
        (tasks, ["id", "func_name", "cases", "literal_cases", "expected", "raises", "setup"]),
        (answers, ["id", "sample", "completion", "truncated", "failed"]),
    ):
        for row in frame.select(columns).iter_rows():
            digest.update(json.dumps(row).encode())
    return digest.hexdigest()


def _generated(
    tasks: pl.DataFrame,
    generator: str,
    asked: dict[str, Any],
    model: str | None,
    base_url: str | None,
    concurrency: int,
    folder: Path | None,
    report: Progress,
) -> pl.DataFrame:
    """A model's answers; with a folder they are kept there, and reused by a rerun that asks
    the same model the same questions with the same settings."""
    from case2code.evaluation.answers import AnswerSettings, generate_answers

    settings = AnswerSettings(**asked)
    question = [generator, model, base_url, asked, tasks["id"].to_list()]
    digest = hashlib.sha256(json.dumps(question, sort_keys=True).encode())
    digest.update(json.dumps(tasks["prompt"].to_list()).encode())
    stamp = digest.hexdigest()
    saved = folder / ANSWERS_FILE if folder is not None else None
    stamp_file = folder / f"{ANSWERS_FILE}.stamp" if folder is not None else None
    if saved and stamp_file and saved.is_file() and stamp_file.is_file():
        if stamp_file.read_text().strip() == stamp:
            return pl.read_parquet(saved)
    answers = generate_answers(
        tasks,
        generator,
        settings,
        model=model,
        base_url=base_url,
        concurrency=concurrency,
        progress=lambda done, total: report("answers", done, total),
    )
    if saved and stamp_file:
        write_parquet(answers, saved)
        write_text(stamp + "\n", stamp_file)
    return answers


__all__ = ["EvalResult", "evaluate"]
