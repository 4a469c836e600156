"""Input generation benchmark (issue 6): how many real functions get >= 5 valid inputs.

In one run, on this interpreter's standard library (>= 1,000 functions):
- the built-in generator (type-aware, then mutation), through the real inputs stage: every
  candidate runs in the sandbox, and an input is valid when the call returns; coverage-guided
  (the default) and unguided (`guided = false`: rounds, mutation and the kept inputs as before
  guidance), same seed;
- a type-agnostic baseline: the same stage with random literals from a fixed pool instead of
  the built-in generator's guesses (the ratio of the two is the figure reported);
- the stage as before issue 17, for the speed-up: that version's own code (commit 828ecd0, a
  worktree with its extension built: `--before`, its own sandbox cache `--before-cache`), run
  by inputs_before.py in a subprocess on the same functions, settings and seed; the speed-up
  per input kept, in CPU seconds (the stage's process and its sandbox workers) and in wall
  seconds;
- coverage (issue 17): the mean branch coverage of each row's kept inputs, traced in the
  sandbox, and the same tracer on the paper's own LLM-written inputs (InternLM2-7B) of the 20
  shared official records (../shared/case2code-official-sample.jsonl) beside the built-in
  generator's on those functions, each function at the same number of inputs for both;
- on a seeded subset, the small real model SmolLM2-135M-Instruct (llama-cpp-python's server on
  127.0.0.1, one request at a time) with and without the JSON schema, beside the built-in
  generator on the same subset.

    python benches/bench_inputs.py [--llm-functions 24] [--speed-only] [--anchor-only]
        [--before /tmp/c2c-pre17] [--before-cache /tmp/c2c-pre17-cache] [--write-readme]

    git worktree add /tmp/c2c-pre17 828ecd0   # then in it, build the extension into python/:
    cargo build --release --features python --lib && \
        cp $CARGO_TARGET_DIR/release/libcase2code.so python/case2code/_core.abi3.so

`--speed-only` runs the three built-in rows alone and prints their figures (no file written);
`--anchor-only` the paper's-inputs coverage anchor alone.

Writes benches/results/inputs.json; with --write-readme, the README block between the
`bench:inputs` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import case2code
import polars as pl
from case2code import coverage
from case2code.inputs import BuiltinGenerator, InputsConfig, Proposal, Request, generate_inputs
from case2code.inputs.drivers import make_generator
from case2code.inputs.literals import render_arguments
from case2code.inputs.llm import LLMSettings
from case2code.inputs.spec import Candidate
from readme_block import load, publish, wrap

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from llm_server import run_llm_server  # noqa: E402

RESULTS = ROOT / "benches" / "results" / "inputs.json"
OFFICIAL = ROOT.parent / "shared" / "case2code-official-sample.jsonl"
README_BEGIN, README_END = "<!-- bench:inputs -->", "<!-- /bench:inputs -->"
MIN_VALID = 5
TIMES = "\N{MULTIPLICATION SIGN}"
CONFIG = InputsConfig(n_inputs=10, min_valid=MIN_VALID, rounds=4, mutate=True, seed=0)
UNGUIDED = replace(CONFIG, guided=False)
# The baseline: the inputs stage as it was before issue 17, its own code (a worktree of this
# commit, the last before issue 17's first change, with its Rust extension built in python/;
# see `--before`), run in a subprocess by inputs_before.py with its own sandbox cache.
BEFORE_COMMIT = "828ecd0"
WORKERS = 2
EXTRACT = case2code.ExtractConfig(min_lines=1)

# The type-agnostic pool: one of each common literal type and a few edge values.
POOL = (0, 1, -3, 2.5, "", "abc", "hello world", [], [1, 2, 3], ["a", "b"], {}, {"a": 1},
        (1, 2), None, True, b"xy", 10**6)  # fmt: skip


class PoolGenerator:
    """Baseline: each argument a random literal from POOL, ignoring everything about the
    function but its number of required parameters."""

    name = "pool"
    model = None

    def propose(self, requests: Sequence[Request]) -> list[Proposal]:
        proposals = []
        for request in requests:
            spec = request.spec
            rng = random.Random(f"{request.seed}:{spec.function_id}:{request.round}")
            arity = sum(p.required for p in spec.params)
            seen = {t.input for t in request.history}
            proposal = Proposal(spec.function_id)
            for _ in range(max(24, 3 * request.want) * 4):
                text = render_arguments([rng.choice(POOL) for _ in range(arity)])
                if text not in seen:
                    seen.add(text)
                    proposal.candidates.append(Candidate(text, "pool"))
                if len(proposal.candidates) >= max(24, 3 * request.want):
                    break
            proposals.append(proposal)
        return proposals


def functions() -> pl.DataFrame:
    frame = case2code.extract(config=EXTRACT).functions
    frame = frame.unique("function_id", keep="first").sort("function_id")
    if frame.height < 1000:
        raise SystemExit(f"only {frame.height} stdlib functions; the benchmark needs 1,000")
    return frame


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its children reaped so far: a
    sandbox's worker processes count once it is closed."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def measure(label: str, frame: pl.DataFrame, generator, config: InputsConfig) -> dict:
    """One row: the stage on `frame` in a sandbox of its own, timed in wall and CPU seconds."""
    load_before = load()
    host_before, workers_before = cpu_seconds()
    started = time.perf_counter()
    with case2code.Sandbox(config.limits, workers=WORKERS) as sandbox:
        result = generate_inputs(frame, generator, config, sandbox=sandbox)
    figures = result.report()
    figures["wall_seconds"] = time.perf_counter() - started
    host_after, workers_after = cpu_seconds()
    figures["host_cpu_seconds"] = host_after - host_before
    figures["worker_cpu_seconds"] = workers_after - workers_before
    figures["cpu_seconds"] = figures["host_cpu_seconds"] + figures["worker_cpu_seconds"]
    figures["inputs_per_cpu_s"] = figures["inputs_kept"] / max(figures["cpu_seconds"], 1e-9)
    figures["inputs_per_wall_s"] = figures["inputs_kept"] / max(figures["wall_seconds"], 1e-9)
    figures["load"] = [load_before, load()]
    figures["label"] = label
    figures.update(mean_coverage(frame, kept_inputs(result)))
    print(
        f"{label}: {figures['share_with_min_valid']:.1%} of {figures['functions']} functions "
        f"with >= {MIN_VALID} valid; valid rate {figures['valid_rate']:.1%}; "
        f"{figures['inputs_kept']} kept; {figures['inputs_per_cpu_s']:.1f} inputs/CPU-s "
        f"({figures['host_cpu_seconds']:.1f} host + {figures['worker_cpu_seconds']:.1f} workers); "
        f"{figures['inputs_per_wall_s']:.1f} inputs/s, {figures['wall_seconds']:.1f} s; "
        f"load {figures['load']}",
        flush=True,
    )
    return figures


def measure_before(frame: pl.DataFrame, before: Path, before_cache: Path) -> dict:
    """The baseline row: the stage of the version in `before`, same functions, settings and
    seed, in a subprocess (inputs_before.py), timed there like `measure`."""
    if not (before / "python" / "case2code" / "_core.abi3.so").is_file():
        raise SystemExit(f"{before}: no built case2code/_core.abi3.so (see --before)")
    env = {**os.environ, "PYTHONPATH": str(before / "python"), "C2C_CACHE_DIR": str(before_cache)}
    load_before = load()
    with tempfile.TemporaryDirectory() as folder:
        functions, kept = Path(folder) / "functions.parquet", Path(folder) / "kept.parquet"
        frame.write_parquet(functions)
        script = ROOT / "benches" / "inputs_before.py"
        command = [sys.executable, str(script), str(functions), str(kept), str(WORKERS)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"the baseline run failed:\n{done.stderr[-3000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        inputs = pl.read_parquet(kept)
    if not figures["package"].startswith(str(before)):
        raise SystemExit(f"the baseline ran {figures['package']}, not the version in {before}")
    figures["cpu_seconds"] = figures["host_cpu_seconds"] + figures["worker_cpu_seconds"]
    figures["inputs_per_cpu_s"] = figures["inputs_kept"] / max(figures["cpu_seconds"], 1e-9)
    figures["inputs_per_wall_s"] = figures["inputs_kept"] / max(figures["wall_seconds"], 1e-9)
    figures["load"] = [load_before, load()]
    figures["label"] = f"built-in, before #17 ({BEFORE_COMMIT})"
    figures.update(mean_coverage(frame, inputs))
    print(
        f"{figures['label']}: {figures['share_with_min_valid']:.1%} with >= {MIN_VALID} valid; "
        f"{figures['inputs_kept']} kept; {figures['inputs_per_cpu_s']:.1f} inputs/CPU-s; "
        f"load {figures['load']}",
        flush=True,
    )
    return figures


def mean_coverage(functions: pl.DataFrame, inputs: pl.DataFrame) -> dict:
    """Mean branch and line coverage of these inputs (one row per input), each function's
    cases traced in the sandbox under the execute stage's limits."""
    results = case2code.execute(
        functions, inputs, limits=case2code.Limits(coverage=True), workers=WORKERS
    )
    figures = coverage.means(coverage.tally(coverage.summary(results, ["function_id"]).collect()))
    return {
        "mean_branch_coverage": figures["mean_branch_coverage"],
        "mean_line_coverage": figures["mean_line_coverage"],
        "functions_with_branches": figures["with_branches"],
        "functions_traced": figures["functions"],
    }


