"""The stage contract and the local executor: a step's output does not depend on how its input
is cut into partitions; a killed run resumes without recomputing finished partitions."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import case2code
import polars as pl
import pytest
from case2code.assemble import AssembleConfig, AssembleStep
from case2code.errors import C2CError
from case2code.execute import ExecuteStep, execute_to_parquet
from case2code.executors import LocalExecutor
from case2code.inputs import BuiltinGenerator, InputsConfig
from case2code.inputs.llm import LLMSettings
from case2code.inputs.openai_server import OpenAIGenerator
from case2code.inputs.stage import InputsStep
from case2code.sandbox import Limits
from case2code.steps import GlobalStep, Partition, Process, Schema, Stats, Step, busy_seconds

FUNCTIONS = 34  # 1, 3 and 17 partitions of 34, 12 and 2 functions
MODULES = (
    "colorsys.py",
    "textwrap.py",
    "bisect.py",
    "heapq.py",
    "fnmatch.py",
    "base64.py",
    "shlex.py",
    "posixpath.py",
    "calendar.py",
    "quopri.py",
    "html/__init__.py",
    "gettext.py",
    "statistics.py",
)
LIMITS = Limits(fuel_per_case=600_000_000, wall_ms_per_case=5_000, memory_bytes=256 << 20)
VOLATILE = ["wall_us"]  # the only column that may differ between two runs of a case
TIMING = ("seconds", "inputs_per_s", "candidates_per_s", "functions_per_s")


@pytest.fixture(scope="module")
def functions(stdlib_dir: Path) -> pl.DataFrame:
    extracted = case2code.extract([stdlib_dir / name for name in MODULES]).functions
    assert extracted.height >= FUNCTIONS
    return extracted.sample(FUNCTIONS, seed=1, shuffle=True)  # not in function id order


def partition_sizes(counts: tuple[int, ...] = (1, 3, 17)) -> list[int]:
    """Functions per partition giving each partition count of FUNCTIONS functions."""
    sizes = [FUNCTIONS if count == 1 else math.ceil(FUNCTIONS / count) for count in counts]
    assert [math.ceil(FUNCTIONS / size) for size in sizes] == list(counts)
    return sizes


def run_partitioned(step: Step, tables: Mapping[str, Any]) -> list[tuple[pl.DataFrame, Stats]]:
    runs = []
    for size in partition_sizes():
        run = LocalExecutor(size).run(step, tables)
        assert run.partitions == math.ceil(FUNCTIONS / size)
        assert run.table is not None
        runs.append((run.table, run.stats))
    return runs


def assert_same(runs: list[tuple[pl.DataFrame, Stats]], drop: list[str], timing=()) -> None:
    first, first_stats = runs[0]
    assert first["function_id"].is_sorted()
    for table, stats in runs[1:]:
        assert table.drop(drop).equals(first.drop(drop))
        assert {k: v for k, v in stats.items() if k not in timing} == {
            k: v for k, v in first_stats.items() if k not in timing
        }


@pytest.fixture(scope="module")
def inputs_runs(functions: pl.DataFrame) -> list[tuple[pl.DataFrame, Stats]]:
    config = InputsConfig(rounds=2, n_inputs=6, min_valid=3, workers=2)
    step = InputsStep(BuiltinGenerator(), config)
    return run_partitioned(step, {"functions": functions})


def test_inputs_step_is_the_same_on_1_3_and_17_partitions(inputs_runs) -> None:
    assert_same(inputs_runs, [], TIMING)
    inputs, stats = inputs_runs[0]
    assert stats["functions"] == FUNCTIONS and inputs.height > FUNCTIONS


@pytest.fixture(scope="module")
def results_runs(functions, inputs_runs) -> list[tuple[pl.DataFrame, Stats]]:
    inputs = inputs_runs[0][0]
    # Inputs of no known function, sorting before, between and after the real ids.
    orphans = pl.DataFrame(
        {"function_id": ["", "0", "zzz", None], "input_id": [0] * 4, "input": ["(1,)"] * 4},
        schema_overrides={"function_id": pl.Utf8},
    )
    inputs = pl.concat([inputs, orphans], how="diagonal_relaxed")
    step = ExecuteStep(LIMITS, workers=2)
    return run_partitioned(step, {"functions": functions, "inputs": inputs})


def test_execute_step_is_the_same_on_1_3_and_17_partitions(results_runs, inputs_runs) -> None:
    assert_same(results_runs, VOLATILE)
    results, stats = results_runs[0]
    assert stats["orphan_inputs"] == 4
    assert stats["cases"] == results.height == inputs_runs[0][0].height
    assert stats["ok"] > 0


def test_assemble_step_is_the_same_on_1_3_and_17_partitions(functions, results_runs) -> None:
    step = AssembleStep(AssembleConfig(seed=3, samples_per_function=2))
    runs = run_partitioned(step, {"functions": functions, "results": results_runs[0][0]})
    assert_same(runs, [])
    samples, report = runs[0]
    assert report["functions_in"] == FUNCTIONS
    assert report["samples"] == samples.height > 0
    assert "origin" in samples.columns  # provenance carried over


def test_dedup_steps_are_the_same_on_1_3_and_17_partitions(functions) -> None:
    """Dedup's signature and label steps (their big-partition wish set aside), with rows that
    share a function id (copies) and near copies under their own ids."""
    from case2code.dedup import ClusterStep, DedupConfig, LabelStep, SignStep

    copies = functions.head(4).with_columns(pl.col("origin") + "-copy")
    # Functions 4-7 made near copies of functions 0-3 (ids unchanged: 34 ids in all).
    sources = functions["source"].to_list()
    sources[4:8] = [s.replace("return", "return  ") + "\n# near copy" for s in sources[:4]]
    table = pl.concat([functions.with_columns(pl.Series("source", sources)), copies])
    config = DedupConfig()
    sign, label = SignStep(config), LabelStep(config, kept_only=False)
    sign.partition_functions = label.partition_functions = None
    signed = run_partitioned(sign, {"functions": table})
    assert_same(signed, [])
    decisions = LocalExecutor().decide(ClusterStep(config), signed[0][0])
    assert set(decisions["dedup_reason"]) >= {"kept", "exact"}, "near copies found"
    labelled = run_partitioned(label, {"functions": table, "decisions": decisions})
    assert_same(labelled, [])
    assert labelled[0][0].height == table.height


def test_step_fingerprints_follow_every_setting_that_changes_the_output() -> None:
    assert ExecuteStep(LIMITS).fingerprint() != ExecuteStep(Limits()).fingerprint()
    assert ExecuteStep(LIMITS, workers=1).fingerprint() == ExecuteStep(LIMITS, 4).fingerprint()

    def llm(**settings: Any) -> str:
        generator = OpenAIGenerator("m", settings=LLMSettings(**settings))
        return InputsStep(generator).fingerprint()

    assert llm(temperature=0.2) != llm(temperature=0.7)
    assert llm(max_tokens=100) != llm(max_tokens=200)
    assert llm(structured=False) != llm()  # other templates: the paper's code ones
    assert llm() == llm()
    other_server = OpenAIGenerator("m", base_url="http://127.0.0.1:9/v1")
    assert InputsStep(other_server).fingerprint() != llm()
    builtin = InputsStep(BuiltinGenerator(), InputsConfig(rounds=3)).fingerprint()
    assert builtin != InputsStep(BuiltinGenerator(), InputsConfig(rounds=4)).fingerprint()
    assert AssembleStep(AssembleConfig(seed=1)).fingerprint() != AssembleStep().fingerprint()


# ---------------------------------------------------------------- the executor itself


class Rows(Step):
    """Counts each table's rows per partition, and waits at a barrier when one is given."""

    name = "rows"
    reads = ("functions", "side")

    def __init__(self, barrier: threading.Barrier | None = None, fail_at: int = -1) -> None:
        self.barrier, self.fail_at = barrier, fail_at
        self.concurrent = barrier is not None

    def schema(self, schemas: Mapping[str, Schema]) -> Schema:
        return {"function_id": pl.Utf8(), "partition": pl.Int64()}

    def settings(self) -> Mapping[str, Any]:
        return {}

    @contextmanager
    def worker(self) -> Iterator[Process]:
        yield self._process

    def _process(self, partition: Partition) -> tuple[pl.DataFrame, Stats]:
        if self.barrier is not None:
            self.barrier.wait()  # passes only when two partitions are processed at once
        if partition.index == self.fail_at:
            raise C2CError(f"partition {partition.index} failed")
        ids = partition["functions"]["function_id"]
        table = pl.DataFrame({"function_id": ids, "partition": [partition.index] * len(ids)})
        return table, {name: frame.height for name, frame in partition.tables.items()}


