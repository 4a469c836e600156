"""`c2c run` end to end on a real corpus (a dozen stdlib modules): the dataset loads with polars
and `datasets`, every answer reproduces its cases in the sandbox, a run killed with SIGKILL, stopped
by Ctrl-C or by a full disk in the middle of a stage resumes to the same dataset, finished stages
are not redone (nor their figures rewritten), and the run folder is the same run from any
working directory."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import datasets
import polars as pl
import pytest
from case2code.atomic import file_mode
from case2code.dedup import dedup
from case2code.evalsplit import read_eval_split
from case2code.pipeline import RUN_FILES, STAGES, Pipeline
from case2code.run_config import RunConfig, load_config
from faults import c2c, error_line, mounted_tmpfs

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODULES = (
    "colorsys.py",
    "heapq.py",
    "statistics.py",
    "fnmatch.py",
    "base64.py",
    "quopri.py",
    "difflib.py",
    "calendar.py",
    "stringprep.py",
    "bisect.py",
    "html/__init__.py",
    "operator.py",
)
FENCE = re.compile(r"```python\n(.*)```\s*$", re.DOTALL)
# Small shards so a kill lands between shards of a stage; a share that holds some functions out.
CONFIG = """
[run]
out = "run"
shard_functions = 2
workers = 2
eval_share = 0.1

[corpus]
paths = ["{corpus}"]

[inputs]
n_inputs = 6
rounds = 2

