"""A run folder you can trust: one run at a time (a second is refused at once, a dead holder's
lock is taken over), markers that hold the tables (a deleted or changed output is rebuilt), a
setting changed after a crash reruns its stage instead of refusing its shards, `until` stops
after a stage, and the evaluation split is chosen among the functions it can write. Real
processes, real sandbox, a dozen stdlib modules."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from case2code.assemble import AssembleConfig, assemble
from case2code.errors import C2CError
from case2code.evalsplit import EvalRecordsStep, write_records
from case2code.executors import LocalExecutor
from case2code.markers import MARKER, STARTED, FileIdentities
from case2code.pipeline import STAGES, Pipeline
from case2code.run_config import load_config
from case2code.runlock import LOCK_FILE, run_folder_lock
from case2code.steps.choices import EvalSplit
from faults import c2c, error_line
from hand_functions import run_hand_functions
from test_evalsplit import INPUTS, SOURCE, WRITTEN
from test_pipeline import _outputs, _wait_for, copy_modules

# Small shards so a kill lands between shards of a stage; a share that holds some out.
CONFIG = """
[run]
out = "run"
shard_functions = 2
workers = 2
eval_share = 0.1
seed = {seed}

[corpus]
paths = ["{corpus}"]

[inputs]
n_inputs = 6
rounds = {rounds}

[export]
shard_rows = 40
"""
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_modules(tmp_path_factory.mktemp("corpus"))


def _config(root: Path, corpus: Path, rounds: int = 2, seed: int = 0, name: str = "run") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.toml"
    path.write_text(CONFIG.format(corpus=corpus, rounds=rounds, seed=seed))
    return path


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Pipeline:
    """A clean run with the default settings of these tests (rounds = 2, seed = 0)."""
    pipeline = Pipeline(load_config(_config(tmp_path_factory.mktemp("clean"), corpus)))
    pipeline.run()
    return pipeline


def _start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "case2code", "run", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        start_new_session=True,  # the sandbox's worker processes are in its group
    )


def _kill_mid_inputs(config: Path) -> None:
    out = config.parent / "run"
    process = _start(config)
    _wait_for("stages/inputs/inputs.parquet.parts/part-00001.parquet", out, process, 300)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "stages" / "inputs" / MARKER).exists(), "killed mid-stage"


def _statuses(stderr: str) -> dict[str, str]:
    """Each stage's status from `c2c run`'s table."""
    found = {}
    for line in stderr.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) >= 2 and cells[0] in STAGES:
            found[cells[0]] = cells[1]
    return found


# ---------------------------------------------------------------- one run per folder


HOLD = """
import sys, time
from case2code.runlock import run_folder_lock
with run_folder_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_held_folder_is_refused_naming_its_holder_and_a_dead_holder_is_taken_over(
    tmp_path: Path,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "run")],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(C2CError) as refused, run_folder_lock(tmp_path / "run"):
            pytest.fail("a held folder was locked twice")
        message = str(refused.value)
        assert f"{tmp_path / 'run'} is in use by another run: pid {holder.pid} " in message
        assert f"on {socket.gethostname()} since " in message
    finally:
        holder.kill()  # SIGKILL: the holder cannot clean up
        holder.wait()
    notes: list[str] = []
    with run_folder_lock(tmp_path / "run", notes.append):
        held = json.loads((tmp_path / "run" / LOCK_FILE).read_text())
        assert held["pid"] == os.getpid()
    [note] = notes
    assert f"pid {holder.pid} on {socket.gethostname()}" in note and "taking it over" in note
    # A holder that ended cleanly leaves no name behind: the next run says nothing.
    assert (tmp_path / "run" / LOCK_FILE).read_text() == ""
    again: list[str] = []
    with run_folder_lock(tmp_path / "run", again.append):
        pass
    assert again == []


def test_a_second_run_on_a_folder_in_use_is_refused_and_the_first_equals_a_clean_run(
    clean: Pipeline, corpus: Path, tmp_path: Path
) -> None:
    first = _config(tmp_path, corpus)
    other = _config(tmp_path, corpus, seed=1, name="other")  # other settings, same folder
    out = tmp_path / "run"
    process = _start(first)
    _wait_for("stages/inputs/inputs.parquet.parts/part-00001.parquet", out, process, 300)
    # Frozen, the first run cannot finish while the second tries: the second must not wait.
    os.killpg(process.pid, signal.SIGSTOP)
    try:
        second = c2c("run", other)
    finally:
        os.killpg(process.pid, signal.SIGCONT)
    line = error_line(second, f"{out} is in use by another run", f"pid {process.pid}")
    assert "run.toml" in line, "the holder's command names its settings file"
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert _outputs(out) == _outputs(clean.out)
    assert (out / LOCK_FILE).read_text() == "", "released at the end"


# ---------------------------------------------------------------- a change after a crash