def test_co_partitioning_loses_and_doubles_no_row() -> None:
    functions = pl.DataFrame({"function_id": [f"f{i:02d}" for i in range(20)][::-1]})
    side = pl.DataFrame({"function_id": ["", "a", "f05", "f05", "f10x", "z", None, "f19"]})
    for size in (1, 3, 7, 20, 50):
        run = LocalExecutor(size).run(Rows(), {"functions": functions, "side": side})
        assert run.stats == {"functions": 20, "side": side.height}
        assert run.table is not None
        assert run.table["function_id"].to_list() == sorted(functions["function_id"])
        assert run.partitions == math.ceil(20 / size)


def test_concurrent_steps_get_two_partitions_at_once_and_results_stay_in_order() -> None:
    functions = pl.DataFrame({"function_id": [f"f{i:02d}" for i in range(8)]})
    side = functions
    step = Rows(threading.Barrier(2, timeout=30))
    run = LocalExecutor(2, in_flight=2).run(step, {"functions": functions, "side": side})
    assert run.table is not None
    assert run.table["partition"].to_list() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_a_failing_partition_stops_the_run_and_keeps_the_shards_before_it(tmp_path) -> None:
    functions = pl.DataFrame({"function_id": [f"f{i:02d}" for i in range(8)]})
    tables = {"functions": functions, "side": functions}
    output = tmp_path / "rows.parquet"
    with pytest.raises(C2CError, match="partition 2 failed"):
        LocalExecutor(2).run(Rows(fail_at=2), tables, output)
    parts = sorted(p.name for p in (tmp_path / "rows.parquet.parts").glob("*.parquet"))
    assert parts == ["part-00000.parquet", "part-00001.parquet"]
    run = LocalExecutor(2).run(Rows(), tables, output)
    assert run.computed == 2 and run.partitions == 4
    assert pl.read_parquet(output)["partition"].to_list() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert not (tmp_path / "rows.parquet.parts").exists()


