"""The export stage on samples made for real (extract, sandbox execute, assemble): sharded
Parquet and JSONL that polars and Hugging Face `datasets` load, a dataset card with the counts,
and byte-identical re-exports."""

from __future__ import annotations

import hashlib
from pathlib import Path

import datasets
import hand_functions
import polars as pl
import pytest
from case2code import C2CError
from case2code.assemble import AssembleConfig, AssembleResult, assemble
from case2code.export import SHARD_NAME, export, template_tokens, training_layout
from hand_functions import run_hand_functions

SOURCE = (
    hand_functions.SOURCE
    + """
def always_one(x):
    return 1
"""
)
INPUTS = {**hand_functions.INPUTS, "always_one": ["(1)", "(2)", "('a')", "([])", "(None)", "(3.5)"]}
KEPT = {"clamp", "initials", "digit_sum"}
PER_FUNCTION = 3


@pytest.fixture(scope="module")
def assembled() -> AssembleResult:
    functions, results = run_hand_functions(SOURCE, INPUTS)
    functions = functions.with_columns(licence=pl.lit("MIT"))
    result = assemble(functions, results, AssembleConfig(seed=3, samples_per_function=PER_FUNCTION))
    assert set(result.samples["name"]) == KEPT
    return result


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep `datasets` off the network and its cache in tmp."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _digest(samples: pl.DataFrame) -> str:
    """What names the shards: SHA-256 over the rows, in training layout, as JSON lines."""
    return hashlib.sha256(training_layout(samples).write_ndjson().encode()).hexdigest()[:16]


