"""`c2c exec`: tables in, one row per case out; resumable after a hard kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import case2code
import polars as pl
import pytest
from case2code.execute import RESULT_COLUMNS
from case2code.sandbox import STATUSES

INPUTS = ["(1,)", "('a b',)", "([3, 1, 2],)"]


@pytest.fixture(scope="module")
def tables(tmp_path_factory, stdlib_dir):
    """Real functions from a few stdlib modules, three simple inputs each."""
    root = tmp_path_factory.mktemp("exec")
    files = [
        stdlib_dir / name
        for name in (
            "colorsys.py",
            "textwrap.py",
            "shlex.py",
            "fnmatch.py",
            "base64.py",
            "heapq.py",
        )
    ]
    functions = case2code.extract(files).functions
    assert functions.height >= 10
    inputs = functions.select("function_id").join(pl.DataFrame({"input": INPUTS}), how="cross")
    functions.write_parquet(root / "functions.parquet")
    inputs.write_parquet(root / "inputs.parquet")
    return root, functions


def c2c(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "case2code", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_exec_writes_one_row_per_case(tables):
    root, functions = tables
    done = c2c("exec", "functions.parquet", "inputs.parquet", "-o", "results.parquet", cwd=root)
    assert done.returncode == 0, done.stderr
    results = pl.read_parquet(root / "results.parquet")
    assert tuple(results.columns) == RESULT_COLUMNS
    assert results.height == functions.height * len(INPUTS)
    assert set(results["status"]) <= set(STATUSES) - {"invalid_input"}
    # fnmatch._compile_pattern returns a bound method whose repr shows an address.
    unstable = results.filter(pl.col("status") == "unstable")
    assert all(" at 0x" in text for text in unstable["error"])
    assert (results["status"] == "ok").sum() > 0
    ok = results.filter(pl.col("status") == "ok")
    assert ok["value_repr"].null_count() == 0
    assert not (root / "results.parquet.parts").exists()
    # Coverage is traced by default: every call made says what it ran, within its totals.
    called = results.filter(pl.col("status").is_in(["ok", "error"]))
    assert called["arms_total"].null_count() == 0
    assert (called["lines"].list.len() <= called["lines_total"]).all()
    # A call that returned ran at least one line (one that raised may have failed binding).
    assert (called.filter(pl.col("status") == "ok")["lines"].list.len() > 0).all()
    assert "mean branch coverage" in done.stderr


def test_exec_no_coverage_leaves_the_columns_null(tables, tmp_path):
    root, _ = tables
    args = ("exec", str(root / "functions.parquet"), str(root / "inputs.parquet"))
    done = c2c(*args, "-o", "plain.parquet", "--no-coverage", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    results = pl.read_parquet(tmp_path / "plain.parquet")
    assert results["lines"].null_count() == results.height
    assert "coverage" not in done.stderr


def test_exec_resumes_after_sigkill(tables, tmp_path):
    root, _ = tables
    args = ["exec", str(root / "functions.parquet"), str(root / "inputs.parquet")]
    reference = c2c(*args, "-o", "reference.parquet", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr

    command = [
        sys.executable,
        "-m",
        "case2code",
        *args,
        "-o",
        "killed.parquet",
        "--shard-functions",
        "2",
    ]
    victim = subprocess.Popen(command, cwd=tmp_path, start_new_session=True)
    parts = tmp_path / "killed.parquet.parts"
    deadline = time.monotonic() + 300
    while not list(parts.glob("part-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)  # the CLI and its sandbox workers, mid-run
    victim.wait()
    assert list(parts.glob("part-*.parquet")), "no shard was written before the kill"

    resumed = c2c(*args, "-o", "killed.parquet", "--shard-functions", "2", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    volatile = ["wall_us"]
    got = pl.read_parquet(tmp_path / "killed.parquet").drop(volatile)
    want = pl.read_parquet(tmp_path / "reference.parquet").drop(volatile)
    assert got.equals(want)


def test_exec_refuses_shards_of_another_run(tables, tmp_path):
    root, _ = tables
    (tmp_path / "out.parquet.parts").mkdir()
    (tmp_path / "out.parquet.parts" / "RUN").write_text("something else\n")
    args = [
        "exec",
        str(root / "functions.parquet"),
        str(root / "inputs.parquet"),
        "-o",
        "out.parquet",
    ]
    done = c2c(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert "different run" in done.stderr


@pytest.mark.parametrize(
    ("functions", "inputs", "message"),
    [
        ("missing.parquet", "inputs.parquet", "does not exist"),
        ("inputs.parquet", "inputs.parquet", "missing column(s) name, source"),
        ("functions.parquet", "functions.parquet", "missing column(s) input"),
    ],
)
def test_exec_bad_tables_get_clear_errors(tables, functions, inputs, message):
    root, _ = tables
    done = c2c("exec", functions, inputs, "-o", "never.parquet", cwd=root)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
