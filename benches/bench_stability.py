"""Benchmark of the sandbox's stability check: the execute stage with and without it.

The stability check (`Limits.check_stability`, on by default) reruns every case that returned or
raised in the same interpreter instance in a perturbed world (another date, clock and random
bytes, salted str/bytes hash, shifted addresses, resized sets, the cases in another order) and
marks the cases whose result changed `unstable`. In one run, on the default run's tables
(`RunConfig()`: this interpreter's standard library, built-in inputs; built once by a full
default run in a temporary folder):
- the execute stage (`execute_to_parquet`, shards of 256 functions, the run's workers) with the
  check off (the baseline) and on, alternating, REPETITIONS times each: median seconds, cases/s
  and the ratio on ÷ off (target: at most 1.3 times);
- the unstable cases: how many, their share of the cases, the functions with one at least, and
  their causes, read from the `error` text the sandbox writes for them; repr_error and
  output_limit counts; whether the first run of every other case is the same in both modes;
- what the check removes from the dataset: the assemble stage on both result tables, the
  samples made with and without the check, and how many of the samples it removes showed or
  held out an output the check finds unstable (an output that the `" at 0x"` address rule had
  let through).

    python benches/bench_stability.py [--write-readme]

Writes benches/results/stability.json; with --write-readme, the README block between the
`bench:stability` markers (added after the `bench:sandbox` block when missing).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
from case2code.assemble import MEMORY_ADDRESS, UNSTABLE, assemble
from case2code.execute import execute_to_parquet
from case2code.pipeline import Pipeline
from case2code.run_config import RunConfig
from case2code.sandbox import GUEST_PYTHON, Limits
from case2code.tables import read_table
from readme_block import add_block, load, publish, wrap

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benches" / "results" / "stability.json"
README_BEGIN, README_END = "<!-- bench:stability -->", "<!-- /bench:stability -->"
AFTER_BLOCK = "<!-- /bench:sandbox -->"  # the block goes right after the sandbox's
COMMAND = (
    "python benches/bench_stability.py --write-readme   "
    "# the execute stage with and without the stability check; writes "
    "benches/results/stability.json"
)
TIMES = "\N{MULTIPLICATION SIGN}"
TARGET = 1.3  # issue 13: the check may cost at most 1.3x the execute stage
REPETITIONS = 6  # of each mode, alternating
UNCHECKED = Limits(check_stability=False)  # the baseline
CONFIG = RunConfig()
SHARD = CONFIG.shard_functions
WORKERS = CONFIG.workers or None  # as the pipeline passes it
# The sandbox's own words for a value that prints a set whose order the hash seed decides.
HASH_ORDERED_SET = "the value shows a set whose order comes from the hash seed"
FIRST_RUN, PERTURBED_RUN = "first run: ", "; perturbed run"
LIMITS = ("timeout", "memory", "output_limit")  # statuses of a case stopped by a limit
# Columns that say what a case gave (not how long it took).
OUTCOME = ["function_id", "case", "status", "value_repr", "error_type", "error", "stdout"]


# ------------------------------------------------------------------ the tables


def default_tables(folder: Path) -> tuple[Pipeline, float]:
    """The default run, whole: its dedup and inputs tables are the execute stage's inputs."""
    pipeline = Pipeline(RunConfig(out=folder))
    started = time.perf_counter()
    pipeline.run()
    seconds = time.perf_counter() - started
    print(f"default run (builds the tables): {seconds:.1f} s", flush=True)
    return pipeline, seconds


# ------------------------------------------------------------------ timing


