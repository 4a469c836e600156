"""A projection for The Stack's Python subset from the per-core rates measured here.

Nothing is run: the rates come from the benches' results in the same folder, so the projection
moves with them.
- extract: `scale.json` (a) at full size: MB of Stack-schema Parquet per CPU-second, and
  functions seen per MB;
- dedup: `scale.json` (a): functions per CPU-second (signatures, clustering, labels);
- inputs (the built-in generator): `inputs.json`, its measured CPU seconds (the stage's process
  and its sandbox workers) per function;
- execute, assemble and export: `pipeline.json` (the default `c2c run` on the standard library,
  2 sandbox workers on 2 cores: a stage's core-seconds are taken as twice its wall time, both
  cores being busy through it), per unique function;
- the funnel (self-contained share of the functions seen, unique share after dedup): the
  standard library's, from `pipeline.json`: real code, but not The Stack (its near-duplicate
  files are gone already, and its share of self-contained functions is unknown here).

The corpus size is an argument: `--gigabytes` of Python source (default 60, about the order of
the deduplicated Python subset of The Stack v1; pass your corpus's own figure). LLM-written
inputs (vLLM on GPUs) are not projected: that cost is the model's throughput, not measured on
these machines.

    python benches/stack_projection.py [--gigabytes 60] [--node-cores 32] [--write-readme]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from readme_block import publish

RESULTS = Path(__file__).resolve().parent / "results"
BEGIN, END = "<!-- bench:projection -->", "<!-- /bench:projection -->"
DAY_HOURS = 24


def rates() -> dict[str, float]:
    """Core-seconds per unit of each stage, and the funnel, from the benches' results."""
    scale = json.loads((RESULTS / "scale.json").read_text())["full"]
    pipeline = json.loads((RESULTS / "pipeline.json").read_text())["run"]
    builtin = json.loads((RESULTS / "inputs.json").read_text())["builtin"]
    extract, dedup = scale["extract"], scale["dedup"]
    stages = {stage["name"]: stage for stage in pipeline["stages"]}
    unique = pipeline["unique_functions"]
    return {
        "extract_core_s_per_mb": extract["cpu_seconds"] / extract["mb"],
        "functions_per_mb": extract["functions_seen"] / extract["mb"],
        "dedup_core_s_per_function": dedup["cpu_seconds"] / dedup["functions"],
        "self_contained_share": stages["extract"]["rows_out"] / pipeline["functions_seen"],
        "unique_share": unique / stages["extract"]["rows_out"],
        "inputs_core_s_per_function": builtin["cpu_seconds"] / builtin["functions"],
        # Two sandbox workers on two cores: core-seconds = 2 x wall.
        **{
            f"{name}_core_s_per_function": 2 * stages[name]["seconds"] / unique
            for name in ("execute", "assemble", "export")
        },
    }


def project(gigabytes: float, node_cores: int) -> dict:
    r = rates()
    mb = gigabytes * 1000
    seen = mb * r["functions_per_mb"]
    self_contained = seen * r["self_contained_share"]
    unique = self_contained * r["unique_share"]
    hours = {
        "extract": mb * r["extract_core_s_per_mb"] / 3600,
        "dedup": self_contained * r["dedup_core_s_per_function"] / 3600,
        **{
            name: unique * r[f"{name}_core_s_per_function"] / 3600
            for name in ("inputs", "execute", "assemble", "export")
        },
    }
    total = sum(hours.values())
    return {
        "gigabytes": gigabytes,
        "rates": r,
        "functions": {"seen": seen, "self_contained": self_contained, "unique": unique},
        "core_hours": hours,
        "total_core_hours": total,
        "bound_by": max(hours, key=hours.get),
        "node_cores": node_cores,
        "nodes_for_a_day": total / (node_cores * DAY_HOURS),
    }


def markdown(p: dict) -> str:
    f, h = p["functions"], p["core_hours"]
    rows = "\n".join(
        f"| {stage} | {hours:,.1f} | {hours / p['total_core_hours']:.0%} |"
        for stage, hours in h.items()
    )
    return "\n".join(
        [
            f"Projection for {p['gigabytes']:g} GB of Python source (the order of The Stack "
            f"v1's deduplicated Python subset): {f['seen'] / 1e6:,.0f} M functions seen, "
            f"{f['self_contained'] / 1e6:,.1f} M self-contained, {f['unique'] / 1e6:,.1f} M "
            "unique (the standard library's shares), with the built-in input generator:",
            "",
            "| stage | core-hours | share |",
            "|---|---:|---:|",
            rows,
            f"| all | {p['total_core_hours']:,.1f} | |",
            "",
            f"The run is bound by {p['bound_by']}. In a day it needs "
            f"{p['nodes_for_a_day']:.2f} node(s) of {p['node_cores']} cores "
            "(Ray: `c2c run --executor ray`), i.e. one such node finishes in about "
            f"{p['total_core_hours'] / p['node_cores']:,.1f} hours. Dedup's clustering in "
            "process holds 33 bytes of RAM and ~1.4 KB of temporary disk per function: "
            f"{f['self_contained'] * 33 / 1e9:,.1f} GB of RAM for "
            f"{f['self_contained'] / 1e6:,.1f} M functions; on Ray Data (tables of 1 M "
            "functions or more under the Ray executor) the driver holds up to ~1.5 KB per "
            f"function on a copy-heavy corpus, about {f['self_contained'] * 1.5e3 / 1e9:,.0f} "
            "GB here. Rates: "
            f"`benches/results/scale.json` (extract, dedup), `inputs.json` (inputs) and "
            "`pipeline.json` (the rest); "
            "`python benches/stack_projection.py --gigabytes N` for another corpus. "
            "LLM-written inputs are bounded by the model's throughput on GPUs instead (not "
            "measured here).",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=60.0)
    parser.add_argument("--node-cores", type=int, default=32)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    projection = project(args.gigabytes, args.node_cores)
    text = markdown(projection)
    publish(projection, RESULTS / "projection.json", text, args.write_readme, BEGIN, END)


if __name__ == "__main__":
    main()
