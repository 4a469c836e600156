"""The export writes every shard a piece at a time: its memory does not grow with the samples
or with `shard_rows`, and what it writes does not depend on how the rows were cut up — a shard
of up to SHARD_ROW_GROUP_ROWS rows is byte for byte what `write_parquet` writes (as exports did
before), a bigger one is in row groups of that many rows, and the shard names (the content
digest), JSON lines and card are the same whatever the piece size."""

from __future__ import annotations

import hashlib
import importlib
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from case2code.export import export, training_layout

# The module (the package's `export` attribute is the function).
export_module = importlib.import_module("case2code.export")

CASE = pl.Struct({"input": pl.String, "output": pl.String, "is_error": pl.Boolean})
MESSAGE = pl.Struct({"role": pl.String, "content": pl.String})


def synthetic_samples(rows: int, answer_chars: int = 200, shuffled: bool = True) -> pl.DataFrame:
    """`rows` samples of 40 functions with every column export needs, answers of about
    `answer_chars` characters (some outside Latin-1, as real sources have); ids out of order
    when `shuffled`, else in order (as the pipeline's samples are)."""
    ids = [(i * 7919) % rows for i in range(rows)] if shuffled else list(range(rows))
    answers = [f"def f{i}(x):\n    return 'é→{i}' + x\n" + "#" * answer_chars for i in ids]
    prompts = [f"Write f{i}: f{i}('a') == 'é→{i}a'" for i in ids]
    case = lambda i: [{"input": f"('a{i}')", "output": f"'é→{i}a'", "is_error": False}]  # noqa: E731
    return pl.DataFrame(
        {
            "messages": [
                [{"role": "user", "content": p}, {"role": "assistant", "content": a}]
                for p, a in zip(prompts, answers, strict=True)
            ],
            "prompt": prompts,
            "completion": answers,
            "sample_id": [f"s{i:07d}" for i in ids],
            "function_id": [f"fn{i % 40:03d}" for i in ids],
            "name": [f"f{i}" for i in ids],
            "source": answers,
            "template_id": ["f:repr-sig-single"] * rows,
            "shown": [case(i) for i in ids],
            "held_out": [case(i + 1) for i in ids],
        },
        schema_overrides={"messages": pl.List(MESSAGE), "shown": pl.List(CASE)}
        | {"held_out": pl.List(CASE)},
    )


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _row_groups(path: Path) -> list[int]:
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


@pytest.mark.parametrize("piece_rows", [1, 3, 256])
def test_the_files_do_not_depend_on_the_piece_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece_rows: int
) -> None:
    samples = synthetic_samples(60)
    path = tmp_path / "samples.parquet"
    samples.write_parquet(path, row_group_size=7)
    reference = export(samples, tmp_path / "reference", shard_rows=25)
    monkeypatch.setattr(export_module, "PIECE_ROWS", piece_rows)
    monkeypatch.setattr(export_module, "SHARD_ROW_GROUP_ROWS", 10)
    streamed = export(path, tmp_path / "streamed", shard_rows=25)
    in_memory = export(samples, tmp_path / "memory", shard_rows=25)
    assert streamed.shards == in_memory.shards == reference.shards == 3
    assert _files(tmp_path / "streamed") == _files(tmp_path / "memory")
    ours, theirs = _files(tmp_path / "memory"), _files(tmp_path / "reference")
    assert sorted(ours) == sorted(theirs)  # the same names: the same digest
    assert {n: b for n, b in ours.items() if not n.endswith(".parquet")} == {
        n: b for n, b in theirs.items() if not n.endswith(".parquet")
    }
    ordered = training_layout(samples)
    shards = sorted((tmp_path / "memory" / "data").glob("*.parquet"))
    assert [_row_groups(p) for p in shards] == [[10, 10, 5], [10, 10, 5], [10]]
    assert pl.concat([pl.read_parquet(p) for p in shards]).equals(ordered)
    digest = hashlib.sha256(ordered.write_ndjson().encode()).hexdigest()[:16]
    assert digest in shards[0].name


def test_a_shard_of_one_row_group_is_what_write_parquet_writes(tmp_path: Path) -> None:
    samples = synthetic_samples(export_module.SHARD_ROW_GROUP_ROWS + 1)
    export(samples, tmp_path / "out", formats=["parquet"], shard_rows=600)
    shards = sorted((tmp_path / "out" / "data").glob("*.parquet"))
    ordered = training_layout(samples)
    for index, shard in enumerate(shards):
        expected = tmp_path / f"expected-{index}.parquet"
        ordered.slice(600 * index, 600).write_parquet(expected)
        assert shard.read_bytes() == expected.read_bytes()


# In a fresh process: how far its resident set rises above where it stood while exporting a
# Parquet table (the high-water mark reset first through /proc/self/clear_refs).
EXPORT_PEAK = """
import json, sys
from pathlib import Path
from case2code.export import export
def status(key):
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key))
    return int(line.split()[1]) / 1024
Path("/proc/self/clear_refs").write_text("5")
before = status("VmRSS:")
summary = export(sys.argv[1], sys.argv[2])
print(json.dumps({"rows": summary.rows, "mb": status("VmHWM:") - before}))
"""


def _export_peak_mb(samples: pl.DataFrame, folder: Path) -> float:
    folder.mkdir()
    samples.write_parquet(folder / "samples.parquet", row_group_size=256)
    command = [sys.executable, "-c", EXPORT_PEAK, "samples.parquet", "out"]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout)
    assert figures["rows"] == samples.height
    return figures["mb"]


def test_memory_does_not_grow_with_the_samples(tmp_path: Path) -> None:
    """2,000 then 8,000 samples in sample_id order of about 12 KB each (24 then 96 MB of
    answers, all in one shard): the export that held a shard rose 200 MB more for 4,000 than
    for 1,000 such samples; this one levels off by 2,000. (Samples out of order are sorted by
    polars, in memory.)"""
    small = _export_peak_mb(synthetic_samples(2_000, 4_000, shuffled=False), tmp_path / "small")
    large = _export_peak_mb(synthetic_samples(8_000, 4_000, shuffled=False), tmp_path / "large")
    # 72 MB more answers: an export holding its shard grows by several times that; a streamed
    # one by a fraction (about 25 MB on current polars, 37 MB on its 1.34 floor).
    assert large - small < 0.6 * 72, (small, large)
