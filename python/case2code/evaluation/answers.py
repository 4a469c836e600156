"""Model answers for `c2c eval`: each task's prompt sent as is, as the paper does, through the
input-generation drivers (an OpenAI-compatible server, or vLLM's offline engine).

One chat request per (task, sample): not every OpenAI-compatible server honours `n`, and one
request per sample keeps retries, failures and token counts per answer. A request that fails
after the driver's retries costs its sample only (`failed` says why); a server that answers
nothing is a C2CError.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from case2code import validate
from case2code.errors import C2CError
from case2code.inputs.llm import Chat, ChatReply
from case2code.tables import require_columns

GENERATORS = ("openai", "vllm")

# The answers frame; a predictions file is read into the same columns.
ANSWER_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "sample": pl.Int64(),
    "completion": pl.String(),
    "truncated": pl.Boolean(),  # finish_reason == "length"
    "failed": pl.String(),  # why no answer came; null when one did
    "prompt_tokens": pl.Int64(),
    "completion_tokens": pl.Int64(),
}


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
    (task, sample) sorted by id then sample, with the columns of ANSWER_SCHEMA. `progress`
    is called with (answers done, answers in all) as answers come."""
    validate.one_of("generator", generator, GENERATORS)
    prompts = task_prompts(tasks)
    keys = [(task_id, sample) for task_id in prompts for sample in range(settings.n)]
    chats = [chat_for(prompts[task_id], sample, settings) for task_id, sample in keys]
    if not chats:
        return pl.DataFrame(schema=ANSWER_SCHEMA)
    counter = Counter(len(chats), progress)
    if generator == "openai":
        replies = ask_server(chats, model, base_url, concurrency, counter.tick)
    else:
        replies = ask_vllm(chats, model)
        counter.finish()
    return answers_frame(keys, replies)


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


def chat_for(prompt: str, sample: int, settings: AnswerSettings) -> Chat:
    """The prompt as the only user message; the seed is the sample number, so sampled answers
    to one task differ from each other and a rerun asks the same."""
    return Chat(
        messages=[{"role": "user", "content": prompt}],
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        seed=sample,
    )


class Counter:
    """Reports answers done to a `progress(done, total)` callback."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.total = total
        self.done = 0
        self.progress = progress

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)

    def finish(self) -> None:
        while self.done < self.total:
            self.tick()


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


def answers_frame(keys: Sequence[tuple[str, int]], replies: Sequence[ChatReply]) -> pl.DataFrame:
    rows = {
        "id": [task_id for task_id, _ in keys],
        "sample": [sample for _, sample in keys],
        "completion": [reply.text for reply in replies],
        "truncated": [reply.truncated for reply in replies],
        "failed": [reply.failure for reply in replies],
        "prompt_tokens": [reply.prompt_tokens for reply in replies],
        "completion_tokens": [reply.completion_tokens for reply in replies],
    }
    return pl.DataFrame(rows, schema=ANSWER_SCHEMA)
