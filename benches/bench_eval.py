"""Benchmark of `c2c eval`: grading throughput against the Case2Code paper's grader.

In one run:
- the split: `c2c run` over this interpreter's standard library and site-packages, capped at
  MAX_FUNCTIONS unique functions with EVAL_SHARE of them held out, so that its
  `eval/case2code-eval.jsonl` has >= MIN_TASKS tasks (built in a temporary folder, or kept in
  `--cache DIR` and reused);
- the answers: every task's reference answer as a model would write it (the record's `output`,
  "The function is:" and the code in a ```python fence), in a predictions file;
- the contenders, alternating, REPETITIONS times each, each run grading every answer from
  scratch: the paper's grader (`benches/paper_grader.py`: one `python3` subprocess per task
  running all of its cases under HumanEval's `reliability_guard`, 10 s per task, 4 workers);
  `python -m case2code eval SPLIT --predictions refs.jsonl -o DIR`, a fresh process as users run
  it (start-up and imports counted), with its self-checks (the default: the reference code and
  a constant baseline graded too, on the first evaluation of a data file, then read from their
  cache) both cold (the cache entry removed first: the first evaluation of the split) and warm
  (every later one), and with `--no-self-check`; and the grading alone,
  `case2code.evaluate(..., self_check=False)` in this process. Wall seconds
  (median), answers graded per second, CPU seconds of this process and its reaped children,
  and our throughput over the paper grader's (target: >= 5x);
- the scores: the reference answers must score 100% with our grader on our split; the paper
  grader's score on the same answers, with its failures by cause;
- the 20 shared official records (../shared/case2code-official-sample.jsonl) graded by our
  grader with their reference answers, in the sandbox: every record whose expected outputs the
  sandbox's CPython does not reproduce, by cause.

SAFETY: the paper's grader runs code natively (that is its design). It is given nothing but
reference code of functions extracted from this machine's own standard library and
site-packages (trusted: this interpreter's own code; every eval function's origin is checked
and the bench stops otherwise) and the split's literal inputs, in a scratch folder. The
official records and every answer our grader sees run only in the sandbox.

    python benches/bench_eval.py [--write-readme] [--cache DIR]

Writes benches/results/eval.json; with --write-readme, the README block between the
`bench:eval` markers (added after the `bench:stability` block when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import paper_grader
import polars as pl
from case2code.evaluation import EvalResult, evaluate
from case2code.evaluation.checks import self_check_cache_path
from case2code.evaluation.grade import GRADING_LIMITS
from case2code.evaluation.tasks import load_tasks
from case2code.pipeline import Pipeline
from case2code.run_config import RunConfig
from case2code.sandbox import GUEST_PYTHON
from case2code.tables import read_table
from readme_block import add_block, load, publish, wrap

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benches" / "results" / "eval.json"
OFFICIAL = ROOT.parent / "shared" / "case2code-official-sample.jsonl"
README_BEGIN, README_END = "<!-- bench:eval -->", "<!-- /bench:eval -->"
AFTER_BLOCK = "<!-- /bench:stability -->"  # the block goes right after the stability one
COMMAND = (
    "python benches/bench_eval.py --write-readme   "
    "# c2c eval against the paper's grader; writes benches/results/eval.json"
)
TIMES = "\N{MULTIPLICATION SIGN}"
TARGET = 5.0  # issue 14: at least 5x the paper grader's answers/s
MIN_TASKS = 500
MAX_FUNCTIONS = 1200  # unique functions the run keeps: ~600 eval tasks in under a minute
EVAL_SHARE = 0.9  # of the functions with samples, held out as eval tasks
REPETITIONS = 3  # of each contender, alternating
PYTHON = [sys.executable, "-m", "case2code"]
EXCEPTION_TEXT = re.compile(r"^<class '([\w.]+)'>: ")


def env() -> dict[str, str]:
    """The subprocesses import this checkout's package."""
    paths = [str(ROOT / "python"), *filter(None, os.environ.get("PYTHONPATH", "").split(":"))]
    return {**os.environ, "PYTHONPATH": ":".join(paths)}


