"""The Ray executor: the same steps, partitions, shards and output as the local executor, with
each partition processed by a Ray actor, on this machine or on a Ray cluster.

How it maps onto Ray:

- **Partitions** are the local executor's (`executors/partitions.py`): ranges of sorted
  `function_id`, `partition_functions` ids each, every input table read for a range on the
  driver. The resume stamp is the same too, so a Ray run resumes a local run's shards and back.
- **Actors**: one Ray actor per CPU of the cluster (`actors`, `cpus_per_actor` CPUs each,
  default 1), created with the step; each opens `step.worker()` once (for the inputs and
  execute steps, one `Sandbox`: build the step with as many sandbox workers as
  `cpus_per_actor`, one by default) and closes it when the step's partitions are done.
  A partition goes to whichever actor is free (`ray.wait` on the running ones), so a slow
  partition holds up one actor, not the others; an actor takes one partition at a time (a
  step's `concurrent` is the local executor's business: one sandbox worker has nothing to
  overlap), and the driver reads a partition only when an actor is free to take it, so at
  most one partition per actor is in flight. Ray places the actors on the cluster's nodes.
- **Order and resume**: a finished partition comes back to the driver, is checked against the
  step's schema and stored as a resume shard in `<output>.parts/` (`ShardedOutput`, atomic);
  the shards are merged in id order at the end, so the output is the local executor's row for
  row whatever order the partitions finished in. A killed run restarted computes only the
  partitions without a shard; progress counts the resumed ones first.
- **Failures**: a step's error (a `C2CError`) stops the run with the same message, the
  finished shards kept; a lost actor (a node gone, a process killed) is restarted by Ray and
  its partition retried (`RETRIES`; a step is deterministic, so a retry gives the same rows),
  then the run stops with a C2CError naming the partition. The actors are killed on any error
  or Ctrl-C.
- **LLM inputs**: with an LLM generator the inputs stage runs its rounds as phases of the run,
  each round's prompts answered by one pass of Ray Data's LLM processor (executors/ray_llm.py).
- **The sandbox on a node**: `Sandbox` compiles the WebAssembly interpreter once per machine
  into the user's cache folder (`case2code.sandbox.cache_dir()`: `$C2C_CACHE_DIR/sandbox`, else
  `~/.cache/case2code/sandbox`), so actors on a node share one compiled copy; its writes are
  atomic, so actors starting together on a cold node each compile (about two minutes) and the
  last rename wins.

Why plain actors and not `ray.data` `map_batches`: a step reads several tables co-partitioned
by exact id ranges (the resume shards are named by those ranges), while Ray Data cuts one
dataset into blocks of its own choosing; the driver needs each partition's completion to store
its shard and move the progress; and the sandbox must be closed when the step ends. A pool of
actors fed one partition at a time gives all three with Ray's own scheduling of the actors.

Limits: the driver reads every partition and writes every shard (a node's disk and network
bound the rows per second; the work per row, in the sandbox, is on the actors), so the run
folder needs no shared file system; every node needs case2code installed (the same version)
and Ray's Python. Global steps (`decide`) run on the driver, on their summary columns.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import ModuleType
from typing import Any

import polars as pl

from case2code.errors import C2CError
from case2code.executors.local import PARTITION_FUNCTIONS, LocalExecutor, Progress
from case2code.executors.partitions import (
    PartitionProgress,
    Source,
    _Memory,
    _Plan,
    _Shards,
    _Table,
    read_partition,
    store_results,
)
from case2code.extract import SHARD_BYTES, ExtractConfig, ExtractSummary, ProgressCallback
from case2code.steps.base import GlobalStep, Partition, Schema, Stats, Step
from case2code.validate import at_least

# Times Ray restarts a lost actor and retries its partition (never a step's own error).
RETRIES = 2


def import_ray() -> ModuleType:
    """The `ray` module, or a C2CError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise C2CError(
            "the Ray executor needs Ray: pip install 'case2code[ray]' (or 'ray[data]')"
        ) from None
    return ray


