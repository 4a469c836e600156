"""Answers for `c2c eval`: read from a predictions file, or asked of a model (each task's prompt
sent as is, as the paper does, through the input-generation drivers: an OpenAI-compatible
server, or vLLM's offline engine).

One chat request per (task, sample): not every OpenAI-compatible server honours `n`, and one
request per sample keeps retries, failures and token counts per answer. A request that fails
after the driver's retries costs its sample only (`failed` says why); a server that answers
nothing is a C2CError.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from case2code import validate
from case2code.errors import C2CError
from case2code.evalsplit import jsonl_objects
from case2code.inputs.llm import Chat, ChatReply
from case2code.tables import require_columns

GENERATORS = ("openai", "vllm")

ANSWER_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "sample": pl.Int64(),
    "completion": pl.String(),
    "truncated": pl.Boolean(),  # finish_reason == "length"
    "failed": pl.String(),  # why no answer came; null when one did
    "prompt_tokens": pl.Int64(),
    "completion_tokens": pl.Int64(),
}


def answer_row(
    task_id: str,
    sample: int,
    completion: str,
    truncated: bool = False,
    failed: str | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
) -> dict[str, Any]:
    """One ANSWER_SCHEMA row."""
    return {
        "id": task_id,
        "sample": sample,
        "completion": completion,
        "truncated": truncated,
        "failed": failed,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
    }


# ---------------------------------------------------------------- a predictions file


def read_predictions(path: str | Path, task_ids: Collection[str]) -> pl.DataFrame:
    """The answers of a JSONL file of `{"id", "completion", "sample"?}` objects (`sample`
    defaults to 0). A C2CError names the line and the reason for a bad line, an unknown task
    id or a repeated (id, sample)."""
    known = set(task_ids)
    rows: list[dict[str, Any]] = []
    first_line: dict[tuple[str, int], int] = {}
    for number, record in jsonl_objects(path, "predictions"):
        where = f"{path}:{number}"
        task_id, completion = record.get("id"), record.get("completion")
        sample = record.get("sample", 0)
        if not isinstance(task_id, str):
            raise C2CError(f"{where}: field id must be a string")
        if not isinstance(completion, str):
            raise C2CError(f"{where} (id {task_id}): field completion must be a string")
        if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
            raise C2CError(f"{where} (id {task_id}): field sample must be an integer >= 0")
        if task_id not in known:
            raise C2CError(f"{where}: id {task_id!r} is not a task of the data file")
        if (task_id, sample) in first_line:
            raise C2CError(
                f"{where}: a second answer for id {task_id!r}, sample {sample} (first on line "
                f'{first_line[task_id, sample]}); give "sample": k to answers of one task'
            )
        first_line[task_id, sample] = number
        rows.append(answer_row(task_id, sample, completion))
    if not rows:
        raise C2CError(f"predictions: {path} holds no answers")
    return pl.DataFrame(rows, schema=ANSWER_SCHEMA)


# ---------------------------------------------------------------- a model


@dataclass(frozen=True)
class AnswerSettings:
    """How answers are sampled: `n` per task (pass@k), `temperature` (0: greedy, the paper's
    setting) and the longest answer in tokens (a longer one is cut and marked truncated)."""

    n: int = 1
    temperature: float = 0.0
    max_tokens: int = 2048

    def __post_init__(self) -> None:
        validate.at_least(1, n=self.n, max_tokens=self.max_tokens)
        validate.at_least(0, temperature=self.temperature)
        if self.n > 1 and self.temperature == 0:
            raise C2CError(
                f"n = {self.n} samples at temperature = 0 would all be the same greedy answer; "
                "give a temperature above 0 for pass@k"
            )


def generate_answers(
    tasks: pl.DataFrame,
    generator: str,
    settings: AnswerSettings,
    *,
    model: str | None = None,
    base_url: str | None = None,
    concurrency: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """`settings.n` answers to every task's `prompt` (columns `id`, `prompt`), one row per
    (task, sample) sorted by id then sample. `progress(done, total)` follows the answers."""
    validate.one_of("generator", generator, GENERATORS)
    prompts = task_prompts(tasks)
    keys = [(task_id, sample) for task_id in prompts for sample in range(settings.n)]
    # The seed is the sample number: sampled answers to one task differ, a rerun asks the same.
    chats = [
        Chat(
            messages=[{"role": "user", "content": prompts[task_id]}],
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            seed=sample,
        )
        for task_id, sample in keys
    ]
    if not chats:
        return pl.DataFrame(schema=ANSWER_SCHEMA)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(chats))

    if generator == "openai":
        replies = ask_server(chats, model, base_url, concurrency, tick)
    else:
        replies = ask_vllm(chats, model)
        for _ in chats:
            tick()
    rows = [
        answer_row(t, s, r.text, r.truncated, r.failure, r.prompt_tokens, r.completion_tokens)
        for (t, s), r in zip(keys, replies, strict=True)
    ]
    return pl.DataFrame(rows, schema=ANSWER_SCHEMA)


def task_prompts(tasks: pl.DataFrame) -> dict[str, str]:
    """Each task's prompt by id, in id order; duplicate ids and missing prompts are errors."""
    require_columns(tasks, ["id", "prompt"], "tasks")
    prompts: dict[str, str] = {}
    for task_id, prompt in tasks.select(pl.col("id").cast(pl.String), "prompt").iter_rows():
        if task_id is None:
            raise C2CError("tasks: a task has no id")
        if task_id in prompts:
            raise C2CError(f"tasks: duplicate task id {task_id!r}")
        if not isinstance(prompt, str) or not prompt.strip():
            raise C2CError(f"tasks: task {task_id!r} has no prompt")
        prompts[task_id] = prompt
    return dict(sorted(prompts.items()))


def ask_server(
    chats: Sequence[Chat],
    model: str | None,
    base_url: str | None,
    concurrency: int,
    on_reply: Callable[[], None],
) -> list[ChatReply]:
    """All chats through the OpenAI-compatible driver. The first goes alone: a server that is
    down says so after one request's retries, not after every request's."""
    from case2code.inputs.drivers import make_generator
    from case2code.inputs.openai_server import OpenAIGenerator

    where = {"base_url": base_url} if base_url else {}  # else the drivers' default URL
    driver = make_generator("openai", model, concurrency=concurrency, **where)
    assert isinstance(driver, OpenAIGenerator)
    first = driver.chat(chats[:1], on_reply)
    if first[0].failure is not None and first[0].status is None:
        raise C2CError(f"no answer from the model server at {driver.base_url}: {first[0].failure}")
    replies = first + driver.chat(chats[1:], on_reply)
    if all(reply.failure is not None for reply in replies):
        raise C2CError(
            f"the model server at {driver.base_url} answered none of {len(replies)} "
            f"request(s): {replies[0].failure}"
        )
    return replies


def ask_vllm(chats: Sequence[Chat], model: str | None) -> list[ChatReply]:
    """All chats in one batch of vLLM's offline engine."""
    from case2code.inputs.drivers import make_generator
    from case2code.inputs.vllm_engine import VLLMGenerator

    driver = make_generator("vllm", model)
    assert isinstance(driver, VLLMGenerator)
    return driver.chat(chats)
