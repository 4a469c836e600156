"""End-to-end benchmark of `c2c run`: the default run, stage by stage.

The default run is `RunConfig()` with its folder in a temporary directory: this interpreter's
standard library, the built-in input generator, decontamination against HumanEval. In one run:
- the default run in this process (`Pipeline(config).run()`): wall seconds, each stage's seconds
  and share of them, rows in and out per stage, unique functions/s, functions seen/s,
  samples/s, peak RSS; and the same run as a fresh `c2c run` process (start-up counted);
- the baseline: the same work as the chain of single-stage commands a user would otherwise
  run by hand (`python -m case2code extract`, `dedup --against humaneval`, `inputs`, `exec`,
  `assemble`), each a subprocess with the run's settings (shards of 256 functions, as the
  run's); the ratio of the two is the pipeline's orchestration cost, and the chain's tables
  are checked against the run's (row counts and contents);
- resume: a second `run()` on the finished folder (every stage cached); and a `c2c run`
  subprocess with shards of 32 functions killed with SIGKILL (its whole process group) once
  half of the inputs stage's shards are written, then restarted to the end, against an
  uninterrupted run of the same settings (run before and after it, for the noise): work lost
  = (killed + resumed seconds) ÷ uninterrupted seconds, and the resumed dataset must equal the
  uninterrupted one.

    python benches/bench_pipeline.py [--write-readme]

Writes benches/results/pipeline.json; with --write-readme, the README block between the
`bench:pipeline` markers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from case2code.pipeline import MARKER, STAGES, Pipeline
from case2code.run_config import RunConfig
from readme_block import load, publish, wrap

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benches" / "results" / "pipeline.json"
README_BEGIN, README_END = "<!-- bench:pipeline -->", "<!-- /bench:pipeline -->"
TIMES = "\N{MULTIPLICATION SIGN}"
SHARD = RunConfig().shard_functions  # the run's shards; the chain is given the same
RESUME_SHARD = 32  # small shards for the kill test, so that half of them is a real point
PYTHON = [sys.executable, "-m", "case2code"]


def env() -> dict[str, str]:
    """The subprocesses import this checkout's package."""
    paths = [str(ROOT / "python"), *filter(None, os.environ.get("PYTHONPATH", "").split(":"))]
    return {**os.environ, "PYTHONPATH": ":".join(paths)}


def rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


# ------------------------------------------------------------------ the default run


def default_run(folder: Path) -> dict[str, Any]:
    pipeline = Pipeline(RunConfig(out=folder))
    started = time.perf_counter()
    summary = pipeline.run()
    seconds = time.perf_counter() - started
    stages = []
    for record in summary["stages"]:
        stages.append(
            {key: record[key] for key in ("name", "status", "seconds", "rows_in", "rows_out")}
            | {"share": record["seconds"] / seconds}
        )
    by_name = {s["name"]: s for s in stages}
    seen = summary["funnel"][0]["count"]
    unique = by_name["dedup"]["rows_out"]
    rows = summary["dataset"]["rows"]
    samples = by_name["assemble"]["rows_out"]
    figures = {
        "seconds": seconds,
        "stage_seconds": sum(s["seconds"] for s in stages),
        "report_seconds": seconds - summary["seconds"],  # report.md/html after the stages
        "stages": stages,
        "functions_seen": seen,
        "unique_functions": unique,
        "inputs": by_name["inputs"]["rows_out"],
        "cases": by_name["execute"]["rows_out"],
        "samples": samples,
        "dataset_rows": rows,
        "eval_functions": summary["eval_split"]["functions"],
        "unique_functions_per_s": unique / seconds,
        "functions_seen_per_s": seen / seconds,
        "samples_per_s": rows / seconds,
        "all_samples_per_s": samples / seconds,
        "peak_rss_mb": rss_mb(resource.RUSAGE_SELF),
        "peak_child_rss_mb": rss_mb(resource.RUSAGE_CHILDREN),
        "inputs_figures": {
            k: summary_stage(summary, "inputs")[k]
            for k in ("candidates", "candidates_per_s", "inputs_per_s", "share_with_min_valid")
        },
    }
    print(
        f"default run: {seconds:.1f} s; {unique:,} unique functions, {rows:,} dataset rows; "
        + ", ".join(f"{s['name']} {s['seconds']:.2f} s" for s in stages),
        flush=True,
    )
    return figures


