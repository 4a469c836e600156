"""Sandbox benchmark: the WebAssembly sandbox against the paper's native executor.

On one set of real functions (this interpreter's standard library, each with >= 10 generated
inputs), in one run:
- (a)  the sandbox, a fresh interpreter instance per function (`isolation="function"`);
- (a') the sandbox, a fresh instance per case (`isolation="case"`), optionally on a subset;
- (b)  the sandbox, many functions per instance (`isolation="shared"`, not isolated);
- (c)  the paper's executor: one `python3` subprocess per function, 2 at a time;
- (d)  a persistent native worker: 2 long-lived `python3` processes fed JSON lines;
all with 2 workers, plus the agreement of (a) with (d) case by case (the sandbox is CPython
3.15, the native runs are this interpreter), and a long run of one `Sandbox` that samples the
RSS of the parent and of the worker processes after every batch.

SAFETY: (c) and (d) run the functions natively, outside any sandbox. They are therefore fed
ONLY functions extracted from this interpreter's own standard library (trusted: it is the
interpreter's own code), never site-packages or another corpus: `select()` checks every
origin path and stops otherwise. Functions whose source names an obviously dangerous call are
dropped (for every contender, so all run the same set), the native workers run in a fresh
temporary directory under a light HumanEval-style guard, with a per-case alarm and a
per-function timeout (`benches/native_worker.py`).

    python benches/bench_sandbox.py [--functions N] [--long-cases 100000] [--write-readme]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import case2code
from case2code.sandbox import Call, Limits, Sandbox
from readme_block import wrap, write_readme

ROOT = Path(__file__).resolve().parent.parent
NATIVE_WORKER = Path(__file__).resolve().parent / "native_worker.py"
TIMES = "\N{MULTIPLICATION SIGN}"
README_BEGIN, README_END = "<!-- bench:sandbox -->", "<!-- /bench:sandbox -->"

# Dropped for every contender: sources naming any of these might touch files, processes, the
# network or the clock, which the native baselines must not do.
DANGEROUS = (
    "rmtree",
    "remove",
    "unlink",
    "rmdir",
    "kill",
    "system",
    "Popen",
    "fork",
    "exit",
    "socket",
    "sleep",
    "input(",
    "open(",
    "write",
    "chmod",
    "chown",
    "rename",
    "shutil",
    "subprocess",
)
PLAIN_KINDS = ("positional_or_keyword", "positional_only")

# The stdlib under the extractor's default rules has too few functions of 1-3 plain parameters
# for the >= 1,000 the benchmark needs, so these rules are widened. Every function kept is still
# self-contained stdlib code (imports, module-scope and builtin rules are unchanged).
EXTRACT_CONFIG = case2code.ExtractConfig(
    min_lines=1, rules={"has_return": False, "allowed_decorators": False}
)

# Simple literals, type-agnostic: most functions will raise on most of them, which is fine.
POOL = (
    "0",
    "1",
    "-3",
    "10",
    "2.5",
    "'abc'",
    "''",
    "'a b'",
    "[1, 2, 3]",
    "[]",
    "(1, 2)",
    "()",
    "None",
    "True",
    "False",
    "{'a': 1}",
    "b'xy'",
)

SANDBOX_WORKERS = 2
FUNCTION_TIMEOUT_S = 20.0


# ---------------------------------------------------------------- functions and inputs


def select(n: int) -> tuple[list[dict], dict]:
    """The first `n` eligible stdlib functions by `function_id`, and how many were dropped why."""
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    result = case2code.extract(config=EXTRACT_CONFIG)
    frame = result.functions.unique("function_id", keep="first").sort("function_id")
    counts: Counter[str] = Counter(extracted=result.functions.height, distinct=frame.height)
    chosen = []
    for row in frame.iter_rows(named=True):
        origin = Path(row["origin"]).resolve()
        # Hard check: native execution is only ever given the interpreter's own stdlib.
        if not origin.is_relative_to(stdlib) or {"site-packages", "dist-packages"} & set(
            origin.parts
        ):
            raise SystemExit(f"refusing to run a non-stdlib function natively: {origin}")
        params = row["params"]
        arity = sum(p["kind"] in PLAIN_KINDS for p in params)
        if any(word in row["source"] for word in DANGEROUS):
            counts["dropped: dangerous name"] += 1
        elif params and params[0]["name"] in ("self", "cls"):
            counts["dropped: self/cls first parameter"] += 1
        elif not callable_with_1_to_3(params):
            counts["dropped: not 1-3 plain parameters"] += 1
        else:
            counts["eligible"] += 1
            if len(chosen) < n:
                chosen.append(
                    {
                        "function_id": row["function_id"],
                        "name": row["name"],
                        "source": row["source"],
                        "arity": arity,
                        "origin": str(origin.relative_to(stdlib)),
                        "line": row["line"],
                    }
                )
    return chosen, dict(counts)


def callable_with_1_to_3(params: list[dict]) -> bool:
    """1-3 plain (positional or keyword) parameters, which the inputs fill; `*args`,
    `**kwargs` and keyword-only parameters with a default may follow, and are left out."""
    plain = [p for p in params if p["kind"] in PLAIN_KINDS]
    rest = [p for p in params if p["kind"] not in PLAIN_KINDS]
    return 1 <= len(plain) <= 3 and all(
        p["kind"] in ("var_positional", "var_keyword") or p["default"] is not None for p in rest
    )


def make_inputs(function_id: str, arity: int, count: int, seed: int) -> list[str]:
    """`count` distinct argument lists from the pool, the same on every run."""
    rng = random.Random(f"{seed}:{function_id}")
    seen: list[str] = []
    while len(seen) < count:
        text = "(" + ", ".join(rng.choice(POOL) for _ in range(arity)) + ")"
        if text not in seen:
            seen.append(text)
    return seen


# ---------------------------------------------------------------- memory


def child_pids() -> list[int]:
    """Processes whose parent is this one (any of its threads)."""
    me, out = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2 :].split()[1] == me:
            out.append(int(entry))
    return out


def status_kb(pid: int | str, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class ChildPeaks:
    """Samples the high-water RSS (VmHWM) of this process's children while a contender runs."""

    def __init__(self, every_s: float = 0.2) -> None:
        self.every_s, self.peaks = every_s, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        for pid in child_pids():
            self.peaks[pid] = max(self.peaks.get(pid, 0), status_kb(pid, "VmHWM"))

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def __enter__(self) -> ChildPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def max_mb(self) -> float:
        return round(max(self.peaks.values(), default=0) / 1024, 1)


