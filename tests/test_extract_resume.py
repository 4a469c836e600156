"""Resumable extraction: a crash after some shards, then a rerun, gives the same table as one
uninterrupted pass, and the rerun parses only the shards that were missing."""

from __future__ import annotations

import importlib
import sysconfig
from pathlib import Path

import polars as pl
import pytest
from case2code import C2CError, ExtractConfig, extract
from case2code.extract import extract_to_parquet

# The module, not the function `case2code.extract` that the package exports under its name.
extract_module = importlib.import_module("case2code.extract")

STDLIB = Path(sysconfig.get_paths()["stdlib"])
CORPUS = [STDLIB / "email", STDLIB / "json", STDLIB / "colorsys.py"]
CONFIG = ExtractConfig(batch_bytes=20_000)
SHARD_BYTES = 60_000


class Crash(Exception):
    pass


def _count_parsed_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    fed: list[int] = []
    feed = extract_module._feed

    def counting(*args, **kwargs) -> None:
        fed.append(1)
        feed(*args, **kwargs)

    monkeypatch.setattr(extract_module, "_feed", counting)
    return fed


def test_crash_then_rerun_equals_one_pass(tmp_path: Path, monkeypatch) -> None:
    fed = _count_parsed_batches(monkeypatch)
    whole = extract(CORPUS, CONFIG)
    batches = len(fed)
    output = tmp_path / "functions.parquet"
    calls = 0

    def crash_after_some_batches(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 12:
            raise Crash

    with pytest.raises(Crash):
        extract_to_parquet(
            CORPUS, output, CONFIG, shard_bytes=SHARD_BYTES, progress=crash_after_some_batches
        )
    parts = output.with_name(output.name + ".parts")
    finished = sorted(parts.glob("part-*.parquet"))
    assert finished and not output.exists(), "some shards were written, no output yet"

    fed.clear()
    summary = extract_to_parquet(CORPUS, output, CONFIG, shard_bytes=SHARD_BYTES)
    assert 0 < len(fed) < batches, "the finished shards' batches are not parsed again"
    assert pl.read_parquet(output).equals(whole.functions)
    assert summary.as_dict() | {"seconds": 0, "mb_per_s": 0, "functions_per_s": 0} == (
        whole.summary.as_dict() | {"seconds": 0, "mb_per_s": 0, "functions_per_s": 0}
    )
    assert not parts.exists(), "the shards are merged and removed"


def test_shards_of_another_corpus_are_refused(tmp_path: Path) -> None:
    output = tmp_path / "functions.parquet"
    parts = output.with_name(output.name + ".parts")
    parts.mkdir()
    (parts / "RUN").write_text("another run\n")
    with pytest.raises(C2CError, match="different run"):
        extract_to_parquet(CORPUS, output, CONFIG)
