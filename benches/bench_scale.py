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

    python benches/bench_scale.py [--rows 1050000] [--cache DIR] [--write-readme]

Writes benches/results/scale.json; with --write-readme, the README block between the
`bench:scale` markers (added after the pipeline bench's block the first time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import site
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dedup_mutations
from readme_block import add_block, load, publish, wrap

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benches" / "results" / "scale.json"
README_BEGIN, README_END = "<!-- bench:scale -->", "<!-- /bench:scale -->"
AFTER = "<!-- /bench:pipeline -->"
COMMAND = "python benches/bench_scale.py --write-readme"
TARGET_PEAK_MB = 1536
TARGET_RATIO = 1.25
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
        except SystemExit as failure:  # the others' figures still stand
            print(failure, file=sys.stderr)
    out["peak_rss_mb"] = max(step["peak_rss_mb"] for step in out.values())
    out["stages_peak_rss_mb"] = max(out[step]["peak_rss_mb"] for step in ("extract", "dedup"))
    return out


# --------------------------------------------------------------------------------------------
# Report


def stage_growth(stage: str, quarter_mb: float, full_mb: float) -> str:
    ratio = full_mb / quarter_mb
    return f"{stage} alone {quarter_mb:,.0f} {ARROW} {full_mb:,.0f} MB ({ratio:.2f}{TIMES})"


def markdown(report: dict[str, Any]) -> str:
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
    return "\n".join(wrap(line) for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_050_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "c2c-scale")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "load": {"start": load()},
    }
    full, quarter, report["originals"] = build_corpus(args.cache, args.rows, args.seed)
    with tempfile.TemporaryDirectory(prefix="c2c-bench-scale-") as tmp:
        report["quarter"] = run_corpus(quarter, Path(tmp) / "quarter")
        report["load"]["quarter"] = load()
        report["full"] = run_corpus(full, Path(tmp) / "full")
    report["load"]["end"] = load()
    report["peak_ratio"] = round(
        report["full"]["peak_rss_mb"] / report["quarter"]["peak_rss_mb"], 3
    )
    if args.write_readme:
        add_block(AFTER, COMMAND, README_BEGIN, README_END)
    publish(report, RESULTS, markdown(report), args.write_readme, README_BEGIN, README_END)


if __name__ == "__main__":
    main()