class EveryOther(GlobalStep):
    name = "every_other"
    reads = "functions"
    summary_columns = ("function_id",)
    decision_schema: ClassVar[Schema] = {"function_id": pl.Utf8(), "keep": pl.Boolean()}

    def settings(self) -> Mapping[str, Any]:
        return {}

    def decide(self, summary: pl.DataFrame) -> pl.DataFrame:
        ids = summary["function_id"].sort()
        return pl.DataFrame({"function_id": ids, "keep": [i % 2 == 0 for i in range(len(ids))]})


def test_a_global_step_decides_on_its_summary_columns(tmp_path) -> None:
    functions = pl.DataFrame({"function_id": ["c", "a", "b"], "source": ["x" * 100] * 3})
    functions.write_parquet(tmp_path / "functions.parquet")
    decision = LocalExecutor().decide(
        EveryOther(), tmp_path / "functions.parquet", tmp_path / "decision.parquet"
    )
    assert decision.to_dicts() == [
        {"function_id": "a", "keep": True},
        {"function_id": "b", "keep": False},
        {"function_id": "c", "keep": True},
    ]
    assert pl.read_parquet(tmp_path / "decision.parquet").equals(decision)
    with pytest.raises(C2CError, match=r"missing column\(s\) function_id"):
        LocalExecutor().decide(EveryOther(), pl.DataFrame({"name": ["a"]}))


def test_busy_seconds_counts_overlaps_once() -> None:
    assert busy_seconds([(0, 2), (1, 3), (5, 6)]) == 4
    assert busy_seconds([(0, 10), (2, 3)]) == 10
    assert busy_seconds([]) == 0


# ---------------------------------------------------------------- resume after a hard kill

VICTIM = """
import sys
from case2code.execute import execute_to_parquet
from case2code.sandbox import Limits
execute_to_parquet(sys.argv[1], sys.argv[2], sys.argv[3], Limits(check_stability=False),
                   workers=2, shard_functions=2)
"""


def test_a_killed_run_resumes_without_recomputing_finished_partitions(
    functions, inputs_runs, tmp_path
) -> None:
    functions.write_parquet(tmp_path / "functions.parquet")
    inputs_runs[0][0].write_parquet(tmp_path / "inputs.parquet")
    paths = [str(tmp_path / name) for name in ("functions.parquet", "inputs.parquet")]
    limits = Limits(check_stability=False)
    reference = execute_to_parquet(*paths, tmp_path / "reference.parquet", limits, 2, 2)

    output = tmp_path / "killed.parquet"
    victim = subprocess.Popen(
        [sys.executable, "-c", VICTIM, *paths, str(output)], start_new_session=True
    )
    parts = tmp_path / "killed.parquet.parts"
    deadline = time.monotonic() + 300
    while len(list(parts.glob("part-*.parquet"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(victim.pid, signal.SIGKILL)  # the process and its sandbox workers, mid-run
    victim.wait()
    finished = list(parts.glob("part-*.parquet"))
    assert finished, "no shard was written before the kill"
    assert not output.exists(), "the kill came after the run had finished"

    seen: list[int] = []
    executor = LocalExecutor(2, progress=lambda done, total: seen.append(done))
    tables = {"functions": paths[0], "inputs": paths[1]}
    run = executor.run(ExecuteStep(limits, workers=2), tables, output)
    assert run.partitions == FUNCTIONS // 2
    assert run.computed == run.partitions - len(finished)
    assert seen[0] == 2 * len(finished)  # the resumed partitions, reported first
    assert run.stats == reference
    got = pl.read_parquet(output).drop(VOLATILE)
    assert got.equals(pl.read_parquet(tmp_path / "reference.parquet").drop(VOLATILE))
    assert not parts.exists()