def summary_stage(summary: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s["figures"] for s in summary["stages"] if s["name"] == name)


def cached_run(folder: Path, full_seconds: float) -> dict[str, Any]:
    started = time.perf_counter()
    summary = Pipeline(RunConfig(out=folder)).run()
    seconds = time.perf_counter() - started
    statuses = {s["name"]: s["status"] for s in summary["stages"]}
    print(f"cached rerun: {seconds:.2f} s; {statuses}", flush=True)
    return {
        "seconds": seconds,
        "ratio_to_full": seconds / full_seconds,
        "all_cached": all(v == "cached" for v in statuses.values()),
        "statuses": statuses,
    }


# ------------------------------------------------------------------ the chain of commands


def chain(folder: Path, run_folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True)
    f, u, i, r = (folder / n for n in ("f.parquet", "u.parquet", "i.parquet", "r.parquet"))
    d = folder / "dataset"
    shard = ["--shard-functions", str(SHARD)]
    commands = [
        ("extract", ["extract", "-o", f]),
        ("dedup", ["dedup", f, "-o", u, "--against", "humaneval"]),
        ("inputs", ["inputs", u, "-o", i, *shard]),
        ("exec", ["exec", u, i, "-o", r, *shard]),
        ("assemble", ["assemble", u, r, "-o", d]),
    ]
    steps = []
    for name, args in commands:
        started = time.perf_counter()
        done = subprocess.run(
            [*PYTHON, *map(str, args)], env=env(), capture_output=True, text=True, cwd=folder
        )
        seconds = time.perf_counter() - started
        if done.returncode:
            sys.exit(f"`c2c {name}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        steps.append(
            {
                "command": f"c2c {' '.join(_short(a, folder) for a in args)}",
                "name": name,
                "seconds": seconds,
            }
        )
        print(f"chain: c2c {name} {seconds:.2f} s", flush=True)
    run = Pipeline(RunConfig(out=run_folder))
    pairs = {
        "unique functions": (u, run.table("dedup"), ["function_id"]),
        "inputs": (i, run.table("inputs"), ["function_id", "input_id", "input"]),
        "cases": (r, run.table("execute"), ["function_id", "case", "status"]),
        "samples": (
            sorted((d / "data").glob("*.parquet")),
            run.table("assemble"),
            ["sample_id", "prompt", "completion"],
        ),
    }
    checks = []
    for label, (mine, theirs, columns) in pairs.items():
        a, b = pl.read_parquet(mine), pl.read_parquet(theirs)
        same = a.select(columns).sort(columns).equals(b.select(columns).sort(columns))
        checks.append(
            {
                "table": label,
                "chain": a.height,
                "pipeline": b.height,
                "compared": columns,
                "same": same,
            }
        )
        if not same:
            print(f"WARNING: chain and pipeline differ on {label}: {a.height} vs {b.height} rows")
    return {"steps": steps, "seconds": sum(s["seconds"] for s in steps), "checks": checks}


def _short(arg: Any, folder: Path) -> str:
    return str(arg.relative_to(folder)) if isinstance(arg, Path) else str(arg)


# ------------------------------------------------------------------ kill and resume


def cli_run(folder: Path, default_folder: Path) -> dict[str, Any]:
    """The default run again, as a fresh `c2c run` process: start-up and imports counted."""
    seconds, summary = run_cli(folder, None)
    print(f"`c2c run -o DIR`, a fresh process: {seconds:.1f} s", flush=True)
    return {
        "seconds": seconds,
        "stages": _stage_times(summary),
        "inputs_seconds": _stage_times(summary)["inputs"][1],
        "same_dataset": dataset(folder).equals(dataset(default_folder)),
    }


