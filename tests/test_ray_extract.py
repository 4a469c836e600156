"""Extraction on Ray Data (executors/ray_extract.py), on a local Ray of 2 CPUs: a corpus of
Python files, a Parquet table in The Stack's schema (cut into several partitions by its row
groups), a JSONL file and a damaged table gives `extract_to_parquet`'s functions table row for
row (origins, row numbers and The Stack's columns included) and its figures; an interrupted run
resumes computing only the partitions without a shard; `c2c run` on Ray extracts the local
table. Skipped when Ray is not installed (`pip install 'case2code[ray]'`)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from case2code.corpus import FileBatch
from case2code.errors import C2CError
from case2code.executors.ray import RayExecutor
from case2code.executors.ray_extract import Part, RowGroupsPart, SourcesPart, TablePart, plan_parts
from case2code.extract import ExtractConfig, ExtractSummary, _corpus, extract_to_parquet
from case2code.pipeline import Pipeline
from case2code.run_config import RunConfig

HAS_RAY = importlib.util.find_spec("ray") is not None
pytestmark = pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed: pip install ray[data]")

MODULES = ("colorsys.py", "textwrap.py", "bisect.py", "heapq.py", "fnmatch.py", "base64.py")
TABLE_MODULES = ("statistics.py", "gettext.py", "quopri.py", "posixpath.py", "shlex.py")
# Small batches and partitions: the corpus (about 400 KB) makes a dozen partitions.
CONFIG = ExtractConfig(batch_bytes=20_000)
SHARD_BYTES = 60_000
TIMING = ("seconds", "mb_per_s", "functions_per_s")


def stack_table(path: Path, texts: list[str | None]) -> Path:
    """A Parquet corpus in The Stack's schema (a few of its columns), 3 rows a row group."""
    pl.DataFrame(
        {
            "hexsha": [f"{i:040x}" for i in range(len(texts))],
            "max_stars_repo_path": [f"src/m{i}.py" for i in range(len(texts))],
            "max_stars_repo_name": [f"org/repo{i % 3}" for i in range(len(texts))],
            "max_stars_repo_licenses": [["MIT"]] * len(texts),
            "content": texts,
        }
    ).write_parquet(path, row_group_size=3)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, stdlib_dir: Path) -> list[Path]:
    """A folder of stdlib files (one in a subfolder); a Stack table whose modules repeat (exact
    copies: rows sharing a function id, kept in corpus order) with a null text; a JSONL file
    with a bad line; a damaged Parquet file."""
    root = tmp_path_factory.mktemp("corpus")
    folder = root / "lib"
    (folder / "sub").mkdir(parents=True)
    for module in MODULES:
        shutil.copy(stdlib_dir / module, folder / module)
    shutil.copy(stdlib_dir / "calendar.py", folder / "sub" / "calendar.py")
    texts: list[str | None] = [(stdlib_dir / m).read_text() for m in TABLE_MODULES] * 2
    texts.insert(4, None)
    table = stack_table(root / "stack.parquet", texts)
    lines = [json.dumps({"content": (stdlib_dir / "colorsys.py").read_text(), "path": "c.py"})]
    lines += ["{not json", json.dumps({"content": (stdlib_dir / "bisect.py").read_text()})]
    jsonl = root / "rows.jsonl"
    jsonl.write_text("\n".join(lines) + "\n")
    broken = root / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not a Parquet file")
    return [folder, table, jsonl, broken]


@pytest.fixture(scope="module")
def local(corpus, tmp_path_factory) -> tuple[Path, Path, ExtractSummary]:
    out = tmp_path_factory.mktemp("local")
    functions, rejected = out / "functions.parquet", out / "rejected.parquet"
    summary = extract_to_parquet(
        corpus, functions, CONFIG, rejected=rejected, shard_bytes=SHARD_BYTES
    )
    return functions, rejected, summary


