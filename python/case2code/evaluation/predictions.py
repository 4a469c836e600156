"""Model answers made elsewhere: a JSONL file of `{"id", "completion", "sample"?}` objects."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import polars as pl

from case2code.errors import C2CError
from case2code.evaluation.answers import ANSWER_SCHEMA
from case2code.tables import json_object


def read_predictions(path: str | Path, task_ids: Collection[str]) -> pl.DataFrame:
    """The answers of a predictions file (ANSWER_SCHEMA; never truncated, never failed).
    A C2CError names the line and the reason for a bad line, an unknown task id or a repeated
    (id, sample); `sample` defaults to 0."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise C2CError(f"predictions: cannot read {path}: {e}") from None
    known = set(task_ids)
    rows: list[dict[str, Any]] = []
    first_line: dict[tuple[str, int], int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        row = _answer(line, where)
        if row["id"] not in known:
            raise C2CError(f"{where}: id {row['id']!r} is not a task of the data file")
        key = (row["id"], row["sample"])
        if key in first_line:
            raise C2CError(
                f"{where}: a second answer for id {row['id']!r}, sample {row['sample']} (first "
                f'on line {first_line[key]}); give "sample": k to answers of one task'
            )
        first_line[key] = number
        rows.append(row)
    if not rows:
        raise C2CError(f"predictions: {path} holds no answers")
    return pl.DataFrame(rows, schema=ANSWER_SCHEMA)


def _answer(line: str, where: str) -> dict[str, Any]:
    record = json_object(line, where)
    task_id, completion, sample = (
        record.get("id"),
        record.get("completion"),
        record.get("sample", 0),
    )
    if not isinstance(task_id, str):
        raise C2CError(f"{where}: field id must be a string")
    if not isinstance(completion, str):
        raise C2CError(f"{where} (id {task_id}): field completion must be a string")
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        raise C2CError(f"{where} (id {task_id}): field sample must be an integer >= 0")
    return {
        "id": task_id,
        "sample": sample,
        "completion": completion,
        "truncated": False,
        "failed": None,
        "prompt_tokens": None,
        "completion_tokens": None,
    }