def cpu_seconds() -> float:
    """User + system time of this process and of its reaped children (subprocesses, sandbox
    workers once their sandbox is closed)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


# ------------------------------------------------------------------ the split


def trusted_roots() -> list[Path]:
    """This interpreter's standard library and site-packages (which may lie inside it)."""
    paths = sysconfig.get_paths()
    roots = [Path(paths["stdlib"]).resolve()]
    for key in ("purelib", "platlib"):
        root = Path(paths[key]).resolve()
        if not any(root.is_relative_to(r) for r in roots):
            roots.append(root)
    return roots


def build_split(folder: Path) -> tuple[Pipeline, dict[str, Any]]:
    """`c2c run` over the stdlib and site-packages; a finished run in `folder` is reused."""
    config = RunConfig(
        out=folder,
        corpus=tuple(map(str, trusted_roots())),
        max_functions=MAX_FUNCTIONS,
        eval_share=EVAL_SHARE,
        eval_max=MAX_FUNCTIONS,
    )
    pipeline = Pipeline(config)
    started = time.perf_counter()
    summary = pipeline.run()
    seconds = time.perf_counter() - started
    statuses = Counter(s["status"] for s in summary["stages"])
    tasks = summary["eval_split"]["functions"]
    print(f"split: {tasks} tasks, `c2c run` {seconds:.1f} s ({dict(statuses)})", flush=True)
    if tasks < MIN_TASKS:
        sys.exit(f"the split has {tasks} tasks, fewer than {MIN_TASKS}: raise MAX_FUNCTIONS")
    return pipeline, {
        "tasks": tasks,
        "run_seconds": seconds,
        "stages_cached": statuses.get("cached", 0) == len(summary["stages"]),
        "unique_functions": next(s["rows_out"] for s in summary["stages"] if s["name"] == "dedup"),
        "settings": {
            "corpus": [str(r) for r in trusted_roots()],
            "max_functions": MAX_FUNCTIONS,
            "eval_share": EVAL_SHARE,
        },
    }


def check_origins(pipeline: Pipeline, records: Sequence[Mapping[str, Any]]) -> None:
    """Hard check: the paper grader runs code natively, so every task must be a function of
    this machine's own standard library or site-packages."""
    functions = read_table(pipeline.table("dedup"), "functions")
    origin = {
        row["function_id"]: (row["origin_corpus"], row["origin"])
        for row in functions.select("function_id", "origin_corpus", "origin").iter_rows(named=True)
    }
    # An origin is a path inside its corpus root, which the corpus name (the root's own name)
    # identifies among the corpus folders the split was made from.
    roots = {root.name: root for root in trusted_roots()}
    for record in records:
        corpus, inside = origin[record["function_id"]]
        root = roots.get(corpus)
        path = (root / inside).resolve() if root is not None else None
        if path is None or not path.is_relative_to(root) or not path.is_file():
            where = f"{corpus}/{inside}"
            sys.exit(f"refusing to run a function from outside the stdlib natively: {where}")


