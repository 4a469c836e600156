"""Ordinary mistakes and faults never end in a traceback: every command that writes checks its
output locations before any work (wrong kind, read-only, full disk, an input as the output),
a write that fails mid-way is a one-line error with nothing half-written, and written files
get the mode the umask gives. Each mistake is made as a user makes it, through the real CLI
(`python -m case2code ...` in a subprocess) where the message matters.

Read-only folders are real (`chattr +i`, which binds root too, or a read-only tmpfs); full
disks are real small tmpfs mounts. Where this machine allows neither, those tests skip and the
in-process tests below them (which inject the same errno) still run; each says which it is."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

import polars as pl
import pytest
from case2code import atomic
from case2code.atomic import sink_parquet, write_parquet, write_text
from case2code.errors import C2CError
from case2code.outputs import MIN_FREE_BYTES, check_outputs
from case2code.shards import ShardedOutput
from faults import c2c, error_line, leftovers, mounted_tmpfs, read_only_folder
from hand_functions import run_hand_functions

SOURCE = """
def clamp(x, low, high):
    if x < low:
        return low
    return min(x, high)

def initials(name):
    parts = name.split()
    return "".join(p[0].upper() for p in parts)
"""
INPUTS = {
    "clamp": ["(5, 0, 10)", "(-3, 0, 10)", "(42, 0, 10)", "(7, 7, 7)", "(0, 1, 2)"],
    "initials": ["('ada lovelace',)", "('alan m turing',)", "('x',)", "('grace b h',)"],
}


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real stage tables: functions extracted by the extractor, run in the real sandbox."""
    root = tmp_path_factory.mktemp("tables")
    functions, results = run_hand_functions(SOURCE, INPUTS)
    ids = dict(zip(functions["name"], functions["function_id"], strict=True))
    inputs = pl.DataFrame(
        [(ids[name], text) for name, texts in INPUTS.items() for text in texts],
        schema=["function_id", "input"],
        orient="row",
    )
    paths = {"functions": root / "functions.parquet", "inputs": root / "inputs.parquet"}
    paths["results"] = root / "results.parquet"
    paths["source"] = root / "hand.py"
    functions.write_parquet(paths["functions"])
    inputs.write_parquet(paths["inputs"])
    results.write_parquet(paths["results"])
    paths["source"].write_text(SOURCE)
    return paths


def commands(tables: dict[str, Path], out: Path) -> dict[str, list[object]]:
    """Every command that writes, with its output at `out`."""
    f, i, r = tables["functions"], tables["inputs"], tables["results"]
    return {
        "extract": ["extract", tables["source"], "-o", out],
        "dedup": ["dedup", f, "-o", out],
        "inputs": ["inputs", f, "-o", out, "--workers", "1", "--rounds", "1"],
        "exec": ["exec", f, i, "-o", out, "--workers", "1"],
        "assemble": ["assemble", f, r, "-o", out],
        "run": ["run", "--corpus", tables["source"], "-o", out, "--workers", "1"],
    }


FOLDER_OUTPUTS = {"assemble", "run"}  # these write a folder; the others one file


# ------------------------------------------------------------------ 1. checked before any work


@pytest.mark.parametrize("command", ["extract", "dedup", "inputs", "exec", "assemble", "run"])
def test_an_output_of_the_wrong_kind_is_refused_at_once(
    command: str, tables: dict[str, Path], tmp_path: Path
) -> None:
    """A directory where a file goes, or a file where a folder goes."""
    out = tmp_path / "out"
    if command in FOLDER_OUTPUTS:
        out.write_text("a file\n")
    else:
        out.mkdir()
    result = c2c(*commands(tables, out)[command])
    line = error_line(result, out)
    assert ("is a file" if command in FOLDER_OUTPUTS else "is a directory") in line
    assert sorted(tmp_path.iterdir()) == [out], "nothing else was written"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("command", ["extract", "exec", "run"])
def test_a_file_as_the_outputs_parent_is_refused(
    command: str, tables: dict[str, Path], tmp_path: Path
) -> None:
    parent = tmp_path / "notes.txt"
    parent.write_text("a file, not a folder\n")
    out = parent / "deeper" / "out.parquet"
    result = c2c(*commands(tables, out)[command])
    line = error_line(result, out)
    assert f"{parent} is a file, not a folder" in line
    assert parent.read_text() == "a file, not a folder\n"