def connect(address: str | None = None, local_cpus: int | None = None) -> ModuleType:
    """Ray, connected: the Ray this process already joined (`address` is then ignored), else
    the cluster at `address`, else a Ray started on this machine with `local_cpus` CPUs (None:
    every core; `RAY_ADDRESS` in the environment, when set, names a cluster instead)."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    quiet = {"include_dashboard": False, "logging_level": logging.WARNING}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=local_cpus, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"the Ray cluster at {address}" if address else "a Ray on this machine"
        raise C2CError(f"cannot connect to {where}: {error}") from None
    return ray


class StepActor:
    """Runs one step's partitions in a Ray actor: its worker (a sandbox) opened once. A worker
    that cannot open (no sandbox on that node) raises its error at the first partition, as the
    step's own error: an actor that died in its constructor would only say that it died."""

    def __init__(self, step: Step) -> None:
        self._open(step.worker())

    def _open(self, worker: AbstractContextManager[Any]) -> None:
        self._worker = worker
        self._error: Exception | None = None
        try:
            self._opened = worker.__enter__()
        except Exception as error:
            self._error = error

    def _ready(self) -> Any:
        """What the worker opened (`process`, or a sandbox), or its opening error raised."""
        if self._error is not None:
            raise self._error
        return self._opened

    def process(self, partition: Partition) -> tuple[pl.DataFrame, Stats]:
        return self._ready()(partition)

    def close(self) -> None:
        if self._error is None:
            self._worker.__exit__(None, None, None)