[export]
shard_rows = 40
"""


def copy_modules(root: Path) -> Path:
    """A small real corpus: MODULES of this interpreter's standard library, copied flat."""
    for module in MODULES:
        shutil.copy(STDLIB / module, root / module.replace("/", "_"))
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy for every run: function origins name their file, so runs must share it."""
    return copy_modules(tmp_path_factory.mktemp("corpus"))


def _config(root: Path, corpus: Path) -> Path:
    (root / "run.toml").write_text(CONFIG.replace("{corpus}", str(corpus)))
    return root / "run.toml"


def _outputs(out: Path) -> dict[str, bytes]:
    """The files a user takes away: the dataset and the evaluation split."""
    names = [*sorted((out / "dataset").rglob("*")), out / "eval" / "case2code-eval.jsonl"]
    return {str(p.relative_to(out)): p.read_bytes() for p in names if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Pipeline:
    config = load_config(_config(tmp_path_factory.mktemp("whole"), corpus))
    pipeline = Pipeline(config)
    pipeline.run()
    return pipeline


def test_every_stage_ran_and_wrote_its_table(finished: Pipeline) -> None:
    assert [finished.records[name].status for name in STAGES] == ["ran"] * len(STAGES)
    extract, dedup_, inputs, execute, assemble, export = (finished.records[s] for s in STAGES)
    assert extract.rows_in == len(MODULES) and extract.rows_out >= 60
    assert dedup_.rows_in == extract.rows_out >= dedup_.rows_out > 0
    assert inputs.rows_in == dedup_.rows_out >= execute.rows_in > 0
    assert assemble.rows_out == export.rows_in > export.rows_out > 0
    for path in (finished.table("extract"), finished.table("dedup"), finished.table("execute")):
        assert path.is_file()
    assert not list(finished.out.rglob("*.parts")), "shard folders are cleaned up"
    assert not list(finished.out.rglob("*.tmp")), "no half-written file is left"


def test_dataset_loads_with_polars_and_datasets(finished: Pipeline, tmp_path: Path) -> None:
    parquet = pl.read_parquet(finished.dataset_dir / "data" / "*.parquet")
    jsonl = pl.read_ndjson(list((finished.dataset_dir / "data").glob("*.jsonl")))
    assert parquet.height == jsonl.height == finished.records["export"].rows_out
    assert sorted(parquet["sample_id"]) == sorted(jsonl["sample_id"])
    assert len(list((finished.dataset_dir / "data").glob("*.parquet"))) > 1, "sharded"
    # A fresh cache: `datasets` would reuse the table it cached for an earlier run's same path.
    loaded = datasets.load_dataset(
        str(finished.dataset_dir), split="train", cache_dir=str(tmp_path / "hf")
    )
    assert loaded.num_rows == parquet.height
    assert {"messages", "prompt", "completion", "shown", "held_out"} <= set(loaded.column_names)
    roles = [m["role"] for m in loaded[0]["messages"]]
    assert roles[-1] == "assistant" and "user" in roles


def test_every_answer_reproduces_its_cases_in_the_sandbox(finished: Pipeline, sandbox) -> None:
    samples = pl.read_parquet(finished.dataset_dir / "data" / "*.parquet")
    calls, expected = [], []
    for row in samples.iter_rows(named=True):
        match = FENCE.match(row["completion"])
        source = match.group(1) if match else row["completion"]
        cases = row["shown"] + row["held_out"]
        assert len(row["shown"]) >= 3 and row["held_out"]
        calls.append((source, row["name"], [c["input"] for c in cases]))
        expected.append([c["output"] for c in cases])
    got = [[r.paper_output for r in results] for results in sandbox.run(calls)]
    assert got == expected


def test_eval_split_is_held_out_and_far_from_training(finished: Pipeline) -> None:
    records = read_eval_split(finished.eval_path)
    assert records, "eval_share 0.1 holds some functions out"
    eval_ids = {r["function_id"] for r in records}
    train = pl.read_parquet(finished.dataset_dir / "data" / "*.parquet")
    assert not eval_ids & set(train["function_id"]), "no evaluation function is trained on"
    # Near-dedup the evaluation functions against the training ones: none is contaminated.
    checked = dedup(
        pl.DataFrame({"function_id": sorted(eval_ids), "source": [r["code"] for r in records]}),
        against=train["source"].unique().to_list(),
    )
    assert checked.report.removed.get("contaminated", 0) == 0


def test_report_and_figures_are_written(finished: Pipeline) -> None:
    for name in ("report.md", "report.html", "run.json"):
        assert (finished.out / name).is_file()
    markdown = (finished.out / "report.md").read_text()
    for stage in STAGES:
        assert stage in markdown


def test_a_finished_run_is_not_redone(finished: Pipeline) -> None:
    before = _outputs(finished.out)
    again = Pipeline(finished.config)
    again.run()
    assert {again.records[name].status for name in STAGES} == {"cached"}
    assert _outputs(finished.out) == before


def test_a_changed_setting_reruns_only_its_stage_and_later(finished: Pipeline, tmp_path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(finished.out, out)
    assemble = dataclasses.replace(finished.config.assemble, seed=7)
    config = dataclasses.replace(finished.config, out=out, assemble=assemble)
    changed = Pipeline(config)
    changed.run()
    statuses = [changed.records[name].status for name in STAGES]
    assert statuses == ["cached"] * 4 + ["ran", "ran"]


def _wait_for(path_glob: str, root: Path, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(root.glob(path_glob)):
            return
        if process.poll() is not None:
            pytest.fail(f"the run ended before {path_glob} appeared: {process.stderr.read()}")
        time.sleep(0.05)
    pytest.fail(f"{path_glob} did not appear in {timeout} s")


def _start(config: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, "-m", "case2code", "run", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # the sandbox's worker processes die with it
    )


def _kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_sigkill_mid_stage_then_restart_gives_the_same_dataset(
    finished: Pipeline, corpus: Path, tmp_path: Path
) -> None:
    config = _config(tmp_path, corpus)
    out = tmp_path / "run"
    # Killed once in the middle of the inputs stage, once in the middle of execute.
    for stage, shard in (("inputs", "inputs.parquet"), ("execute", "results.parquet")):
        process = _start(config)
        _wait_for(f"stages/{stage}/{shard}.parts/part-00001.parquet", out, process, 300)
        _kill(process)
        assert not (out / "stages" / stage / "stage.json").exists(), "killed mid-stage"
    resumed = Pipeline(load_config(config))
    resumed.run()
    assert resumed.records["extract"].status == "cached"
    assert resumed.records["inputs"].status == "cached"
    assert resumed.records["execute"].status == "ran"
    assert _outputs(out) == _outputs(finished.out)


def test_config_file_lists_the_defaults() -> None:
    docs = Path(__file__).parent.parent / "docs" / "run.toml"
    config = load_config(docs)
    assert config == dataclasses.replace(RunConfig(), out=docs.parent / "c2c-run")


def test_a_humaneval_solution_in_the_corpus_is_removed_and_reported(tmp_path: Path) -> None:
    from case2code.benchmarks import load_benchmark

    leaked = next(t for t in load_benchmark("humaneval") if t.task_id == "HumanEval/5")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(STDLIB / "colorsys.py", corpus / "colorsys.py")
    (corpus / "leaked.py").write_text(leaked.source)
    config = RunConfig(out=tmp_path / "run", corpus=(str(corpus),), eval_share=0.0, workers=2)
    pipeline = Pipeline(config)
    summary = pipeline.run()
    extracted = pl.read_parquet(pipeline.table("extract"))
    assert "intersperse" in set(extracted["name"]), "the leaked function was extracted"
    [hit] = summary["contaminated"]
    assert (hit["name"], hit["benchmark"], hit["task_id"]) == (
        "intersperse",
        "humaneval",
        "HumanEval/5",
    )
    assert "intersperse" not in set(pl.read_parquet(pipeline.table("dedup"))["name"])
    train = pl.read_parquet(pipeline.dataset_dir / "data" / "*.parquet")
    assert "intersperse" not in set(train["name"]) and train.height > 0
    assert "HumanEval/5" in (pipeline.out / "report.md").read_text()


def test_a_changed_corpus_is_extracted_again(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(STDLIB / "colorsys.py", corpus / "colorsys.py")
    config = RunConfig(out=tmp_path / "run", corpus=(str(corpus),), eval_share=0.0, workers=2)
    Pipeline(config).run()
    shutil.copy(STDLIB / "bisect.py", corpus / "bisect.py")
    again = Pipeline(config)
    again.run()
    assert again.records["extract"].status == "ran"
    names = set(pl.read_parquet(again.table("extract"))["name"])
    assert {"bisect_left", "rgb_to_hsv"} <= names


def _interrupt(process: subprocess.Popen) -> str:
    """Ctrl-C as a terminal sends it: SIGINT to the whole process group; returns stderr."""
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    return stderr


def test_sigint_mid_inputs_says_how_to_resume_and_the_rerun_equals_a_clean_run(
    finished: Pipeline, corpus: Path, tmp_path: Path
) -> None:
    config = _config(tmp_path, corpus)
    out = tmp_path / "run"
    parts = out / "stages" / "inputs" / "inputs.parquet.parts"
    process = _start(config)
    _wait_for("stages/inputs/inputs.parquet.parts/part-00001.parquet", out, process, 300)
    stderr = _interrupt(process)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    said = [line for line in stderr.splitlines() if line.startswith("interrupted: ")]
    assert said == [
        "interrupted: rerun the same command to resume: finished stages and shards are kept"
    ]
    assert (parts / "part-00001.parquet").is_file(), "finished shards are kept"
    assert not (out / "stages" / "inputs" / "stage.json").exists(), "interrupted mid-stage"
    assert not list(out.rglob("*.tmp"))
    rerun = c2c("run", config)
    assert rerun.returncode == 0, rerun.stderr
    assert _outputs(out) == _outputs(finished.out)


def _fill(path: Path) -> None:
    """Write zeros to `path` until the disk is full."""
    with contextlib.suppress(OSError), path.open("wb") as handle:
        while True:
            handle.write(b"\0" * (1 << 20))
            handle.flush()


def test_a_disk_that_fills_mid_run_is_one_error_and_the_rerun_equals_a_clean_run(
    finished: Pipeline, corpus: Path, tmp_path: Path
) -> None:
    """A real 64 MiB tmpfs holds the run folder; another writer fills it mid-inputs."""
    with mounted_tmpfs(tmp_path / "disk", "64m") as disk:
        config = _config(disk, corpus)
        out = disk / "run"
        process = _start(config)
        _wait_for("stages/inputs/inputs.parquet.parts/part-00001.parquet", out, process, 300)
        _fill(disk / "filler")
        _, stderr = process.communicate(timeout=300)
        failed = subprocess.CompletedProcess(process.args, process.returncode, "", stderr)
        line = error_line(failed, "No space left on device", out / "stages")
        assert line.endswith("(free some space and rerun)")
        assert not list(out.rglob("*.tmp")), "nothing half-written"
        for table in out.rglob("*.parquet"):
            pl.read_parquet(table)  # every file there is whole
        (disk / "filler").unlink()
        rerun = c2c("run", config)
        assert rerun.returncode == 0, rerun.stderr
        assert _outputs(out) == _outputs(finished.out)


def test_a_cached_rerun_keeps_the_run_figures(finished: Pipeline, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(finished.out, out)
    before = {name: (out / name).read_bytes() for name in RUN_FILES}
    again = Pipeline(dataclasses.replace(finished.config, out=out))
    summary = again.run()
    assert {record.status for record in again.records.values()} == {"cached"}
    assert {name: (out / name).read_bytes() for name in RUN_FILES} == before
    recorded = json.loads(before["run.json"])
    assert summary["seconds"] == recorded["seconds"] > 0.5, "the time of the run that did it"
    assert "Total time: 0.0 s" not in (out / "report.md").read_text()


def test_written_files_have_the_umask_mode(finished: Pipeline) -> None:
    files = [p for p in finished.out.rglob("*") if p.is_file()]
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(file_mode())}


RELATIVE_CONFIG = """
[run]
out = "run"
workers = 2
eval_share = 0.0

