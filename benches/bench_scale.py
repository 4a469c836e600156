"""Scale benchmark: extract + dedup of a corpus in The Stack's schema, at 1,000,000 functions and
at a quarter of that, as fresh processes: peak RSS and throughput per stage.

Corpus: the functions `c2c extract` keeps from this interpreter's site-packages (their standalone
sources: real code), plus mutated copies of them (`benches/dedup_mutations.py`: renamed
identifiers, changed literals, comment, docstring and layout edits, line deletions, duplications
and swaps; 1-3 per copy, seeded) up to `--rows` rows, one function's source per row in The
Stack's `content` column, with The Stack's other columns beside it (`max_stars_repo_path`,
`max_stars_repo_name`, `max_stars_repo_licenses`, `max_stars_count`, `hexsha`, `size`, `ext`,
`lang`, `avg_line_length`, `max_line_length`, `alphanum_fraction`), written as one Parquet file
(row groups of 10,000), and its first quarter as another. Both are cached under `--cache`.

Each stage runs as a fresh process: the extract stage as `c2c run` runs it
(`extract_to_parquet(CORPUS, "functions.parquet")`, in `python -c`: `c2c extract` still
collects every function in memory), then `python -m case2code dedup functions.parquet -o
unique.parquet`, and, when the CLI has it, `python -m case2code run --until dedup` on the same
corpus. Peak RSS is
`/usr/bin/time`'s maximum resident set size of the process (its own, not this one's). Targets
(issue 15, acceptance (a)): peak RSS <= 1.5 GB at >= 1,000,000 functions, and <= 1.25x the
peak of the same run on the quarter corpus (the baseline, measured in the same run).

(b) The whole pipeline (`c2c run --max-functions N`, built-in generator) on the first 50,000
rows of a corpus built the same way (about 21,000 functions after dedup), with N = 5,000 and
20,000, each a fresh process: its own peak RSS (`wait4`, as `/usr/bin/time`) and, from a sampler
thread here reading `/proc` every 50 ms, the peak of the `c2c` process and of its sandbox workers
per stage (a sample belongs to the first stage whose completion marker is not written yet).
Target: the peak grows by <= 10% from 5,000 to 20,000 functions.

(c) The default `c2c run` (the stdlib, built-in inputs) against the version before the redesign
(`--before`: a worktree of commit 06c7db0 with its Rust extension built in its `python/`, and
its own sandbox cache `--before-cache`, primed by one untimed run), alternated, `--repeats`
runs each in fresh folders: median wall and CPU seconds. Target: <= 1.05x the time before.

(d) The Ray executor next to the local one (issue 16), a Ray that `c2c` starts on this machine
(`ray.init()`, every core): 1. `c2c run --max-functions 300` (the stdlib, built-in inputs) with
`--executor local` and `--executor ray`, alternated, `--repeats` runs each in fresh folders after
one untimed run each: median wall seconds, Ray / local as a ratio, and the two datasets compared
as sets of rows (and byte for byte). 2. `c2c run --until dedup --executor ray` on part (a)'s
corpus (Ray Data extraction; dedup's clustering on Ray Data at >= DISTRIBUTED_MIN_FUNCTIONS):
each stage's rates from its completion marker, and, from a sampler thread reading `/proc` every
250 ms, the peak RSS of the driver, of each Ray worker or actor process (found below the driver,
which started the GCS and the raylet, or by their output in the driver's Ray session), of Ray's
own processes, and of all together at the sample where their sum peaks (RSS, and PSS, which
divides shared pages such as the object store's). Beside it, part (a)'s local figures for the
same corpus (this run's when (a) runs too, else scale.json's).

    python benches/bench_scale.py [--parts abcd] [--rows 1050000] [--cache DIR]
        [--before /tmp/c2c-before] [--before-cache /tmp/c2c-before-cache] [--write-readme]

Writes benches/results/scale.json (the parts not run keep their figures from the last run);
with --write-readme, the README block between the `bench:scale` markers (added after the
pipeline bench's block the first time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import site
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dedup_mutations
from case2code.dedup_distributed import DISTRIBUTED_MIN_FUNCTIONS
from case2code.export import PIECE_ROWS, SHARD_ROW_GROUP_ROWS
from case2code.markers import MARKER
from case2code.run_config import STAGES
from readme_block import add_block, load, publish, wrap

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benches" / "results" / "scale.json"
README_BEGIN, README_END = "<!-- bench:scale -->", "<!-- /bench:scale -->"
AFTER = "<!-- /bench:pipeline -->"
COMMAND = "python benches/bench_scale.py --write-readme"
TARGET_PEAK_MB = 1536
TARGET_RATIO = 1.25
# (b): the whole pipeline at two sizes; (c): the default run against the version before.
PIPELINE_ROWS = 50_000
PIPELINE_SIZES = (5_000, 20_000)
TARGET_GROWTH = 1.10
BEFORE_COMMIT = "06c7db0"
TARGET_TIME_RATIO = 1.05
SAMPLE_EVERY = 0.05
# (d): the Ray executor next to the local one; Ray's processes sampled less often (each sample
# walks /proc and reads every Ray process's smaps_rollup).
EXECUTORS = ("local", "ray")
RAY_WORKLOAD_FUNCTIONS = 300
RAY_SAMPLE_EVERY = 0.25
# Processes of Ray's own that run as workers: its agents and Ray Data's bookkeeping actors
# (`_StatsActor`, `_AutoscalingCoordinatorActor`, ...). Counted with the GCS and the raylet.
RAY_OWN_WORKERS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent", "ray::ActorLocationTracker")
RAY_OWN_WORKERS += ("ray::_",)
CHUNK_ROWS = 50_000
ROW_GROUP = 10_000
TIMES = "\N{MULTIPLICATION SIGN}"
ARROW = "\N{RIGHTWARDS ARROW}"
# The extract stage as `c2c run` runs it (pipeline: extract_to_parquet), its summary as JSON.
# `c2c extract` itself still collects every function in memory (case2code.extract) until the
# CLI calls extract_to_parquet too.
EXTRACT_STAGE = """
import json, sys
from case2code.extract import extract_to_parquet
summary = extract_to_parquet([sys.argv[1]], "functions.parquet")
open("x.json", "w").write(json.dumps(summary.as_dict()))
"""


# --------------------------------------------------------------------------------------------
# Corpus


def originals(cache: Path) -> list[str]:
    """The standalone sources `c2c extract` keeps from site-packages, in a stable order."""
    path = cache / "originals.parquet"
    if not path.is_file():
        command = [sys.executable, "-m", "case2code", "extract", site.getsitepackages()[0]]
        subprocess.run([*command, "-o", str(path)], check=True, stdout=subprocess.DEVNULL)
    frame = pl.read_parquet(path, columns=["source"]).unique(maintain_order=True)
    return sorted(frame["source"].to_list())


def stack_rows(sources: list[str], first: int) -> pl.DataFrame:
    """Rows in The Stack's schema around `sources` (row numbers from `first`)."""
    digests = [hashlib.sha1(s.encode()).hexdigest() for s in sources]
    lines = [s.splitlines() or [""] for s in sources]
    return pl.DataFrame(
        {
            "hexsha": digests,
            "size": [len(s.encode()) for s in sources],
            "ext": "py",
            "lang": "Python",
            "max_stars_repo_path": [
                f"src/pkg{(first + i) % 997}/m{first + i}.py" for i in range(len(sources))
            ],
            "max_stars_repo_name": [
                f"org{(first + i) % 613}/repo{(first + i) % 4021}" for i in range(len(sources))
            ],
            "max_stars_repo_head_hexsha": digests,
            "max_stars_repo_licenses": [["MIT"]] * len(sources),
            "max_stars_count": [(first + i) % 50 for i in range(len(sources))],
            "content": sources,
            "avg_line_length": [sum(map(len, ls)) / len(ls) for ls in lines],
            "max_line_length": [max(map(len, ls)) for ls in lines],
            "alphanum_fraction": [sum(c.isalnum() for c in s) / max(1, len(s)) for s in sources],
        }
    )