def cpu_seconds() -> float:
    """User + system time of this process and of its reaped children (the sandbox workers,
    which are waited for when the stage closes its sandbox): insensitive to the other load on
    the shared machine, unlike wall time."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


def execute_once(pipeline: Pipeline, limits: Limits, output: Path) -> tuple[float, float]:
    """The execute stage into a new table: (wall seconds, CPU seconds)."""
    started, cpu = time.perf_counter(), cpu_seconds()
    execute_to_parquet(
        pipeline.table("dedup"),
        pipeline.table("inputs"),
        output,
        limits,
        WORKERS,
        shard_functions=SHARD,
    )
    return time.perf_counter() - started, cpu_seconds() - cpu


def timings(
    pipeline: Pipeline,
    folder: Path,
    off: Limits = UNCHECKED,
    repetitions: int = REPETITIONS,
) -> dict[str, Any]:
    """The execute stage under `off` (the baseline) and the default limits ("on"),
    `repetitions` times each, alternating, the first of each pair swapped every time (off on,
    on off, ...) so that a drift in the machine's load falls on both."""
    limits = {"off": off, "on": Limits()}
    seconds: dict[str, list[float]] = {"off": [], "on": []}
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    outputs: dict[str, list[Path]] = {"off": [], "on": []}
    for i in range(repetitions):
        for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):
            output = folder / f"results-{mode}-{i}.parquet"
            wall, used = execute_once(pipeline, limits[mode], output)
            seconds[mode].append(wall)
            cpu[mode].append(used)
            outputs[mode].append(output)
            print(f"execute, {mode}: {wall:.2f} s, {used:.2f} CPU s", flush=True)
    median = {mode: statistics.median(values) for mode, values in seconds.items()}
    median_cpu = {mode: statistics.median(values) for mode, values in cpu.items()}
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "median_seconds": median,
        "median_cpu_seconds": median_cpu,
        "ratio": median["on"] / median["off"],
        "cpu_ratio": median_cpu["on"] / median_cpu["off"],
        "fastest_ratio": min(seconds["on"]) / min(seconds["off"]),
        "pair_ratios": [on / off for on, off in zip(seconds["on"], seconds["off"], strict=True)],
        "outputs": outputs,
    }


def same_outcomes(paths: list[Path]) -> bool:
    """The repetitions of one mode gave the same result for every case."""
    tables = [pl.read_parquet(p).select(OUTCOME).sort("function_id", "case") for p in paths]
    return all(t.equals(tables[0]) for t in tables[1:])


# ------------------------------------------------------------------ the unstable cases


def cause(error: str | None) -> str:
    """The category of an unstable case, from the text the sandbox gives it: the driver's own
    hash-ordered set check, or `first run: <status> <text>; perturbed run: <status> <text>`
    (`..., printed "..."; perturbed run printed "..."` when only stdout differs)."""
    text = error or ""
    if text == HASH_ORDERED_SET:
        return "the value shows a hash-ordered set"
    first, found, perturbed = text.partition(PERTURBED_RUN)
    if not found or not first.startswith(FIRST_RUN):
        return "other"
    if perturbed.startswith(" printed"):
        # CPython shows a warning once per location and interpreter, and the probe runs in the
        # same instance after the first run: the warning is not printed again.
        if "Warning: " in first and perturbed == ' printed ""':
            return "stdout differs: a warning printed in the first run only"
        return "stdout differs"
    first_status, _, first_text = first.removeprefix(FIRST_RUN).partition(" ")
    probe_status, _, probe_text = perturbed.removeprefix(": ").partition(" ")
    if probe_status in LIMITS:
        return f"perturbed run hit a limit ({probe_status})"
    if probe_status not in ("ok", "error"):
        return f"perturbed run ended as {probe_status}"
    if MEMORY_ADDRESS in first_text or MEMORY_ADDRESS in probe_text:
        return "repr shows an address (' at 0x')"
    if first_status != probe_status:
        return "returned in one run, raised in the other"
    if first_status == "error":
        return "exception message differs"
    return "value differs"