def ray_extract(
    corpus: list[Path], out: Path, progress: Any = None, **options: Any
) -> ExtractSummary:
    return RayExecutor().extract(
        corpus,
        out / "functions.parquet",
        CONFIG,
        rejected=out / "rejected.parquet",
        shard_bytes=SHARD_BYTES,
        progress=progress,
        **options,
    )


def plan(corpus: list[Path]) -> list[Part]:
    return plan_parts(_corpus(corpus, CONFIG), CONFIG, SHARD_BYTES)


def figures(summary: ExtractSummary) -> dict[str, Any]:
    return {k: v for k, v in summary.as_dict().items() if k not in TIMING}


def test_the_corpus_is_cut_into_partitions_of_files_row_groups_and_tables(corpus) -> None:
    parts = plan(corpus)
    kinds = [type(part).__name__ for part in parts]
    assert kinds[0] == kinds[1] == "SourcesPart" and kinds[-1] == "TablePart"
    files = [
        path
        for part in parts[1:]
        if isinstance(part, SourcesPart)
        for b in part.batches
        for path in (b.paths if isinstance(b, FileBatch) else [])
    ]
    assert len(files) == len(MODULES) + 1
    first = parts[0]
    assert isinstance(first, SourcesPart)
    assert [(b.origin, b.reason) for b in first.batches] == [(str(corpus[3]), "unreadable")]
    slices = [part for part in parts if isinstance(part, RowGroupsPart)]
    assert len(slices) >= 3  # the Stack table, cut between row groups
    assert [p.start for p in slices] == [0, *(p.start + p.rows for p in slices[:-1])]
    assert all(p.start % 3 == 0 for p in slices) and sum(p.rows for p in slices) == 11
    assert isinstance(parts[-1], TablePart) and parts[-1].path.endswith("rows.jsonl")


def test_ray_extraction_gives_the_local_table_and_figures(ray_address, corpus, local, tmp_path):
    functions, rejected, summary = local
    on_ray = ray_extract(corpus, tmp_path)
    expected = pl.read_parquet(functions)
    table = pl.read_parquet(tmp_path / "functions.parquet")
    assert table.equals(expected) and table.schema == expected.schema  # row for row, in order
    assert figures(on_ray) == figures(summary)
    assert summary.skipped == {"unreadable": 1, "bad_row": 2} and summary.kept > 50
    copies = expected.filter(pl.col("function_id").is_duplicated())
    assert copies.height > 0  # ties: exact copies from the table's repeated rows
    rows = table.filter(pl.col("origin") == "stack.parquet")
    names = {row: rows.filter(pl.col("origin_row") == row)["name"].sort() for row in (0, 6)}
    assert names[0].len() > 0 and names[0].equals(names[6])  # row 6: row 0's copy, after the null
    assert set(rows["origin_max_stars_repo_path"]) <= {f"src/m{i}.py" for i in range(11)}
    sort = ["origin", "origin_row", "line", "name", "reason"]
    assert (
        pl.read_parquet(tmp_path / "rejected.parquet")
        .sort(sort)
        .equals(pl.read_parquet(rejected).sort(sort))
    )
    assert not (tmp_path / "functions.parquet.ray.parts").exists()


class Interrupted(Exception):
    pass


