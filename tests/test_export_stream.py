"""The export streamed from a Parquet table (as `c2c run` and `c2c assemble` export) writes
what the export of the same rows held in memory writes: the same shard names (content digest),
the same JSON lines and card, the same rows in the Parquet shards; whatever the table's row
order and row groups, with functions dropped (the evaluation split), and leaving no scratch or
staged file behind (an interrupted export's are removed)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from case2code import C2CError
from case2code.assemble import AssembleConfig, assemble
from case2code.export import SCRATCH, STAGED, export
from hand_functions import INPUTS, SOURCE, run_hand_functions


@pytest.fixture(scope="module")
def samples() -> pl.DataFrame:
    functions, results = run_hand_functions(SOURCE, INPUTS)
    made = assemble(functions, results, AssembleConfig(seed=4, samples_per_function=3)).samples
    assert made["function_id"].n_unique() >= 3
    return made


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _same_export(streamed: Path, in_memory: Path) -> None:
    ours, theirs = _files(streamed), _files(in_memory)
    assert sorted(ours) == sorted(theirs)
    for name, data in theirs.items():
        if name.endswith(".parquet"):
            assert pl.read_parquet(streamed / name).equals(pl.read_parquet(in_memory / name))
        else:
            assert ours[name] == data, name


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("row_group", [2, 1000])
def test_streamed_export_is_the_in_memory_one(
    samples: pl.DataFrame, tmp_path: Path, shuffle: bool, row_group: int
) -> None:
    table = samples.sample(fraction=1.0, shuffle=True, seed=5) if shuffle else samples
    path = tmp_path / "samples.parquet"
    table.write_parquet(path, row_group_size=row_group)
    dropped = sorted(samples["function_id"].unique())[:1]
    streamed = export(path, tmp_path / "streamed", shard_rows=4, drop_functions=dropped)
    kept = samples.filter(~pl.col("function_id").is_in(dropped))
    in_memory = export(kept, tmp_path / "memory", shard_rows=4)
    assert streamed.rows == in_memory.rows == kept.height
    assert streamed.shards == in_memory.shards > 1
    _same_export(tmp_path / "streamed", tmp_path / "memory")
    leftovers = [p for p in (tmp_path / "streamed").rglob(".*")]
    assert not leftovers, leftovers


def test_an_interrupted_exports_files_are_removed(samples: pl.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "samples.parquet"
    samples.write_parquet(path)
    data = tmp_path / "out" / "data"
    data.mkdir(parents=True)
    stale = [data / f"{STAGED}00003.parquet", data / f"{SCRATCH}00000.parquet"]
    for file in stale:
        file.write_bytes(b"left by a killed export")
    export(path, tmp_path / "out")
    assert not [p for p in stale if p.exists()]
    assert {p.suffix for p in data.iterdir()} == {".parquet", ".jsonl"}


def test_dropping_every_function_is_an_error(samples: pl.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "samples.parquet"
    samples.write_parquet(path)
    everyone = samples["function_id"].unique().to_list()
    with pytest.raises(C2CError, match="no rows to export"):
        export(path, tmp_path / "out", drop_functions=everyone)