def build_corpus(cache: Path, rows: int, seed: int) -> tuple[Path, Path, int]:
    """The full corpus and its first quarter (cached); returns them and the originals' count."""
    full, quarter = cache / f"stack-{rows}.parquet", cache / f"stack-{rows}-quarter.parquet"
    base = originals(cache)
    if full.is_file() and quarter.is_file():
        return full, quarter, len(base)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".chunks-") as tmp:
        parts = []
        for first in range(0, rows, CHUNK_ROWS):
            count = min(CHUNK_ROWS, rows - first)
            sources = []
            for k in range(first, first + count):
                if k < len(base):
                    sources.append(base[k])
                else:
                    parent = base[rng.randrange(len(base))]
                    sources.append(dedup_mutations.mutate(parent, random.Random(seed + k))[0])
            part = Path(tmp) / f"{first:09d}.parquet"
            stack_rows(sources, first).write_parquet(part)
            parts.append(part)
            print(f"corpus: {first + count:,} of {rows:,} rows", flush=True)
        # Originals first, then copies: the quarter holds them all too.
        scan = pl.scan_parquet(parts)
        scan.sink_parquet(full, row_group_size=ROW_GROUP)
        scan.head(rows // 4).sink_parquet(quarter, row_group_size=ROW_GROUP)
    return full, quarter, len(base)


# --------------------------------------------------------------------------------------------
# Runs


def timed(command: list[str], cwd: Path) -> dict[str, Any]:
    """Run `command` as a fresh process: wall seconds and its own peak RSS (/usr/bin/time)."""
    stats = cwd / ".time"
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M %U %S", "-o", str(stats), *command],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    peak_kb, user, system = stats.read_text().split()[-3:]
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(float(user) + float(system), 1),
        "peak_rss_mb": round(int(peak_kb) / 1024, 1),
    }


def has_run_until() -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "case2code", "run", "--help"], capture_output=True, text=True
    )
    return "--until" in done.stdout


def run_corpus(corpus: Path, folder: Path) -> dict[str, Any]:
    """extract then dedup as two processes, and `c2c run --until dedup` when it exists."""
    folder.mkdir(parents=True, exist_ok=True)
    python = [sys.executable, "-m", "case2code"]
    extract = timed([sys.executable, "-c", EXTRACT_STAGE, str(corpus)], folder)
    summary = json.loads((folder / "x.json").read_text())
    extract |= {
        "rows": summary["sources"],
        "functions_kept": summary["kept"],
        "functions_seen": summary["functions_seen"],
        "mb": round(summary["bytes"] / 1e6, 1),
    }
    extract["functions_per_s"] = round(extract["functions_seen"] / extract["seconds"])
    extract["mb_per_s"] = round(extract["mb"] / extract["seconds"], 2)
    dedup = timed(
        [*python, "dedup", "functions.parquet", "-o", "unique.parquet", "--report", "d.json"],
        folder,
    )
    report = json.loads((folder / "d.json").read_text())
    dedup |= {
        "functions": report["functions"],
        "kept": report["kept"],
        "removed": report["removed"],
    }
    dedup["functions_per_s"] = round(dedup["functions"] / dedup["seconds"])
    out: dict[str, Any] = {"extract": extract, "dedup": dedup}
    if has_run_until():
        command = [*python, "run", "-o", "run", "--corpus", str(corpus), "--until", "dedup"]
        try:
            out["run_until_dedup"] = timed(command, folder)
            out["run_until_dedup"]["stages"] = stage_throughput(folder / "run")
        except SystemExit as failure:  # the others' figures still stand
            print(failure, file=sys.stderr)
    out["peak_rss_mb"] = max(step["peak_rss_mb"] for step in out.values())
    out["stages_peak_rss_mb"] = max(out[step]["peak_rss_mb"] for step in ("extract", "dedup"))
    return out


