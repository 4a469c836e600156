"""Input generation benchmark (issue 6): how many real functions get >= 5 valid inputs.

In one run, on this interpreter's standard library (>= 1,000 functions):
- the built-in generator (type-aware, then mutation), through the real inputs stage: every
  candidate runs in the sandbox, and an input is valid when the call returns;
- a type-agnostic baseline: the same stage with random literals from a fixed pool instead of
  the built-in generator's guesses (the ratio of the two is the figure reported);
- on a seeded subset, the small real model SmolLM2-135M-Instruct (llama-cpp-python's server on
  127.0.0.1, one request at a time) with and without the JSON schema, beside the built-in
  generator on the same subset.

    python benches/bench_inputs.py [--llm-functions 24] [--write-readme]

Writes benches/results/inputs.json; with --write-readme, the README block between the
`bench:inputs` markers.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import case2code
import polars as pl
from case2code.inputs import BuiltinGenerator, InputsConfig, Proposal, Request, generate_inputs
from case2code.inputs.drivers import make_generator
from case2code.inputs.literals import render_arguments
from case2code.inputs.llm import LLMSettings
from case2code.inputs.spec import Candidate
from readme_block import publish, wrap

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from llm_server import run_llm_server  # noqa: E402

RESULTS = ROOT / "benches" / "results" / "inputs.json"
README_BEGIN, README_END = "<!-- bench:inputs -->", "<!-- /bench:inputs -->"
MIN_VALID = 5
TIMES = "\N{MULTIPLICATION SIGN}"
CONFIG = InputsConfig(n_inputs=10, min_valid=MIN_VALID, rounds=4, mutate=True, seed=0)
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


def measure(label: str, frame: pl.DataFrame, generator, config: InputsConfig, sandbox) -> dict:
    started = time.perf_counter()
    result = generate_inputs(frame, generator, config, sandbox=sandbox)
    figures = result.report()
    figures["wall_seconds"] = time.perf_counter() - started
    figures["label"] = label
    print(
        f"{label}: {figures['share_with_min_valid']:.1%} of {figures['functions']} functions "
        f"with >= {MIN_VALID} valid; valid rate {figures['valid_rate']:.1%}; "
        f"{figures['inputs_per_s']:.1f} inputs/s; {figures['wall_seconds']:.1f} s",
        flush=True,
    )
    return figures


def llm_runs(subset: pl.DataFrame, sandbox, max_tokens: int) -> list[dict]:
    runs = []
    # The model alone, as the paper uses one: no mutation; one re-prompt with the errors.
    config = InputsConfig(n_inputs=10, min_valid=MIN_VALID, rounds=2, reprompts=1, mutate=False)
    with run_llm_server() as server:
        for structured in (True, False):
            settings = LLMSettings(structured=structured, max_tokens=max_tokens)
            generator = make_generator("openai", server.model, server.base_url, settings, 1)
            label = f"SmolLM2-135M, {'JSON schema' if structured else 'free text'}"
            runs.append(measure(label, subset, generator, config, sandbox))
    return runs


def markdown(report: dict) -> str:
    b, p = report["builtin"], report["pool"]
    lines = [
        wrap(
            f"Measured on this project's 2-core machine, {b['functions']:,} functions of this "
            f"interpreter's standard library (CPython {report['python']}; extracted with "
            f"`min_lines=1`), 10 inputs wanted per function, up to 4 rounds, sandbox-validated "
            f"(an input is valid when the call returns); in one run:"
        ),
        "",
        f"| generator | functions | with ≥ {MIN_VALID} valid inputs | valid-input rate "
        "| distinct outputs per function | candidates run | inputs kept/s | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in (b, p, *report["subset"], *report["llm"]):
        lines.append(
            f"| {run['label']} | {run['functions']:,} | **{run['share_with_min_valid']:.1%}** "
            f"| {run['valid_rate']:.1%} | {run['mean_distinct_outputs']:.2f} "
            f"| {run['candidates']:,} | {run['inputs_per_s']:,.1f} | {run['wall_seconds']:.1f} |"
        )
    lines += [
        "",
        f"- Built-in generator: **{b['share_with_min_valid']:.1%}** of {b['functions']:,} "
        f"functions get ≥ {MIN_VALID} valid, distinct inputs (target ≥ 60%): "
        f"**{b['share_with_min_valid'] / max(p['share_with_min_valid'], 1e-9):.2f}{TIMES}** the "
        f"type-agnostic pool's {p['share_with_min_valid']:.1%} in the same run, at "
        f"{b['inputs_per_s']:,.0f} inputs kept/s ({b['candidates_per_s']:,.0f} candidates "
        "run/s).",
        f"- Kept inputs by origin: {', '.join(f'{k} {v:,}' for k, v in b['origins'].items())}.",
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
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    frame = functions()
    subset = frame.sample(args.llm_functions, seed=1)
    report: dict = {"python": platform.python_version(), "max_tokens": args.max_tokens}
    with case2code.Sandbox(CONFIG.limits, workers=2) as sandbox:
        report["builtin"] = measure("built-in", frame, BuiltinGenerator(), CONFIG, sandbox)
        report["pool"] = measure("type-agnostic pool", frame, PoolGenerator(), CONFIG, sandbox)
        report["subset"] = [
            measure("built-in (model subset)", subset, BuiltinGenerator(), CONFIG, sandbox)
        ]
        report["llm"] = llm_runs(subset, sandbox, args.max_tokens) if args.llm_functions else []
    report["seconds"] = time.perf_counter() - started
    publish(report, RESULTS, markdown(report), args.write_readme, README_BEGIN, README_END)


if __name__ == "__main__":
    main()
