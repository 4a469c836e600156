"""The scale bench's per-stage memory sampler (benches/bench_scale.py, part (b)): a sample
belongs to the first stage whose completion marker is missing, a process's peak is what the
kernel reports for it (wait4), and the sandbox workers are found as the process's descendants."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benches"))

import bench_scale
from case2code.markers import MARKER
from case2code.run_config import STAGES

# Holds 80 MB (written, so resident) for a while, in a child process as a sandbox worker would.
HOLDER = "import time; block = b'x' * 80_000_000; time.sleep(0.6)"
PARENT = (
    f"import subprocess, sys; child = subprocess.Popen([sys.executable, '-c', {HOLDER!r}]); "
    "block = b'x' * 40_000_000; child.wait()"
)


def test_current_stage_is_the_first_without_a_marker(tmp_path: Path) -> None:
    assert bench_scale.current_stage(tmp_path) == "extract"
    for stage in STAGES[:2]:
        (tmp_path / "stages" / stage).mkdir(parents=True)
        (tmp_path / "stages" / stage / MARKER).write_text("{}")
    assert bench_scale.current_stage(tmp_path) == STAGES[2]
    for stage in STAGES[2:]:
        (tmp_path / "stages" / stage).mkdir(parents=True)
        (tmp_path / "stages" / stage / MARKER).write_text("{}")
    assert bench_scale.current_stage(tmp_path) == "report"


def test_sampled_measures_the_process_and_its_workers(tmp_path: Path) -> None:
    run = tmp_path / "run"
    out = bench_scale.sampled([sys.executable, "-c", PARENT], tmp_path, run)
    assert out["peak_rss_mb"] >= 38  # its own 40 MB (wait4 as /usr/bin/time)
    assert list(out["stages"]) == ["extract"]  # no marker written: all in the first stage
    stage = out["stages"]["extract"]
    assert 38 <= stage["c2c_mb"] < 76  # the parent alone, without its child
    assert stage["workers_mb"] >= 76  # the child, found below it