def test_a_changed_setting_after_a_kill_reruns_its_stage_and_equals_a_clean_run(
    clean: Pipeline, corpus: Path, tmp_path: Path
) -> None:
    _kill_mid_inputs(_config(tmp_path, corpus, rounds=4))
    parts = tmp_path / "run" / "stages" / "inputs" / "inputs.parquet.parts"
    assert parts.is_dir()
    rerun = c2c("run", _config(tmp_path, corpus, rounds=2))  # the clean run's settings
    assert rerun.returncode == 0, rerun.stderr
    assert "holds shards of a different run" not in rerun.stderr
    notes = [line for line in rerun.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 2, rerun.stderr
    assert "was locked by a run that is gone" in notes[0] and "taking it over" in notes[0]
    assert notes[1].startswith(
        "note: inputs: discarded stages/inputs/inputs.parquet.parts (shards of an interrupted "
        "run with other settings or inputs)"
    )
    statuses = _statuses(rerun.stderr)
    assert statuses == dict(zip(STAGES, ["cached"] * 2 + ["ran"] * 4, strict=True)), statuses
    assert _outputs(tmp_path / "run") == _outputs(clean.out)
    assert not (tmp_path / "run" / "stages" / "inputs" / STARTED).exists()


def test_the_same_settings_after_a_kill_resume_the_shards(
    clean: Pipeline, corpus: Path, tmp_path: Path
) -> None:
    config = _config(tmp_path, corpus)
    _kill_mid_inputs(config)
    notes: list[str] = []
    Pipeline(load_config(config), notice=notes.append).run()
    [note] = notes  # the dead run's lock taken over; its shards kept, not discarded
    assert "taking it over" in note
    assert _outputs(tmp_path / "run") == _outputs(clean.out)


# ---------------------------------------------------------------- outputs that went missing


@pytest.mark.parametrize(
    ("deleted", "reruns"),
    [
        ("stages/inputs/inputs.parquet", "inputs"),
        ("stages/assemble/samples.parquet", "assemble"),
        ("dataset/data/*.parquet", "export"),
        ("eval/case2code-eval.jsonl", "export"),
    ],
)
def test_a_deleted_output_is_rebuilt(
    clean: Pipeline, tmp_path: Path, deleted: str, reruns: str
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(clean.out, out)  # times kept: a copied run folder is the same run
    [victim, *_] = sorted(out.glob(deleted))
    victim.unlink()
    notes: list[str] = []
    pipeline = Pipeline(dataclasses.replace(clean.config, out=out), notice=notes.append)
    pipeline.run()
    assert notes == [
        f"{reruns}: its output {victim.relative_to(out)} is missing or changed; running it again"
    ]
    ran = [name for name in STAGES if pipeline.records[name].status == "ran"]
    # The rebuilt table is the same, byte for byte: the stages after it stay cached.
    assert ran == [reruns]
    assert victim.is_file()
    assert _outputs(out) == _outputs(clean.out)


def test_a_changed_input_table_reruns_the_stages_that_read_it(
    clean: Pipeline, tmp_path: Path
) -> None:
    """The inputs stage made other inputs (as an LLM may on a rerun): its marker names the new
    table, and execute, which read the old one, runs again."""
    out = tmp_path / "copy"
    shutil.copytree(clean.out, out)
    table_path = out / "stages" / "inputs" / "inputs.parquet"
    table = pl.read_parquet(table_path)
    dropped = table["function_id"].max()
    table.filter(pl.col("function_id") != dropped).write_parquet(table_path)
    marker_path = out / "stages" / "inputs" / MARKER
    marker = json.loads(marker_path.read_text())
    marker["outputs"] = FileIdentities(out).of_all([table_path])
    marker_path.write_text(json.dumps(marker))
    pipeline = Pipeline(dataclasses.replace(clean.config, out=out))
    pipeline.run()
    statuses = [pipeline.records[name].status for name in STAGES]
    assert statuses[:4] == ["cached", "cached", "cached", "ran"]
    results = pl.read_parquet(pipeline.table("execute"))
    assert dropped not in set(results["function_id"])
    assert results.height < pl.read_parquet(clean.table("execute")).height


# ---------------------------------------------------------------- until


def test_until_stops_after_a_stage_and_a_full_run_goes_on(corpus: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, corpus)
    out = tmp_path / "run"
    stopped = c2c("run", config, "--until", "dedup")
    assert stopped.returncode == 0, stopped.stderr
    assert sorted(p.parent.name for p in out.glob("stages/*/" + MARKER)) == ["dedup", "extract"]
    assert not (out / "run.json").exists() and not (out / "report.md").exists()
    said = " ".join(stopped.stderr.split())
    assert (
        "stopped after dedup (until = dedup); run.json and the report are written by a full" in said
    )
    assert _statuses(stopped.stderr) == {"extract": "ran", "dedup": "ran"}
    config.write_text(config.read_text().replace("[run]\n", '[run]\nuntil = "export"\n'))
    full = c2c("run", config)
    assert full.returncode == 0, full.stderr
    assert _statuses(full.stderr) == dict(zip(STAGES, ["cached"] * 2 + ["ran"] * 4, strict=True))
    assert (out / "run.json").is_file()


def test_until_names_a_stage(corpus: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, corpus)
    config.write_text(config.read_text().replace("[run]\n", '[run]\nuntil = "dedp"\n'))
    error_line(c2c("run", config), f"{config} [run]", "until = 'dedp'", "did you mean 'dedup'")
    error_line(c2c("run", "--until", "exprt", "-o", tmp_path / "x"), "did you mean 'export'")
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- the evaluation split


def test_eval_functions_are_chosen_among_the_writable_ones(tmp_path: Path) -> None:
    functions, results = run_hand_functions(SOURCE, INPUTS)
    samples = assemble(functions, results, AssembleConfig(seed=5)).samples
    ids = samples["function_id"].unique().to_list()
    names = dict(zip(functions["function_id"], functions["name"], strict=True))
    run = LocalExecutor().run(EvalRecordsStep(), {"samples": samples, "functions": functions})
    records = run.table
    assert records is not None
    writable = set(records.filter(pl.col("writable"))["function_id"])
    assert {names[f] for f in writable} == WRITTEN
    lost_before = 0
    for seed in range(20):
        split = EvalSplit(0.6, 10, seed)
        unfiltered = split.choose(ids, lambda _: True)
        lost_before += bool({names[f] for f in unfiltered} - WRITTEN)
        held = set(LocalExecutor().decide(split, records)["function_id"])
        assert held == split.choose(ids, writable.__contains__)
        assert len(held) == len(unfiltered) == 3
        assert {names[f] for f in held} <= WRITTEN
        chosen = records.filter(pl.col("function_id").is_in(sorted(held)))
        assert write_records(chosen, tmp_path / "e") == {"functions": 3}, "every one is written"
    assert lost_before, "without the choice among writable ones, some seeds would lose one"


# ---------------------------------------------------------------- an LLM setting after a crash

NUMERIC = "".join(
    f"def scale_{k}(x, y=1):\n    total = x * {k} + y\n    if total > 100:\n"
    f"        total = 100\n    return total\n\n\n"
    f"def shift_{k}(x):\n    if x < {k}:\n        return {k} - x\n    return x - {k}\n\n\n"
    for k in range(8)
)
LLM_CONFIG = """
[run]
out = "run"
shard_functions = 2
workers = 2
eval_share = 0.0

[corpus]
paths = ["{corpus}"]

[inputs]
generator = "openai"
model = "scripted"
base_url = "{base_url}"
temperature = {temperature}
n_inputs = 6
rounds = 1
"""


def scripted_answer(body: dict) -> tuple[int, dict]:
    """Inputs that depend on the temperature asked for, so that shards made at another
    temperature would show in the dataset. Slow enough for a kill to land mid-stage."""
    time.sleep(0.05)
    schema = body["response_format"]["json_schema"]["schema"]["properties"]["inputs"]
    base = round(body["temperature"] * 100)
    names = list(schema["items"]["properties"])
    inputs = [
        {name: base + 7 * i + j for j, name in enumerate(names)} for i in range(schema["minItems"])
    ]
    content = json.dumps({"inputs": inputs})
    return 200, {
        "choices": [
            {"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10},
    }


def test_a_changed_temperature_after_a_kill_reruns_inputs_and_equals_a_clean_run(
    tmp_path: Path,
) -> None:
    from loopback_chat import loopback_chat_server

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "numeric.py").write_text(NUMERIC)

    def config(folder: Path, temperature: float, base_url: str) -> Path:
        folder.mkdir(exist_ok=True)
        text = LLM_CONFIG.format(corpus=corpus, base_url=base_url, temperature=temperature)
        (folder / "run.toml").write_text(text)
        return folder / "run.toml"

    with loopback_chat_server(scripted_answer) as base_url:
        clean = Pipeline(load_config(config(tmp_path / "clean", 0.9, base_url)))
        clean.run()
        _kill_mid_inputs(config(tmp_path / "crashed", 0.5, base_url))
        rerun = c2c("run", config(tmp_path / "crashed", 0.9, base_url))
    assert rerun.returncode == 0, rerun.stderr
    assert "inputs: discarded stages/inputs/inputs.parquet.parts" in rerun.stderr
    crashed_inputs = pl.read_parquet(tmp_path / "crashed" / "run" / "stages/inputs/inputs.parquet")
    assert crashed_inputs.equals(pl.read_parquet(clean.table("inputs")))
    assert _outputs(tmp_path / "crashed" / "run") == _outputs(clean.out)
    assert _outputs(clean.out), "the clean run made a dataset"
