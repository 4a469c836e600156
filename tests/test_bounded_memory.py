"""Extract and dedup at any corpus size: Parquet corpora read in bounded batches, dedup's
streaming path equal to the in-memory one whatever its batch sizes, its records on disk (and
gone after), provenance relative to the corpus, and corpus fingerprints that see in-place edits."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import polars as pl
import pytest
from case2code import C2CError, ExtractConfig, extract
from case2code.benchmarks import load_benchmarks
from case2code.corpus import RowBatch, parquet_batches
from case2code.dedup import DedupConfig, dedup, dedup_parquet
from case2code.extract import corpus_fingerprint, extract_to_parquet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benches"))
import dedup_mutations

local_executor = importlib.import_module("case2code.executors.local")
partitions = importlib.import_module("case2code.executors.partitions")

GOOD = "import math\n\ndef hyp(a, b):\n    s = a * a + b * b\n    return math.sqrt(s)\n"


def stack_table(path: Path, texts: list[str]) -> Path:
    """A Parquet corpus in The Stack's schema (a few of its columns)."""
    pl.DataFrame(
        {
            "hexsha": [f"{i:040x}" for i in range(len(texts))],
            "max_stars_repo_path": [f"src/m{i}.py" for i in range(len(texts))],
            "max_stars_repo_name": [f"org/repo{i % 3}" for i in range(len(texts))],
            "max_stars_repo_licenses": [["MIT"]] * len(texts),
            "content": texts,
            "size": [len(t) for t in texts],
        }
    ).write_parquet(path, row_group_size=50)
    return path


def test_a_compressed_table_is_read_in_batches_of_its_texts_size(tmp_path: Path) -> None:
    # 400 rows of near-identical text compress to a few KB: sized by the file, one batch
    # would hold them all.
    texts = [GOOD.replace("hyp", f"hyp{i}") for i in range(400)]
    path = stack_table(tmp_path / "stack.parquet", texts)
    batches = [b for b in parquet_batches(path, "content", batch_bytes=2_000)]
    assert all(isinstance(b, RowBatch) for b in batches)
    assert len(batches) >= sum(map(len, texts)) // 2_000 > 10
    assert max(b.text_bytes for b in batches) <= 2_000 + max(len(t) for t in texts)
    assert [r for b in batches for r in b.rows] == list(range(400))
    assert [t for b in batches for t in b.texts] == texts


def test_table_rows_name_their_table_and_keep_the_stacks_columns(tmp_path: Path) -> None:
    path = stack_table(tmp_path / "stack.parquet", [GOOD, "x = 1\n", GOOD.replace("hyp", "h2")])
    functions = extract(path).functions
    assert functions.select("name", "origin", "origin_corpus", "origin_row").rows() == [
        ("hyp", "stack.parquet", "stack.parquet", 0),
        ("h2", "stack.parquet", "stack.parquet", 2),
    ]
    assert functions["origin_max_stars_repo_path"].to_list() == ["src/m0.py", "src/m2.py"]
    assert functions["origin_max_stars_repo_name"].to_list() == ["org/repo0", "org/repo2"]
    assert functions["origin_max_stars_repo_licenses"].to_list() == [["MIT"], ["MIT"]]


def test_a_python_file_given_alone_is_its_own_corpus(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "geometry.py").write_text(GOOD)
    functions = extract(tmp_path / "pkg" / "geometry.py").functions
    assert functions.select("origin", "origin_corpus").rows() == [("geometry.py",) * 2]
    functions = extract(tmp_path).functions
    assert functions.select("origin", "origin_corpus").rows() == [
        ("pkg/geometry.py", tmp_path.name)
    ]


def test_streamed_extraction_writes_what_extract_returns(tmp_path: Path) -> None:
    texts = [GOOD.replace("hyp", f"hyp{i}") for i in range(120)]
    texts += ["def f(:\n", "def g(x):\n    yield x\n", "def nothing(x):\n    pass\n"] * 5
    corpus = [stack_table(tmp_path / "stack.parquet", texts)]
    whole = extract(corpus, ExtractConfig(batch_bytes=1_500))
    output, rejected = tmp_path / "functions.parquet", tmp_path / "rejected.parquet"
    summary = extract_to_parquet(
        corpus, output, ExtractConfig(batch_bytes=1_500), rejected=rejected, shard_bytes=4_000
    )
    assert pl.read_parquet(output).equals(whole.functions)
    assert pl.read_parquet(rejected).equals(whole.rejected)
    assert whole.rejected.height > 0
    assert summary.kept == whole.summary.kept == 120
    assert not output.with_name(output.name + ".parts").exists()


def test_stage_tables_are_written_in_small_row_groups(tmp_path: Path) -> None:
    """A reader decompresses a whole row group at once: polars' default would make groups of
    tens of thousands of functions, hundreds of MB for the next stage to hold."""
    pq = pytest.importorskip("pyarrow.parquet")
    texts = [GOOD.replace("hyp", f"hyp{i}") for i in range(25_000)]
    output, unique = tmp_path / "functions.parquet", tmp_path / "unique.parquet"
    extract_to_parquet([stack_table(tmp_path / "stack.parquet", texts)], output)
    dedup_parquet(output, unique, all_rows=tmp_path / "all.parquet")
    for table in (output, unique, tmp_path / "all.parquet"):
        meta = pq.ParquetFile(table).metadata
        assert meta.num_rows == 25_000 or table == unique
        assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= 10_000