def run_cli(folder: Path, config: Path | None) -> tuple[float, dict[str, Any]]:
    """`c2c run` as a user starts it: a fresh process (its start-up and imports counted)."""
    started = time.perf_counter()
    settings = [str(config)] if config else []
    done = subprocess.run(
        [*PYTHON, "run", *settings, "-o", str(folder)], env=env(), capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"`c2c run` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds, json.loads((folder / "run.json").read_text())


def dataset(folder: Path) -> pl.DataFrame:
    files = sorted((folder / "dataset" / "data").glob("*.parquet"))
    return pl.read_parquet(files).sort("sample_id")


def killed_run(folder: Path, config: Path, timeout: float = 900) -> dict[str, Any]:
    """`c2c run` in its own session, SIGKILLed (the whole group) at half of the inputs shards."""
    layout = Pipeline(RunConfig(out=folder))
    inputs = layout.table("inputs")
    parts = inputs.with_name(inputs.name + ".parts")
    dedup_marker = layout.stage_dir("dedup") / MARKER
    started = time.perf_counter()
    process = subprocess.Popen(
        [*PYTHON, "run", str(config), "-o", str(folder)],
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    shards = target = 0
    try:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                sys.exit(f"the run to kill ended by itself ({process.returncode}) at {shards}")
            if not target and dedup_marker.is_file():
                unique = json.loads(dedup_marker.read_text())["rows_out"]
                target = max(1, math.ceil(unique / RESUME_SHARD) // 2)
            shards = len(list(parts.glob("part-*.parquet"))) if parts.is_dir() else 0
            if target and shards >= target:
                break
            time.sleep(0.02)
        else:
            sys.exit("the run to kill never reached half of its inputs shards")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    seconds = time.perf_counter() - started
    group_gone = False
    for _ in range(100):  # the sandbox workers go with the group
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            group_gone = True
            break
        time.sleep(0.05)
    total = math.ceil(unique / RESUME_SHARD)
    # Each finished shard's stats hold the seconds it took: the work the kill did not lose.
    done_seconds = sum(json.loads(p.read_text())["seconds"] for p in parts.glob("part-*.json"))
    print(f"killed after {seconds:.1f} s at {shards}/{total} inputs shards", flush=True)
    return {
        "seconds": seconds,
        "shards_done": shards,
        "shards": total,
        "inputs_seconds_done": done_seconds,
        "process_group_gone": group_gone,
    }


def resume(folder: Path, default_folder: Path) -> dict[str, Any]:
    config = folder / "run.toml"
    folder.mkdir(parents=True)
    config.write_text(f"[run]\nshard_functions = {RESUME_SHARD}\n")
    # Uninterrupted before and after the killed run: the machine is shared, and the two give
    # the noise the work-lost figure is read against.
    whole_seconds, whole = run_cli(folder / "whole", config)
    print(f"uninterrupted run, shards of {RESUME_SHARD}: {whole_seconds:.1f} s", flush=True)
    killed = killed_run(folder / "killed", config)
    resumed_seconds, resumed = run_cli(folder / "killed", config)
    print(f"resumed to the end: {resumed_seconds:.1f} s", flush=True)
    again_seconds, _ = run_cli(folder / "again", config)
    print(f"uninterrupted run again: {again_seconds:.1f} s", flush=True)
    baseline = (whole_seconds + again_seconds) / 2
    expected, got = dataset(folder / "whole"), dataset(folder / "killed")
    same = got.equals(expected)
    if not same:
        print(f"WARNING: resumed dataset differs: {got.height} vs {expected.height} rows")
    eval_same = (folder / "whole" / "eval" / "case2code-eval.jsonl").read_bytes() == (
        folder / "killed" / "eval" / "case2code-eval.jsonl"
    ).read_bytes()
    return {
        "shard_functions": RESUME_SHARD,
        "uninterrupted_seconds": baseline,
        "uninterrupted_runs": [whole_seconds, again_seconds],
        "uninterrupted_stages": _stage_times(whole),
        "inputs_seconds": _stage_times(whole)["inputs"][1],
        "killed": killed,
        "resumed_seconds": resumed_seconds,
        "resumed_stages": _stage_times(resumed),
        "work_lost": (killed["seconds"] + resumed_seconds) / baseline,
        # Shards differ in cost, so half of the shards is not half of the work: the share of
        # the inputs stage's time done when killed (finished shards ÷ those + the rest).
        "inputs_done_at_kill": killed["inputs_seconds_done"]
        / (killed["inputs_seconds_done"] + _stage_times(resumed)["inputs"][1]),
        "load": load(),
        "dataset_rows": got.height,
        "same_dataset": same,
        "same_eval_split": eval_same,
        "same_dataset_as_default_run": expected.equals(dataset(default_folder)),
    }


def _stage_times(summary: dict[str, Any]) -> dict[str, Any]:
    return {s["name"]: [s["status"], s["seconds"]] for s in summary["stages"]}


# ------------------------------------------------------------------ the report


def markdown(report: dict[str, Any]) -> str:
    run, chained, cached, res = report["run"], report["chain"], report["cached"], report["resume"]
    cli, killed = report["cli"], res["killed"]
    total = run["seconds"]
    loads = [v[0] for v in report["load"].values()]
    lines = [
        wrap(
            f"Measured on this project's 2-core machine (shared with another worker; 1-minute "
            f"load average {min(loads):.2f} to {max(loads):.2f} during the benchmark), CPython "
            f"{report['python']}, the default run (`RunConfig()`: this interpreter's standard "
            "library, built-in input generator, decontamination against HumanEval, shards of "
            f"{SHARD} functions, 2 sandbox workers), in one run:"
        ),
        "",
        "| stage | seconds | share of the run | rows in | rows out |",
        "|---|---|---|---|---|",
    ]
    for stage in run["stages"]:
        lines.append(
            f"| {stage['name']} | {stage['seconds']:.2f} | {stage['share']:.1%} "
            f"| {stage['rows_in']:,} | {stage['rows_out']:,} |"
        )
    lines += [
        f"| report (report.md, .html), markers | {total - run['stage_seconds']:.2f} "
        f"| {(total - run['stage_seconds']) / total:.1%} | | |",
        f"| **whole run** | **{total:.2f}** | 100% | | |",
        "",
        "| the same work | seconds | ÷ the run in process |",
        "|---|---|---|",
        f"| `c2c run`, in process (`Pipeline(RunConfig()).run()`) | {total:.2f} | 1.00{TIMES} |",
        f"| `c2c run -o DIR`, a fresh process | {cli['seconds']:.2f} "
        f"| {cli['seconds'] / total:.2f}{TIMES} |",
    ]
    for step in chained["steps"]:
        lines.append(f"| `{step['command']}` | {step['seconds']:.2f} | |")
    lines += [
        f"| chain of the 5 commands, total | {chained['seconds']:.2f} "
        f"| **{chained['seconds'] / total:.2f}{TIMES}** |",
        f"| `c2c run` again on the finished folder (all cached) | {cached['seconds']:.2f} "
        f"| {cached['ratio_to_full']:.4f}{TIMES} |",
        f"| `c2c run DIR`, shards of {RESUME_SHARD}, uninterrupted (mean of 2: "
        + " and ".join(f"{x:.1f}" for x in res["uninterrupted_runs"])
        + f") | {res['uninterrupted_seconds']:.2f} "
        f"| {res['uninterrupted_seconds'] / total:.2f}{TIMES} |",
        f"| same, SIGKILLed at {killed['shards_done']}/{killed['shards']} inputs shards "
        f"(≈ {res['inputs_done_at_kill']:.0%} of the stage's time), then resumed "
        f"| {killed['seconds']:.2f} + {res['resumed_seconds']:.2f} "
        f"| {(killed['seconds'] + res['resumed_seconds']) / total:.2f}{TIMES} |",
        "",
        f"- End to end: **{run['unique_functions_per_s']:,.1f} unique functions/s** "
        f"({run['unique_functions']:,} in {total:.1f} s), {run['functions_seen_per_s']:,.0f} "
        f"functions seen/s ({run['functions_seen']:,}), **{run['samples_per_s']:,.1f} "
        f"samples/s** ({run['dataset_rows']:,} training rows; {run['all_samples_per_s']:,.1f}/s "
        f"counting the {run['samples'] - run['dataset_rows']} samples of the "
        f"{run['eval_functions']} held-out eval functions); peak RSS "
        f"{run['peak_rss_mb']:,.0f} MB in the run's process, "
        f"{run['peak_child_rss_mb']:,.0f} MB in its largest child.",
        f"- The inputs stage is **{_share(run, 'inputs'):.0%}** of the run "
        f"({run['inputs_figures']['candidates']:,} candidates run in the sandbox, "
        f"{run['inputs_figures']['candidates_per_s']:,.0f}/s), execute "
        f"{_share(run, 'execute'):.0%}, everything else together "
        f"{1 - _share(run, 'inputs') - _share(run, 'execute'):.0%}.",
        f"- Chain of single-stage commands ÷ `c2c run`: **{chained['seconds'] / total:.2f}"
        f"{TIMES}** the run in process, {chained['seconds'] / cli['seconds']:.2f}{TIMES} "
        f"`c2c run` as a fresh process; {_checks(chained['checks'])}",
        f"- Resume: the finished run restarted takes {cached['ratio_to_full']:.2%} of the run"
        f" ({'every stage cached' if cached['all_cached'] else '**NOT every stage cached**'}); "
        f"killed with SIGKILL at half of the inputs shards and resumed: killed + resumed "
        f"÷ uninterrupted = **{res['work_lost']:.3f}** (work lost {res['work_lost'] - 1:+.1%}; "
        f"the two uninterrupted runs differ by {_spread(res['uninterrupted_runs']):.1%}); "
        "resumed dataset "
        + ("**identical**" if res["same_dataset"] else "**DIFFERENT**")
        + f" to the uninterrupted one ({res['dataset_rows']:,} rows, Parquet frames sorted by "
        f"`sample_id`; eval split {'identical' if res['same_eval_split'] else 'DIFFERENT'})"
        + (
            "."
            if killed["process_group_gone"]
            else "; **WARNING: processes of the killed run's group outlived the kill**."
        ),
        f"- Shards of {RESUME_SHARD} ÷ shards of {SHARD}, both a fresh `c2c run` process: "
        f"{res['uninterrupted_seconds'] / cli['seconds']:.2f}{TIMES} the time (inputs stage "
        f"{res['inputs_seconds']:.1f} s vs {cli['inputs_seconds']:.1f} s); the dataset is "
        + ("identical." if res["same_dataset_as_default_run"] else "**DIFFERENT**."),
        "",
        wrap(
            "Samples/s counts the training rows written (the eval split is held out). Each "
            "chain command is a fresh `python -m case2code` process, given the run's settings "
            f"(`--against humaneval`, `--shard-functions {SHARD}`); its `assemble` also "
            "exports. The killed run is `c2c run` in its own session, killed with its sandbox "
            "workers (`os.killpg`) once half of its inputs shards are on disk. Peak RSS is "
            f"getrusage's maximum resident set. Whole benchmark: {report['seconds']:.0f} s."
        ),
    ]
    return "\n".join(lines)


def _spread(values: list[float]) -> float:
    return (max(values) - min(values)) / min(values)


def _share(run: dict[str, Any], name: str) -> float:
    return next(s["share"] for s in run["stages"] if s["name"] == name)


def _checks(checks: list[dict[str, Any]]) -> str:
    same = [c for c in checks if c["same"]]
    text = "same " + ", ".join(f"{c['table']} ({c['chain']:,})" for c in same) if same else ""
    differ = [c for c in checks if not c["same"]]
    if differ:
        text += (
            ("; " if text else "")
            + "**WARNING, differ:** "
            + ", ".join(
                f"{c['table']} (chain {c['chain']:,}, run {c['pipeline']:,})" for c in differ
            )
        )
    return text + " as the run."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "load": {"start": load()},
    }
    with tempfile.TemporaryDirectory(prefix="c2c-bench-pipeline-") as tmp:
        tmp_path = Path(tmp)
        default = tmp_path / "run"
        report["run"] = default_run(default)
        report["cached"] = cached_run(default, report["run"]["seconds"])
        report["load"]["run"] = load()
        report["cli"] = cli_run(tmp_path / "cli", default)
        report["load"]["cli"] = load()
        report["chain"] = chain(tmp_path / "chain", default)
        report["chain"]["ratio_to_run"] = report["chain"]["seconds"] / report["run"]["seconds"]
        report["load"]["chain"] = load()
        report["resume"] = resume(tmp_path / "resume", default)
    report["load"]["end"] = load()
    report["seconds"] = time.perf_counter() - started
    assert set(STAGES) == {s["name"] for s in report["run"]["stages"]}
    publish(report, RESULTS, markdown(report), args.write_readme, README_BEGIN, README_END)


if __name__ == "__main__":
    main()