def kept_inputs(result) -> pl.DataFrame:
    """(function_id, input) rows of an inputs-stage result."""
    table = result.inputs
    if "inputs" in table.columns:
        table = table.explode("inputs").rename({"inputs": "input"})
    return table.select("function_id", "input").drop_nulls()


def paper_anchor() -> dict:
    """The paper's inputs and the built-in generator's on the 20 official functions, traced
    alike, each function at the smaller of the two input counts (first inputs of each)."""
    records = [json.loads(line) for line in OFFICIAL.read_text().splitlines() if line.strip()]
    # Extracted like any corpus (the generator reads the parameters), one file per record.
    with tempfile.TemporaryDirectory() as folder:
        for r in records:
            (Path(folder) / f"r{r['id']}.py").write_text(r["code"])
        extracted = case2code.extract([folder], config=EXTRACT).functions
    extracted = extracted.with_columns(
        pl.col("origin").str.extract(r"r([^/]+)\.py$").alias("record")
    )
    wanted = pl.DataFrame(
        {"record": [str(r["id"]) for r in records], "name": [r["func_name"] for r in records]}
    )
    functions = extracted.join(wanted, on=["record", "name"]).unique("record", keep="first")
    ids = dict(zip(functions["record"], functions["function_id"], strict=True))
    # The paper's inputs are keyword dicts as text, e.g. "{'num': 123}": a call `(**{...})`.
    paper = pl.DataFrame(
        [
            {"function_id": ids[str(r["id"])], "input": f"(**{json.loads(text)})"}
            for r in records
            if str(r["id"]) in ids
            for text in r["example_inputs"]
        ]
    )
    with case2code.Sandbox(CONFIG.limits, workers=WORKERS) as sandbox:
        ours, unguided = (
            kept_inputs(generate_inputs(functions, BuiltinGenerator(), config, sandbox=sandbox))
            for config in (CONFIG, UNGUIDED)
        )
    counts = (
        paper.group_by("function_id")
        .len("paper")
        .join(ours.group_by("function_id").len("ours"), on="function_id", how="left")
        .with_columns(pl.min_horizontal("paper", pl.col("ours").fill_null(0)).alias("n"))
    )

    def first_n(inputs: pl.DataFrame) -> pl.DataFrame:
        numbered = inputs.with_columns(pl.int_range(pl.len()).over("function_id").alias("i"))
        return numbered.join(counts, on="function_id").filter(pl.col("i") < pl.col("n"))

    anchor = {
        "functions": functions.height,
        "inputs_each": counts["n"].to_list(),
        "paper": mean_coverage(functions, first_n(paper).select("function_id", "input")),
        "builtin": mean_coverage(functions, first_n(ours).select("function_id", "input")),
        "builtin_unguided": mean_coverage(
            functions, first_n(unguided).select("function_id", "input")
        ),
        "paper_all_inputs": mean_coverage(functions, paper),
    }
    print(f"coverage anchor: {json.dumps(anchor)}", flush=True)
    return anchor