# --------------------------------------------------------------------------------------------
# (b) The whole pipeline at two sizes, per-stage peaks


def children_by_parent() -> dict[int, list[int]]:
    """Every process's children, by each process's parent id in /proc/<id>/stat (a thread's
    children list misses a worker whose spawning thread exited)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(stat.parent.name))
    return parents


def descendants(pid: int, parents: dict[int, list[int]] | None = None) -> list[int]:
    """The process ids below `pid` (the sandbox workers; a local Ray's processes)."""
    parents = children_by_parent() if parents is None else parents
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def rss_mb(pid: int) -> float:
    """A process's resident set now (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def current_stage(run: Path) -> str:
    """The stage a running `c2c run` is in: the first without its completion marker."""
    for stage in STAGES:
        if not (run / "stages" / stage / MARKER).is_file():
            return stage
    return "report"


def sample_stages(pid: int, run: Path, peaks: dict[str, dict[str, float]], done: Any) -> None:
    """Until `done` is set: the peak RSS of `pid` and of all its descendants together, by stage."""
    while not done.is_set():
        stage = current_stage(run)
        main = rss_mb(pid)
        workers = sum(rss_mb(child) for child in descendants(pid))
        peak = peaks.setdefault(stage, {"c2c_mb": 0.0, "workers_mb": 0.0})
        peak["c2c_mb"] = max(peak["c2c_mb"], main)
        peak["workers_mb"] = max(peak["workers_mb"], workers)
        done.wait(SAMPLE_EVERY)


def sampled(command: list[str], cwd: Path, run: Path, env: dict[str, str] | None = None) -> dict:
    """Run `command` as a fresh process: wall and CPU seconds, its peak RSS as `/usr/bin/time`
    gives it (wait4), and per-stage peaks from a sampler thread."""
    peaks: dict[str, dict[str, float]] = {}
    done = threading.Event()
    log = cwd / f"{run.name}.log"
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=out, env=env)
        sampler = threading.Thread(target=sample_stages, args=(process.pid, run, peaks, done))
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{log.read_text()[-3000:]}")
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "stages": {stage: {k: round(v, 1) for k, v in p.items()} for stage, p in peaks.items()},
    }


def stage_rows(summary: dict[str, Any]) -> dict[str, int]:
    """From run.json's stage records (in both versions): functions into the inputs stage,
    inputs, cases and samples."""
    rows = {s["name"]: (s["rows_in"], s["rows_out"]) for s in summary["stages"]}
    return {
        "functions": rows["inputs"][0],
        "inputs": rows["inputs"][1],
        "cases": rows["execute"][1],
        "samples": rows["assemble"][1],
    }


def run_pipeline(corpus: Path, functions: int, folder: Path) -> dict[str, Any]:
    """`c2c run --max-functions functions` on `corpus`, a fresh process in a fresh folder."""
    folder.mkdir(parents=True, exist_ok=True)
    run = folder / f"run-{functions}"
    command = [sys.executable, "-m", "case2code", "run", "-o", str(run), "--corpus", str(corpus)]
    out = sampled([*command, "--max-functions", str(functions)], folder, run)
    summary = json.loads((run / "run.json").read_text())
    out["stage_seconds"] = {s["name"]: s["seconds"] for s in summary["stages"]}
    out |= stage_rows(summary)
    return out


def pipeline_sizes(cache: Path, seed: int, folder: Path) -> dict[str, Any]:
    """Part (b): both sizes on one corpus; the later stages' peak (after dedup, which does the
    same work at both sizes) is the one that could grow with the functions."""
    _, corpus, _ = build_corpus(cache, 4 * PIPELINE_ROWS, seed)
    out: dict[str, Any] = {"corpus_rows": PIPELINE_ROWS, "load": {"start": load()}}
    for functions in PIPELINE_SIZES:
        out[str(functions)] = run_pipeline(corpus, functions, folder / "pipeline")
        out["load"][str(functions)] = load()
    small, large = (out[str(n)] for n in PIPELINE_SIZES)
    out["peak_growth"] = round(large["peak_rss_mb"] / small["peak_rss_mb"], 3)
    late = [stage for stage in (*STAGES[STAGES.index("dedup") + 1 :], "report")]
    out["late_peak_mb"] = [
        max(run["stages"].get(stage, {}).get("c2c_mb", 0.0) for stage in late)
        for run in (small, large)
    ]
    out["late_peak_growth"] = round(out["late_peak_mb"][1] / out["late_peak_mb"][0], 3)
    return out


# --------------------------------------------------------------------------------------------
# (c) The default run against the version before the redesign


def default_run(python_dir: Path, cache_dir: Path | None, folder: Path) -> dict[str, Any]:
    """The README's first command (`c2c run`, the stdlib, built-in inputs) with the package in
    `python_dir`, in a fresh folder: wall and CPU seconds."""
    env = {**os.environ, "PYTHONPATH": str(python_dir)}
    if cache_dir is not None:
        env["C2C_CACHE_DIR"] = str(cache_dir)
    folder.mkdir(parents=True)
    command = [sys.executable, "-m", "case2code", "run", "-o", "c2c-run"]
    out = sampled(command, folder, folder / "c2c-run", env)
    summary = json.loads((folder / "c2c-run" / "run.json").read_text())
    out["samples"] = stage_rows(summary)["samples"]
    del out["stages"]
    return out


def before_after(before: Path, before_cache: Path, repeats: int, folder: Path) -> dict:
    """Part (c): alternate before / now, `repeats` each, after one untimed run of each (it
    primes the before version's sandbox interpreter and both versions' file caches)."""
    if not (before / "python" / "case2code" / "_core.abi3.so").is_file():
        raise SystemExit(f"{before}: no built case2code/_core.abi3.so (see the docstring)")
    versions = {"before": (before / "python", before_cache), "now": (ROOT / "python", None)}
    for name, (python_dir, cache_dir) in versions.items():
        default_run(python_dir, cache_dir, folder / f"prime-{name}")
    out: dict[str, Any] = {"commit": BEFORE_COMMIT, "load": {"start": load()}}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in versions}
    for repeat in range(repeats):
        for name, (python_dir, cache_dir) in versions.items():
            runs[name].append(default_run(python_dir, cache_dir, folder / f"{name}-{repeat}"))
            print(f"default run {name} #{repeat + 1}: {runs[name][-1]['seconds']} s", flush=True)
    out["load"]["end"] = load()
    out["runs"] = runs
    for name in versions:
        out[name] = {
            key: statistics.median(run[key] for run in runs[name])
            for key in ("seconds", "cpu_seconds", "peak_rss_mb")
        }
        out[name]["samples"] = runs[name][0]["samples"]
    out["ratio"] = round(out["now"]["seconds"] / out["before"]["seconds"], 3)
    out["cpu_ratio"] = round(out["now"]["cpu_seconds"] / out["before"]["cpu_seconds"], 3)
    return out


# --------------------------------------------------------------------------------------------
# (d) The Ray executor next to the local one


def cmdline(pid: int) -> str:
    """A process's command line ("" once it is gone); Ray's workers rename theirs `ray::...`."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def in_session(pid: int, driver: int) -> bool:
    """Whether a Ray process writes its output into the session the driver started (Ray names
    the session folder after the process that started it: `session_<date>_<pid>`)."""
    try:
        return f"_{driver}/logs/" in os.readlink(f"/proc/{pid}/fd/1")
    except OSError:
        return False


