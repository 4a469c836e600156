"""`c2c run`: extract → dedup → inputs → execute → assemble → export, resumable at any point.

The pipeline only knows the order of the stages and where their tables live; each stage is the
same table-to-table step the single-stage commands run. Under the run's folder:

    stages/<stage>/...      each stage's output table, written atomically, and a `stage.json`
                            marker (fingerprint of its settings, the identity of the tables it
                            read and of the files it wrote, time, figures; see markers.py)
    dataset/                training shards and dataset card (export)
    eval/case2code-eval.jsonl   held-out functions in the paper's benchmark format
    report.md, report.html  the run's report with plots; run.json, its figures
    run.lock                held by the run in progress (runlock.py): one run per folder

A restarted run skips every stage whose marker holds (same settings, same input tables, its
outputs still there as written), and the long stages (extract, inputs, execute) skip the
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
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from case2code.assemble import assemble
from case2code.atomic import write_parquet, write_text
from case2code.dedup import dedup_parquet
from case2code.errors import C2CError
from case2code.evalsplit import writable_functions, write_eval_split
from case2code.execute import execute_to_parquet
from case2code.export import export
from case2code.extract import corpus_fingerprint, extract_to_parquet
from case2code.inputs.drivers import make_generator
from case2code.inputs.stage import generate_inputs_to_parquet
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
from case2code.tables import read_table

RUN_FILES = ("run.json", "report.md", "report.html")
# Each stage's output table, in its folder under stages/ (export writes dataset/ and eval/).
STAGE_TABLES = {
    "extract": "functions.parquet",
    "dedup": "unique.parquet",
    "inputs": "inputs.parquet",
    "execute": "results.parquet",
    "assemble": "samples.parquet",
}
# The earlier stages' tables each stage reads (their identity is part of its marker).
STAGE_INPUTS = {
    "extract": (),
    "dedup": ("extract",),
    "inputs": ("dedup",),
    "execute": ("dedup", "inputs"),
    "assemble": ("dedup", "execute"),
    "export": ("dedup", "assemble"),
}
EVAL_FILE = "case2code-eval.jsonl"

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
    """What a stage's step reports: rows in and out, its figures, the files it wrote."""

    rows_in: int
    rows_out: int
    figures: dict[str, Any]
    outputs: list[Path]


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _settings(obj: Any, *drop: str) -> dict[str, Any]:
    """A settings dataclass as a dict, less the fields that do not change results (threads)."""
    values = dataclasses.asdict(obj)
    return {k: v for k, v in values.items() if k not in drop}


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

        write_run_report(summary, pl.read_parquet(self.table("assemble")), self.out)
        return summary

    def _stage(self, name: str, upstream: str) -> str:
        """Bring one stage up to date: cached when its marker holds, else run (its stale
        shards discarded first). Returns its fingerprint, which the next stage's includes."""
        fingerprint = _digest(name, upstream, self._stage_settings(name))
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
            ran: Ran = getattr(self, f"_run_{name}")(advance)
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

    def _stage_settings(self, name: str) -> Any:
        """What a stage's output depends on besides its input table."""
        c = self.config
        if name == "extract":
            return {
                "corpus": [str(Path(p).resolve()) for p in c.corpus],
                "files": corpus_fingerprint(list(c.corpus) or None, c.extract),
                "extract": _settings(c.extract, "threads", "batch_bytes"),
            }
        if name == "dedup":
            return {
                "dedup": _settings(c.dedup, "threads", "block_size"),
                "against": c.against,
                "max_functions": c.max_functions,
                "seed": c.seed,
            }
        if name == "inputs":
            generator = _settings(c.generator, "concurrency")
            if c.generator.name != "builtin":  # a template file's text, not only its path
                generator["templates"] = [
                    dataclasses.asdict(t) for t in c.generator.llm.load_templates()
                ]
            return {"generator": generator, "inputs": _settings(c.inputs, "workers")}
        if name == "execute":
            return {"limits": _settings(c.limits)}
        if name == "assemble":
            return {"assemble": _settings(c.assemble)}
        return {
            "eval": [c.eval_share, c.eval_max, c.seed],
            "formats": c.formats,
            "shard_rows": c.shard_rows,
        }

    # ------------------------------------------------------------ stages

    def _run_extract(self, advance: Advance) -> Ran:
        corpus = list(self.config.corpus) or None
        summary = extract_to_parquet(
            corpus, self.table("extract"), self.config.extract, progress=advance
        )
        return Ran(summary.sources, summary.kept, summary.as_dict(), [self.table("extract")])

    def _run_dedup(self, advance: Advance) -> Ran:
        report = dedup_parquet(
            self.table("extract"),
            self.table("dedup"),
            self.config.dedup,
            against=self.config.against,
        )
        if self.config.max_functions:
            unique = pl.read_parquet(self.table("dedup"))
            write_parquet(
                sample_functions(unique, self.config.max_functions, self.config.seed),
                self.table("dedup"),
            )
        kept = pl.scan_parquet(self.table("dedup")).select(pl.len()).collect().item()
        advance(report.functions, report.functions)
        return Ran(report.functions, kept, report.as_dict(), [self.table("dedup")])

    def _run_inputs(self, advance: Advance) -> Ran:
        g = self.config.generator
        generator = make_generator(g.name, g.model, g.base_url, g.llm, g.concurrency)
        inputs_config = dataclasses.replace(self.config.inputs, workers=self.config.workers or None)
        result = generate_inputs_to_parquet(
            self.table("dedup"),
            self.table("inputs"),
            generator,
            inputs_config,
            shard_functions=self.config.shard_functions,
            progress=advance,
        )
        figures = result.report()
        return Ran(figures["functions"], result.inputs.height, figures, [self.table("inputs")])

    def _run_execute(self, advance: Advance) -> Ran:
        figures = execute_to_parquet(
            self.table("dedup"),
            self.table("inputs"),
            self.table("execute"),
            self.config.limits,
            self.config.workers or None,
            shard_functions=self.config.shard_functions,
            progress=advance,
        )
        return Ran(figures["functions"], figures["cases"], figures, [self.table("execute")])

    def _run_assemble(self, advance: Advance) -> Ran:
        functions = read_table(self.table("dedup"), "functions")
        result = assemble(
            functions, read_table(self.table("execute"), "results"), self.config.assemble
        )
        write_parquet(result.samples, self.table("assemble"))
        advance(functions.height, functions.height)
        return Ran(functions.height, result.samples.height, result.report, [self.table("assemble")])

    def _run_export(self, advance: Advance) -> Ran:
        samples = pl.read_parquet(self.table("assemble"))
        if samples.is_empty():
            raise C2CError(
                "no samples to export: every function was dropped (see the assemble figures in "
                f"{self.stage_dir('assemble') / MARKER})"
            )
        functions = read_table(self.table("dedup"), "functions")
        held = eval_functions(
            samples["function_id"].unique().to_list(),
            self.config.eval_share,
            self.config.eval_max,
            self.config.seed,
            writable=writable_functions(samples, functions),
        )
        is_eval = pl.col("function_id").is_in(sorted(held))
        train, held_out = samples.filter(~is_eval), samples.filter(is_eval)
        assemble_figures = self.records["assemble"].figures
        summary = export(
            train,
            self.dataset_dir,
            formats=self.config.formats,
            shard_rows=self.config.shard_rows,
            report=assemble_figures,
        )
        eval_counts = write_eval_split(held_out, functions, self.eval_path)
        advance(samples.height, samples.height)
        figures = {
            "train_samples": summary.rows,
            "train_functions": train["function_id"].n_unique(),
            "shards": summary.shards,
            "eval": eval_counts,
            "eval_path": str(self.eval_path),
            "dataset_path": str(self.dataset_dir),
        }
        outputs = [*summary.files, summary.card, self.eval_path]
        return Ran(samples.height, summary.rows, figures, outputs)

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


