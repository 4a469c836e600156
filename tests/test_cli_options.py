"""Options that set a settings field under another name or unit (`--fuel`, `--memory-mb`,
`--generator`, `--exclude-dir`) reach the field: run as a user runs `c2c`, against the real
sandbox and real files."""

from __future__ import annotations

from pathlib import Path

import case2code
import polars as pl
import pytest
from faults import c2c, error_line

SOURCE = """\
def spin(n):
    total = 0
    for i in range(n):
        total += i
    return total


def grab(mib):
    block = bytearray(mib << 20)
    return len(block)
"""
INPUTS = {"spin": "(200000,)", "grab": "(128,)"}


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("options")
    (root / "m.py").write_text(SOURCE)
    functions = case2code.extract([root / "m.py"]).functions
    inputs = functions.select("function_id", pl.col("name").replace_strict(INPUTS).alias("input"))
    paths = {"functions": root / "functions.parquet", "inputs": root / "inputs.parquet"}
    functions.write_parquet(paths["functions"])
    inputs.write_parquet(paths["inputs"])
    return paths


def _statuses(tables: dict[str, Path], out: Path, *options: str) -> dict[str, str]:
    args = ("exec", tables["functions"], tables["inputs"], "-o", out, "--workers", "1")
    done = c2c(*args, "--no-check-stability", *options)
    assert done.returncode == 0, done.stderr
    results = pl.read_parquet(out).join(pl.read_parquet(tables["functions"]), on="function_id")
    return dict(zip(results["name"], results["status"], strict=True))


def test_exec_limits_by_their_option_names(tables: dict[str, Path], tmp_path: Path) -> None:
    """`--fuel` sets fuel_per_case and `--memory-mb` memory_bytes (in MiB): the same cases
    that pass with the defaults run out under small limits."""
    assert _statuses(tables, tmp_path / "free.parquet") == {"spin": "ok", "grab": "ok"}
    fuel = _statuses(tables, tmp_path / "fuel.parquet", "--fuel", "100000")
    assert fuel["spin"] == "timeout"
    memory = _statuses(tables, tmp_path / "memory.parquet", "--memory-mb", "64")
    assert memory == {"spin": "ok", "grab": "memory"}


def test_generator_option_names_the_generator(tables: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "inputs.parquet"
    error_line(c2c("inputs", tables["functions"], "-o", out, "--generator", "vllm"), "--model")
    unknown = c2c("inputs", tables["functions"], "-o", out, "--generator", "vlm")
    error_line(unknown, "generator = 'vlm'", "did you mean 'vllm'")
    assert not out.exists()


def test_exclude_dir_skips_the_named_folders(tmp_path: Path) -> None:
    for folder in ("kept", "vendored"):
        (tmp_path / "corpus" / folder).mkdir(parents=True)
        (tmp_path / "corpus" / folder / f"{folder}.py").write_text(SOURCE)
    out = tmp_path / "functions.parquet"
    done = c2c("extract", tmp_path / "corpus", "-o", out, "--exclude-dir", "vendored")
    assert done.returncode == 0, done.stderr
    origins = set(pl.read_parquet(out)["origin"])
    assert origins and all("kept.py" in origin for origin in origins), origins


def test_run_options_not_given_leave_the_files_keys(tmp_path: Path) -> None:
    """`c2c run` without `--corpus` extracts the file's corpus (not the standard library), and
    `--until` given on the line replaces the file's."""
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "m.py").write_text(SOURCE)
    config = tmp_path / "run.toml"
    config.write_text('[run]\nout = "run"\nuntil = "dedup"\n[corpus]\npaths = ["corpus"]\n')
    done = c2c("run", config, "--until", "extract")
    assert done.returncode == 0, done.stderr
    stages = tmp_path / "run" / "stages"
    names = pl.read_parquet(stages / "extract" / "functions.parquet")["name"]
    assert sorted(names) == ["grab", "spin"]
    assert not (stages / "dedup").exists(), "--until extract stopped the run"
