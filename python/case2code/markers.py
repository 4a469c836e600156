"""Stage markers: what a finished stage read and wrote, so that a rerun trusts it or redoes it.

A stage's `stage.json` holds its settings' fingerprint, its figures and the identity (size,
mtime, SHA-256) of every file it read and wrote. A rerun serves the stage as cached only when
the fingerprint is the same and every one of those files is still the recorded one. A file with
the recorded size and mtime is taken as the same unread; one whose mtime moved is the same when
its digest is, so an earlier stage rebuilt byte for byte does not redo the stages after it.

Before a stage runs, `started.json` records the fingerprint and inputs its resume shards
(`*.parts/`) belong to; a later run of the stage for other settings or inputs discards them
(only inside a run folder: a standalone command keeps refusing foreign shards). Paths are
relative to the run folder, so a copied run folder stays valid.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from case2code.atomic import write_text

MARKER = "stage.json"
STARTED = "started.json"
Identity = dict[str, Any]  # {"size", "mtime_ns", "sha256"}


class FileIdentities:
    """File identities, each file's digest computed once per (path, size, mtime, inode)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._digests: dict[tuple[str, int, int, int], str] = {}

    def _digest(self, path: Path, stat: os.stat_result) -> str:
        key = (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if key not in self._digests:
            with path.open("rb") as handle:
                self._digests[key] = hashlib.file_digest(handle, "sha256").hexdigest()
        return self._digests[key]

    def of(self, path: Path) -> Identity:
        stat = path.stat()
        return {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256": self._digest(path, stat),
        }

    def of_all(self, paths: Iterable[Path]) -> dict[str, Identity]:
        """Identities keyed by path relative to the root."""
        return {self.relative(path): self.of(path) for path in paths}

    def relative(self, path: Path) -> str:
        return os.path.relpath(path, self.root)

    def unchanged(self, relative: str, identity: Mapping[str, Any]) -> bool:
        """Whether the file at `relative` is still the one `identity` describes."""
        path = self.root / relative
        try:
            stat = path.stat()
            if stat.st_size != identity.get("size"):
                return False
            if stat.st_mtime_ns == identity.get("mtime_ns"):
                return True
            return self._digest(path, stat) == identity.get("sha256")
        except OSError:
            return False

    def first_changed(self, recorded: Mapping[str, Mapping[str, Any]]) -> str | None:
        """The first recorded file that is missing or changed; None when all hold."""
        return next((p for p, ident in recorded.items() if not self.unchanged(p, ident)), None)


def read_json(path: Path) -> dict[str, Any] | None:
    """A marker's body; None when absent or unreadable (a marker is written atomically, so a
    bad one is redone, not trusted)."""
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _same_run(
    body: Mapping[str, Any] | None, fingerprint: str, inputs: Iterable[Path], files: FileIdentities
) -> bool:
    """Whether a marker's `body` is for `fingerprint` and exactly `inputs`, each unchanged."""
    if body is None or body.get("fingerprint") != fingerprint:
        return False
    recorded = body.get("inputs")
    expected = {files.relative(path) for path in inputs}
    if not isinstance(recorded, dict) or set(recorded) != expected:
        return False
    return files.first_changed(recorded) is None


@dataclass(frozen=True)
class Verdict:
    """Whether a marker holds; if not because an output went missing or changed, which one
    (worth telling: new settings or inputs are expected to rerun a stage, a lost file not)."""

    holds: bool
    changed_output: str | None = None


def check_marker(
    body: Mapping[str, Any] | None, fingerprint: str, inputs: Iterable[Path], files: FileIdentities
) -> Verdict:
    """Whether a stage's marker `body` holds for its settings' `fingerprint` and `inputs`."""
    if not _same_run(body, fingerprint, inputs, files):
        return Verdict(False)
    outputs = body.get("outputs") if body else None
    if not isinstance(outputs, dict) or not outputs:
        return Verdict(False)  # a marker of an older version: the stage runs again
    changed = files.first_changed(outputs)
    return Verdict(changed is None, changed)


def write_marker(
    stage_dir: Path,
    fingerprint: str,
    record: Mapping[str, Any],
    inputs: Mapping[str, Identity],
    outputs: Mapping[str, Identity],
) -> None:
    """The stage's marker; its `started.json` goes (the run it recorded is finished)."""
    body = {"fingerprint": fingerprint, **record, "inputs": inputs, "outputs": outputs}
    write_text(json.dumps(body, indent=2, default=str) + "\n", stage_dir / MARKER)
    (stage_dir / STARTED).unlink(missing_ok=True)


def marker_record(body: Mapping[str, Any]) -> dict[str, Any]:
    """A marker's stage record: its body less the fingerprint and file identities."""
    return {k: v for k, v in body.items() if k not in ("fingerprint", "inputs", "outputs")}


def start_stage(
    stage_dir: Path, fingerprint: str, inputs: Iterable[Path], files: FileIdentities
) -> list[Path]:
    """Record what the stage now runs for; first discard the resume shards (`*.parts/`) of
    an earlier run of it for other settings or inputs. Returns the folders discarded."""
    inputs = list(inputs)
    discarded = []
    if not _same_run(read_json(stage_dir / STARTED), fingerprint, inputs, files):
        for parts in sorted(stage_dir.glob("*.parts")):
            if parts.is_dir():
                shutil.rmtree(parts)
                discarded.append(parts)
    started = {"fingerprint": fingerprint, "inputs": files.of_all(inputs)}
    write_text(json.dumps(started, indent=2) + "\n", stage_dir / STARTED)
    return discarded
