"""Output locations checked before a command does any work.

A command that would fail at its last step (an `-o` that names a directory, a read-only folder,
a full disk, an output that is one of its own inputs) is refused at once with a one-line
C2CError naming the path, instead of failing after minutes of work with a traceback.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from case2code.errors import C2CError

# Below this much free space an output folder is refused: a stage writes at least its table.
MIN_FREE_BYTES = 4 << 20

PathLike = str | os.PathLike[str]


def check_outputs(
    files: Iterable[PathLike | None] = (),
    folders: Iterable[PathLike | None] = (),
    inputs: Iterable[PathLike | None] = (),
) -> None:
    """Refuse output `files` and `folders` that cannot be written, or that are `inputs`.

    A file output must not be a directory, a folder output must not be a file, the nearest
    existing folder above either must be a writable folder with MIN_FREE_BYTES free. None
    entries (optional outputs not asked for) are ignored."""
    sources = _given(inputs)
    for path in _given(files):
        if path.is_dir():
            raise C2CError(f"output {path} is a directory; a file is written there")
        _check_not_an_input(path, sources)
        _check_writable(path, folder=False)
    for path in _given(folders):
        if path.exists() and not path.is_dir():
            raise C2CError(f"output {path} is a file; a folder is written there")
        _check_not_an_input(path, sources)
        _check_writable(path, folder=True)


def _given(paths: Iterable[PathLike | None]) -> list[Path]:
    return [Path(p) for p in paths if p is not None]


def _check_not_an_input(output: Path, inputs: list[Path]) -> None:
    for source in inputs:
        if _same_path(output, source):
            same = "" if str(source) == str(output) else f" (the same file as {source})"
            raise C2CError(f"output {output} is also an input{same}: it would be overwritten")


def _same_path(a: Path, b: Path) -> bool:
    """Whether two paths name the same file, through links and relative spellings."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _check_writable(path: Path, folder: bool) -> None:
    """The nearest existing folder at or above `path` must take a new file and have room."""
    existing = path if folder and path.is_dir() else _nearest_existing_parent(path)
    if not existing.is_dir():
        raise C2CError(f"output {path}: {existing} is a file, not a folder")
    _probe(existing, path)
    free = _free_bytes(existing)
    if free is not None and free < MIN_FREE_BYTES:
        raise C2CError(
            f"output {path}: only {free / 2**20:.1f} MiB free on the disk of {existing} "
            f"(at least {MIN_FREE_BYTES >> 20} MiB needed)"
        )


def _nearest_existing_parent(path: Path) -> Path:
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def _probe(folder: Path, output: Path) -> None:
    """Create and remove a file in `folder`: the only test that sees read-only mounts,
    immutable folders and permissions as the process really has them (root included)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".c2c-probe.", dir=folder)
    except OSError as error:
        raise C2CError(
            f"output {output}: cannot write in {folder}: {error.strerror or error}"
        ) from None
    os.close(fd)
    os.unlink(probe)


def _free_bytes(folder: Path) -> int | None:
    try:
        stat = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs (Windows): not checked
        return None
    return stat.f_bavail * stat.f_frsize
