"""Write output files so that a crash never leaves a half-written one behind.

Every file goes to a temporary file beside its target and is renamed into place when complete.
A write that fails (a full disk, a read-only folder) removes the temporary file and becomes a
C2CError naming the target and the reason. Published files get the mode a plain `open()` would
give them (0o666 less the umask), not mkstemp's private 0o600.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import polars as pl

from case2code.errors import C2CError

# polars reports I/O failures as ComputeError("... No space left on device (os error 28)").
_OS_ERROR_CODE = re.compile(r"\(os error (\d+)\)")


def current_umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The permission bits `open()` gives a new file."""
    return 0o666 & ~current_umask()


def write_failure(path: Path, error: BaseException) -> C2CError | None:
    """A one-line C2CError for an I/O error writing `path`: an OSError, or a polars error whose
    text holds the OS error number. None when `error` is neither."""
    if isinstance(error, OSError):
        code = error.errno if error.errno is not None else errno.EIO
    elif isinstance(error, pl.exceptions.PolarsError) and (
        found := _OS_ERROR_CODE.search(str(error))
    ):
        code = int(found.group(1))
    else:
        return None
    reason = error.strerror if isinstance(error, OSError) and error.strerror else os.strerror(code)
    hint = " (free some space and rerun)" if code == errno.ENOSPC else ""
    return C2CError(f"cannot write {path}: {reason}{hint}")


def _publish(path: str | os.PathLike[str], write: Callable[[str], None]) -> Path:
    """Run `write` on a temporary file beside `path`, then rename it into place. The temporary
    file's name is chosen before it exists and removed in `finally`, so a Ctrl-C arriving at any
    point (even between its creation and the first write) leaves nothing behind."""
    target = Path(path)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
    published = False
    try:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as error:
            raise C2CError(f"cannot write {target}: {error.strerror or error}") from None
        write(str(tmp))
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
        published = True
    except BaseException as error:
        failure = write_failure(target, error)
        if failure is not None:
            raise failure from None
        raise
    finally:
        if not published:
            tmp.unlink(missing_ok=True)
    return target


# Rows per row group of the big stage tables (functions, unique functions) that later stages
# read in batches: a reader decompresses a whole row group at once.
TABLE_ROW_GROUP_ROWS = 10_000


def write_parquet(
    frame: pl.DataFrame, path: str | os.PathLike[str], *, row_group_size: int | None = None
) -> Path:
    """Write `frame` atomically; `row_group_size` rows per row group (None: polars' default)."""
    return _publish(path, lambda tmp: frame.write_parquet(tmp, row_group_size=row_group_size))


def sink_parquet(
    frame: pl.LazyFrame, path: str | os.PathLike[str], *, row_group_size: int | None = None
) -> Path:
    """Stream `frame` to `path` atomically (polars' streaming engine, bounded memory)."""
    return _publish(path, lambda tmp: frame.sink_parquet(tmp, row_group_size=row_group_size))


def write_text(text: str, path: str | os.PathLike[str]) -> Path:
    """Write `text` atomically."""
    return _publish(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