def test_an_interrupted_ray_extraction_resumes_its_missing_partitions(
    ray_address, corpus, local, tmp_path
) -> None:
    parts = plan(corpus)
    calls: list[int] = []

    def stop_after_three(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 4:  # the start, then three partitions stored
            raise Interrupted

    with pytest.raises(Interrupted):
        ray_extract(corpus, tmp_path, stop_after_three)
    shards = sorted((tmp_path / "functions.parquet.ray.parts").glob("part-*.parquet"))
    assert len(shards) == 3
    resumed: list[int] = []
    summary = ray_extract(corpus, tmp_path, lambda done, total: resumed.append(done))
    stored = [int(path.stem.split("-")[1]) for path in shards]
    assert resumed[0] == sum(parts[i].bytes for i in stored) > 0  # counted, not recomputed
    assert len(resumed) == 1 + len(parts) - 3  # one call per partition computed
    assert pl.read_parquet(tmp_path / "functions.parquet").equals(pl.read_parquet(local[0]))
    assert figures(summary) == figures(local[2])


# A driver extracting on the test's Ray cluster, slowed after each stored partition so that
# the kill comes mid-run: argv = output, Ray address, corpus paths.
VICTIM = """
import sys, time
from case2code.executors.ray import RayExecutor
from case2code.extract import ExtractConfig
output, address, *corpus = sys.argv[1:]
RayExecutor(address=address).extract(
    corpus, output, ExtractConfig(batch_bytes=20_000), shard_bytes=60_000,
    progress=lambda done, total: time.sleep(0.5),
)
"""


def test_a_killed_ray_extraction_resumes_to_the_local_table(
    ray_address, corpus, local, tmp_path
) -> None:
    output = tmp_path / "functions.parquet"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", VICTIM, str(output), ray_address, *map(str, corpus)]
    victim = subprocess.Popen(command, start_new_session=True, env=env)
    parts = tmp_path / "functions.parquet.ray.parts"
    deadline = time.monotonic() + 300
    while len(list(parts.glob("part-*.parquet"))) < 2 and time.monotonic() < deadline:
        assert victim.poll() is None, "the Ray run ended before it was killed"
        time.sleep(0.02)
    os.killpg(victim.pid, signal.SIGKILL)  # the driver, mid-run; Ray ends its actors
    victim.wait()
    finished = len(list(parts.glob("part-*.parquet")))
    assert finished >= 2 and not output.exists(), "killed mid-run"
    calls: list[int] = []
    summary = RayExecutor(address=ray_address).extract(
        corpus, output, CONFIG, shard_bytes=SHARD_BYTES, progress=lambda d, t: calls.append(d)
    )
    assert len(calls) == 1 + len(plan(corpus)) - finished  # only the missing ones computed
    assert pl.read_parquet(output).equals(pl.read_parquet(local[0]))
    assert figures(summary) == figures(local[2])


def test_settings_the_extractor_refuses_stop_it_before_any_work(corpus, tmp_path) -> None:
    config = ExtractConfig(lists={"stdlib_modules": [], "colours": ["red"]})
    with pytest.raises(C2CError) as local_error:
        extract_to_parquet(corpus, tmp_path / "local.parquet", config)
    with pytest.raises(C2CError) as ray_error:
        RayExecutor().extract(corpus, tmp_path / "ray.parquet", config)
    assert str(ray_error.value) == str(local_error.value)


def test_c2c_run_on_ray_extracts_the_local_table(ray_address, corpus, tmp_path) -> None:
    tables, markers = {}, {}
    for executor in ("local", "ray"):
        config = RunConfig(
            out=tmp_path / executor,
            corpus=tuple(str(path) for path in corpus[:2]),
            executor=executor,
            until="extract",
        )
        Pipeline(config).run()
        stage = tmp_path / executor / "stages" / "extract"
        tables[executor] = pl.read_parquet(stage / "functions.parquet")
        markers[executor] = json.loads((stage / "stage.json").read_text())
    assert tables["ray"].equals(tables["local"]) and tables["ray"].height > 50
    ray, local = markers["ray"], markers["local"]
    assert ray["fingerprint"] == local["fingerprint"]  # the executor is no setting of the stage
    assert (ray["rows_in"], ray["rows_out"]) == (local["rows_in"], local["rows_out"])
    assert {k: v for k, v in ray["figures"].items() if k not in TIMING} == {
        k: v for k, v in local["figures"].items() if k not in TIMING
    }
    digests = [{p: f["sha256"] for p, f in m["outputs"].items()} for m in (ray, local)]
    assert digests[0] == digests[1]  # the table byte for byte