[corpus]
paths = ["corpus"]

[inputs]
n_inputs = 6
rounds = 2
"""


def test_a_run_started_from_another_folder_finds_every_stage_cached(tmp_path: Path) -> None:
    """Relative paths in a TOML file are taken from the file's folder; on the command line,
    from the current folder. Either way the run is the same run from any folder."""
    project = tmp_path / "project"
    (project / "corpus").mkdir(parents=True)
    (project / "elsewhere").mkdir()
    for module in ("colorsys.py", "bisect.py"):
        shutil.copy(STDLIB / module, project / "corpus" / module)
    (project / "my-run.toml").write_text(RELATIVE_CONFIG)
    first = c2c("run", "my-run.toml", cwd=project)
    assert first.returncode == 0, first.stderr
    markers = {p: p.read_bytes() for p in (project / "run").rglob("stage.json")}
    assert len(markers) == len(STAGES)

    again = c2c("run", "../my-run.toml", cwd=project / "elsewhere")
    assert again.returncode == 0, again.stderr
    assert {p: p.read_bytes() for p in markers} == markers, "no stage ran again"
    assert again.stderr.count(" cached ") == len(STAGES)
    flags = ("--corpus", "../corpus", "-o", "../run", "--workers", "2")
    by_flags = c2c("run", "../my-run.toml", *flags, cwd=project / "elsewhere")
    assert by_flags.returncode == 0, by_flags.stderr
    assert {p: p.read_bytes() for p in markers} == markers
    assert list((project / "elsewhere").iterdir()) == []