def read_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_predictions(records: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Every task's reference answer, as the paper's answer format writes it."""
    lines = (json.dumps({"id": r["id"], "completion": r["output"]}) for r in records)
    path.write_text("".join(line + "\n" for line in lines))


def split_figures(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    cases = [len(r["example_outputs"]) for r in records]
    return {
        "cases": sum(cases),
        "median_cases": statistics.median(cases),
        "tasks_expecting_an_exception": sum(
            any("error" in o for o in r["example_outputs"]) for r in records
        ),
    }


# ------------------------------------------------------------------ the contenders


def paper(records: Sequence[Mapping[str, Any]], folder: Path) -> list[paper_grader.Verdict]:
    answers = {r["id"]: r["output"] for r in records}
    return paper_grader.grade(records, answers, folder)


def ours_cli(split: Path, predictions: Path, folder: Path, *flags: str) -> dict[str, Any]:
    """`c2c eval` as a user starts it; its results.json."""
    command = ["eval", str(split), "--predictions", str(predictions), "-o", str(folder), *flags]
    done = subprocess.run(
        [*PYTHON, *command],
        env=env(),
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"`c2c eval` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads((folder / "results.json").read_text())


def ours_cli_cold(split: Path, predictions: Path, folder: Path) -> dict[str, Any]:
    """`c2c eval` on a data file it has not seen: the self-checks computed (and cached)."""
    self_check_cache_path(split, GRADING_LIMITS).unlink(missing_ok=True)
    return ours_cli(split, predictions, folder)


def ours_cli_warm(split: Path, predictions: Path, folder: Path) -> dict[str, Any]:
    """`c2c eval` on a data file evaluated before: the self-checks read from the cache."""
    if not self_check_cache_path(split, GRADING_LIMITS).is_file():
        sys.exit("the warm run found no cached self-check: a cold run must come first")
    return ours_cli(split, predictions, folder)


def ours_api(split: Path, predictions: Path, folder: Path) -> EvalResult:
    """The grading alone: `evaluate()` in this process, without the self-checks."""
    return evaluate(split, predictions=predictions, output=folder, self_check=False)


def timed(run: Callable[[Path], Any], folder: Path) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds, what the run returned), into a folder of its own."""
    started, cpu = time.perf_counter(), cpu_seconds()
    result = run(folder)
    return time.perf_counter() - started, cpu_seconds() - cpu, result


def timings(
    contenders: Mapping[str, Callable[[Path], Any]], folder: Path, answers: int, repetitions: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each contender `repetitions` times, the order rotated every round so that a drift in the
    machine's load falls on all; the figures and each contender's last result."""
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    last: dict[str, Any] = {}
    names = list(contenders)
    for i in range(repetitions):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            wall, used, last[name] = timed(contenders[name], folder / f"{name}-{i}")
            seconds[name].append(wall)
            cpu[name].append(used)
            print(
                f"{name}: {wall:.2f} s, {used:.2f} CPU s, {answers / wall:.1f} answers/s",
                flush=True,
            )
    figures = {}
    for name in names:
        median = statistics.median(seconds[name])
        figures[name] = {
            "seconds": seconds[name],
            "cpu_seconds": cpu[name],
            "median_seconds": median,
            "median_cpu_seconds": statistics.median(cpu[name]),
            "answers_per_s": answers / median,
        }
    base = figures["paper"]
    for f in figures.values():  # throughput over the paper grader's: its seconds over ours
        f["ratio"] = base["median_seconds"] / f["median_seconds"]
        f["fastest_ratio"] = min(base["seconds"]) / min(f["seconds"])
        f["cpu_ratio"] = base["median_cpu_seconds"] / f["median_cpu_seconds"]
    return figures, last


# ------------------------------------------------------------------ the scores


def output_cause(expected: str, got: str) -> str:
    """Why an output text differs from the expected one, as a short label."""
    want, have = EXCEPTION_TEXT.match(expected or ""), EXCEPTION_TEXT.match(got)
    if want and have:
        if want.group(1) != have.group(1):
            return "exception type differs"
        return "exception message differs (same type)"
    if want or have:
        return "returned in one, raised in the other"
    if " at 0x" in expected or " at 0x" in got:
        return "repr shows an address"
    return "value differs"


def paper_figures(verdicts: Sequence[paper_grader.Verdict]) -> dict[str, Any]:
    """The paper grader's score on the reference answers, its failures by cause: the script
    failing as a whole (no output), or the first differing case (the host CPython is not the
    sandbox's, which made the expected outputs)."""
    causes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for v in verdicts:
        if v.correct:
            continue
        if v.status == "Error: output mismatch":
            got, want = next((o, g) for o, g in zip(v.outputs, v.gold, strict=True) if o != g)
            label = output_cause(_paper_text(want), _paper_text(got))
            examples.setdefault(label, f"{_paper_text(want)!r} vs {_paper_text(got)!r}")
        else:  # the script as a whole failed: its error without the message's details
            label = f"{v.status.removeprefix('Error: ')}: {_error_kind(v.failure)}"
        causes[label] += 1
    return {
        "correct": sum(v.correct for v in verdicts),
        "tasks": len(verdicts),
        "causes": dict(causes.most_common()),
        "examples": examples,
    }


def _error_kind(failure: str) -> str:
    """A syntax error whole (its message names the cause; the line number dropped), any other
    error by its type."""
    if not failure:
        return "no error shown"
    if failure.startswith("SyntaxError"):
        return re.sub(r" \(detected at line \d+\)", "", failure)
    return failure.split(":", 1)[0]


def _paper_text(encoded: str) -> str:
    """A gold or printed output (`"json"` or `<|EXCEPTION|> "json"`) as the plain text."""
    return json.loads(encoded.removeprefix("<|EXCEPTION|>").strip())


def answer_cause(status: str, expected: str | None, got: str | None, reference: str) -> str:
    """Why a reference answer failed our grader, as a short label."""
    if status in ("wrong_output", "exception") and expected is not None and got is not None:
        return output_cause(expected, got)
    if status in ("syntax_error", "no_code") and "```" in reference:
        # The answer is the code in a ```python fence: a fence inside the code ends it early.
        return f"the reference code holds a ``` fence (in a docstring), cut there ({status})"
    return status


def ours_figures(result: EvalResult, tasks: pl.DataFrame) -> dict[str, Any]:
    """pass@1 and every failed task, with the cause of its first failing case."""
    figures = dict(result.figures)
    columns = ["id", "func_name", "expected", "reference"]
    samples = result.samples.join(tasks.select(columns), on="id")
    failed = []
    for row in samples.filter(pl.col("status") != "correct").iter_rows(named=True):
        index = row["first_failure"]
        expected = row["expected"][index] if index is not None else None
        failed.append(
            {
                "id": row["id"],
                "func_name": row["func_name"],
                "status": row["status"],
                "cases_passed": row["cases_passed"],
                "cases_total": row["cases_total"],
                "case": index,
                "expected": expected,
                "got": row["got"],
                "cause": answer_cause(row["status"], expected, row["got"], row["reference"]),
            }
        )
    return {
        "pass@1": figures["pass@1"],
        "tasks": tasks.height,
        "correct": samples.filter(pl.col("status") == "correct").height,
        "failed": failed,
    }


def official(folder: Path) -> dict[str, Any]:
    """The 20 official records, their reference answers graded in the sandbox."""
    records = read_records(OFFICIAL)
    predictions = folder / "official-refs.jsonl"
    write_predictions(records, predictions)
    started = time.perf_counter()
    result = evaluate(OFFICIAL, predictions=predictions, output=folder / "official")
    seconds = time.perf_counter() - started
    figures = ours_figures(result, load_tasks(OFFICIAL))
    figures["seconds"] = seconds
    # The grader's own self-check (the reference code, unfenced) and its causes, for comparison.
    figures["self_check"] = result.self_check
    print(
        f"official sample: {figures['correct']} of {figures['tasks']} reproduced; "
        + "; ".join(f"{f['func_name']}: {f['cause']}" for f in figures["failed"]),
        flush=True,
    )
    return figures


# ------------------------------------------------------------------ the report


def markdown(report: dict[str, Any]) -> str:
    split, t, ours, base = report["split"], report["timing"], report["ours"], report["paper"]
    off = report["official"]
    loads = [v[0] for v in report["load"].values()]
    n = split["tasks"]
    cli, warm, bare, api = t["cli"], t["cli_warm"], t["cli_no_check"], t["api"]
    check = ours["self_check"]
    lines = [
        wrap(
            f"Measured on this project's {report['cores']}-core machine (shared with other "
            f"workers; 1-minute load average {min(loads):.2f} to {max(loads):.2f} during the "
            f"benchmark), host CPython {report['python']}, sandbox CPython {GUEST_PYTHON}, on "
            f"a split made by `c2c run` over the standard library and site-packages "
            f"(`max_functions={MAX_FUNCTIONS}`, `eval_share={EVAL_SHARE}`): **{n:,} tasks**, "
            f"{split['cases']:,} cases (median {split['median_cases']:g} per task), "
            f"{split['tasks_expecting_an_exception']:,} tasks expecting an exception; one "
            f"reference answer per task (the record's `output`, code in a ```python fence); "
            f"each contender {report['repetitions']} times, alternating:"
        ),
        "",
        "| grader | median seconds | runs, seconds | answers/s | median CPU seconds "
        "| answers/s ÷ paper grader |",
        "|---|---|---|---|---|---|",
    ]
    labels = {
        "paper": "paper's grader: one `python3` per task, `reliability_guard`, 10 s, 4 workers",
        "cli": "`c2c eval SPLIT --predictions refs.jsonl -o DIR`, a fresh process, its "
        "self-checks (the default) computed: the first evaluation of the split",
        "cli_warm": "the same, its self-checks read from their cache: every later evaluation "
        "of the split",
        "cli_no_check": "the same with `--no-self-check`",
        "api": "`case2code.evaluate(SPLIT, predictions=..., output=..., self_check=False)`, "
        "in process",
    }
    for name, label in labels.items():
        f = t[name]
        runs = ", ".join(f"{x:.2f}" for x in f["seconds"])
        lines.append(
            f"| {label} | {f['median_seconds']:.2f} | {runs} | {f['answers_per_s']:,.1f} "
            f"| {f['median_cpu_seconds']:.2f} | {f['ratio']:.2f}{TIMES} |"
        )
    lines += [
        "",
        f"- Throughput: `c2c eval` as users run it grades **{warm['answers_per_s']:,.1f} "
        f"answers/s**, **{warm['ratio']:.2f}{TIMES}** the paper grader's "
        f"{t['paper']['answers_per_s']:,.1f} (target ≥ {TARGET:g}{TIMES}: {_verdict(warm)}; "
        f"fastest run ÷ fastest run {warm['fastest_ratio']:.2f}{TIMES}, CPU time "
        f"{warm['cpu_ratio']:.2f}{TIMES}) once its self-checks are cached; on the first "
        "evaluation of a data file they grade the reference code and a constant baseline on "
        f"every task besides the answers: **{cli['ratio']:.2f}{TIMES}** ({_verdict(cli)}; "
        f"fastest {cli['fastest_ratio']:.2f}{TIMES}, CPU {cli['cpu_ratio']:.2f}{TIMES}). "
        f"With `--no-self-check` **{bare['ratio']:.2f}{TIMES}** ({_verdict(bare)}; fastest "
        f"{bare['fastest_ratio']:.2f}{TIMES}, CPU {bare['cpu_ratio']:.2f}{TIMES}); the "
        f"grading alone, in process, {api['answers_per_s']:,.1f} answers/s, "
        f"{api['ratio']:.2f}{TIMES}.",
        f"- Reference answers, our grader: pass@1 **{ours['pass@1']:.2%}** ({ours['correct']:,} "
        f"of {ours['tasks']:,} tasks)"
        + ("." if not ours["failed"] else f"; **{len(ours['failed'])} failed**: {_failed(ours)}."),
        f"- `c2c eval`'s own self-check on the split (the reference code as is, no fence): "
        f"pass@1 {check['reference']['pass@1']:.2%}"
        + "".join(
            f"; not reproduced, {label}: {len(ids)}"
            for label, ids in check["reference"]["not_reproduced"].items()
        )
        + f"; constant baseline pass@1 {check['baseline']['pass@1']:.2%}.",
        f"- Reference answers, the paper's grader: {base['correct']:,} of {base['tasks']:,} "
        f"({base['correct'] / base['tasks']:.1%}); the rest by cause: "
        + "; ".join(f"{label} {count}" for label, count in base["causes"].items())
        + f". It runs the code natively on the host's CPython {report['python']}, while the "
        f"split's outputs come from the sandbox's {GUEST_PYTHON}: exception messages "
        "changed between the two and `hash()` is 32-bit in the sandbox; a reference that "
        "starts with `from __future__` is no longer at the top of the paper's script, and one "
        "whose docstring holds a ``` fence is cut there by the paper's code extraction.",
        f"- The 20 official records (`shared/case2code-official-sample.jsonl`, "
        f"{off['tasks']} tasks), reference answers graded in the sandbox: **{off['correct']} of "
        f"{off['tasks']}** reproduce every expected output"
        + ("." if not off["failed"] else f"; the others, by cause: {_failed(off)}."),
        "",
        wrap(
            "Every run grades all answers from scratch (a new output folder). The paper's "
            "grader (`benches/paper_grader.py`, after `mp_test_case2code_with_exe.py` and "
            "`sandbox_prefix.py` of choosewhatulike/case2code) writes one script per task "
            "(guard, answer, `example_str`, a loop printing `repr` or `<class 'X'>: msg` per "
            "case) and runs it with this interpreter, 4 at a time; it runs reference code "
            "natively, so it is given only functions of this machine's standard library and "
            "site-packages (trusted; their origins are checked). CPU seconds: this process and "
            "its reaped children. Whole benchmark: "
            f"{report['seconds']:.0f} s (of which the split {split['run_seconds']:.0f} s"
            + (", cached" if split["stages_cached"] else "")
            + ")."
        ),
    ]
    return "\n".join(lines)


def _verdict(figures: Mapping[str, Any]) -> str:
    return "met" if figures["ratio"] >= TARGET else "**not met**"


def _failed(figures: Mapping[str, Any], shown: int = 3) -> str:
    """The failed tasks by cause: how many, a few names, one expected/got pair."""
    by_cause: dict[str, list[Mapping[str, Any]]] = {}
    for f in figures["failed"]:
        by_cause.setdefault(f["cause"], []).append(f)
    parts = []
    for label, failed in by_cause.items():
        names = ", ".join(f"`{f['func_name']}`" for f in failed[:shown])
        more = f" and {len(failed) - shown} more" if len(failed) > shown else ""
        first = failed[0]
        parts.append(
            f"{label}: {len(failed)} ({names}{more}; e.g. case {first['case']}: expected "
            f"`{_short(first['expected'])}`, got `{_short(first['got'])}`)"
        )
    return "; ".join(parts)


def _short(text: str | None, n: int = 60) -> str:
    if text is None:
        return "nothing"
    return text if len(text) <= n else text[:n] + "…"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--cache", type=Path, help="keep (and reuse) the split's run here")
    parser.add_argument("--repetitions", type=int, default=REPETITIONS, help="runs of each")
    args = parser.parse_args()
    started = time.perf_counter()
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "load": {"start": load()},
    }
    with tempfile.TemporaryDirectory(prefix="c2c-bench-eval-") as tmp:
        folder = Path(tmp)
        pipeline, report["split"] = build_split(args.cache or folder / "run")
        split = pipeline.eval_path
        records = read_records(split)
        check_origins(pipeline, records)
        report["split"] |= split_figures(records)
        report["load"]["split"] = load()
        predictions = folder / "refs.jsonl"
        write_predictions(records, predictions)
        contenders = {
            "paper": lambda out: paper(records, out),
            "cli": lambda out: ours_cli_cold(split, predictions, out),
            "cli_warm": lambda out: ours_cli_warm(split, predictions, out),
            "cli_no_check": lambda out: ours_cli(split, predictions, out, "--no-self-check"),
            "api": lambda out: ours_api(split, predictions, out),
        }
        report["repetitions"] = args.repetitions
        report["timing"], last = timings(
            contenders, folder / "runs", len(records), args.repetitions
        )
        report["load"]["timed"] = load()
        report["paper"] = paper_figures(last["paper"])
        report["ours"] = ours_figures(last["api"], load_tasks(split))
        report["ours"]["cli_pass@1"] = last["cli"]["pass@1"]
        report["ours"]["self_check"] = last["cli"]["self_check"]
        if last["cli_warm"]["self_check"] != last["cli"]["self_check"]:
            sys.exit("the cached self-check differs from the computed one")
        report["official"] = official(folder)
    report["load"]["end"] = load()
    report["seconds"] = time.perf_counter() - started
    if args.write_readme:
        add_block(AFTER_BLOCK, COMMAND, README_BEGIN, README_END)
    publish(report, RESULTS, markdown(report), args.write_readme, README_BEGIN, README_END)


if __name__ == "__main__":
    main()