def speedup(after: dict, before: dict) -> dict:
    """How much faster per input kept, in CPU and wall seconds; quality beside it."""
    return {
        "per_cpu_second": after["inputs_per_cpu_s"] / max(before["inputs_per_cpu_s"], 1e-9),
        "per_wall_second": after["inputs_per_wall_s"] / max(before["inputs_per_wall_s"], 1e-9),
        "candidates": after["candidates"] / max(before["candidates"], 1),
        "share_with_min_valid": [before["share_with_min_valid"], after["share_with_min_valid"]],
        "mean_distinct_outputs": [before["mean_distinct_outputs"], after["mean_distinct_outputs"]],
    }


def llm_runs(subset: pl.DataFrame, max_tokens: int) -> list[dict]:
    runs = []
    # The model alone, as the paper uses one: no mutation; one re-prompt with the errors.
    config = InputsConfig(n_inputs=10, min_valid=MIN_VALID, rounds=2, reprompts=1, mutate=False)
    with run_llm_server() as server:
        for structured in (True, False):
            settings = LLMSettings(structured=structured, max_tokens=max_tokens)
            generator = make_generator("openai", server.model, server.base_url, settings, 1)
            label = f"SmolLM2-135M, {'JSON schema' if structured else 'free text'}"
            runs.append(measure(label, subset, generator, config))
    return runs