def ray_processes(driver: int) -> dict[int, str]:
    """The Ray processes of the run whose driver is `driver`, pid to command line: those below
    it (`ray.init()` starts the GCS and the raylet as its children, the raylet the workers),
    and any Ray worker of its session that left its tree."""
    parents = children_by_parent()
    found = {pid: cmdline(pid) for pid in descendants(driver, parents)}
    for pid in (pid for pids in parents.values() for pid in pids):
        if pid not in found and pid != driver:
            line = cmdline(pid)
            if ray_worker_line(line) and in_session(pid, driver):
                found[pid] = line
    return found


def ray_worker_line(line: str) -> bool:
    """A command line of a process that Ray's raylet starts (a worker, or an agent)."""
    return line.startswith("ray::") or "default_worker.py" in line


def is_worker(line: str) -> bool:
    """A Ray worker or actor process doing the run's work (tasks, actors, Ray Data's map
    workers), not one of Ray's own."""
    return ray_worker_line(line) and not line.startswith(RAY_OWN_WORKERS)


def memory_mb(pid: int) -> tuple[float, float]:
    """A process's resident and proportional set sizes now (0 once it is gone): PSS shares a
    page mapped by several processes (Ray's object store, the libraries) among them."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0, 0.0
    sizes = dict.fromkeys(("Rss", "Pss"), 0.0)
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in sizes:
            sizes[key] = int(value.split()[0]) / 1024
    return sizes["Rss"], sizes["Pss"]


def new_peaks() -> dict[str, Any]:
    return {
        "driver_mb": 0.0,
        "worker_mb": 0.0,
        "worker": "",
        "workers_mb": 0.0,
        "ray_own_mb": 0.0,
        "total_mb": 0.0,
        "total_pss_mb": 0.0,
        "workers_seen": set(),
    }


def ray_sample(driver: int) -> dict[str, Any]:
    """The driver's and its Ray processes' memory now (RSS; the total's PSS too): the driver,
    each worker, the workers together, Ray's own processes (GCS, raylet, agents) together."""
    driver_rss, total_pss = memory_mb(driver)
    workers: dict[int, tuple[float, str]] = {}
    own = 0.0
    for pid, line in ray_processes(driver).items():
        rss, pss = memory_mb(pid)
        total_pss += pss
        if is_worker(line):
            workers[pid] = (rss, line.split()[0])
        else:
            own += rss
    workers_mb = sum(rss for rss, _ in workers.values())
    total = driver_rss + workers_mb + own
    return {
        "driver_mb": driver_rss,
        "workers": workers,
        "workers_mb": workers_mb,
        "ray_own_mb": own,
        "total_mb": total,
        "total_pss_mb": total_pss,
    }


def note_sample(peaks: dict[str, Any], sample: dict[str, Any]) -> None:
    """A sample into `peaks`: each figure's highest, the largest worker with its name."""
    for key in ("driver_mb", "workers_mb", "ray_own_mb", "total_mb", "total_pss_mb"):
        peaks[key] = max(peaks[key], sample[key])
    for pid, (rss, name) in sample["workers"].items():
        peaks["workers_seen"].add(pid)
        if rss > peaks["worker_mb"]:
            peaks["worker_mb"], peaks["worker"] = rss, name


def sample_ray(driver: int, run: Path, peaks: dict[str, dict[str, Any]], done: Any) -> None:
    """Until `done` is set: the driver's and its Ray processes' peaks, by stage (the first
    without its completion marker) and over the whole run (`run`), and the highest load."""
    while not done.is_set():
        sample = ray_sample(driver)
        for name in (current_stage(run), "run"):
            note_sample(peaks.setdefault(name, new_peaks()), sample)
        peaks["run"]["load_max"] = max(peaks["run"].get("load_max", 0.0), load()[0])
        done.wait(RAY_SAMPLE_EVERY)


def sampled_ray(command: list[str], cwd: Path, run: Path) -> dict[str, Any]:
    """Run `command` (a `c2c run`) as a fresh process: wall seconds and the peaks of the driver
    and its Ray processes, by stage and over the run, from a sampler thread reading /proc."""
    peaks: dict[str, dict[str, Any]] = {}
    done = threading.Event()
    log = cwd / f"{run.name}.log"
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=out)
        sampler = threading.Thread(target=sample_ray, args=(process.pid, run, peaks, done))
        sampler.start()
        returncode = process.wait()
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    if returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{log.read_text()[-3000:]}")
    return {"seconds": round(seconds, 1), "memory": {k: rounded(p) for k, p in peaks.items()}}