def wait_children_gone(timeout_s: float = 10.0) -> None:
    """Waits until no child of this process is alive (zombies do not count)."""

    def alive(pid: int) -> bool:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat[stat.rindex(")") + 2] != "Z"

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(alive(p) for p in child_pids()):
        time.sleep(0.05)


# ---------------------------------------------------------------- contenders


def sandbox_run(calls: list[Call], isolation: str) -> tuple[list[list[dict]], float, float]:
    """One fresh `Sandbox`, warmed up, then timed on every call: outcomes, seconds, peak MB."""
    with ChildPeaks() as peaks:
        sandbox = Sandbox(Limits(isolation=isolation), workers=SANDBOX_WORKERS)
        # Workers start lazily, one per thread that picks up a chunk of jobs: warm until all run.
        warm = Call("def warm(x):\n    return x\n", "warm", ["(1)"])
        for _ in range(20):
            sandbox.run([warm] * (16 * SANDBOX_WORKERS))
            if len(child_pids()) >= SANDBOX_WORKERS:
                break
        started = time.perf_counter()
        table = sandbox.run_table(calls)
        seconds = time.perf_counter() - started
        peaks.sample()
        del sandbox
        gc.collect()
        wait_children_gone()
    out: list[list[dict]] = [[] for _ in calls]
    for row in table.iter_rows(named=True):
        status = row["status"]
        if status == "ok":
            output = row["value_repr"]
        elif row["error_type"] is not None:
            output = row["error"]
        else:
            output = row["error"] or row["value_repr"]
        out[row["job"]].append(
            {"status": status, "output": output, "error_type": row["error_type"]}
        )
    return out, seconds, peaks.max_mb()


def failed(call: Call, status: str, why: str) -> list[dict]:
    return [{"status": status, "output": why, "error_type": None}] * len(call.inputs)


def job_json(call: Call) -> str:
    return json.dumps({"source": call.source, "name": call.name, "inputs": list(call.inputs)})