class RayExecutor(LocalExecutor):
    """`LocalExecutor`'s interface (`run`, `decide`, `progress`), each partition processed by
    a Ray actor. `actors`: how many (None: the cluster's CPUs / `cpus_per_actor`)."""

    def __init__(
        self,
        partition_functions: int = PARTITION_FUNCTIONS,
        progress: Progress | None = None,
        *,
        address: str | None = None,
        actors: int | None = None,
        cpus_per_actor: int = 1,
        local_cpus: int | None = None,
    ) -> None:
        super().__init__(partition_functions, progress=progress)
        at_least(1, cpus_per_actor=cpus_per_actor)
        if actors is not None:
            at_least(1, actors=actors)
        self.address, self.actors, self.local_cpus = address, actors, local_cpus
        self.cpus_per_actor = cpus_per_actor
        self.ray = import_ray()  # a missing Ray is an error before any work

    def extract(
        self,
        inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None,
        output: str | os.PathLike[str],
        config: ExtractConfig | None = None,
        *,
        rejected: str | os.PathLike[str] | None = None,
        shard_bytes: int = SHARD_BYTES,
        progress: ProgressCallback | None = None,
    ) -> ExtractSummary:
        """`extract_to_parquet` on Ray: the corpus read and extracted by a pool of Ray Data
        actors (executors/ray_extract.py); the same table and figures. `progress`: the
        executor's own when not given."""
        from case2code.executors.ray_extract import Pool, extract_on_ray

        def pool(partitions: int) -> Pool:
            connect(self.address, self.local_cpus)
            return Pool(self._actor_count(partitions), self.cpus_per_actor, RETRIES)

        return extract_on_ray(
            self.ray,
            pool,
            inputs,
            output,
            config,
            rejected=rejected,
            shard_bytes=shard_bytes,
            progress=progress or self.progress,
        )

    def decide(
        self, step: GlobalStep, source: Source, output: str | os.PathLike[str] | None = None
    ) -> pl.DataFrame:
        """A global step; dedup's clustering of a big table on the cluster
        (`dedup_distributed.RayClusterStep`: the same decisions), others on the driver."""
        return super().decide(self._global(step, source), source, output)

    def decide_into(self, step: GlobalStep, source: Source, output: str | os.PathLike[str]) -> None:
        super().decide_into(self._global(step, source), source, output)

    def _global(self, step: GlobalStep, source: Source) -> GlobalStep:
        from case2code.dedup_distributed import on_ray

        rows = (
            source.height
            if isinstance(source, pl.DataFrame)
            else pl.scan_parquet(source).select(pl.len()).collect().item()
        )
        chosen = on_ray(step, rows)
        if chosen is not step:
            connect(self.address, self.local_cpus)
        return chosen

    def _compute(
        self,
        step: Step,
        tables: Sequence[_Table],
        plan: _Plan,
        pending: list[int],
        store: _Memory | _Shards,
        expected: Schema,
    ) -> None:
        llm_pass = getattr(step, "llm_pass", lambda: None)()
        if llm_pass is not None:  # an LLM generator: the rounds as phases of the run
            from case2code.executors.ray_llm import compute_in_rounds

            compute_in_rounds(self, step, llm_pass, tables, plan, pending, store, expected)
            return
        progress = PartitionProgress(plan, pending, self.progress)
        if not pending:
            return
        connect(self.address, self.local_cpus)
        with self._pool(step, len(pending)) as actors:
            results = self._dispatch(actors, tables, plan, pending)
            store_results(results, step, expected, store, progress)

    def _actor_count(self, partitions: int) -> int:
        if self.actors is not None:
            wanted = self.actors
        else:
            cpus = self.ray.cluster_resources().get("CPU", 1)
            wanted = max(1, int(cpus // self.cpus_per_actor))
        return min(wanted, partitions)

    @contextmanager
    def _pool(
        self,
        step: Step,
        partitions: int,
        actor: type[StepActor] = StepActor,
        cpus: float | None = None,
    ) -> Iterator[list[Any]]:
        """The step's actors (`actor`, `cpus` each: by default `cpus_per_actor`; none are
        spread over the nodes); closed (their workers' resources released) when the step is
        done, killed on an error or a Ctrl-C."""
        ray = self.ray
        cpus = self.cpus_per_actor if cpus is None else cpus
        spread = {} if cpus else {"scheduling_strategy": "SPREAD"}
        remote = ray.remote(
            num_cpus=cpus, max_restarts=RETRIES, max_task_retries=RETRIES, **spread
        )(actor)
        # The step itself, not an object-store reference: a restarted actor needs it again.
        actors = [remote.remote(step) for _ in range(self._actor_count(partitions))]
        try:
            yield actors
        except BaseException:
            for actor in actors:
                ray.kill(actor)
            raise
        self._get([actor.close.remote() for actor in actors], f"step {step.name} closing")
        for actor in actors:
            ray.kill(actor)

    def _dispatch(
        self, actors: list[Any], tables: Sequence[_Table], plan: _Plan, pending: list[int]
    ) -> Iterator[tuple[int, pl.DataFrame, Stats]]:
        """(index, table, stats) of every pending partition, as they finish; each partition
        read when an actor is free to take it."""
        queue, idle = deque(pending), list(actors)
        running: dict[Any, tuple[int, Any]] = {}
        while queue or running:
            while queue and idle:
                index, actor = queue.popleft(), idle.pop()
                partition = read_partition(tables, plan, index)
                running[actor.process.remote(partition)] = (index, actor)
            [finished], _ = self.ray.wait(list(running), num_returns=1)
            index, actor = running.pop(finished)
            frame, stats = self._get(finished, f"partition {index} of {plan.count}")
            idle.append(actor)
            yield index, frame, stats

    def _get(self, ref: Any, what: str) -> Any:
        """A result, with a step's own error raised as it is and Ray's failures as a
        C2CError naming what was lost."""
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            if isinstance(error.cause, C2CError):
                raise error.cause from None
            raise
        except ray.exceptions.RayActorError as error:
            raise C2CError(
                f"ray: the actor running {what} was lost ({_first_line(error)}); the finished "
                "partitions are kept: run again to resume"
            ) from None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
