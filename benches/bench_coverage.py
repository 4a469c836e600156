"""Benchmark of coverage tracing (issue 17): the execute stage with and without it.

`Limits.coverage` (on by default) has the guest driver trace, per case, the lines and branch
arms of the function's own code its call ran (`sys.monitoring` events on those code objects
only, each disabled where it fired and re-armed before the next call). In one run, on the
default run's tables (`RunConfig()`, built once by a full default run in a temporary folder):
- the execute stage (`execute_to_parquet`, the run's shards and workers) with tracing off (the
  baseline) and on, alternating, REPETITIONS times each: median wall and CPU seconds and the
  ratio on ÷ off (target: at most 1.3 times);
- whether tracing changed any case's result, and how: the cases whose status or output differs
  between the two modes, by transition;
- what the traced cases say: mean branch and line coverage of each function's cases.

    python benches/bench_coverage.py [--write-readme]

Writes benches/results/coverage.json; with --write-readme, the README block between the
`bench:coverage` markers (added after the `bench:stability` block when missing).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
from bench_stability import CONFIG, WORKERS, default_tables, timings
from case2code import coverage
from case2code.sandbox import GUEST_PYTHON, Limits
from readme_block import add_block, load, publish, wrap

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benches" / "results" / "coverage.json"
README_BEGIN, README_END = "<!-- bench:coverage -->", "<!-- /bench:coverage -->"
AFTER_BLOCK = "<!-- /bench:stability -->"
COMMAND = (
    "python benches/bench_coverage.py --write-readme   "
    "# the execute stage with and without coverage tracing; writes benches/results/coverage.json"
)
TIMES = "\N{MULTIPLICATION SIGN}"
TARGET = 1.3  # issue 17: tracing may cost at most 1.3x the execute stage
REPETITIONS = 4  # of each mode, alternating
OUTCOME = ["function_id", "case", "status", "value_repr", "error"]


def changed_results(on: pl.DataFrame, off: pl.DataFrame) -> dict[str, int]:
    """Cases whose result differs between the modes, by `status off -> status on` (an
    unstable case's text quotes both runs' outputs, addresses included: its status counts)."""
    joined = on.select(OUTCOME).join(off.select(OUTCOME), on=["function_id", "case"], suffix="_off")
    differ = pl.col("status") != pl.col("status_off")
    for column in ("value_repr", "error"):
        same_status = (pl.col("status") == pl.col("status_off")) & (pl.col("status") != "unstable")
        differ = differ | (same_status & pl.col(column).ne_missing(pl.col(f"{column}_off")))
    rows = joined.filter(differ).iter_rows(named=True)
    return dict(Counter(f"{r['status_off']} -> {r['status']}" for r in rows).most_common())


def markdown(report: dict[str, Any]) -> str:
    t, c = report["timing"], report["coverage"]
    med, cpu = t["median_seconds"], t["median_cpu_seconds"]
    loads = [v[0] for v in report["load"].values()]
    verdict = "within the target" if t["ratio"] <= TARGET else "**over the target**"
    changed = report["changed"]
    lines = [
        wrap(
            f"Measured on this project's {report['cores']}-core machine (shared with other "
            f"workers; 1-minute load average {min(loads):.2f} to {max(loads):.2f} during the "
            f"benchmark), host CPython {report['python']}, sandbox CPython {GUEST_PYTHON}, on "
            f"the default run's tables ({report['functions']:,} functions with inputs, "
            f"{report['cases']:,} cases): the execute stage {REPETITIONS} times in each mode, "
            "alternating:"
        ),
        "",
        "| execute stage | median seconds | runs, seconds | median CPU seconds | ÷ tracing off |",
        "|---|---|---|---|---|",
    ]
    for mode, label in (("off", "coverage off (baseline)"), ("on", "coverage on (default)")):
        runs = ", ".join(f"{x:.2f}" for x in t["seconds"][mode])
        lines.append(
            f"| {label} | {med[mode]:.2f} | {runs} | {cpu[mode]:.2f} "
            f"| {med[mode] / med['off']:.2f}{TIMES} |"
        )
    lines += [
        "",
        f"- Cost of tracing: **{t['ratio']:.2f}{TIMES}** the execute stage's wall time "
        f"(target ≤ {TARGET}{TIMES}: {verdict}); CPU time {t['cpu_ratio']:.2f}{TIMES}.",
        "- Cases whose result differs with tracing: "
        + (", ".join(f"{k} {n:,}" for k, n in changed.items()) or "none")
        + " (the stability probe runs untraced, so the first and the perturbed run's memory "
        "layouts also differ by the tracer's allocations).",
        f"- What the traced cases say: mean branch coverage **{c['mean_branch_coverage']:.1%}** "
        f"over {c['with_branches']:,} functions with a branch, mean line coverage "
        f"{c['mean_line_coverage']:.1%} over {c['functions']:,} functions (each function's "
        "cases together).",
        "",
        wrap(f"Whole benchmark: {report['seconds']:.0f} s."),
    ]
    return "\n".join(lines)


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
        "run_config": str(CONFIG.out),
    }
    with tempfile.TemporaryDirectory(prefix="c2c-coverage-") as tmp:
        folder = Path(tmp)
        pipeline, report["build_seconds"] = default_tables(folder / "run")
        timing = timings(pipeline, folder, Limits(coverage=False), REPETITIONS)
        outputs = timing.pop("outputs")
        report["load"]["end"] = load()
        on, off = (pl.read_parquet(outputs[mode][0]) for mode in ("on", "off"))
    report["timing"] = timing
    report["functions"], report["cases"] = on["function_id"].n_unique(), on.height
    report["changed"] = changed_results(on, off)
    per_function = coverage.summary(on, ["function_id"]).collect()
    report["coverage"] = coverage.means(coverage.tally(per_function))
    report["seconds"] = time.perf_counter() - started
    if args.write_readme:
        add_block(AFTER_BLOCK, COMMAND, README_BEGIN, README_END)
    publish(report, RESULTS, markdown(report), args.write_readme, README_BEGIN, README_END)


if __name__ == "__main__":
    main()