def rounded(peaks: dict[str, Any]) -> dict[str, Any]:
    """A stage's peaks as JSON: MB to 0.1, the workers seen as a count."""
    out = {k: round(v, 1) if isinstance(v, float) else v for k, v in peaks.items()}
    out["workers_seen"] = len(peaks["workers_seen"])
    return out


def c2c_run(executor: str, folder: Path, options: list[str]) -> dict[str, Any]:
    """`c2c run --executor executor` with `options`, a fresh process in a fresh folder."""
    folder.mkdir(parents=True)
    run = folder / "c2c-run"
    command = [sys.executable, "-m", "case2code", "run", "-o", str(run), "--executor", executor]
    return sampled_ray([*command, *options], folder, run)


def dataset_rows(run: Path) -> dict[str, list[str]]:
    """The dataset's rows (its Parquet shards) and the evaluation split's records, each as
    sorted JSON lines: equal for two runs that wrote the same rows in any order."""
    frame = pl.read_parquet(run / "dataset" / "data" / "*.parquet")
    records = (run / "eval" / "case2code-eval.jsonl").read_text().splitlines()
    return {"train": sorted(frame.write_ndjson().splitlines()), "eval": sorted(records)}


def dataset_bytes(run: Path) -> dict[str, bytes]:
    files = [*sorted((run / "dataset").rglob("*")), run / "eval" / "case2code-eval.jsonl"]
    return {str(p.relative_to(run)): p.read_bytes() for p in files if p.is_file()}


def overhead_run(executor: str, folder: Path) -> dict[str, Any]:
    """The small workload on one executor: wall seconds, stage seconds, samples, peaks."""
    out = c2c_run(executor, folder, ["--max-functions", str(RAY_WORKLOAD_FUNCTIONS)])
    summary = json.loads((folder / "c2c-run" / "run.json").read_text())
    out["stage_seconds"] = {s["name"]: s["seconds"] for s in summary["stages"]}
    out["samples"] = stage_rows(summary)["samples"]
    out["memory"] = out["memory"]["run"]
    return out


def ray_overhead(repeats: int, folder: Path) -> dict[str, Any]:
    """Part (d) 1: the default run on `RAY_WORKLOAD_FUNCTIONS` stdlib functions, local and
    Ray alternated, `repeats` each after one untimed run each; the first timed runs'
    datasets compared row for row."""
    out: dict[str, Any] = {"functions": RAY_WORKLOAD_FUNCTIONS, "load": {"start": load()}}
    for executor in EXECUTORS:
        overhead_run(executor, folder / f"prime-{executor}")
    runs: dict[str, list[dict[str, Any]]] = {executor: [] for executor in EXECUTORS}
    for repeat in range(repeats):
        for executor in EXECUTORS:
            runs[executor].append(overhead_run(executor, folder / f"{executor}-{repeat}"))
            print(f"ray overhead {executor} #{repeat + 1}: {runs[executor][-1]['seconds']} s")
    out["load"]["end"] = load()
    out["runs"] = runs
    for executor in EXECUTORS:
        done = runs[executor]
        out[executor] = {
            "seconds": statistics.median(run["seconds"] for run in done),
            "samples": done[0]["samples"],
            "stage_seconds": {
                stage: round(statistics.median(run["stage_seconds"][stage] for run in done), 1)
                for stage in done[0]["stage_seconds"]
            },
            "driver_mb": statistics.median(run["memory"]["driver_mb"] for run in done),
            "total_mb": statistics.median(run["memory"]["total_mb"] for run in done),
        }
    out["ratio"] = round(out["ray"]["seconds"] / out["local"]["seconds"], 3)
    local, ray = (folder / f"{executor}-0" / "c2c-run" for executor in EXECUTORS)
    rows = dataset_rows(local)
    out["same_rows"] = rows == dataset_rows(ray)
    out["same_bytes"] = dataset_bytes(local) == dataset_bytes(ray)
    out["rows"] = {split: len(lines) for split, lines in rows.items()}
    return out


def stage_throughput(run: Path) -> dict[str, dict[str, Any]]:
    """Extract's and dedup's seconds and rates from a `c2c run`'s stage markers."""
    stages = {}
    for stage in ("extract", "dedup"):
        stages[stage] = json.loads((run / "stages" / stage / MARKER).read_text())
    x, d = stages["extract"], stages["dedup"]
    seen, mb = x["figures"]["functions_seen"], x["figures"]["bytes"] / 1e6
    return {
        "extract": {
            "seconds": x["seconds"],
            "rows": x["rows_in"],
            "functions_seen": seen,
            "functions_kept": x["rows_out"],
            "mb": round(mb, 1),
            "functions_per_s": round(seen / x["seconds"]),
            "mb_per_s": round(mb / x["seconds"], 2),
        },
        "dedup": {
            "seconds": d["seconds"],
            "functions": d["figures"]["functions"],
            "kept": d["figures"]["kept"],
            "functions_per_s": round(d["figures"]["functions"] / d["seconds"]),
        },
    }


def ray_scale(corpus: Path, folder: Path) -> dict[str, Any]:
    """Part (d) 2: `c2c run --until dedup --executor ray` on part (a)'s corpus: wall seconds,
    each stage's rates, and the peaks of the driver and of the Ray processes."""
    out: dict[str, Any] = {"corpus": corpus.name, "load": {"start": load()}}
    run = c2c_run("ray", folder, ["--corpus", str(corpus), "--until", "dedup"])
    out["load"]["end"] = load()
    out |= run
    out["stages"] = stage_throughput(folder / "c2c-run")
    out["ray_clustering"] = out["stages"]["dedup"]["functions"] >= DISTRIBUTED_MIN_FUNCTIONS
    return out