def markdown(report: dict) -> str:
    b, p, before, up = report["builtin"], report["pool"], report["before"], report["speedup"]
    unguided, anchor = report["unguided"], report["anchor"]
    loads = [x for run in (b, unguided, before, p) for pair in run["load"] for x in pair[:1]]
    lines = [
        wrap(
            f"Measured on this project's 2-core machine (shared; 1-minute load average "
            f"{min(loads):.2f} to {max(loads):.2f} during the built-in rows), {b['functions']:,} "
            f"functions of this interpreter's standard library (CPython {report['python']}; "
            f"extracted with `min_lines=1`), 10 inputs wanted per function, up to 4 rounds, "
            f"sandbox-validated (an input is valid when the call returns), {WORKERS} sandbox "
            f"workers; CPU seconds are the stage's process and its workers; in one run:"
        ),
        "",
        f"| generator | functions | with ≥ {MIN_VALID} valid inputs | valid-input rate "
        "| distinct outputs per function | mean branch coverage | candidates run | CPU s "
        "| inputs kept/CPU-s | inputs kept/s | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in (b, unguided, before, p, *report["subset"], *report["llm"]):
        lines.append(
            f"| {run['label']} | {run['functions']:,} | **{run['share_with_min_valid']:.1%}** "
            f"| {run['valid_rate']:.1%} | {run['mean_distinct_outputs']:.2f} "
            f"| {run['mean_branch_coverage']:.3f} "
            f"| {run['candidates']:,} | {run['cpu_seconds']:.1f} "
            f"| {run['inputs_per_cpu_s']:,.1f} | {run['inputs_per_wall_s']:,.1f} "
            f"| {run['wall_seconds']:.1f} |"
        )
    lines += [
        "",
        f"- Built-in generator: **{b['share_with_min_valid']:.1%}** of {b['functions']:,} "
        f"functions get ≥ {MIN_VALID} valid, distinct inputs (target ≥ 60%): "
        f"**{b['share_with_min_valid'] / max(p['share_with_min_valid'], 1e-9):.2f}{TIMES}** the "
        f"type-agnostic pool's {p['share_with_min_valid']:.1%} in the same run.",
        f"- Issue 17's changes (a function is given up after `patience` rounds without a new "
        f"valid input, after `max_limit_hits` candidates over the limits, or when its inputs "
        f"all fail reading an attribute no literal has; validation fuel a twentieth of the "
        f"execute stage's; a round for a function with no valid input yet asks twice the "
        f"candidates, spread over the kinds not tried, and TypeErrors naming a wanted type "
        f"steer the kinds; inputs reach the sandbox as marshalled values, not text to parse; "
        f"coverage guidance): **{up['per_cpu_second']:.2f}{TIMES}** the inputs kept per CPU "
        f"second and {up['per_wall_second']:.2f}{TIMES} per wall second of the stage before "
        f"issue 17 (its own code, commit {BEFORE_COMMIT}, same functions, settings and seed), "
        f"running "
        f"{up['candidates']:.0%} of its candidates; "
        f"{', '.join(f'{k} {v:,}' for k, v in b['functions_stopped_early'].items())} "
        "functions given up.",
        f"- Kept inputs by origin: {', '.join(f'{k} {v:,}' for k, v in b['origins'].items())}.",
        f"- Coverage guidance (a function with arms no input reached stays in the rounds until "
        f"`patience` rounds bring no new arm; mutation from inputs that reached new arms; kept "
        f"inputs picked by new arms first): mean branch coverage of the kept inputs "
        f"**{b['mean_branch_coverage']:.3f}** against {unguided['mean_branch_coverage']:.3f} "
        f"unguided (same seed; {b['functions_with_branches']:,} functions with a branch, "
        f"traced under the execute stage's limits), "
        f"{b['inputs_per_cpu_s'] / max(unguided['inputs_per_cpu_s'], 1e-9):.2f}{TIMES} its "
        f"inputs kept per CPU second. The paper's LLM-written inputs (InternLM2-7B) of the "
        f"{anchor['functions']} shared official records, same tracer, each function at the same "
        f"number of inputs: **{anchor['paper']['mean_branch_coverage']:.3f}**; the built-in "
        f"generator's {anchor['builtin']['mean_branch_coverage']:.3f} guided, "
        f"{anchor['builtin_unguided']['mean_branch_coverage']:.3f} unguided.",
    ]
    for run in report["llm"]:
        lines.append(
            f"- {run['label']}: {run['requests']} requests, {run['tokens_in']:,} tokens in, "
            f"{run['tokens_out']:,} out, {run['truncated_answers']} truncated, "
            f"{run['failed_requests']} failed; answer failures {run['answer_failures'] or '{}'}."
        )
    lines += [
        "",
        wrap(
            f"The model rows and the built-in row beside them use the same "
            f"{report['subset'][0]['functions']} functions (seeded sample); the model runs "
            "without mutation, with one re-prompt showing the errors, max_tokens "
            f"{report['max_tokens']}. Whole benchmark: {report['seconds']:.0f} s."
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-functions", type=int, default=24)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument("--anchor-only", action="store_true")
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--before", type=Path, default=Path("/tmp/c2c-pre17"))
    parser.add_argument("--before-cache", type=Path, default=Path("/tmp/c2c-pre17-cache"))
    args = parser.parse_args()
    started = time.perf_counter()
    frame = functions()
    subset = frame.sample(args.llm_functions, seed=1)
    report: dict = {"python": platform.python_version(), "max_tokens": args.max_tokens}
    report["anchor"] = paper_anchor()
    if args.anchor_only:
        return
    report["builtin"] = measure("built-in", frame, BuiltinGenerator(), CONFIG)
    report["unguided"] = measure("built-in, unguided", frame, BuiltinGenerator(), UNGUIDED)
    report["before"] = measure_before(frame, args.before, args.before_cache)
    report["speedup"] = speedup(report["builtin"], report["before"])
    print(f"speed-up per input kept: {report['speedup']}")
    if args.speed_only:
        report["seconds"] = time.perf_counter() - started
        print(json.dumps(report, indent=2))
        return
    report["pool"] = measure("type-agnostic pool", frame, PoolGenerator(), CONFIG)
    report["subset"] = [measure("built-in (model subset)", subset, BuiltinGenerator(), CONFIG)]
    report["llm"] = llm_runs(subset, args.max_tokens) if args.llm_functions else []
    report["seconds"] = time.perf_counter() - started
    publish(report, RESULTS, markdown(report), args.write_readme, README_BEGIN, README_END)


if __name__ == "__main__":
    main()
