"""The scale bench's part (d) pieces (benches/bench_scale.py): the Ray memory sampler finds a
run's Ray workers below its driver (a local Ray that the driver started) and tells the driver,
the workers and Ray's own processes apart; datasets are compared as sets of rows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benches"))

import bench_scale

needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="Ray is not installed: pip install ray[data]"
)

# A driver that starts a local Ray and an actor holding 120 MB (written, so resident) for a
# while; the driver itself holds nothing of that size.
DRIVER = """
import time, ray
ray.init(num_cpus=1, include_dashboard=False)

@ray.remote
class Holder:
    def hold(self):
        self.block = b"x" * 120_000_000
        return True

holder = Holder.remote()
ray.get(holder.hold.remote())
time.sleep(2.0)
"""


@needs_ray
def test_sampled_ray_finds_the_workers_of_the_drivers_ray(tmp_path: Path) -> None:
    out = bench_scale.sampled_ray([sys.executable, "-c", DRIVER], tmp_path, tmp_path / "run")
    run = out["memory"]["run"]
    assert list(out["memory"]) == ["extract", "run"]  # no marker written: the first stage
    assert run["worker"].startswith("ray::Holder")  # the largest worker, by its Ray name
    assert run["worker_mb"] >= 114  # its 120 MB
    assert run["workers_seen"] >= 1
    assert run["driver_mb"] < run["worker_mb"]  # the driver without its actor
    assert run["ray_own_mb"] > 0  # the GCS and the raylet, counted apart from the workers
    parts = run["driver_mb"] + run["workers_mb"] + run["ray_own_mb"]
    assert run["total_mb"] <= parts + 0.2  # one sample's sum, never more than the peaks'
    assert run["total_mb"] >= run["worker_mb"] + run["driver_mb"] * 0.5
    assert 0 < run["total_pss_mb"] <= run["total_mb"] + 0.2


def test_is_worker_tells_workers_from_rays_agents() -> None:
    assert bench_scale.is_worker("ray::StepActor")
    assert bench_scale.is_worker("ray::IDLE")
    assert bench_scale.is_worker("/usr/bin/python /x/ray/_private/workers/default_worker.py --a")
    assert not bench_scale.is_worker("ray::DashboardAgent")
    assert not bench_scale.is_worker("ray::_StatsActor")
    assert not bench_scale.is_worker("/x/ray/core/src/ray/raylet/raylet --raylet_socket_name=a")


def test_dataset_rows_ignore_the_order_of_rows_and_shards(tmp_path: Path) -> None:
    rows = pl.DataFrame({"name": ["f", "g", "h"], "cases": [[1], [2, 3], []]})
    for run, shards in (("a", [rows[:2], rows[2:]]), ("b", [rows.reverse()])):
        (tmp_path / run / "dataset" / "data").mkdir(parents=True)
        (tmp_path / run / "eval").mkdir()
        for i, shard in enumerate(shards):
            shard.write_parquet(tmp_path / run / "dataset" / "data" / f"train-{i}.parquet")
    (tmp_path / "a" / "eval" / "case2code-eval.jsonl").write_text('{"x": 1}\n{"x": 2}\n')
    (tmp_path / "b" / "eval" / "case2code-eval.jsonl").write_text('{"x": 2}\n{"x": 1}\n')
    assert bench_scale.dataset_rows(tmp_path / "a") == bench_scale.dataset_rows(tmp_path / "b")
    changed = tmp_path / "b" / "dataset" / "data" / "train-0.parquet"
    rows.with_columns(pl.lit("f").alias("name")).write_parquet(changed)
    assert bench_scale.dataset_rows(tmp_path / "a") != bench_scale.dataset_rows(tmp_path / "b")