def part_d(args: argparse.Namespace, report: dict[str, Any], folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"started": args.started, "cores": os.cpu_count()}
    out["overhead"] = ray_overhead(args.repeats, folder / "overhead")
    full, _, _ = build_corpus(args.cache, args.rows, args.seed)
    out["scale"] = ray_scale(full, folder / "scale")
    return out


# --------------------------------------------------------------------------------------------
# Report


def stage_growth(stage: str, quarter_mb: float, full_mb: float) -> str:
    ratio = full_mb / quarter_mb
    return f"{stage} alone {quarter_mb:,.0f} {ARROW} {full_mb:,.0f} MB ({ratio:.2f}{TIMES})"


def markdown_a(report: dict[str, Any]) -> list[str]:
    """Part (a): extract + dedup at 1,000,000 functions and a quarter of that."""
    full, quarter = report["full"], report["quarter"]
    ratio = report["peak_ratio"]
    lines = [
        f"Measured {report['date']} on {report['cores']} cores (Python {report['python']}, load "
        f"{report['load']['start'][0]}-{max(report['load']['end'])}): a Parquet corpus in The "
        f"Stack's schema, {full['extract']['rows']:,} rows ({full['extract']['mb']:,} MB of "
        f"source), {report['originals']:,} real site-packages functions plus mutated copies; "
        f"its first quarter is the baseline. Each stage is a fresh process (extract: "
        f"`extract_to_parquet`, as `c2c run` runs it; dedup: `python -m case2code dedup`); "
        f"peak RSS is its own (`/usr/bin/time`).",
        "",
        "| corpus | stage | functions | seconds | functions/s | MB/s | peak RSS |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, run in (("quarter", quarter), ("full", full)):
        x, d = run["extract"], run["dedup"]
        lines.append(
            f"| {name} | extract | {x['functions_kept']:,} kept of {x['functions_seen']:,} | "
            f"{x['seconds']} | {x['functions_per_s']:,} | {x['mb_per_s']} | "
            f"{x['peak_rss_mb']:,.0f} MB |"
        )
        lines.append(
            f"| {name} | dedup | {d['kept']:,} kept of {d['functions']:,} | {d['seconds']} | "
            f"{d['functions_per_s']:,} | | {d['peak_rss_mb']:,.0f} MB |"
        )
        if "run_until_dedup" in run:
            r = run["run_until_dedup"]
            lines.append(
                f"| {name} | `c2c run --until dedup` | | {r['seconds']} | | | "
                f"{r['peak_rss_mb']:,.0f} MB |"
            )
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    whole = "`c2c run --until dedup`" if "run_until_dedup" in full else "extract + dedup"
    stages = ", ".join(
        stage_growth(stage, quarter[stage]["peak_rss_mb"], full[stage]["peak_rss_mb"])
        for stage in ("extract", "dedup")
    )
    lines += [
        "",
        f"Peak RSS of {whole} at {full['dedup']['functions']:,} functions: "
        f"{full['peak_rss_mb']:,.0f} MB (target <= {TARGET_PEAK_MB:,} MB: "
        f"{met(full['peak_rss_mb'] <= TARGET_PEAK_MB)}), {ratio:.2f}{TIMES} the quarter's "
        f"{quarter['peak_rss_mb']:,.0f} MB (target <= {TARGET_RATIO}{TIMES}: "
        f"{met(ratio <= TARGET_RATIO)}); {stages}. What still grows: the clustering's arrays "
        f"(about 60 bytes per function in RAM at its peak; the 592 bytes of band keys and "
        f"sketch per function are in a temporary file) and polars' buffers when the extract "
        f"shards are streamed into one table.",
    ]
    return lines


def stage_peaks(run: dict[str, Any]) -> str:
    """`stage c2c MB (+ workers MB)` for every stage the sampler saw."""
    return ", ".join(
        f"{stage} {p['c2c_mb']:,.0f}"
        + (f" (+{p['workers_mb']:,.0f} workers)" if p["workers_mb"] else "")
        for stage, p in run["stages"].items()
    )


def markdown_b(part: dict[str, Any]) -> list[str]:
    """Part (b): the whole pipeline at 5,000 and 20,000 functions."""
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    loads = [x for key, value in part["load"].items() for x in value[:1]]
    lines = [
        "",
        f"Whole pipeline, measured {part['date']} (load {min(loads)}-{max(loads)}): `c2c run "
        f"--max-functions N` (built-in inputs) on the first {part['corpus_rows']:,} rows of "
        f"such a corpus, a fresh process each; peak RSS is the process's own (`wait4`), per "
        f"stage from a sampler reading `/proc` every {SAMPLE_EVERY * 1000:.0f} ms (MB of the "
        f"`c2c` process, plus its sandbox workers together).",
        "",
        "| functions | samples | seconds | CPU seconds | peak RSS | per stage (MB) |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for functions in PIPELINE_SIZES:
        run = part[str(functions)]
        lines.append(
            f"| {functions:,} | {run['samples']:,} | {run['seconds']} | {run['cpu_seconds']} | "
            f"{run['peak_rss_mb']:,.0f} MB | {stage_peaks(run)} |"
        )
    small, large = part["late_peak_mb"]
    lines += [
        "",
        f"Peak RSS from {PIPELINE_SIZES[0]:,} to {PIPELINE_SIZES[1]:,} functions: "
        f"{part['peak_growth']:.2f}{TIMES} (target <= {TARGET_GROWTH}{TIMES}: "
        f"{met(part['peak_growth'] <= TARGET_GROWTH)}); extract and dedup do the same work at "
        f"both sizes, so the stages after them are the test: their peak {small:,.0f} {ARROW} "
        f"{large:,.0f} MB ({part['late_peak_growth']:.2f}{TIMES}), highest in "
        f"{peak_stage(part[str(PIPELINE_SIZES[1])])}. Export writes every shard "
        f"{PIECE_ROWS:,} samples at a time (Parquet row groups of {SHARD_ROW_GROUP_ROWS:,}), "
        f"holding neither a shard nor the samples (`tests/test_export_bounded.py`); what still "
        f"grows with the samples is the local executor's runs of the assemble step and of "
        f"export's evaluation-records step.",
    ]
    return lines


def peak_stage(run: dict[str, Any]) -> str:
    """The stage in which the `c2c` process peaked."""
    return max(run["stages"], key=lambda stage: run["stages"][stage]["c2c_mb"])


def markdown_c(part: dict[str, Any]) -> list[str]:
    """Part (c): the default run now and before the redesign."""
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    before, now = part["before"], part["now"]
    runs = lambda name: ", ".join(f"{r['seconds']}" for r in part["runs"][name])  # noqa: E731
    return [
        "",
        f"Default `c2c run` (the stdlib, built-in inputs), measured {part['date']} (load "
        f"{part['load']['start'][0]}-{part['load']['end'][0]}, 1-minute): this version and "
        f"commit {part['commit']} (before the stage contract), alternated, "
        f"{len(part['runs']['now'])} runs each in fresh folders after one untimed run each; "
        f"medians.",
        "",
        "| version | samples | seconds (runs) | CPU seconds | peak RSS |",
        "|---|---:|---:|---:|---:|",
        f"| before ({part['commit']}) | {before['samples']:,} | {before['seconds']} "
        f"({runs('before')}) | {before['cpu_seconds']} | {before['peak_rss_mb']:,.0f} MB |",
        f"| now | {now['samples']:,} | {now['seconds']} ({runs('now')}) | {now['cpu_seconds']} "
        f"| {now['peak_rss_mb']:,.0f} MB |",
        "",
        f"Time now / before: {part['ratio']:.2f}{TIMES} wall (target <= "
        f"{TARGET_TIME_RATIO}{TIMES}: {met(part['ratio'] <= TARGET_TIME_RATIO)}), "
        f"{part['cpu_ratio']:.2f}{TIMES} CPU.{other_work(before, now)}",
    ]


def other_work(before: dict[str, Any], now: dict[str, Any]) -> str:
    """A note when the two versions made different datasets: the ratio then compares the
    default run as a user gets it, not the same work."""
    if before["samples"] == now["samples"]:
        return ""
    return (
        f" The versions make different datasets ({before['samples']:,} and {now['samples']:,} "
        "samples: the steps changed since), so this compares the default run as a user gets "
        "it, not the same work."
    )


def markdown_d(report: dict[str, Any]) -> list[str]:
    """Part (d): the Ray executor next to the local one."""
    return ["", *markdown_overhead(report["ray"]), "", *markdown_ray_scale(report)]


def load_range(*loads: dict[str, list[float]]) -> str:
    ones = [value[0] for entry in loads for value in entry.values()]
    return f"{min(ones)}-{max(ones)}"


def markdown_overhead(part: dict[str, Any]) -> list[str]:
    o = part["overhead"]
    stages = list(o["local"]["stage_seconds"])
    runs = lambda name: ", ".join(f"{r['seconds']}" for r in o["runs"][name])  # noqa: E731
    same = "the same rows" if o["same_rows"] else "**different rows**"
    same += ", byte for byte" if o["same_bytes"] else " (files not byte-identical)"
    lines = [
        f"Ray executor next to the local one, measured {part['started']} on {part['cores']} cores "
        f"(load {load_range(o['load'])}, 1-minute; the machine is shared): `c2c run "
        f"--max-functions {o['functions']}` (the stdlib, built-in inputs), `--executor local` "
        f"and `--executor ray` (a Ray that `c2c` starts on this machine, `ray.init()`), "
        f"alternated, {len(o['runs']['ray'])} runs each in fresh folders after one untimed run "
        f"each; medians. Peak RSS from `/proc` every {RAY_SAMPLE_EVERY * 1000:.0f} ms: the "
        f"`c2c` process, and all processes (with Ray's: GCS, raylet, agents, workers).",
        "",
        f"| executor | samples | seconds (runs) | {' | '.join(stages)} | driver peak | all peak |",
        f"|---|---:|---:|{'---:|' * len(stages)}---:|---:|",
    ]
    for name in EXECUTORS:
        e = o[name]
        cells = " | ".join(f"{e['stage_seconds'][stage]}" for stage in stages)
        lines.append(
            f"| {name} | {e['samples']:,} | {e['seconds']} ({runs(name)}) | {cells} | "
            f"{e['driver_mb']:,.0f} MB | {e['total_mb']:,.0f} MB |"
        )
    lines += [
        "",
        f"Ray / local: {o['ratio']:.2f}{TIMES} wall. Datasets: {same} ({o['rows']['train']:,} "
        f"dataset rows, {o['rows']['eval']:,} evaluation records, compared as sets of rows).",
    ]
    return lines


def markdown_ray_scale(report: dict[str, Any]) -> list[str]:
    s = report["ray"]["scale"]
    x, d, run = s["stages"]["extract"], s["stages"]["dedup"], s["memory"]["run"]
    where = (
        "on Ray Data (`dedup_distributed.py`: at least"
        if s["ray_clustering"]
        else ("on the driver (below `dedup_distributed.py`'s")
    )
    clustering = f"{where} {DISTRIBUTED_MIN_FUNCTIONS:,} functions)"
    lines = [
        f"Extract + dedup on Ray (load {load_range(s['load'])} at start and end, highest "
        f"1-minute load while it ran {run['load_max']}): `c2c run --until dedup --executor ray` "
        f"on part (a)'s corpus ({x['rows']:,} rows, {x['mb']:,} MB of source); extraction in a "
        f"Ray Data actor pool (`executors/ray_extract.py`), dedup's clustering {clustering}. "
        f"Memory sampled from `/proc` every {RAY_SAMPLE_EVERY * 1000:.0f} ms: the driver (`c2c`), "
        f"each Ray worker or actor process ({run['workers_seen']} seen, found under the driver's "
        f"Ray session), Ray's own processes (GCS, raylet, agents, Ray Data's bookkeeping "
        f"actors); the sum is all of them at the sample where it peaks, RSS (shared pages "
        f"counted in each process) and PSS (shared pages divided among them).",
        "",
        "| stage | functions | seconds | functions/s | MB/s | driver peak | max per worker | "
        "workers' sum | Ray's own | sum at peak (RSS / PSS) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = {
        "extract": (f"{x['functions_kept']:,} kept of {x['functions_seen']:,}", x, x["mb_per_s"]),
        "dedup": (f"{d['kept']:,} kept of {d['functions']:,}", d, ""),
    }
    for stage, (functions, figures, mb_per_s) in rows.items():
        lines.append(
            f"| {stage} | {functions} | {figures['seconds']:.1f} | "
            f"{figures['functions_per_s']:,} | {mb_per_s} | {memory_cells(s['memory'][stage])} |"
        )
    lines.append(f"| whole run | | {s['seconds']} | | | {memory_cells(run)} |")
    lines += ["", f"Largest worker: `{run['worker']}`. {versus_local(report)}"]
    return lines


def memory_cells(peaks: dict[str, Any]) -> str:
    return (
        f"{peaks['driver_mb']:,.0f} MB | {peaks['worker_mb']:,.0f} MB | "
        f"{peaks['workers_mb']:,.0f} MB | {peaks['ray_own_mb']:,.0f} MB | "
        f"{peaks['total_mb']:,.0f} / {peaks['total_pss_mb']:,.0f} MB"
    )


def versus_local(report: dict[str, Any]) -> str:
    """Ray's figures as ratios of part (a)'s local ones on the full corpus, saying whether
    part (a) ran in the same invocation of this bench."""
    if "full" not in report:
        return "Part (a) has not run: no local figures to compare."
    local, s = report["full"], report["ray"]["scale"]
    x, d = s["stages"]["extract"], s["stages"]["dedup"]
    when = report.get("started", report["date"])
    same = when == report["ray"]["started"]
    measured = "measured in the same run" if same else f"part (a)'s run started {when}"
    # The local run's own stage rates when recorded, else its stages as processes.
    whole = local.get("run_until_dedup", {})
    stages = whole.get("stages", {"extract": local["extract"], "dedup": local["dedup"]})
    lx, ld = stages["extract"], stages["dedup"]
    rate = lambda ray, here: f"{ray['functions_per_s'] / here['functions_per_s']:.2f}{TIMES}"  # noqa: E731
    text = (
        f"Local executor ({measured}, {lx['functions_seen']:,} functions seen): extract "
        f"{lx['functions_per_s']:,} functions/s (Ray {rate(x, lx)}), dedup "
        f"{ld['functions_per_s']:,} functions/s (Ray {rate(d, ld)})"
    )
    if whole:
        text += (
            f"; `c2c run --until dedup` {whole['seconds']} s at a peak RSS of "
            f"{whole['peak_rss_mb']:,.0f} MB (Ray: {s['seconds'] / whole['seconds']:.2f}"
            f"{TIMES} the wall time; its driver peaks at "
            f"{s['memory']['run']['driver_mb'] / whole['peak_rss_mb']:.2f}{TIMES}, all its "
            f"processes together at {s['memory']['run']['total_pss_mb'] / whole['peak_rss_mb']:.2f}"
            f"{TIMES} (PSS) the local process's peak)"
        )
    return text + "."


def markdown(report: dict[str, Any]) -> str:
    lines = markdown_a(report) if "full" in report else []
    if "pipeline" in report:
        lines += markdown_b(report["pipeline"])
    if "before_after" in report:
        lines += markdown_c(report["before_after"])
    if "ray" in report:
        lines += markdown_d(report)
    return "\n".join(wrap(line) for line in lines).strip("\n")


def previous() -> dict[str, Any]:
    """The last run's figures, so a run of some parts keeps the others'."""
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def keep(report: dict[str, Any]) -> None:
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")


def part_a(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "started": args.started,
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "load": {"start": load()},
    }
    full, quarter, report["originals"] = build_corpus(args.cache, args.rows, args.seed)
    report["quarter"] = run_corpus(quarter, folder / "quarter")
    report["load"]["quarter"] = load()
    report["full"] = run_corpus(full, folder / "full")
    report["load"]["end"] = load()
    report["peak_ratio"] = round(
        report["full"]["peak_rss_mb"] / report["quarter"]["peak_rss_mb"], 3
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="abcd", help="which of (a)-(d) to run")
    parser.add_argument("--rows", type=int, default=1_050_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "c2c-scale")
    parser.add_argument("--before", type=Path, default=Path("/tmp/c2c-before"))
    parser.add_argument("--before-cache", type=Path, default=Path("/tmp/c2c-before-cache"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    args.started = time.strftime("%Y-%m-%d %H:%M")  # names this invocation in each part
    args.cache.mkdir(parents=True, exist_ok=True)
    report = previous()
    stamp = {"date": time.strftime("%Y-%m-%d"), "python": platform.python_version()}
    # Each part's figures kept as soon as it is done: a later part's failure loses only its own.
    with tempfile.TemporaryDirectory(prefix="c2c-bench-scale-") as tmp:
        if "a" in args.parts:
            report |= part_a(args, Path(tmp))
            keep(report)
        if "b" in args.parts:
            report["pipeline"] = stamp | pipeline_sizes(args.cache, args.seed, Path(tmp))
            keep(report)
        if "c" in args.parts:
            parts = before_after(args.before, args.before_cache, args.repeats, Path(tmp) / "c")
            report["before_after"] = stamp | parts
            keep(report)
        if "d" in args.parts:
            report["ray"] = part_d(args, report, Path(tmp) / "d")
    if args.write_readme:
        add_block(AFTER, COMMAND, README_BEGIN, README_END)
    publish(report, RESULTS, markdown(report), args.write_readme, README_BEGIN, README_END)


if __name__ == "__main__":
    main()
