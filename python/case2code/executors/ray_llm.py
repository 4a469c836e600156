"""LLM inputs on Ray: the inputs stage's rounds as phases of the run, each round's prompts of
many partitions answered by one pass of Ray Data's LLM processor (`ray.data.llm`).

A Ray Data LLM processor is a dataset transform that loads the model once per replica per
pass; asked from inside each partition it would reload it per partition. So with an LLM
generator (`InputsStep.llm_pass`) the Ray executor runs the inputs stage in **waves** of
partitions, and each wave in phases, every partition going through the same `Rounds` as the
local executor's:

1. each actor (`RoundsActor`) starts or continues the partitions it owns: the round's requests
   become prompts (`llm.prompt_row`: JSON text, which Arrow carries unchanged);
2. the driver sends all the wave's prompts of the round through ONE processor pass
   (`run_processor`: the generator's `ray_pass`, vLLM engine or HTTP requests);
3. each actor reads its replies (`llm.read_reply`, the drivers' own answer reading), validates
   the candidates in its sandbox, gives up or keeps as the local rounds do; then the next round.

A partition's state (functions, history, prompts awaiting replies) stays on the actor that owns
it: only prompts and replies cross the cluster each round, not the histories. The actors reserve
no CPU: validation and the LLM pass alternate, so the pass's stages (which need CPUs of their
own: Ray Data's map tasks, the HTTP actors, one CPU beside each vLLM engine's GPU) run while the
sandboxes wait; the actors are spread over the nodes.

Resume: a partition is stored as a shard as soon as its rounds end; a killed run restarted
skips the stored partitions and recomputes the others of the wave it was in from their first
round (a deterministic model or server gives the same inputs). A wave is `WAVE_PARTITIONS`
partitions per actor: at most that much work is lost, and a pass has that many prompts to batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from case2code.errors import C2CError
from case2code.executors.partitions import (
    PartitionProgress,
    _Memory,
    _Plan,
    _Shards,
    _Table,
    read_partition,
    store_results,
)
from case2code.executors.ray import StepActor, connect, import_ray
from case2code.inputs.llm import ChatReply, Prompt, prompt_for, prompt_row, read_reply, row_reply
from case2code.inputs.spec import Proposal, Request
from case2code.steps.base import Partition, Schema, Stats

if TYPE_CHECKING:
    from case2code.executors.ray import RayExecutor
    from case2code.inputs.stage import InputsStep, Rounds

# Partitions per actor in a wave (see the module's docstring).
WAVE_PARTITIONS = 4

LLMPass = Callable[[list[dict[str, Any]]], list[ChatReply]]


class RoundsActor(StepActor):
    """The rounds of the partitions this actor owns, between the LLM passes, and its sandbox."""

    def __init__(self, step: InputsStep) -> None:
        self._open(step.open_sandbox())
        self.step = step
        self.rounds: dict[int, Rounds] = {}
        self.asked: dict[int, list[tuple[Request, Prompt | Proposal]]] = {}

    def start(self, partition: Partition) -> list[dict[str, Any]] | None:
        """The partition's first round of prompt rows (None: nothing to ask, it is done)."""
        self.rounds[partition.index] = self.step.start(self._ready(), partition)
        return self._ask(partition.index)

    def answer(self, index: int, replies: list[ChatReply]) -> list[dict[str, Any]] | None:
        """The replies to the partition's last prompt rows, in order: its round run in the
        sandbox; the next round's prompt rows (None: it is done)."""
        rounds = self._rounds(index)
        generator = self.step.generator
        pending = iter(replies)
        answered = [
            (request, read_reply(made, next(pending), generator.name))
            if isinstance(made, Prompt)
            else (request, made)
            for request, made in self.asked.pop(index)
        ]
        rounds.answer(answered)
        return self._ask(index)

    def finish(self, index: int) -> tuple[pl.DataFrame, Stats]:
        return self.step.finish(self._rounds(index))

    def _ask(self, index: int) -> list[dict[str, Any]] | None:
        requests = self.rounds[index].ask()
        if requests is None:
            return None
        generator = self.step.generator
        made = [(r, prompt_for(r, generator.settings, generator.templates)) for r in requests]
        self.asked[index] = made
        return [prompt_row(p) for _, p in made if isinstance(p, Prompt)]

    def _rounds(self, index: int) -> Rounds:
        if index not in self.rounds:  # a restarted actor starts empty
            raise C2CError(
                f"inputs: the rounds of partition {index} were lost with a restarted Ray actor; "
                "the finished partitions are kept: run again to resume"
            )
        return self.rounds[index]


def compute_in_rounds(
    executor: RayExecutor,
    step: InputsStep,
    llm_pass: LLMPass,
    tables: Sequence[_Table],
    plan: _Plan,
    pending: list[int],
    store: _Memory | _Shards,
    expected: Schema,
) -> None:
    """The pending partitions of the inputs stage, wave by wave, each stored when done."""
    progress = PartitionProgress(plan, pending, executor.progress)
    if not pending:
        return
    connect(executor.address, executor.local_cpus)
    with executor._pool(step, len(pending), RoundsActor, cpus=0) as actors:
        wave = len(actors) * WAVE_PARTITIONS
        for start in range(0, len(pending), wave):
            indices = pending[start : start + wave]
            results = _wave(executor, actors, llm_pass, tables, plan, indices)
            store_results(results, step, expected, store, progress)


def _wave(
    executor: RayExecutor,
    actors: list[Any],
    llm_pass: LLMPass,
    tables: Sequence[_Table],
    plan: _Plan,
    indices: list[int],
) -> Iterator[tuple[int, pl.DataFrame, Stats]]:
    """(index, table, stats) of each partition of a wave as its rounds end; a round of all the
    wave's partitions per LLM pass."""
    owner = {index: actors[n % len(actors)] for n, index in enumerate(indices)}
    asked = {i: owner[i].start.remote(read_partition(tables, plan, i)) for i in indices}
    while asked:
        rows = {i: executor._get(ref, f"partition {i} of {plan.count}") for i, ref in asked.items()}
        for index in [i for i, r in rows.items() if r is None]:
            frame, stats = executor._get(owner[index].finish.remote(index), f"partition {index}")
            yield index, frame, stats
        live = {i: r for i, r in rows.items() if r is not None}
        replies = iter(llm_pass([row for r in live.values() for row in r]))
        asked = {i: owner[i].answer.remote(i, [next(replies) for _ in r]) for i, r in live.items()}


def run_processor(processor: Any, rows: Sequence[dict[str, Any]]) -> list[ChatReply]:
    """The replies of one pass of a Ray Data LLM processor over prompt rows, in their order. A
    row the processor failed (`__inference_error__`) is a failed reply; a failed pass (the
    server's answer not JSON, the engine not starting) is a C2CError."""
    if not rows:
        return []
    ray = import_ray()
    dataset = ray.data.from_items([{**row, "order": n} for n, row in enumerate(rows)])
    try:
        out = processor(dataset).take_all()
    except Exception as error:
        lines = str(error).strip().splitlines()
        raise C2CError(
            f"inputs: the LLM pass over {len(rows)} prompts failed: {lines[-1] if lines else error}"
        ) from None
    replies: dict[int, ChatReply] = {}
    for row in out:
        error = row.get("__inference_error__") or ""
        replies[int(row["order"])] = (
            ChatReply(failure=f"llm: {error[:200]}") if error else row_reply(row)
        )
    if len(replies) != len(rows):
        raise C2CError(f"inputs: the LLM pass answered {len(replies)} of {len(rows)} prompts")
    return [replies[n] for n in range(len(rows))]
