"""One run per folder: `c2c run` holds a lock on its run folder for the whole run.

The lock is an exclusive `flock` on `<run folder>/run.lock`, which the kernel releases when the
holder dies however it dies (SIGKILL included), so a lock is never left held by a dead process.
The file's body names the holder (pid, host, start time, command) for the error a second run
gets. A holder that ends cleanly empties the body; a body found when the lock is free is the
trace of a holder that died, and the new run says that it takes its place.

On a filesystem without `flock` the body alone decides: a holder on this host whose process is
gone is taken over; one whose process lives, or one on another host, is refused.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from case2code.errors import C2CError

LOCK_FILE = "run.lock"
# flock's answers for "held by another open file".
_HELD = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)


def this_holder() -> dict[str, Any]:
    """Who is running: this process, its host, when it started, its command line as the user
    typed it (`c2c ...` for `python -m`)."""
    program, *args = sys.argv or [sys.executable]
    if Path(program).name in ("__main__.py", "c2c"):
        program = "c2c"
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": " ".join([program, *args]),
    }


def describe(holder: dict[str, Any]) -> str:
    return (
        f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} since "
        f"{holder.get('started', '?')} ({holder.get('command', '?')})"
    )


def _read_holder(handle: int) -> dict[str, Any] | None:
    """The holder the lock file names; None when its body is empty or unreadable."""
    body = os.pread(handle, 1 << 20, 0)  # a holder is one short line
    try:
        holder = json.loads(body) if body.strip() else None
    except ValueError:
        return None
    return holder if isinstance(holder, dict) else None


def _write_holder(handle: int, holder: dict[str, Any] | None) -> None:
    os.ftruncate(handle, 0)
    if holder is not None:
        os.pwrite(handle, (json.dumps(holder) + "\n").encode(), 0)
    os.fsync(handle)


def _alive_here(holder: dict[str, Any]) -> bool:
    """Whether a holder on this host still has its process (a pid on another host: unknown,
    so taken as alive)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True  # a process of another user has that pid
    return True


def _take(handle: int, folder: Path) -> bool:
    """Take the flock; False when another process holds it. Without flock on this
    filesystem, the body decides (see the module's docs)."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as error:
        if error.errno in _HELD:
            return False
        if error.errno not in (errno.ENOLCK, errno.EINVAL, errno.EOPNOTSUPP):
            raise C2CError(f"cannot lock {folder / LOCK_FILE}: {error.strerror}") from None
    holder = _read_holder(handle)
    return holder is None or not _alive_here(holder)


@contextlib.contextmanager
def run_folder_lock(
    folder: str | os.PathLike[str], notice: Callable[[str], None] = lambda _: None
) -> Iterator[None]:
    """Hold `folder` (created if needed) for one run; a second holder is a C2CError naming
    the first. `notice` is told when the lock of a run that died is taken over."""
    folder = Path(folder)
    path = folder / LOCK_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as error:
        raise C2CError(f"cannot lock {path}: {error.strerror}") from None
    try:
        if not _take(handle, folder):
            holder = _read_holder(handle)
            who = describe(holder) if holder else "another process"
            raise C2CError(
                f"{folder} is in use by another run: {who}; wait for it to finish or stop it, "
                "or give this run another folder (-o)"
            )
        gone = _read_holder(handle)
        if gone is not None:
            notice(f"{folder} was locked by a run that is gone ({describe(gone)}); taking it over")
        _write_holder(handle, this_holder())
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                _write_holder(handle, None)  # a clean end leaves no holder named
    finally:
        os.close(handle)  # releases the flock