def test_writes_shards_and_card(assembled: AssembleResult, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = export(assembled.samples, out, report=assembled.report)
    digest = _digest(assembled.samples)
    assert sorted(_files(out)) == [
        "README.md",
        f"data/train-00000-of-00001-{digest}.jsonl",
        f"data/train-00000-of-00001-{digest}.parquet",
    ]
    assert all(SHARD_NAME.fullmatch(path.name) for path in summary.files)
    assert summary.rows == assembled.samples.height == PER_FUNCTION * len(KEPT)
    assert summary.shards == 1 and summary.card == out / "README.md"
    assert not list(out.rglob("*.tmp"))


def test_parquet_and_jsonl_hold_the_same_rows(assembled: AssembleResult, tmp_path: Path) -> None:
    export(assembled.samples, tmp_path)
    parquet = pl.read_parquet(tmp_path / "data" / "*.parquet")
    [jsonl_path] = (tmp_path / "data").glob("*.jsonl")
    jsonl = pl.read_ndjson(jsonl_path, schema=parquet.schema)
    assert parquet.equals(jsonl)
    assert parquet.columns[:3] == ["messages", "prompt", "completion"]
    assert {"licence", "origin", "shown", "held_out", "template_id"} <= set(parquet.columns)
    assert parquet["sample_id"].to_list() == sorted(assembled.samples["sample_id"])
    expected = assembled.samples.sort("sample_id").select(parquet.columns)
    assert parquet.equals(expected)


def test_loads_with_datasets(assembled: AssembleResult, tmp_path: Path, offline: None) -> None:
    out = tmp_path / "out"
    export(assembled.samples, out, shard_rows=4)
    rows = assembled.samples.height
    by_glob = datasets.load_dataset(
        "parquet", data_files=str(out / "data" / "*.parquet"), split="train"
    )
    by_card = datasets.load_dataset(str(out))
    assert list(by_card) == ["train"]  # the card's configs pick the Parquet shards only
    for dataset in (by_glob, by_card["train"]):
        assert dataset.num_rows == rows
        assert dataset.column_names[:3] == ["messages", "prompt", "completion"]
        first = dataset[0]
        assert all(set(m) == {"role", "content"} for m in first["messages"])
        assert first["messages"][-1] == {"role": "assistant", "content": first["completion"]}
        assert all(set(case) == {"input", "output", "is_error"} for case in first["shown"])
    assert sorted(by_card["train"]["sample_id"]) == sorted(assembled.samples["sample_id"])


def test_a_fresh_load_after_every_export_gives_its_rows(
    assembled: AssembleResult, tmp_path: Path, offline: None
) -> None:
    """One `datasets` cache for the whole test, as a user has: re-exports into one folder, and a
    folder of the same name elsewhere, each load their own rows (they used to get the first
    export's rows from the cache: its key was the card and the folder's name)."""
    samples = assembled.samples.sort("sample_id")
    exports = [samples, samples.head(4), samples.tail(4), samples]
    out = tmp_path / "a" / "dataset"
    for rows in exports:
        export(rows, out)
        loaded = datasets.load_dataset(str(out), split="train")
        assert loaded["sample_id"] == rows["sample_id"].to_list()
        assert loaded["prompt"] == rows["prompt"].to_list()
    # Same number of rows, other content: a namesake folder elsewhere.
    other = samples.with_columns(pl.col("prompt") + " (again)").head(4)
    namesake = tmp_path / "b" / "dataset"
    export(other, namesake)
    loaded = datasets.load_dataset(str(namesake), split="train")
    assert loaded["prompt"] == other["prompt"].to_list()
    assert datasets.load_dataset(str(out), split="train")["prompt"] == samples["prompt"].to_list()


def test_card_has_front_matter_and_counts(assembled: AssembleResult, tmp_path: Path) -> None:
    export(assembled.samples, tmp_path, report=assembled.report)
    card = (tmp_path / "README.md").read_text()
    front, body = card.split("---\n", 2)[1:]
    assert "configs:\n- config_name: default\n  data_files:\n  - split: train\n" in front
    assert f"    path: data/train-*-{_digest(assembled.samples)}.parquet\n" in front
    assert f"- Samples: {PER_FUNCTION * len(KEPT)}\n" in body
    assert f"- Functions: {len(KEPT)}\n" in body
    shown = assembled.samples["shown"].list.len()
    assert (
        f"| shown cases per sample | {shown.mean():.1f} | {shown.min()} | {shown.max()} |" in body
    )
    assert "held-out cases per sample" in body and "answer length" in body
    formats = {t[2:] for t in template_tokens(assembled.samples["template_id"]) if t[:2] == "f:"}
    assert formats and all(f"| {name} |" in body for name in formats)
    assert assembled.report["dropped"] == {"constant_output": 1}
    assert "| constant_output | 1 |" in body
    assert "Unstable cases: 0. Their output changed when the sandbox ran them again" in body
    assert (
        "Case2Code: Scalable Synthetic Data for Code Generation" in body and "COLING 2025" in body
    )


def test_card_gives_the_coverage_of_the_samples(assembled: AssembleResult, tmp_path: Path) -> None:
    export(assembled.samples, tmp_path, report=assembled.report)
    body = (tmp_path / "README.md").read_text()
    coverage = assembled.samples["coverage"].struct.unnest()
    assert coverage["line_coverage"].null_count() == 0, "the hand functions ran traced"
    shown = coverage["shown_branch_coverage"].drop_nulls()
    assert f"| branch coverage of the shown cases | {shown.mean():.1%} | {shown.len()} |" in body
    every = coverage["line_coverage"]
    assert f"| line coverage of all cases | {every.mean():.1%} | {every.len()} |" in body
    inferable = coverage["held_out_inferable"].mean()
    assert f"held-out cases take only branches a shown case took: {inferable:.1%}." in body


def test_reexport_is_identical(assembled: AssembleResult, tmp_path: Path) -> None:
    export(assembled.samples, tmp_path, report=assembled.report)
    before = _files(tmp_path)
    shuffled = assembled.samples.sample(fraction=1.0, shuffle=True, seed=7)
    export(shuffled, tmp_path, report=assembled.report)
    assert _files(tmp_path) == before


def test_small_shards(assembled: AssembleResult, tmp_path: Path) -> None:
    rows = assembled.samples.height
    export(assembled.samples, tmp_path, formats=("parquet",), shard_rows=2)
    count = -(-rows // 2)
    names = sorted(p.name for p in (tmp_path / "data").iterdir())
    digest = _digest(assembled.samples)
    assert names == [f"train-{i:05d}-of-{count:05d}-{digest}.parquet" for i in range(count)]
    assert pl.read_parquet(tmp_path / "data" / "*.parquet")["sample_id"].is_sorted()
    # A later export with another shard count leaves no stale shards behind, nor the
    # digest-less shards of exports made before shard names carried a digest.
    (tmp_path / "data" / "train-00000-of-00001.parquet").write_bytes(b"old")
    export(assembled.samples, tmp_path, formats=("parquet",))
    digest = _digest(assembled.samples)
    assert [p.name for p in (tmp_path / "data").iterdir()] == [
        f"train-00000-of-00001-{digest}.parquet"
    ]
    assert f"path: data/train-*-{digest}.parquet" in (tmp_path / "README.md").read_text()


def test_jsonl_only_card_points_at_jsonl(assembled: AssembleResult, tmp_path: Path) -> None:
    export(assembled.samples, tmp_path, formats=("jsonl",))
    digest = _digest(assembled.samples)
    assert f"    path: data/train-*-{digest}.jsonl\n" in (tmp_path / "README.md").read_text()
    assert not list(tmp_path.rglob("*.parquet"))


def test_bad_input_is_a_clear_error(assembled: AssembleResult, tmp_path: Path) -> None:
    with pytest.raises(C2CError, match="no rows"):
        export(assembled.samples.clear(), tmp_path)
    with pytest.raises(C2CError, match="missing column"):
        export(assembled.samples.drop("messages"), tmp_path)
    with pytest.raises(C2CError, match="formats"):
        export(assembled.samples, tmp_path, formats=("csv",))
    with pytest.raises(C2CError, match="shard_rows"):
        export(assembled.samples, tmp_path, shard_rows=0)
    assert not list(tmp_path.iterdir())