def sample_functions(functions: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    """A seeded sample of `n` functions that does not depend on row order."""
    if functions.height <= n:
        return functions
    ranked = functions.with_columns(
        pl.col("function_id")
        .map_elements(lambda f: _digest("sample", seed, f), return_dtype=pl.Utf8)
        .alias("_rank")
    )
    return ranked.sort("_rank").head(n).drop("_rank").sort("function_id")


def eval_functions(
    function_ids: list[str],
    share: float,
    most: int,
    seed: int,
    writable: Callable[[str], bool] = lambda _: True,
) -> set[str]:
    """The functions held out for evaluation: a seeded share of all of them, chosen by hash
    so that the choice of one function does not depend on which others made it this far,
    among those `writable` in the paper's format (one it cannot write would be in neither
    set). Only the functions ranked before the last one chosen are asked about."""
    wanted = min(most, math.floor(share * len(function_ids) + 0.5))
    ranked = sorted(function_ids, key=lambda f: _digest("eval", seed, f))
    chosen = itertools.islice((f for f in ranked if writable(f)), wanted)
    return set(chosen)


def run(
    config: RunConfig | None = None, progress: ProgressFactory | None = None
) -> Mapping[str, Any]:
    """Run (or resume) the whole pipeline; returns the run's figures."""
    return Pipeline(config or RunConfig(), progress).run()
