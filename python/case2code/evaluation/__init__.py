"""`c2c eval`: grade a model's code induction on Case2Code tasks in the sandbox.

    import case2code
    result = case2code.evaluate("c2c-run/eval/case2code-eval.jsonl",
                                predictions="preds.jsonl", output="eval-out")
    result.figures["pass@1"], result.tasks, result.samples, result.self_check

Tasks come from our split or the paper's file (tasks.py); answers from a predictions file
(predictions.py) or a model (answers.py: an OpenAI-compatible server or vLLM); the code in each
answer (sanitize.py) runs on all cases of its task in the sandbox (grade.py); pass@k (passk.py)
and the files (results.py) follow, with the self-checks (checks.py; computed once per data
file and cached). With `output`, grading
writes shards to `<output>/samples.parquet.parts/` as it goes and a rerun resumes there;
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
    limits = limits or GRADING_LIMITS
    tasks = load_tasks(data)
    folder = Path(output) if output is not None else None
    settings: dict[str, Any] = {"limits": json.loads(limits.to_json())}
    if predictions is not None:
        from case2code.evaluation.predictions import read_predictions

        answers = read_predictions(predictions, tasks["id"].to_list())
        settings["predictions"] = str(predictions)
    else:
        answer_settings = {"n": n, "temperature": temperature, "max_tokens": max_tokens}
        settings |= {"generator": generator, **answer_settings}
        answers = _generated(
            tasks, str(generator), answer_settings, model, base_url, concurrency, folder, progress
        )
    unanswered = tasks.height - answers["id"].n_unique()
    answers = _with_missing_tasks(tasks, answers)
    sandbox: Sandbox | None = None

    def grade(block: pl.DataFrame) -> pl.DataFrame:
        nonlocal sandbox
        sandbox = sandbox or Sandbox(limits, workers)
        return grade_answers(sandbox, tasks, block)

    try:
        verdicts = _graded(tasks, answers, limits, folder, grade, progress)
        check = None
        if self_check:
            from case2code.evaluation.checks import cached_self_check
            from case2code.evaluation.checks import self_check as run_self_check

            def compute_check() -> dict[str, Any]:
                nonlocal sandbox
                sandbox = sandbox or Sandbox(limits, workers)
                return run_self_check(sandbox, tasks)

            if progress:
                progress("self-check", 0, tasks.height)
            check = cached_self_check(data, limits, compute_check)
            if progress:
                progress("self-check", tasks.height, tasks.height)
    finally:
        if sandbox is not None:
            sandbox.close()
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
    answered = set(answers["id"].unique().to_list())
    missing = [task_id for task_id in tasks["id"] if task_id not in answered]
    if not missing:
        return answers
    most = int(answers.group_by("id").len()["len"].max() or 1)  # type: ignore[arg-type]
    filler = pl.DataFrame(
        {
            "id": [t for t in missing for _ in range(most)],
            "sample": [k for _ in missing for k in range(most)],
            "completion": "",
            "truncated": False,
            "failed": "no answer given",
        }
    )
    return pl.concat([answers, filler], how="diagonal_relaxed").select(answers.columns)


def _graded(
    tasks: pl.DataFrame,
    answers: pl.DataFrame,
    limits: Limits,
    folder: Path | None,
    grade: Callable[[pl.DataFrame], pl.DataFrame],
    progress: Progress | None,
) -> pl.DataFrame:
    """Every answer graded; with a folder, in shards that a rerun finds and skips."""

    def advance(done: int, total: int) -> None:
        if progress:
            progress("grading", done, total)

    if folder is None:
        parts = []
        for start in range(0, answers.height, SHARD_ANSWERS):
            parts.append(grade(answers.slice(start, SHARD_ANSWERS)))
            advance(min(start + SHARD_ANSWERS, answers.height), answers.height)
        return pl.concat(parts) if parts else pl.DataFrame(schema=VERDICT_SCHEMA)
    sharded = ShardedOutput(
        folder / GRADED_FILE,
        _fingerprint(tasks, answers, limits),
        answers.height,
        SHARD_ANSWERS,
    )
    sharded.compute_missing(lambda a, b: (grade(answers.slice(a, b - a)), None), advance)
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
    answer_settings: dict[str, Any],
    model: str | None,
    base_url: str | None,
    concurrency: int,
    folder: Path | None,
    progress: Progress | None,
) -> pl.DataFrame:
    """A model's answers; with a folder they are kept there, and reused by a rerun that asks
    the same model the same questions with the same settings."""
    from case2code.evaluation.answers import AnswerSettings, generate_answers

    settings = AnswerSettings(**answer_settings)
    stamp = hashlib.sha256(
        json.dumps(
            [generator, model, base_url, answer_settings, tasks["id"].to_list()],
            sort_keys=True,
        ).encode()
    )
    stamp.update(json.dumps(tasks["prompt"].to_list()).encode())
    saved, saved_stamp = (
        (None, None)
        if folder is None
        else (
            folder / ANSWERS_FILE,
            folder / (ANSWERS_FILE + ".stamp"),
        )
    )
    if (
        saved is not None
        and saved_stamp is not None
        and saved.is_file()
        and saved_stamp.is_file()
        and saved_stamp.read_text().strip() == stamp.hexdigest()
    ):
        return pl.read_parquet(saved)
    answers = generate_answers(
        tasks,
        generator,
        settings,
        model=model,
        base_url=base_url,
        concurrency=concurrency,
        progress=(lambda done, total: progress("answers", done, total)) if progress else None,
    )
    if saved is not None and saved_stamp is not None:
        write_parquet(answers, saved)
        write_text(stamp.hexdigest() + "\n", saved_stamp)
    return answers


__all__ = ["EvalResult", "evaluate"]