def paper_executor(calls: list[Call], cwd: str) -> tuple[list[list[dict]], float, float]:
    """(c) One `python3` per function running all its cases; two at a time."""
    peak_kb = [0]

    def one(call: Call) -> list[dict]:
        try:
            done = subprocess.run(
                [sys.executable, "-I", str(NATIVE_WORKER), "--one"],
                input=job_json(call),
                capture_output=True,
                text=True,
                timeout=FUNCTION_TIMEOUT_S,
                cwd=cwd,
            )
        except subprocess.TimeoutExpired:
            return failed(call, "timeout", "function timeout")
        try:
            reply = json.loads(done.stdout)
        except ValueError:
            return failed(call, "crash", f"exit {done.returncode}: {done.stderr[-300:]}")
        peak_kb[0] = max(peak_kb[0], reply["maxrss_kb"])
        return reply["results"]

    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        out = list(pool.map(one, calls))
    return out, time.perf_counter() - started, round(peak_kb[0] / 1024, 1)


class NativeWorker:
    """(d) A long-lived `python3 native_worker.py --serve`, one JSON line per job."""

    def __init__(self, cwd: str) -> None:
        self.cwd, self.peak_kb = cwd, 0
        self._start()

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(NATIVE_WORKER), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=self.cwd,
        )

    def run(self, call: Call) -> list[dict]:
        try:
            self.proc.stdin.write(job_json(call) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            reply = json.loads(line)
        except (OSError, ValueError):
            self.proc.kill()
            self.proc.wait()
            self._start()
            return failed(call, "crash", "native worker died")
        self.peak_kb = max(self.peak_kb, reply["maxrss_kb"])
        return reply["results"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def persistent_native(calls: list[Call], cwd: str) -> tuple[list[list[dict]], float, float]:
    """(d) Two persistent workers, each fed by its own thread from one shared queue."""
    workers = [NativeWorker(cwd) for _ in range(2)]
    warm = Call("def warm(x):\n    return x\n", "warm", ["(1)"])
    for w in workers:
        w.run(warm)
    out: list[list[dict] | None] = [None] * len(calls)
    next_index, lock = itertools.count(), threading.Lock()

    def feed(worker: NativeWorker) -> None:
        while True:
            with lock:
                i = next(next_index)
            if i >= len(calls):
                return
            out[i] = worker.run(calls[i])

    started = time.perf_counter()
    threads = [threading.Thread(target=feed, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    for w in workers:
        w.close()
    return out, seconds, round(max(w.peak_kb for w in workers) / 1024, 1)


# ---------------------------------------------------------------- agreement


def short(text: str | None, n: int = 160) -> str | None:
    return text if text is None or len(text) <= n else text[:n] + "..."


ADDRESS = "repr shows a memory address (' at 0x'), never equal across processes"


def cause(a: dict, b: dict, names: tuple[str, str]) -> str:
    """Why case outcomes `a` and `b` (of runs `names`) differ, as a short label."""
    na, nb = names
    if " at 0x" in (a["output"] or "") or " at 0x" in (b["output"] or ""):
        return ADDRESS
    if a["status"] == b["status"] == "error":
        if a["error_type"] != b["error_type"]:
            return f"error type: {na} {a['error_type']}, {nb} {b['error_type']}"
        return f"same error type ({a['error_type']}), different message"
    if a["status"] == b["status"] == "ok":
        return "both ok, different repr"
    sa = a["error_type"] if a["status"] == "error" else a["status"]
    sb = b["error_type"] if b["status"] == "error" else b["status"]
    return f"{na} {sa}, {nb} {sb}"


def agreement(
    calls: list[Call],
    meta: list[dict],
    x: list[list[dict]],
    y: list[list[dict]],
    names: tuple[str, str],
    examples: int,
) -> dict:
    """Share of cases where the two runs give the same status and output, and why not."""
    same = total = 0
    causes: Counter[str] = Counter()
    shown: dict[str, list[dict]] = {}
    functions_all_same = 0
    for call, info, xs, ys in zip(calls, meta, x, y, strict=True):
        fn_same = True
        for text, a, b in zip(call.inputs, xs, ys, strict=True):
            total += 1
            if a["status"] == b["status"] and a["output"] == b["output"]:
                same += 1
                continue
            fn_same = False
            why = cause(a, b, names)
            causes[why] += 1
            if len(shown.setdefault(why, [])) < examples:
                shown[why].append(
                    {
                        "function": f"{info['origin']}:{info['line']} {info['name']}",
                        "input": text,
                        names[0]: f"{a['status']}: {short(a['output'])}",
                        names[1]: f"{b['status']}: {short(b['output'])}",
                    }
                )
        functions_all_same += fn_same
    return {
        "runs": list(names),
        "cases": total,
        "same": same,
        "share": round(same / max(1, total), 4),
        "share_without_addresses": round(same / max(1, total - causes[ADDRESS]), 4),
        "functions_all_cases_same": functions_all_same,
        "differences": [
            {"cause": c, "count": n, "examples": shown[c]} for c, n in causes.most_common()
        ],
    }


# ---------------------------------------------------------------- long run


def long_run(calls: list[Call], target_cases: int, batch_functions: int) -> dict:
    """`target_cases` cases through ONE Sandbox, RSS sampled after every batch."""
    sandbox = Sandbox(Limits(isolation="function"), workers=SANDBOX_WORKERS)
    batches = [calls[i : i + batch_functions] for i in range(0, len(calls), batch_functions)]
    first_outcomes: dict[int, list] = {}
    samples, cases, changed, started = [], 0, 0, time.perf_counter()
    for n in itertools.count():
        if cases >= target_cases:
            break
        batch = batches[n % len(batches)]
        table = sandbox.run_table(batch)
        cases += table.height
        outcome = table.select("status", "value_repr", "error").rows()
        if n % len(batches) in first_outcomes:
            changed += outcome != first_outcomes[n % len(batches)]
        else:
            first_outcomes[n % len(batches)] = outcome
        kids = child_pids()
        samples.append(
            {
                "cases": cases,
                "parent_kb": status_kb("self", "VmRSS"),
                "workers_kb": [status_kb(p, "VmRSS") for p in kids],
            }
        )
    seconds = time.perf_counter() - started
    del sandbox
    gc.collect()
    wait_children_gone()

    def mb(kb: float) -> float:
        return round(kb / 1024, 1)

    parent = [s["parent_kb"] for s in samples]
    workers = [sum(s["workers_kb"]) for s in samples]
    per_worker = [max(s["workers_kb"], default=0) for s in samples]
    return {
        "cases": cases,
        "batches": len(samples),
        "batch_functions": batch_functions,
        "seconds": round(seconds, 2),
        "cases_per_s": round(cases / seconds),
        "repeated_batches_differing": changed,
        "parent_rss_mb": {"first": mb(parent[0]), "last": mb(parent[-1]), "max": mb(max(parent))},
        "workers_rss_mb_total": {
            "first": mb(workers[0]),
            "last": mb(workers[-1]),
            "max": mb(max(workers)),
        },
        "worker_rss_mb_largest": {
            "first": mb(per_worker[0]),
            "last": mb(per_worker[-1]),
            "max": mb(max(per_worker)),
        },
        "samples": [
            {"cases": s["cases"], "parent_mb": mb(s["parent_kb"]), "workers_mb": mb(w)}
            for s, w in zip(samples, workers, strict=True)
        ],
    }


# ---------------------------------------------------------------- report


def contender(label: str, functions: int, cases: int, seconds: float, peak_mb: float) -> dict:
    return {
        "contender": label,
        "functions": functions,
        "cases": cases,
        "seconds": round(seconds, 3),
        "functions_per_s": round(functions / seconds, 1),
        "cases_per_s": round(cases / seconds),
        "peak_rss_mb_per_worker": peak_mb,
    }


def markdown(report: dict) -> str:
    corpus, rows, ratios = report["corpus"], report["timings"], report["ratios"]
    agree, long = report["agreement"]["sandbox_function_vs_native_persistent"], report["long_run"]
    lines = [
        f"Measured on this project's {report['machine']['cores']}-core machine (host CPython "
        f"{report['machine']['python']}, sandbox CPython {report['machine']['guest_python']}), "
        f"{corpus['functions']:,} functions of this interpreter's standard library {TIMES} "
        f"{corpus['inputs_per_function']} inputs = {corpus['cases']:,} cases, 2 workers each:",
        "",
        "| contender | functions | seconds | functions/s | cases/s | peak RSS per worker, MB "
        "| ok / error / other |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        st = r["statuses"]
        other = sum(n for k, n in st.items() if k not in ("ok", "error"))
        lines.append(
            f"| {r['contender']} | {r['functions']:,} | {r['seconds']:.2f} | "
            f"{r['functions_per_s']:,.1f} | {r['cases_per_s']:,} | {r['peak_rss_mb_per_worker']} "
            f"| {st.get('ok', 0):,} / {st.get('error', 0):,} / {other:,} |"
        )
    lines += [
        "",
        "| ratio (same run) | measured | target |",
        "|---|---|---|",
        f"| (a) sandbox per function vs (c) paper executor, functions/s | "
        f"**{ratios['a_over_c_functions']:.2f}{TIMES}** | ≥ 5{TIMES} |",
        f"| (d) persistent native ÷ (b) shared sandbox, cases/s | "
        f"**{ratios['d_over_b_cases']:.2f}{TIMES}** "
        f"(b is within {ratios['d_over_b_cases']:.2f}{TIMES} of d) | ≤ 2{TIMES} |",
        f"| (d) persistent native ÷ (a) sandbox per function, cases/s | "
        f"{ratios['d_over_a_cases']:.2f}{TIMES} | |",
        f"| (a) per function ÷ (a') per case, cases/s | {ratios['a_over_a1_cases']:.2f}{TIMES} | |",
        f"| (b) shared ÷ (a) per function, cases/s (cost of isolation) | "
        f"{ratios['b_over_a_cases']:.2f}{TIMES} | |",
        "",
        f"Agreement of (a) with (d), case by case (status and repr or `<class 'X'>: msg`): "
        f"**{agree['share']:.1%}** of {agree['cases']:,} cases "
        f"({agree['share_without_addresses']:.1%} of those whose repr shows no memory address; "
        f"{agree['functions_all_cases_same']:,} of {corpus['functions']:,} functions agree on "
        f"every case). The sandbox is CPython {report['machine']['guest_python']}, the native "
        f"runs {report['machine']['python']}; top causes of difference:",
        "",
    ]
    for d in agree["differences"][:8]:
        lines.append(f"- {d['count']:,} {TIMES} {d['cause']}")
    c = report["agreement"]
    lines += [
        "",
        f"Consistency: (a) vs (b) {c['sandbox_function_vs_shared']['share']:.2%}, "
        f"(a) vs (a') {c['sandbox_function_vs_case']['share']:.2%}, "
        f"(c) vs (d) {c['native_paper_vs_persistent']['share']:.2%} of cases identical.",
        "",
        f"Long run: {long['cases']:,} cases through one `Sandbox(workers=2)` in "
        f"{long['seconds']:.1f} s ({long['cases_per_s']:,} cases/s), RSS sampled after each of "
        f"{long['batches']} batches: parent {long['parent_rss_mb']['first']} → "
        f"{long['parent_rss_mb']['last']} MB (max {long['parent_rss_mb']['max']}), "
        f"workers together {long['workers_rss_mb_total']['first']} → "
        f"{long['workers_rss_mb_total']['last']} MB (max {long['workers_rss_mb_total']['max']}); "
        f"repeated batches with a different outcome: {long['repeated_batches_differing']}.",
        "",
        f"Functions: stdlib extracted with rules widened to reach the count "
        f"(`min_lines=1`, `has_return` and `allowed_decorators` off), deduplicated, "
        f"{corpus['selection']['eligible']:,} eligible (1-3 plain parameters, no dangerous "
        f"names), first {corpus['functions']:,} by `function_id`; inputs drawn from a pool of "
        f"simple literals (seed {corpus['seed']}). Peak RSS is each worker process's VmHWM. "
        f"Whole benchmark: "
        f"{report['total_seconds']:.0f} s.",
    ]
    return "\n".join(wrap(line) for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=1000, help="functions to run")
    parser.add_argument("--inputs", type=int, default=10, help="inputs per function")
    parser.add_argument(
        "--case-functions",
        type=int,
        default=0,
        help="functions for (a'), fresh instance per case (0: all of them)",
    )
    parser.add_argument("--long-cases", type=int, default=100_000, help="cases in the long run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=int, default=3, help="examples per difference")
    parser.add_argument("--out", default=str(ROOT / "benches/results/sandbox.json"))
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    begun = time.perf_counter()

    meta, selection = select(args.functions)
    if len(meta) < args.functions:
        print(f"note: only {len(meta)} eligible stdlib functions (asked for {args.functions})")
    calls = [
        Call(
            m["source"],
            m["name"],
            make_inputs(m["function_id"], m["arity"], args.inputs, args.seed),
        )
        for m in meta
    ]
    n_cases = sum(len(c.inputs) for c in calls)
    case_n = args.case_functions or len(calls)
    print(f"{len(calls):,} functions, {n_cases:,} cases; selection {selection}", flush=True)

    results: dict[str, list[list[dict]]] = {}
    rows = []

    def record(key: str, label: str, out, seconds: float, peak: float, n: int) -> None:
        results[key] = out
        cases = sum(len(c.inputs) for c in calls[:n])
        rows.append(contender(label, n, cases, seconds, peak))
        statuses = Counter(r["status"] for fn in out for r in fn)
        rows[-1]["statuses"] = dict(statuses.most_common())
        r = rows[-1]
        print(
            f"{label:<58} {r['seconds']:>7.2f} s {r['functions_per_s']:>8.1f} fn/s "
            f"{r['cases_per_s']:>7,} cases/s {peak:>6} MB  {dict(statuses.most_common())}",
            flush=True,
        )

    out, s, peak = sandbox_run(calls, "function")
    record("a", "(a) sandbox, fresh instance per function", out, s, peak, len(calls))
    out, s, peak = sandbox_run(calls[:case_n], "case")
    subset = "" if case_n == len(calls) else f" (first {case_n} functions)"
    record("a1", f"(a') sandbox, fresh instance per case{subset}", out, s, peak, case_n)
    out, s, peak = sandbox_run(calls, "shared")
    record("b", "(b) sandbox, many functions per instance", out, s, peak, len(calls))
    with tempfile.TemporaryDirectory(prefix="c2c-native-") as cwd:
        out, s, peak = paper_executor(calls, cwd)
        record("c", "(c) paper executor, one python3 per function", out, s, peak, len(calls))
    with tempfile.TemporaryDirectory(prefix="c2c-native-") as cwd:
        out, s, peak = persistent_native(calls, cwd)
        record("d", "(d) persistent native workers", out, s, peak, len(calls))

    by = {r["contender"][:4].strip(): r for r in rows}
    ratios = {
        "a_over_c_functions": round(by["(a)"]["functions_per_s"] / by["(c)"]["functions_per_s"], 2),
        "d_over_b_cases": round(by["(d)"]["cases_per_s"] / by["(b)"]["cases_per_s"], 2),
        "d_over_a_cases": round(by["(d)"]["cases_per_s"] / by["(a)"]["cases_per_s"], 2),
        "a_over_a1_cases": round(by["(a)"]["cases_per_s"] / by["(a')"]["cases_per_s"], 2),
        "b_over_a_cases": round(by["(b)"]["cases_per_s"] / by["(a)"]["cases_per_s"], 2),
    }
    ex = args.examples
    agree = {
        "sandbox_function_vs_native_persistent": agreement(
            calls, meta, results["a"], results["d"], ("sandbox", "native"), ex
        ),
        "sandbox_function_vs_shared": agreement(
            calls, meta, results["a"], results["b"], ("per-function", "shared"), ex
        ),
        "sandbox_function_vs_case": agreement(
            calls[:case_n],
            meta,
            results["a"][:case_n],
            results["a1"],
            ("per-function", "per-case"),
            ex,
        ),
        "native_paper_vs_persistent": agreement(
            calls, meta, results["c"], results["d"], ("paper", "persistent"), ex
        ),
    }
    print(f"long run: {args.long_cases:,} cases through one Sandbox...", flush=True)
    long = long_run(calls, args.long_cases, batch_functions=100)

    report = {
        "machine": {
            "cores": os.cpu_count(),
            "python": sys.version.split()[0],
            "guest_python": case2code.sandbox.GUEST_PYTHON,
        },
        "corpus": {
            "functions": len(calls),
            "inputs_per_function": args.inputs,
            "cases": n_cases,
            "seed": args.seed,
            "selection": selection,
        },
        "timings": rows,
        "ratios": ratios,
        "agreement": agree,
        "long_run": long,
        "total_seconds": round(time.perf_counter() - begun, 1),
    }
    text = markdown(report)
    print()
    print(text)
    print()
    for key, a in agree.items():
        print(f"{key}: {a['share']:.2%} of {a['cases']:,} cases identical")
        for d in a["differences"][:12]:
            print(f"  {d['count']:>6}  {d['cause']}")
            for e in d["examples"][:2]:
                print(f"          {e['function']} {e['input']}")
                for name in a["runs"]:
                    print(f"            {name:<12} {e[name]}")
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out_path}")
    if args.write_readme:
        write_readme(text, README_BEGIN, README_END)


if __name__ == "__main__":
    main()
