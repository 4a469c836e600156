"""`c2c run`: extract → dedup → inputs → execute → assemble → export, resumable at any point.

The pipeline only knows the order of the stages, where their tables live and each stage's
fingerprint; the stages that are steps (inputs, execute, assemble, and export's eval records)
are run by the local executor, the same steps the single-stage commands run, and the seeded
choices (the `max_functions` sample, the eval split) are global steps on compact summaries
(docs/architecture.md). Under the run's folder:

    stages/<stage>/...      each stage's output table, written atomically, and a `stage.json`
                            marker (fingerprint of its settings, the identity of the tables it
                            read and of the files it wrote, time, figures; see markers.py)
    dataset/                training shards and dataset card (export)
    eval/case2code-eval.jsonl   held-out functions in the paper's benchmark format
    report.md, report.html  the run's report with plots; run.json, its figures
    run.lock                held by the run in progress (runlock.py): one run per folder

A restarted run skips every stage whose marker holds (same settings, same input tables, its
outputs still there as written), and the long stages (extract and every step) skip the
shards they finished before the crash, so a run killed at any moment resumes without losing or
repeating work. Changing a stage's settings reruns that stage and the ones after it, even after
a crash in the middle of it (its shards of the other settings are discarded); a deleted or
changed output reruns its stage. `until` stops after a stage; run.json and the report are
written by a full run only. A rerun with every stage cached leaves run.json and the report as
the run that did the work wrote them. Corpus paths are made absolute, so the fingerprints (and
the functions' origins) do not depend on the folder the run is started from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from case2code.assemble import AssembleStep
from case2code.atomic import TABLE_ROW_GROUP_ROWS, sink_parquet, write_text
from case2code.benchmarks import reference_tasks
from case2code.dedup import run_dedup
from case2code.errors import C2CError
from case2code.evalsplit import EvalRecordsStep, write_records
from case2code.execute import ExecuteStep
from case2code.executors.local import LocalExecutor
from case2code.export import export
from case2code.extract import corpus_fingerprint, extract_to_parquet
from case2code.inputs.drivers import make_generator
from case2code.inputs.stage import InputsStep
from case2code.markers import (
    MARKER,
    FileIdentities,
    check_marker,
    marker_record,
    read_json,
    start_stage,
    write_marker,
)
from case2code.outputs import check_outputs
from case2code.run_config import STAGES, RunConfig
from case2code.runlock import run_folder_lock
from case2code.steps.base import KEY, Step
from case2code.steps.choices import EvalSplit, SampleFunctions

RUN_FILES = ("run.json", "report.md", "report.html")
# Each stage's output table, in its folder under stages/ (export writes dataset/ and eval/).
STAGE_TABLES = {
    "extract": "functions.parquet",
    "dedup": "unique.parquet",
    "inputs": "inputs.parquet",
    "execute": "results.parquet",
    "assemble": "samples.parquet",
}
# The stages that are steps: each input table of the step (by its name in `step.reads`) and
# the stage whose output it is; and the figures that count the stage's rows in and out.
STEP_INPUTS = {
    "inputs": {"functions": "dedup"},
    "execute": {"functions": "dedup", "inputs": "inputs"},
    "assemble": {"functions": "dedup", "results": "execute"},
}
STEP_ROWS = {
    "inputs": ("functions", "inputs_kept"),
    "execute": ("functions", "cases"),
    "assemble": ("functions_in", "samples"),
}
# The earlier stages' tables each stage reads (their identity is part of its marker).
STAGE_INPUTS = {
    "extract": (),
    "dedup": ("extract",),
    **{name: tuple(tables.values()) for name, tables in STEP_INPUTS.items()},
    "export": ("dedup", "assemble"),
}
EVAL_FILE = "case2code-eval.jsonl"
EVAL_RECORDS = "eval_records.parquet"  # under stages/export: what the eval split is chosen among

Advance = Callable[[int, int], None]
# Called with a stage's name; the context it opens yields the stage's progress callback.
ProgressFactory = Callable[[str], AbstractContextManager[Advance]]


@contextlib.contextmanager
def _no_progress(_: str) -> Iterator[Advance]:
    yield lambda done, total: None


def _note_on_stderr(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


@dataclass(frozen=True)
class StageRecord:
    name: str
    status: str  # ran, or cached (its marker matched; nothing was recomputed)
    seconds: float  # the time it took when it ran
    rows_in: int
    rows_out: int
    figures: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Ran:
    """What a stage reports: rows in and out, its figures, the files it wrote."""

    rows_in: int
    rows_out: int
    figures: dict[str, Any]
    outputs: list[Path]


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Pipeline:
    """One run folder; `run()` brings every stage up to date."""

    def __init__(
        self,
        config: RunConfig,
        progress: ProgressFactory | None = None,
        notice: Callable[[str], None] = _note_on_stderr,
    ) -> None:
        # Absolute corpus paths: the same corpus read from another folder is the same corpus.
        self.config = dataclasses.replace(
            config, corpus=tuple(os.path.abspath(p) for p in config.corpus)
        )
        self.out = Path(config.out)
        self.progress = progress or _no_progress
        self.notice = notice  # one line to the user: a stage redone, shards discarded
        self.records: dict[str, StageRecord] = {}
        self.files = FileIdentities(self.out)
        c = self.config
        self.sample = SampleFunctions(c.max_functions, c.seed)
        self.eval_split = EvalSplit(c.eval_share, c.eval_max, c.seed)
        self._steps: dict[str, Step] = {}

    # ------------------------------------------------------------ paths

    def stage_dir(self, name: str) -> Path:
        return self.out / "stages" / name

    def table(self, stage: str) -> Path:
        """The output table of a stage before export."""
        return self.stage_dir(stage) / STAGE_TABLES[stage]

    @property
    def dataset_dir(self) -> Path:
        return self.out / "dataset"

    @property
    def eval_path(self) -> Path:
        return self.out / "eval" / EVAL_FILE

    # ------------------------------------------------------------ the steps

    def step(self, name: str) -> Step:
        """The step of a stage that is one (built when first needed: an LLM generator may ask
        its server for the model's name)."""
        if name not in self._steps:
            c = self.config
            # Under Ray each actor holds one sandbox worker: [run] workers counts the actors.
            workers = 1 if c.executor == "ray" else (c.workers or None)
            if name == "inputs":
                g = c.generator
                generator = make_generator(g.name, g.model, g.base_url, g.llm, g.concurrency)
                config = dataclasses.replace(c.inputs, workers=workers)
                self._steps[name] = InputsStep(generator, config)
            elif name == "execute":
                self._steps[name] = ExecuteStep(c.limits, workers)
            else:
                self._steps[name] = AssembleStep(c.assemble)
        return self._steps[name]

    def executor(self, advance: Advance) -> LocalExecutor:
        c = self.config
        if c.executor == "ray":
            from case2code.executors.ray import RayExecutor

            # [run] workers: the actors (0: one per CPU of the cluster), a sandbox worker each.
            actors = c.workers or None
            return RayExecutor(
                c.shard_functions, progress=advance, address=c.ray_address, actors=actors
            )
        return LocalExecutor(c.shard_functions, progress=advance)

    def fingerprint(self, name: str, upstream: str) -> str:
        """A stage's fingerprint: everything that changes its output besides its input tables
        (a step's own fingerprint), chained to the stage before it."""
        c = self.config
        if name == "extract":
            own: Any = {
                "corpus": [str(Path(p).resolve()) for p in c.corpus],
                "files": corpus_fingerprint(list(c.corpus) or None, c.extract),
                "extract": c.extract.settings(),
            }
        elif name == "dedup":
            own = {
                "dedup": c.dedup.settings(),
                "against": c.against,
                "sample": self.sample.fingerprint(),
            }
        elif name == "export":
            own = {
                "eval": self.eval_split.fingerprint(),
                "formats": c.formats,
                "shard_rows": c.shard_rows,
            }
        else:
            own = self.step(name).fingerprint()
        return _digest(name, upstream, own)

    # ------------------------------------------------------------ the run

    def run(self) -> dict[str, Any]:
        """Every stage in order up to `config.until`, each skipped when its marker holds,
        with the run folder locked throughout. A full run then writes the report (kept as it
        is when every stage was cached: its figures are those of the run that did the work);
        a run stopped early returns only its stages' records."""
        check_outputs(folders=[self.out], inputs=self.config.corpus)
        with run_folder_lock(self.out, self.notice):
            return self._run_locked()

    def _run_locked(self) -> dict[str, Any]:
        stages = STAGES[: STAGES.index(self.config.until) + 1]
        upstream = ""
        for name in stages:
            upstream = self._stage(name, upstream)
        if stages != STAGES:
            return {
                "until": self.config.until,
                "stages": [self.records[n].as_dict() for n in stages],
            }
        summary = self.summary()
        all_cached = all(record.status == "cached" for record in self.records.values())
        if all_cached and all((self.out / name).is_file() for name in RUN_FILES):
            return summary
        write_text(json.dumps(summary, indent=2, default=str) + "\n", self.out / "run.json")
        from case2code.report import write_run_report

        write_run_report(summary, pl.scan_parquet(self.table("assemble")), self.out)
        return summary

    def _stage(self, name: str, upstream: str) -> str:
        """Bring one stage up to date: cached when its marker holds, else run (its stale
        shards discarded first). Returns its fingerprint, which the next stage's includes."""
        fingerprint = self.fingerprint(name, upstream)
        stage_dir = self.stage_dir(name)
        inputs = [self.table(stage) for stage in STAGE_INPUTS[name]]
        body = read_json(stage_dir / MARKER)
        verdict = check_marker(body, fingerprint, inputs, self.files)
        if verdict.holds and body is not None:
            with contextlib.suppress(TypeError):  # a marker of other fields: run again
                self.records[name] = StageRecord(**{**marker_record(body), "status": "cached"})
                return fingerprint
        if verdict.changed_output:
            self.notice(
                f"{name}: its output {verdict.changed_output} is missing or changed; "
                "running it again"
            )
        for parts in start_stage(stage_dir, fingerprint, inputs, self.files):
            self.notice(
                f"{name}: discarded {self.files.relative(parts)} (shards of an interrupted run "
                "with other settings or inputs); running it from the start"
            )
        started = time.perf_counter()
        with self.progress(name) as advance:
            runner = {"extract": self._extract, "dedup": self._dedup, "export": self._export}
            ran = runner.get(name, self._run_step)(name, advance)
        seconds = round(time.perf_counter() - started, 3)
        record = StageRecord(name, "ran", seconds, ran.rows_in, ran.rows_out, ran.figures)
        write_marker(
            stage_dir,
            fingerprint,
            record.as_dict(),
            inputs=self.files.of_all(inputs),
            outputs=self.files.of_all(ran.outputs),
        )
        self.records[name] = record
        return fingerprint

    # ------------------------------------------------------------ stages

    def _run_step(self, name: str, advance: Advance) -> Ran:
        """A stage that is a step, run by the executor into its table, resumably."""
        tables = {table: self.table(stage) for table, stage in STEP_INPUTS[name].items()}
        run = self.executor(advance).run(self.step(name), tables, self.table(name))
        rows_in, rows_out = STEP_ROWS[name]
        return Ran(run.stats[rows_in], run.stats[rows_out], run.stats, [self.table(name)])

    def _extract(self, name: str, advance: Advance) -> Ran:
        corpus = list(self.config.corpus) or None
        executor = self.executor(advance)
        # The Ray executor reads and extracts the corpus on Ray Data; the same table.
        extract = getattr(executor, "extract", extract_to_parquet)
        summary = extract(corpus, self.table("extract"), self.config.extract, progress=advance)
        return Ran(summary.sources, summary.kept, summary.as_dict(), [self.table("extract")])

    def _dedup(self, name: str, advance: Advance) -> Ran:
        unique = self.table("dedup")
        tasks = reference_tasks(self.config.against)
        outputs = [(unique, True)]
        executor = self.executor(advance)
        report = run_dedup(
            executor, self.table("extract"), self.stage_dir(name), outputs, self.config.dedup, tasks
        )
        kept = pl.scan_parquet(unique).select(pl.len()).collect().item()
        if self.sample.count and kept > self.sample.count:
            chosen = LocalExecutor().decide(self.sample, unique)
            sampled = pl.scan_parquet(unique).join(chosen.lazy(), on=KEY, how="semi").sort(KEY)
            sink_parquet(sampled, unique, row_group_size=TABLE_ROW_GROUP_ROWS)
            kept = chosen.height
        advance(report.functions, report.functions)
        return Ran(report.functions, kept, report.as_dict(), [unique])

    def _export(self, name: str, advance: Advance) -> Ran:
        """The evaluation split chosen (a global step on each function's paper-format record)
        and written; every other sample streamed into the dataset's shards."""
        samples = pl.scan_parquet(self.table("assemble"))
        rows_in = samples.select(pl.len()).collect().item()
        if not rows_in:
            raise C2CError(
                "no samples to export: every function was dropped (see the assemble figures in "
                f"{self.stage_dir('assemble') / MARKER})"
            )
        records_path = self.stage_dir("export") / EVAL_RECORDS
        tables = {"samples": self.table("assemble"), "functions": self.table("dedup")}
        self.executor(advance).run(EvalRecordsStep(), tables, records_path)
        held = LocalExecutor().decide(self.eval_split, records_path)[KEY].to_list()
        records = pl.scan_parquet(records_path).filter(pl.col(KEY).is_in(held)).collect()
        eval_counts = write_records(records, self.eval_path)
        summary = export(
            self.table("assemble"),
            self.dataset_dir,
            formats=self.config.formats,
            shard_rows=self.config.shard_rows,
            report=self.records["assemble"].figures,
            drop_functions=held,
        )
        train = samples.filter(~pl.col(KEY).is_in(held))
        figures = {
            "train_samples": summary.rows,
            "train_functions": train.select(pl.col(KEY).n_unique()).collect().item(),
            "shards": summary.shards,
            "eval": eval_counts,
            "eval_path": str(self.eval_path),
            "dataset_path": str(self.dataset_dir),
        }
        outputs = [*summary.files, summary.card, self.eval_path, records_path]
        return Ran(rows_in, summary.rows, figures, outputs)

    # ------------------------------------------------------------ the figures

    def summary(self) -> dict[str, Any]:
        """The run's figures for run.json and the report. Its time is the stages' time when
        they ran, so that cached stages count what they cost, not the instant of reading a
        marker."""
        r = self.records
        seconds = sum(record.seconds for record in r.values())
        extract_f, dedup_f = r["extract"].figures, r["dedup"].figures
        inputs_f, assemble_f = r["inputs"].figures, r["assemble"].figures
        export_f = r["export"].figures
        min_valid = inputs_f.get("min_valid", self.config.inputs.min_valid)
        funnel = [
            ("functions seen", extract_f.get("functions_seen", 0)),
            ("self-contained", r["extract"].rows_out),
            ("unique", r["dedup"].rows_out),
            (
                f"with >= {min_valid} valid inputs",
                inputs_f.get(f"functions_with_{min_valid}_valid", 0),
            ),
            ("with samples", assemble_f.get("functions_with_samples", 0)),
            ("training functions", export_f.get("train_functions", 0)),
            ("eval functions", export_f.get("eval", {}).get("functions", 0)),
        ]
        statuses = dict(inputs_f.get("candidate_statuses", {}))
        statuses.pop("ok", None)
        return {
            "corpus": list(self.config.corpus) or ["the standard library"],
            "generator": self.config.generator.name,
            "model": self.config.generator.model,
            "seconds": round(seconds, 3),
            "stages": [r[name].as_dict() for name in STAGES],
            "funnel": [{"label": label, "count": int(count)} for label, count in funnel],
            "rejections": {
                "extract": extract_f.get("rejected", {}),
                "dedup": dedup_f.get("removed", {}),
                "inputs": statuses,
                "assemble": assemble_f.get("dropped", {}),
            },
            "contaminated": dedup_f.get("contaminated", []),
            "dataset": {
                "path": export_f.get("dataset_path"),
                "rows": export_f.get("train_samples", 0),
                "shards": export_f.get("shards", 0),
            },
            "eval_split": {
                "path": export_f.get("eval_path"),
                "functions": export_f.get("eval", {}).get("functions", 0),
            },
        }


def run(
    config: RunConfig | None = None, progress: ProgressFactory | None = None
) -> Mapping[str, Any]:
    """Run (or resume) the whole pipeline; returns the run's figures."""
    return Pipeline(config or RunConfig(), progress).run()