@pytest.fixture(scope="module")
def functions_with_copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The functions of the stdlib's json and email packages, each with two mutated copies
    (near and exact duplicates), and a leaked HumanEval solution, as a functions table."""
    import random
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    base = extract([stdlib / "json", stdlib / "email"]).functions
    rows = base.select("function_id", "name", "source").rows()
    table = list(rows)
    for k, (function_id, name, source) in enumerate(rows):
        for copy in range(2):
            mutated, _ = dedup_mutations.mutate(source, random.Random(k * 2 + copy))
            table.append((f"{function_id}-{copy}", name, mutated))
    leaked = load_benchmarks(["humaneval"])[0].source.replace("    return False", "    return 0")
    table.append(("leak", "has_close_elements", leaked))
    random.Random(0).shuffle(table)
    path = tmp_path_factory.mktemp("dedup") / "functions.parquet"
    pl.DataFrame(table, schema=["function_id", "name", "source"], orient="row").write_parquet(path)
    return path


@pytest.mark.parametrize("keep", ["shortest", "first"])
@pytest.mark.parametrize("partition, summary_rows", [(16_384, 50_000), (7, 13), (64, 1)])
def test_dedup_streams_to_the_in_memory_answer(
    functions_with_copies: Path, tmp_path: Path, monkeypatch, keep, partition, summary_rows
) -> None:
    """However the table is cut (one partition, or partitions of 7 functions and the
    signatures read back 13 rows at a time), the streamed dedup writes what the in-memory one
    computes, and reports the same."""
    table = pl.read_parquet(functions_with_copies)
    expected = dedup(table, DedupConfig(keep=keep), against="humaneval")
    monkeypatch.setattr(local_executor, "partition_size", lambda step, size: partition)
    monkeypatch.setattr(partitions, "SUMMARY_BATCH_ROWS", summary_rows)
    config = DedupConfig(keep=keep)
    unique, everything = tmp_path / "unique.parquet", tmp_path / "all.parquet"
    report = dedup_parquet(
        functions_with_copies, unique, config, against="humaneval", all_rows=everything
    )
    assert pl.read_parquet(everything).equals(expected.functions)
    assert pl.read_parquet(unique).equals(expected.unique)
    assert report.as_dict() == expected.report.as_dict()
    assert report.removed["near"] > 0 and report.removed["exact"] > 0
    assert [hit["name"] for hit in report.contaminated] == ["has_close_elements"]
    assert not list(tmp_path.glob(".*parts*")), "the batch parts are removed"


def test_dedup_records_live_in_unnamed_temporary_files(
    functions_with_copies: Path, tmp_path: Path, monkeypatch
) -> None:
    records = tmp_path / "tmp"
    records.mkdir()
    monkeypatch.setenv("TMPDIR", str(records))
    dedup_parquet(functions_with_copies, tmp_path / "unique.parquet")
    assert list(records.iterdir()) == []
    monkeypatch.setenv("TMPDIR", str(tmp_path / "nowhere"))
    with pytest.raises(C2CError, match=r"cannot create dedup's record files in .*nowhere"):
        dedup_parquet(functions_with_copies, tmp_path / "unique.parquet")


def test_an_in_place_edit_of_the_same_size_changes_the_fingerprint(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    module = corpus / "geometry.py"
    module.write_text(GOOD)
    table = stack_table(tmp_path / "stack.parquet", [GOOD])
    first = corpus_fingerprint([corpus, table])
    assert corpus_fingerprint([corpus, table]) == first, "a rerun reads the same corpus"
    for path, old, new in [(module, "a * a", "b * b"), (table, b"org/", b"gro/")]:
        before = path.stat()
        content = path.read_bytes() if isinstance(old, bytes) else path.read_text()
        edited = content.replace(old, new)
        assert len(edited) == len(content) and edited != content
        if isinstance(edited, bytes):
            path.write_bytes(edited)
        else:
            path.write_text(edited)
        # Same size, and the modification time set back: only the ctime tells.
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_size == before.st_size
        assert corpus_fingerprint([corpus, table]) != first
        first = corpus_fingerprint([corpus, table])


def test_sorted_runs_merge_into_one_sorted_table_whatever_the_keys(
    tmp_path: Path, monkeypatch
) -> None:
    """Runs sorted by key, with hex digests, keys that are not hex and missing keys, merged in
    ranges of 300 rows: one table sorted by key, ties (and nulls) in run order, no row lost."""
    import hashlib

    from case2code import tables

    monkeypatch.setattr(tables, "MERGE_RANGE_ROWS", 300)
    runs = []
    for run in range(5):
        ids = [hashlib.sha256(f"{run}-{i}".encode()).hexdigest()[:32] for i in range(700)]
        ids += ["zz-not-hex", "ABC", None]
        frame = pl.DataFrame({"function_id": ids, "run": [run] * len(ids)})
        path = tmp_path / f"run-{run}.parquet"
        frame.sort("function_id", nulls_last=False).write_parquet(path, row_group_size=100)
        runs.append(path)
    tables.sink_sorted_runs(
        [pl.scan_parquet(p) for p in runs], tmp_path / "out.parquet", "function_id"
    )
    merged = pl.read_parquet(tmp_path / "out.parquet")
    expected = pl.concat([pl.read_parquet(p) for p in runs]).sort(
        "function_id", maintain_order=True, nulls_last=False
    )
    assert merged.equals(expected) and merged.height == 5 * 703
    assert not list(tmp_path.glob(".*ranges")), "the range pieces are removed"
