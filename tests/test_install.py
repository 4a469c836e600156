"""The package as a user installs it: scripts/build_wheels.sh builds one abi3 manylinux wheel and
the sdist from this tree; the wheel goes into a fresh virtual environment (its own site-packages,
not the system's) whose PATH has no cargo, and `c2c run` there turns a small corpus into a
dataset.

The build is the release build, incremental where CARGO_TARGET_DIR keeps an earlier one (CI
keeps ~/.cache/case2code-target). The environment's dependencies come from pip's index or its
local cache; the sandbox's compiled interpreter from the user's cache, as for any run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import polars as pl
import pytest
from test_sandbox_cli import CORPUS

REPO = Path(__file__).resolve().parent.parent
TOOLCHAIN = ("cargo", "rustc", "maturin")
# One wheel for every CPython >= 3.10 (abi3) on manylinux x86_64 (maybe with legacy aliases).
WHEEL_NAME = r"case2code-[\d.]+-cp310-abi3-manylinux_2_\d+_x86_64(\.[\w.]+)?\.whl"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(wheel, sdist, the build's output), built once for this module."""
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        ["bash", str(REPO / "scripts" / "build_wheels.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    (wheel,) = out.glob("case2code-*.whl")
    (sdist,) = out.glob("case2code-*.tar.gz")
    return wheel, sdist, build.stdout


def test_the_wheel_is_abi3_manylinux_and_the_sdist_holds_the_sources(
    built: tuple[Path, Path, str],
) -> None:
    wheel, sdist, report = built
    assert re.fullmatch(WHEEL_NAME, wheel.name), wheel.name
    assert re.search(
        r'consistent\s+with\s+the\s+following\s+platform\s+tag:\s+"manylinux_2_\d+_x86_64"', report
    )

    names = zipfile.ZipFile(wheel).namelist()
    assert [n for n in names if n.endswith(".so")] == ["case2code/_core.abi3.so"]
    for needed in ("case2code/cli.py", "case2code/_sandbox_worker.py", "case2code/sandbox.py"):
        assert needed in names
    assert any(n.endswith("entry_points.txt") for n in names)
    assert any(n.startswith("case2code/templates/") for n in names)

    with tarfile.open(sdist) as tar:
        files = [name.split("/", 1)[1] for name in tar.getnames() if "/" in name]
    for needed in ("pyproject.toml", "Cargo.toml", "Cargo.lock", "rust/Cargo.toml"):
        assert needed in files
    assert "rust/src/sandbox/driver.py" in files and "python/case2code/cli.py" in files
    assert not [name for name in files if name.endswith(".so")]  # no build left-overs


def _path_without_rust() -> str:
    """This PATH less every folder holding a Rust toolchain."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    kept = [f for f in folders if f and not any(shutil.which(t, path=f) for t in TOOLCHAIN)]
    return os.pathsep.join(kept)


def test_the_wheel_installs_and_runs_in_a_fresh_environment_without_rust(
    built: tuple[Path, Path, str], tmp_path: Path
) -> None:
    wheel, _, _ = built
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    path = os.pathsep.join([str(venv / "bin"), _path_without_rust()])
    assert shutil.which("cargo", path=path) is None
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = path
    install = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    assert install.returncode == 0, install.stderr[-4000:]

    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import case2code; print(case2code.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert Path(where.strip()).is_relative_to(venv)  # the wheel's copy, not this tree's

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "small.py").write_text(CORPUS)
    run = subprocess.run(
        ["c2c", "run", "--corpus", corpus, "--workers", "2", "-o", tmp_path / "run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=1800,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert "Traceback" not in run.stderr
    samples = pl.read_parquet(tmp_path / "run" / "dataset" / "data" / "*.parquet")
    assert samples.height > 0
    assert (tmp_path / "run" / "run.json").is_file()