def unstable_figures(on: pl.DataFrame, off: pl.DataFrame, names: Mapping[str, str]) -> dict:
    unstable = on.filter(pl.col("status") == UNSTABLE)
    causes: Counter[str] = Counter()
    functions: dict[str, set[str]] = {}
    examples: dict[str, list[str]] = {}
    for row in unstable.iter_rows(named=True):
        kind = cause(row["error"])
        causes[kind] += 1
        functions.setdefault(kind, set()).add(row["function_id"])
        name = names[row["function_id"]]
        if len(examples.setdefault(kind, [])) < 3 and name not in examples[kind]:
            examples[kind].append(name)
    return {
        "cases": on.height,
        "functions": on["function_id"].n_unique(),
        "unstable_cases": unstable.height,
        "unstable_share": unstable.height / max(on.height, 1),
        "functions_with_unstable": unstable["function_id"].n_unique(),
        "causes": [
            {"cause": c, "cases": n, "functions": len(functions[c]), "examples": examples[c]}
            for c, n in causes.most_common()
        ],
        "statuses_on": status_counts(on),
        "statuses_off": status_counts(off),
        "first_run_differs": first_run_differs(on, off),
        "stable_with_address": stable_with_address(on, names),
    }


def stable_with_address(on: pl.DataFrame, names: Mapping[str, str]) -> dict[str, Any]:
    """Cases that returned or raised the same in the perturbed run although their output shows
    an address (a module-level object the probe reuses keeps its address, for one): the address
    rule, not the check, keeps them out of samples."""
    output = pl.when(pl.col("status") == "ok").then("value_repr").otherwise("error")
    cases = on.filter(
        pl.col("status").is_in(["ok", "error"])
        & output.str.contains(MEMORY_ADDRESS, literal=True).fill_null(False)
    )
    functions = cases["function_id"].unique(maintain_order=True).to_list()
    return {
        "cases": cases.height,
        "functions": len(functions),
        "examples": [names[f] for f in functions[:3]],
    }


def status_counts(results: pl.DataFrame) -> dict[str, int]:
    counts = results["status"].value_counts(sort=True)
    return {row["status"]: int(row["count"]) for row in counts.iter_rows(named=True)}


def first_run_differs(on: pl.DataFrame, off: pl.DataFrame) -> int:
    """Cases that the check did not mark unstable whose result differs from the run without
    it: the check must not change the first run (0 expected)."""
    keys = ["function_id", "case"]
    joined = on.filter(pl.col("status") != UNSTABLE).join(off, on=keys, suffix="_off")
    differ = pl.lit(False)
    for column in ("status", "value_repr", "error_type", "error", "stdout"):
        differ = differ | pl.col(column).ne_missing(pl.col(f"{column}_off"))
    return joined.filter(differ).height


# ------------------------------------------------------------------ the samples