@pytest.mark.parametrize("command", ["extract", "dedup", "inputs", "exec", "assemble", "run"])
def test_a_read_only_folder_is_refused_at_once(
    command: str, tables: dict[str, Path], tmp_path: Path
) -> None:
    """A real read-only folder (chattr +i binds root too; else a read-only tmpfs)."""
    with read_only_folder(tmp_path / "locked") as locked:
        out = locked / ("run" if command in FOLDER_OUTPUTS else "out.parquet")
        result = c2c(*commands(tables, out)[command])
        line = error_line(result, out, locked)
        assert "cannot write in" in line
        assert list(locked.iterdir()) == []


def test_a_read_only_folder_is_refused_in_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Injected: the probe file's creation fails with EACCES, as for a user without rights."""

    def denied(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(C2CError, match=f"output {tmp_path / 'x.parquet'}: cannot write in"):
        check_outputs(files=[tmp_path / "x.parquet"])


@pytest.mark.parametrize("command", ["extract", "exec", "assemble", "run"])
def test_a_nearly_full_disk_is_refused_at_once(
    command: str, tables: dict[str, Path], tmp_path: Path
) -> None:
    """A real 1 MiB tmpfs, below the free-space floor."""
    assert MIN_FREE_BYTES > 1 << 20
    with mounted_tmpfs(tmp_path / "small", "1m") as disk:
        out = disk / ("run" if command in FOLDER_OUTPUTS else "out.parquet")
        line = error_line(c2c(*commands(tables, out)[command]), out)
        assert "MiB free" in line
        assert list(disk.iterdir()) == []


def test_free_space_is_checked_in_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Injected: statvfs reports 1 MiB free."""
    real = os.statvfs(tmp_path)

    class Small:
        f_frsize = 4096
        f_bavail = (1 << 20) // 4096

    monkeypatch.setattr(os, "statvfs", lambda path: Small())
    with pytest.raises(C2CError, match=r"only 1\.0 MiB free"):
        check_outputs(folders=[tmp_path / "run"])
    assert real.f_bavail * real.f_frsize >= MIN_FREE_BYTES, "the real disk passes"
    monkeypatch.undo()
    check_outputs(folders=[tmp_path / "run"], files=[tmp_path / "a" / "b.parquet"])
    assert leftovers(tmp_path) == [] and not (tmp_path / "a").exists()


# ------------------------------------------------------------------ 3. an input as the output


def test_exec_refuses_to_overwrite_its_inputs(tables: dict[str, Path], tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.parquet"
    shutil.copy(tables["inputs"], inputs)
    before = inputs.read_bytes()
    # The same file under another spelling: compared by resolved path, not by text.
    other_spelling = tmp_path / "sub" / ".." / "inputs.parquet"
    (tmp_path / "sub").mkdir()
    result = c2c("exec", tables["functions"], inputs, "-o", other_spelling, "--workers", "1")
    assert "is also an input" in error_line(result, other_spelling)
    assert inputs.read_bytes() == before


def test_dedup_refuses_to_overwrite_its_input(tables: dict[str, Path], tmp_path: Path) -> None:
    functions = tmp_path / "functions.parquet"
    shutil.copy(tables["functions"], functions)
    link = tmp_path / "link.parquet"
    link.symlink_to(functions)
    before = functions.read_bytes()
    for out in (functions, link):  # a symlink to it too: compared with samefile
        assert "is also an input" in error_line(c2c("dedup", functions, "-o", out), out)
    assert functions.read_bytes() == before


def test_run_refuses_its_corpus_as_the_run_folder(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "hand.py").write_text(SOURCE)
    result = c2c("run", "--corpus", corpus, "-o", corpus)
    assert "is also an input" in error_line(result, corpus)
    assert [p.name for p in corpus.iterdir()] == ["hand.py"]


# ------------------------------------------------------------------ 2. a write that fails


def test_enospc_while_writing_a_shard_is_one_error_and_no_temp_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Injected: polars' Parquet writer fails as it does on a full disk (ComputeError with
    `os error 28`) after writing part of the file."""

    def full_disk(self: pl.DataFrame, path: str, **kwargs: object) -> None:
        Path(path).write_bytes(b"PAR1 half a table")
        raise pl.exceptions.ComputeError(
            "parquet: File out of specification: underlying IO error: "
            "No space left on device (os error 28)"
        )

    sharded = ShardedOutput(tmp_path / "out.parquet", "fingerprint", items=4, block_size=2)
    frame = pl.DataFrame({"a": [1, 2]})
    sharded.write(0, frame)
    monkeypatch.setattr(pl.DataFrame, "write_parquet", full_disk)
    with pytest.raises(C2CError) as raised:
        sharded.write(1, frame, {"n": 2})
    assert str(raised.value) == (
        f"cannot write {sharded.shard(1)}: No space left on device (free some space and rerun)"
    )
    assert not sharded.done(1), "no half-written shard"
    assert leftovers(tmp_path) == []
    monkeypatch.undo()
    sharded.write(1, frame, {"n": 2})  # space freed: the rerun writes it
    assert pl.read_parquet(sharded.shard(1)).equals(frame)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_os_errors_while_writing_text_name_the_file(
    code: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Injected: the write itself raises the OSError the kernel gives."""
    target = tmp_path / "report.json"
    target.write_text("the old report\n")

    def failing(self: Path, text: str, encoding: str | None = None) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Path, "write_text", failing)
    with pytest.raises(C2CError, match=f"cannot write {target}: {os.strerror(code)}"):
        write_text("the new report\n", target)
    monkeypatch.undo()
    assert target.read_text() == "the old report\n", "the old file is untouched"
    assert leftovers(tmp_path) == []


def test_a_real_full_disk_mid_write_is_one_error(tmp_path: Path) -> None:
    """A real 8 MiB tmpfs, filled by another writer after the output check passed."""
    with mounted_tmpfs(tmp_path / "disk", "8m") as disk:
        check_outputs(files=[disk / "big.parquet"])
        filler = disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as handle:
            while True:
                handle.write(b"\0" * (1 << 20))
        frame = pl.DataFrame({"text": [os.urandom(32).hex() for _ in range(50_000)]})
        for writer in (write_parquet, lambda f, p: sink_parquet(f.lazy(), p)):
            with pytest.raises(C2CError, match="No space left on device"):
                writer(frame, disk / "big.parquet")
            assert sorted(p.name for p in disk.iterdir()) == ["filler"]
        filler.unlink()
        write_parquet(frame, disk / "big.parquet")
        assert pl.read_parquet(disk / "big.parquet").equals(frame)


# ------------------------------------------------------------------ 5. settings from the CLI


def test_a_bad_setting_on_the_command_line_is_one_line(tables: dict[str, Path], tmp_path: Path):
    result = c2c("assemble", tables["functions"], tables["results"], "--held-out", "-1")
    assert "held_out = -1" in error_line(result, "at least 0")
    result = c2c("dedup", tables["functions"], "-o", tmp_path / "u.parquet", "--threshold", "1.5")
    error_line(result, "threshold = 1.5")
    assert not (tmp_path / "u.parquet").exists()


def test_a_bad_settings_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "my-run.toml"
    config.write_text("[assemble]\nmax_output_chars = -1\n")
    error_line(c2c("run", config), config, "[assemble]", "max_output_chars = -1")
    config.write_text("[inputs]\nn_inputs = 4\nmin_valid = 3\n[assemble]\nheld_out = 2\n")
    line = error_line(c2c("run", config), config)
    assert "[assemble] held_out = 2 with [inputs] n_inputs = 4" in line
    config.write_text("[dedup]\ntreshold = 0.5\n")
    error_line(c2c("run", config), "[dedup] unknown key 'treshold' (did you mean 'threshold'?)")


# ------------------------------------------------------------------ 6. the umask


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_honour_the_umask(umask: int, mode: int, tmp_path: Path) -> None:
    frame = pl.DataFrame({"a": [1, 2, 3]})
    previous = os.umask(umask)
    try:
        assert atomic.file_mode() == mode
        written = [
            write_parquet(frame, tmp_path / "a.parquet"),
            sink_parquet(frame.lazy(), tmp_path / "b.parquet"),
            write_text("{}\n", tmp_path / "c.json"),
            write_text("x\n", tmp_path / "README.md"),
        ]
        sharded = ShardedOutput(tmp_path / "d.parquet", "fp", items=2, block_size=2)
        sharded.write(0, frame, {"rows": 3})
        written += [sharded.shard(0), sharded.parts / "part-00000.json", sharded.parts / "RUN"]
        sharded.merge({"a": pl.Int64()})
        written.append(sharded.output)
    finally:
        os.umask(previous)
    assert {str(p.name): oct(p.stat().st_mode & 0o777) for p in written} == {
        str(p.name): oct(mode) for p in written
    }


def test_the_cli_honours_the_umask(tables: dict[str, Path], tmp_path: Path) -> None:
    """A dataset written by `c2c assemble` under umask 077 and 022: Parquet, JSONL, the card."""
    for umask, mode in ((0o077, 0o600), (0o022, 0o644)):
        out = tmp_path / f"dataset-{umask:o}"
        args = ["-o", out, "--min-cases", "3", "--held-out", "1"]
        done = c2c("assemble", tables["functions"], tables["results"], *args, umask=umask)
        assert done.returncode == 0, done.stderr
        files = [p for p in out.rglob("*") if p.is_file()]
        assert {p.suffix for p in files} >= {".parquet", ".jsonl", ".md"}
        assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(mode)}
