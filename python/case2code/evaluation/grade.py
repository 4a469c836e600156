"""Grading: every answer runs on all cases of its task in the sandbox, outputs compared as text.

An answer's code is what case2code.evaluation.sanitize finds in it. Each answer is one sandbox
job in a fresh interpreter, each case run from the answer's freshly defined state, under the
execute stage's limits; nothing of an answer runs on the host.

Our split's cases are the very argument lists the execute stage ran: the job is the answer's
code, `func_name` and those texts, so the driver builds the arguments exactly as it did then.
The paper's cases are expressions (`ET.Element('a')`, names its setup imports), which the driver
does not evaluate, so the job's source is the answer's code, the task's setup, then one wrapper
holding every case as a call, compiled once with the rest:

    def __c2c_case__(__c2c_i__):
        return (
            lambda: func_name(**dict(num=123)),
            ...
        )[__c2c_i__]()

with inputs `(0,)`, `(1,)`, ... A case's arguments are evaluated when it is called, in the
namespace of the answer's code (as in the paper's grader); an exception the function raises
keeps its own `<class 'X'>: msg` text. The lambdas are not kept in the namespace, so nothing a
call changes needs the answer defined again between cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from case2code.evaluation.sanitize import NO_CODE, extract_code
from case2code.sandbox import Limits, Sandbox

# The execute stage's limits; the stability check is for making data, not for grading.
GRADING_LIMITS = Limits(check_stability=False)

CORRECT = "correct"
WRONG_OUTPUT = "wrong_output"
EXCEPTION = "exception"
SYNTAX_ERROR = "syntax_error"
TRUNCATED = "truncated"
NO_ANSWER = "no_answer"
# A sample's status: correct, or why not (the first failing case's reason for those that ran).
SAMPLE_STATUSES = (
    CORRECT,
    WRONG_OUTPUT,
    EXCEPTION,
    "timeout",
    "memory",
    "output_limit",
    "crash",
    SYNTAX_ERROR,
    NO_CODE,
    TRUNCATED,
    NO_ANSWER,
)
# Sandbox case statuses that leave no output to compare; each is the sample's status as is.
NO_OUTPUT = {"timeout": "timeout", "memory": "memory", "output_limit": "output_limit"}
SYNTAX_ERRORS = ("<class 'SyntaxError'>", "<class 'IndentationError'>", "<class 'TabError'>")

CASE_FUNCTION = "__c2c_case__"
WRAPPER = """

def __c2c_case__(__c2c_i__):
    return (
{calls}    )[__c2c_i__]()
"""

# One row per graded sample.
VERDICT_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "sample": pl.Int64(),
    "completion": pl.String(),
    "code": pl.String(),  # what ran (empty when nothing did)
    "status": pl.String(),  # one of SAMPLE_STATUSES
    "cases_passed": pl.Int64(),
    "cases_total": pl.Int64(),
    "first_failure": pl.Int64(),  # the first failing case's index; null when correct
    "got": pl.String(),  # that case's output text (null when it gave none)
    "truncated": pl.Boolean(),
    "failed": pl.String(),
    "prompt_tokens": pl.Int64(),
    "completion_tokens": pl.Int64(),
}


def grading_job(code: str, task: Mapping[str, Any]) -> tuple[str, str, list[str]]:
    """The sandbox job (source, name, inputs) grading `code` on every case of `task`."""
    if task["literal_cases"]:
        return code, task["func_name"], list(task["cases"])
    calls = "".join(f"        lambda: {task['func_name']}{case},\n" for case in task["cases"])
    setup = [task["setup"].rstrip("\n")] if task["setup"] else []
    source = "\n\n".join([code.rstrip("\n"), *setup]) + WRAPPER.format(calls=calls)
    return source, CASE_FUNCTION, [f"({i},)" for i in range(len(task["cases"]))]


def case_failure(
    row: Mapping[str, Any], expected: str, raises: bool
) -> tuple[str | None, str | None]:
    """(None when the case matches, else the reason, one of SAMPLE_STATUSES; the output text the
    case gave, None when it gave none)."""
    status = row["status"]
    if status in ("ok", "unstable"):  # unstable: a set of strings, in this seed's order
        text, raised = row["value_repr"], False
    elif status in ("error", "repr_error"):  # the paper's grader printed a failing repr so
        text, raised = row["error"], True
    else:
        text, raised = None, False
    if text is None:
        return NO_OUTPUT.get(status, "crash"), None
    if text == expected and raised == raises:
        return None, text
    if raised and "(<function>, line " in text and text.startswith(SYNTAX_ERRORS):
        return SYNTAX_ERROR, text  # the source did not compile in the sandbox
    return (EXCEPTION if raised else WRONG_OUTPUT), text


def grade_answers(sandbox: Sandbox, tasks: pl.DataFrame, answers: pl.DataFrame) -> pl.DataFrame:
    """A verdict per answer (VERDICT_SCHEMA), in the answers' order. `answers` has the
    columns of case2code.evaluation.answers.ANSWER_SCHEMA and names only known tasks."""
    by_id = {row["id"]: row for row in tasks.iter_rows(named=True)}
    verdicts: list[dict[str, Any]] = []
    to_run: list[tuple[int, dict[str, Any]]] = []
    for answer in answers.iter_rows(named=True):
        task = by_id[answer["id"]]
        verdict = _verdict(answer, task)
        if verdict["status"] is None:
            to_run.append((len(verdicts), task))
        verdicts.append(verdict)
    if to_run:
        calls = [grading_job(verdicts[i]["code"], t) for i, t in to_run]
        rows: list[list[dict[str, Any]]] = [[] for _ in calls]
        for row in sandbox.run_table(calls).iter_rows(named=True):
            rows[row["job"]].append(row)
        for (index, task), job_rows in zip(to_run, rows, strict=True):
            _score(verdicts[index], task, job_rows)
    return pl.DataFrame(verdicts, schema=VERDICT_SCHEMA)


def _verdict(answer: Mapping[str, Any], task: Mapping[str, Any]) -> dict[str, Any]:
    """A verdict row; its status is None when the answer has code to run."""
    completion = answer["completion"] or ""
    extracted = extract_code(completion, task["func_name"])
    status = None
    if answer.get("failed"):
        status = NO_ANSWER
    elif answer.get("truncated"):
        status = TRUNCATED  # cut at max_tokens: a failure, as the paper scores it
    elif extracted.status == NO_CODE:
        status = NO_CODE
    return {
        "id": answer["id"],
        "sample": answer["sample"],
        "completion": completion,
        "code": extracted.code if status is None else "",
        "status": status,
        "cases_passed": 0,
        "cases_total": len(task["cases"]),
        "first_failure": None if status is None else 0,
        "got": None,
        "truncated": bool(answer.get("truncated")),
        "failed": answer.get("failed"),
        "prompt_tokens": answer.get("prompt_tokens"),
        "completion_tokens": answer.get("completion_tokens"),
    }


def _score(verdict: dict[str, Any], task: Mapping[str, Any], rows: list[dict[str, Any]]) -> None:
    """Fill a verdict from its job's case rows (in case order)."""
    passed, first, first_reason, got = 0, None, None, None
    for row, expected, raises in zip(rows, task["expected"], task["raises"], strict=True):
        reason, text = case_failure(row, expected, raises)
        if reason is None:
            passed += 1
        elif first is None:
            first, first_reason, got = row["case"], reason, text
    verdict.update(
        status=CORRECT if first is None else first_reason,
        cases_passed=passed,
        first_failure=first,
        got=got,
    )