def samples_of(pipeline: Pipeline, results: Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The assemble stage, as the run calls it, on one result table."""
    functions = read_table(pipeline.table("dedup"), "functions")
    result = assemble(functions, read_table(results, "results"), CONFIG.assemble)
    return result.samples, result.report


def sample_figures(off: pl.DataFrame, on: pl.DataFrame, results_on: pl.DataFrame) -> dict:
    """Samples with and without the check, and the unstable outputs that the samples made
    without it show or hold out: each passed the address rule (`" at 0x"`), or it would not be
    in a sample."""
    unstable = {
        (row["function_id"], row["input"]): cause(row["error"])
        for row in results_on.filter(pl.col("status") == UNSTABLE).iter_rows(named=True)
    }
    causes: Counter[str] = Counter()
    kept = set(on["sample_id"])
    removed = off.filter(~pl.col("sample_id").is_in(sorted(kept)))
    with_unstable_output = 0
    removed_with_unstable_output = 0
    unstable_outputs = 0
    for row in off.iter_rows(named=True):
        cases = [*row["shown"], *row["held_out"]]
        found = [c for case in cases if (c := unstable.get((row["function_id"], case["input"])))]
        causes.update(found)
        unstable_outputs += len(found)
        with_unstable_output += bool(found)
        removed_with_unstable_output += bool(found) and row["sample_id"] not in kept
    same_ids = off.filter(pl.col("sample_id").is_in(sorted(kept))).select("sample_id")
    columns = ["sample_id", "shown", "held_out"]
    changed = (
        same_ids.join(off.select(columns), on="sample_id")
        .join(on.select(columns), on="sample_id", suffix="_on")
        .filter(
            (pl.col("shown") != pl.col("shown_on")) | (pl.col("held_out") != pl.col("held_out_on"))
        )
        .height
    )
    return {
        "samples_off": off.height,
        "samples_on": on.height,
        "removed": removed.height,
        "added": on.filter(~pl.col("sample_id").is_in(sorted(set(off["sample_id"])))).height,
        "changed_cases": changed,
        "off_samples_with_unstable_output": with_unstable_output,
        "unstable_outputs_in_off_samples": unstable_outputs,
        "their_causes": dict(causes.most_common()),
        "removed_with_unstable_output": removed_with_unstable_output,
    }


def unstable_past_address_rule(on: pl.DataFrame, off: pl.DataFrame) -> dict[str, int]:
    """The unstable cases by what the assemble rules would make of their (first-run) output
    without the check: already dropped for an address, too long, or usable."""
    keys = ["function_id", "case"]
    first = on.filter(pl.col("status") == UNSTABLE).select(keys).join(off, on=keys)
    counts: Counter[str] = Counter()
    for row in first.iter_rows(named=True):
        output = row["value_repr"] if row["status"] == "ok" else row["error"]
        if row["status"] not in ("ok", "error") or output is None:
            counts[f"status {row['status']} without the check"] += 1
        elif len(output) > CONFIG.assemble.max_output_chars:
            counts["too long to show anyway"] += 1
        elif MEMORY_ADDRESS in output:
            counts["dropped by the address rule anyway"] += 1
        else:
            counts["usable without the check"] += 1
    return dict(counts.most_common())


# ------------------------------------------------------------------ the report


def markdown(report: dict[str, Any]) -> str:
    t, u, s = report["timing"], report["unstable"], report["samples"]
    med, cpu, cases = t["median_seconds"], t["median_cpu_seconds"], u["cases"]
    loads = [v[0] for v in report["load"].values()]
    verdict = "within the target" if t["ratio"] <= TARGET else "**over the target**"
    address = u["stable_with_address"]
    lines = [
        wrap(
            f"Measured on this project's {report['cores']}-core machine (shared with other "
            f"workers; 1-minute load average {min(loads):.2f} to {max(loads):.2f} during the "
            f"benchmark), host CPython {report['python']}, sandbox CPython {GUEST_PYTHON}, on "
            f"the default run's tables (`RunConfig()`: {u['functions']:,} functions with "
            f"inputs, {cases:,} cases): the execute stage (`execute_to_parquet`, shards of "
            f"{SHARD}, {report['workers']} workers) {REPETITIONS} times in each mode, "
            "alternating:"
        ),
        "",
        "| execute stage | median seconds | runs, seconds | cases/s | median CPU seconds "
        "| ÷ check off |",
        "|---|---|---|---|---|---|",
    ]
    for mode, label in (("off", "stability check off (baseline)"), ("on", "check on (default)")):
        runs = ", ".join(f"{x:.2f}" for x in t["seconds"][mode])
        lines.append(
            f"| {label} | {med[mode]:.2f} | {runs} | {cases / med[mode]:,.0f} "
            f"| {cpu[mode]:.2f} | {med[mode] / med['off']:.2f}{TIMES} |"
        )
    lines += [
        "",
        f"- Cost: **{t['ratio']:.2f}{TIMES}** the execute stage's wall time with the check "
        f"(target ≤ {TARGET}{TIMES}: {verdict}); run by run "
        + ", ".join(f"{x:.2f}" for x in t["pair_ratios"])
        + f"; fastest run ÷ fastest run {t['fastest_ratio']:.2f}{TIMES}; CPU time (this process "
        f"and the sandbox workers, insensitive to the other load) {t['cpu_ratio']:.2f}{TIMES}. "
        "Repeated runs of a mode gave the same result for every case: "
        + ("yes" if report["repeatable"] else "**NO**")
        + "; cases left stable whose first run differs from the run without the check: "
        f"{u['first_run_differs']:,}.",
        f"- Unstable: **{u['unstable_cases']:,} cases** ({u['unstable_share']:.2%} of "
        f"{cases:,}) in **{u['functions_with_unstable']:,} functions**; with the check off, "
        f"the driver's own hash-ordered set test still marks {_count(u['statuses_off'])}. "
        f"repr_error {u['statuses_on'].get('repr_error', 0):,} and output_limit "
        f"{u['statuses_on'].get('output_limit', 0):,} cases (the same without the check: "
        f"{u['statuses_off'].get('repr_error', 0):,} and "
        f"{u['statuses_off'].get('output_limit', 0):,}).",
        "",
        "| cause of the unstable cases (read from their `error` text) | cases | functions | e.g. |",
        "|---|---|---|---|",
    ]
    for c in u["causes"]:
        examples = ", ".join(f"`{name}`" for name in c["examples"])
        lines.append(f"| {c['cause']} | {c['cases']:,} | {c['functions']:,} | {examples} |")
    lines += [
        "",
        "- The unstable cases' outputs, without the check: "
        + ", ".join(f"{k} {n:,}" for k, n in report["unstable_without_check"].items())
        + f". The other way round, {address['cases']:,} cases in {address['functions']:,} "
        "functions show an address that the perturbed run repeated (e.g. "
        + ", ".join(f"`{name}`" for name in address["examples"])
        + "): the address rule keeps those out of samples.",
        f"- Samples: **{s['samples_off']:,} without the check, {s['samples_on']:,} with it** "
        f"({s['removed']:,} removed, {s['added']:,} added, {s['changed_cases']:,} kept with "
        "other cases). Samples made without the check that show or hold out an unstable "
        f"output the address rule let through: {s['off_samples_with_unstable_output']:,} "
        f"({_plural(s['unstable_outputs_in_off_samples'], 'output')}"
        + "".join(f"; {k}: {n:,}" for k, n in s["their_causes"].items())
        + "); "
        f"**{s['removed_with_unstable_output']:,} of the {s['removed']:,} removed samples** "
        "had such an output.",
        "",
        wrap(
            "Each execute run writes a new table from the same dedup and inputs tables (read, "
            "run, shards merged: the stage as `c2c run` times it); the baseline differs only "
            "in `Limits(check_stability=False)`. Causes: the sandbox writes `first run: "
            "<status> <output>; perturbed run: <status> <output>` (or the two runs' stdout) "
            "for an unstable case. Samples: the assemble stage with the run's settings on each "
            "mode's result table, compared by `sample_id`. Whole benchmark: "
            f"{report['seconds']:.0f} s (of which the default run {report['build_seconds']:.0f} "
            "s)."
        ),
    ]
    return "\n".join(lines)


def _count(statuses: Mapping[str, int]) -> str:
    return _plural(statuses.get(UNSTABLE, 0), "case")


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "workers": WORKERS or os.cpu_count(),
        "load": {"start": load()},
    }
    with tempfile.TemporaryDirectory(prefix="c2c-bench-stability-") as tmp:
        folder = Path(tmp)
        pipeline, report["build_seconds"] = default_tables(folder / "run")
        report["load"]["built"] = load()
        timing = timings(pipeline, folder)
        report["load"]["timed"] = load()
        outputs = timing.pop("outputs")
        report["timing"] = timing
        report["repeatable"] = all(same_outcomes(paths) for paths in outputs.values())
        off, on = (pl.read_parquet(outputs[mode][-1]) for mode in ("off", "on"))
        names = dict(
            read_table(pipeline.table("dedup"), "functions")
            .select("function_id", "name")
            .iter_rows()
        )
        report["unstable"] = unstable_figures(on, off, names)
        report["unstable_without_check"] = unstable_past_address_rule(on, off)
        samples_off, assemble_off = samples_of(pipeline, outputs["off"][-1])
        samples_on, assemble_on = samples_of(pipeline, outputs["on"][-1])
        report["samples"] = sample_figures(samples_off, samples_on, on)
        report["assemble"] = {"off": assemble_off, "on": assemble_on}
    report["load"]["end"] = load()
    report["seconds"] = time.perf_counter() - started
    if args.write_readme:
        add_block(AFTER_BLOCK, COMMAND, README_BEGIN, README_END)
    publish(report, RESULTS, markdown(report), args.write_readme, README_BEGIN, README_END)


if __name__ == "__main__":
    main()
