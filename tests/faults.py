"""Making faults for real, and running the CLI as a user does: helpers of the fault tests
(tests/test_faults.py, tests/test_pipeline.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def c2c(
    *args: object, cwd: Path | None = None, umask: int = -1
) -> subprocess.CompletedProcess[str]:
    """The real command line in a fresh process, as a user runs it (-1: the umask unchanged)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-m", "case2code", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        umask=umask,
        timeout=600,
    )


def error_line(result: subprocess.CompletedProcess[str], *named: object) -> str:
    """The command failed with exit 2 and one `error:` line naming each of `named`."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    for name in named:
        assert str(name) in errors[0], errors[0]
    return errors[0]


def leftovers(folder: Path) -> list[Path]:
    """Temporary files a write left behind."""
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp") or ".c2c-probe." in p.name]


@contextlib.contextmanager
def mounted_tmpfs(where: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A real tmpfs of `size` at `where`; skips the test where this machine cannot mount."""
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@contextlib.contextmanager
def read_only_folder(where: Path) -> Iterator[Path]:
    """A folder no one can write in, root included: `chattr +i`, else a read-only tmpfs."""
    where.mkdir(parents=True, exist_ok=True)
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(where)]).returncode == 0:
        try:
            yield where
        finally:
            subprocess.run(["chattr", "-i", str(where)], check=False)
        return
    with mounted_tmpfs(where, "4m", read_only=True):
        yield where
