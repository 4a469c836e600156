"""Dedup benchmark: the Rust MinHash LSH deduper against datasketch.

Corpus: every top-level function of site-packages (all extraction rules off), enlarged to
`--functions` (default 200,000) with mutated copies (`benches/dedup_mutations.py`: renames,
comment, docstring, quoting and layout edits, `pass` statements added, line deletions,
duplications and swaps, literal changes; 1-3 per copy, seeded), the originals kept, the whole
shuffled. Shingles are the code-level ones dedup uses (`_core.dedup_shingles`: no comments or
docstrings, string literals in one quoting). In one run, each contender in a
child process of its own (so its peak RSS is its own):
- the Rust `Deduper` (5-token shingles, 256 permutations, 42 x 6 bands, Jaccard 0.7), 2
  threads: every `add` block and `finish` (timed), then `candidate_pairs` (timed apart: dedup
  does not need it, the quality measure does); with verification of each pair's exact
  Jaccard, and without;
- `case2code.dedup()` end to end (a polars frame in, one out);
- datasketch: `MinHash(num_perm=256)` of the same shingle strings (`_core.dedup_shingles`),
  built with `MinHash.bulk` (its fastest documented path), and `MinHashLSH(threshold=0.7,
  num_perm=256)`, one process, as users run it; each function is queried and then inserted,
  which gives the same pairs as inserting all and querying each, without keeping 200,000
  MinHash objects.
Ground truth: the exact Jaccard of the shingle sets of every pair in a pool: the union of the
pairs of every contender and of a superset catcher (the `Deduper` with 64 x 4 bands and no
verification, whose S-curve is at Jaccard ~0.35). Pair recall = reported pairs with J >= 0.7 /
pool pairs with J >= 0.7; precision = reported pairs with J >= 0.7 / reported pairs; merged =
true pairs that `finish` puts in one cluster. Recall is also given by function length (the
shingle count of the shorter function of the pair).

Peak memory: each child resets its peak RSS after loading the corpus (`/proc/self/clear_refs`)
and reports its peak (VmHWM) at the end minus its RSS then. The main process holds every function's
shingle set (as 64-bit hashes) for the ground truth: a few GB at 200,000 functions.

    python benches/bench_dedup.py [--functions 200000] [--datasketch-functions N]
                                  [--threads 2] [--seed 0] [--write-readme]

With `--datasketch-functions N` datasketch runs on a seeded random subset of N functions (its
throughput is then extrapolated linearly), and the Rust deduper runs on the same subset too,
for the quality comparison on equal terms.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import resource
import site
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

import case2code
import dedup_mutations
from case2code import _core
from case2code.extract import RULES
from readme_block import wrap, write_readme

ROOT = Path(__file__).resolve().parent.parent
TIMES = "\N{MULTIPLICATION SIGN}"
README_BEGIN, README_END = "<!-- bench:dedup -->", "<!-- /bench:dedup -->"
NGRAM, PERMUTATIONS, BANDS, ROWS, THRESHOLD = 5, 256, 42, 6, 0.7
CATCHER_BANDS, CATCHER_ROWS = 64, 4
DATASKETCH_BLOCK = 5_000
J_BINS = [0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.0001]


# --------------------------------------------------------------------------------------------
# Corpus


def originals() -> list[str]:
    """Every top-level function of site-packages, in a stable order."""
    config = case2code.ExtractConfig(
        rules={name: False for name in RULES}, min_lines=1, max_lines=100_000
    )
    frame = case2code.extract([site.getsitepackages()[0]], config).functions
    return frame.sort(["origin", "line", "name"])["source"].to_list()


def build_corpus(total: int, seed: int) -> tuple[list[str], list[int], list[list[str]], int]:
    """Originals (all of them, or a seeded quarter of `total` for small runs) plus mutated
    copies up to `total`; returns the sources, each one's original (-1: is one), the edits of
    each, and the number of originals."""
    base = originals()
    keep = min(len(base), math.ceil(total / 4))
    if keep < len(base):
        picked = sorted(random.Random(seed).sample(range(len(base)), keep))
        base = [base[i] for i in picked]
    sources, origin, edits = dedup_mutations.enlarge(base, total, seed)
    return sources, origin, edits, len(base)


# --------------------------------------------------------------------------------------------
# Children: one contender each


def status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Peak:
    """Peak RSS above the RSS at creation: resets the kernel's high-water mark if it can."""

    def __init__(self) -> None:
        gc.collect()
        self.base_kb = status_kb("VmRSS")
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.reset = True
        except OSError:
            self.reset = False

    def read(self) -> dict:
        # VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's peak (the forked
        # address space's high-water mark is carried over exec), which would hide its own.
        peak_kb = (
            status_kb("VmHWM") if self.reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        )
        return {
            "baseline_rss_mb": round(self.base_kb / 1024, 1),
            "peak_rss_mb": round(peak_kb / 1024, 1),
            "peak_above_baseline_mb": round(max(0, peak_kb - self.base_kb) / 1024, 1),
            "peak_reset": self.reset,
        }


def pair_keys(pairs: list[tuple[int, int]], ids: np.ndarray, n: int) -> np.ndarray:
    """Pairs of local indices as sorted keys `i * n + j` of global indices, i < j."""
    if not pairs:
        return np.zeros(0, dtype=np.int64)
    local = np.asarray(pairs, dtype=np.int64)
    i, j = ids[local[:, 0]], ids[local[:, 1]]
    return np.unique(np.minimum(i, j) * n + np.maximum(i, j))


def load(spec: dict) -> tuple[list[str], np.ndarray, int]:
    sources = pl.read_parquet(spec["corpus"], columns=["source"])["source"].to_list()
    n = len(sources)
    if spec.get("subset"):
        ids = np.load(spec["subset"])
        sources = [sources[i] for i in ids]
    else:
        ids = np.arange(n, dtype=np.int64)
    return sources, ids, n


def run_ours(spec: dict) -> dict:
    sources, ids, n = load(spec)
    verify, block = spec["verify"], spec["block"]
    peak = Peak()
    started = time.perf_counter()
    deduper = _core.Deduper(
        ngram=NGRAM,
        permutations=PERMUTATIONS,
        bands=spec["bands"],
        rows=spec["rows"],
        threshold=THRESHOLD,
        verify=verify,
        structural=False,
        seed=1,
        threads=spec["threads"],
    )
    for start in range(0, len(sources), block):
        chunk = sources[start : start + block]
        deduper.add(chunk, [float(len(s)) for s in chunk])
    added = time.perf_counter()
    columns = deduper.finish()
    finished = time.perf_counter()
    pairs = deduper.candidate_pairs(verify=verify)
    paired = time.perf_counter()
    memory = peak.read()
    np.save(spec["pairs"], pair_keys(pairs, ids, n))
    clusters = np.full(n, -1, dtype=np.int64)
    clusters[ids] = ids[np.asarray(columns["cluster"], dtype=np.int64)]
    np.save(spec["pairs"].replace(".npy", ".clusters.npy"), clusters)
    return {
        "functions": len(sources),
        "seconds": finished - started,
        "add_seconds": added - started,
        "pairs_seconds": paired - finished,
        "finish_seconds": finished - added,
        "pairs": len(pairs),
        "reasons": dict(Counter(columns["reason"]).most_common()),
        "bytes_per_function": deduper.bytes_per_function(),
        **memory,
    }


def run_end_to_end(spec: dict) -> dict:
    frame = pl.read_parquet(spec["corpus"], columns=["source"])
    peak = Peak()
    started = time.perf_counter()
    result = case2code.dedup(frame, case2code.DedupConfig(threads=spec["threads"]))
    seconds = time.perf_counter() - started
    return {
        "functions": frame.height,
        "seconds": seconds,
        "kept": result.report.kept,
        "removed": result.report.removed,
        **peak.read(),
    }


def run_datasketch(spec: dict) -> dict:
    from datasketch import MinHash, MinHashLSH

    sources, ids, n = load(spec)
    peak = Peak()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=PERMUTATIONS)
    keys: list[int] = []
    shingling = hashing = indexing = 0.0
    for start in range(0, len(sources), DATASKETCH_BLOCK):
        t0 = time.perf_counter()
        shingles = _core.dedup_shingles(sources[start : start + DATASKETCH_BLOCK], NGRAM, False)
        t1 = time.perf_counter()
        minhashes = MinHash.bulk(
            ([s.encode() for s in block] for block in shingles), num_perm=PERMUTATIONS
        )
        t2 = time.perf_counter()
        for k, m in enumerate(minhashes, start):
            keys.extend(j * n + k for j in lsh.query(m))
            lsh.insert(k, m)
        t3 = time.perf_counter()
        shingling += t1 - t0
        hashing += t2 - t1
        indexing += t3 - t2
        del shingles, minhashes
    memory = peak.read()
    local = np.asarray(keys, dtype=np.int64)
    i, j = ids[local // n], ids[local % n]
    np.save(spec["pairs"], np.unique(np.minimum(i, j) * n + np.maximum(i, j)))

    # For reference only: the per-object path (`MinHash()` + `update_batch`), on a sample.
    sample = _core.dedup_shingles(sources[:2_000], NGRAM, False)
    t0 = time.perf_counter()
    for block in sample:
        m = MinHash(num_perm=PERMUTATIONS)
        m.update_batch([s.encode() for s in block])
    per_object = time.perf_counter() - t0
    t0 = time.perf_counter()
    MinHash.bulk(([s.encode() for s in block] for block in sample), num_perm=PERMUTATIONS)
    bulk = time.perf_counter() - t0
    return {
        "functions": len(sources),
        "seconds": hashing + indexing,
        "shingling_seconds": shingling,
        "minhash_seconds": hashing,
        "lsh_seconds": indexing,
        "pairs": len(keys),
        "bands": lsh.b,
        "rows": lsh.r,
        "per_object_over_bulk": round(per_object / bulk, 2),
        **memory,
    }


CONTENDERS = {"ours": run_ours, "end_to_end": run_end_to_end, "datasketch": run_datasketch}


def child_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    result = CONTENDERS[spec["kind"]](spec)
    Path(spec["result"]).write_text(json.dumps(result))


def run_child(work: Path, name: str, **spec) -> dict:
    spec |= {
        "corpus": str(work / "corpus.parquet"),
        "pairs": str(work / f"{name}.npy"),
        "result": str(work / f"{name}.json"),
    }
    path = work / f"{name}.spec.json"
    path.write_text(json.dumps(spec))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(path)], check=True
    )
    result = json.loads((work / f"{name}.json").read_text())
    keys = np.load(work / f"{name}.npy") if (work / f"{name}.npy").exists() else None
    per_s = result["functions"] / result["seconds"]
    print(
        f"  {name:<24} {result['seconds']:>8.2f} s  {per_s:>9,.0f} fn/s  "
        f"peak +{result['peak_above_baseline_mb']:,.0f} MB"
        f"  (child {time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    return {"result": result, "keys": keys}


# --------------------------------------------------------------------------------------------
# Ground truth


def shingle_sets(sources: list[str], wanted: np.ndarray) -> list[frozenset | None]:
    """The shingle set of each wanted function, as 64-bit hashes of the shingle strings."""
    sets: list[frozenset | None] = [None] * len(sources)
    wanted = np.sort(wanted)
    for start in range(0, len(wanted), 5_000):
        block = wanted[start : start + 5_000].tolist()
        for k, shingles in zip(
            block, _core.dedup_shingles([sources[k] for k in block], NGRAM, False), strict=True
        ):
            sets[k] = frozenset(map(hash, shingles))
    return sets


LENGTH_BINS = [(1, 10), (11, 25), (26, 50), (51, 100), (101, 250), (251, 10**9)]


def length_label(lo: int, hi: int) -> str:
    return f"{lo}-{hi}" if hi < 10**9 else f"> {lo - 1}"


def by_length(
    keys: np.ndarray,
    clusters: np.ndarray | None,
    pool: np.ndarray,
    jac: np.ndarray,
    shorter: np.ndarray,
    n: int,
) -> dict:
    """Pair recall (and, given `clusters`, merged share) of the true pairs, by the shingle count
    of the pair's shorter function."""
    true = jac >= THRESHOLD
    reported = np.isin(pool, keys)
    merged = clusters[pool // n] == clusters[pool % n] if clusters is not None else None
    out = {}
    for lo, hi in LENGTH_BINS:
        sel = true & (shorter >= lo) & (shorter <= hi)
        count = int(sel.sum())
        entry = {
            "true_pairs": count,
            "recall": round(float(reported[sel].mean()), 4) if count else None,
        }
        if merged is not None:
            entry["merged"] = round(float(merged[sel].mean()), 4) if count else None
        out[length_label(lo, hi)] = entry
    if merged is not None:
        out["all"] = {
            "true_pairs": int(true.sum()),
            "recall": round(float(reported[true].mean()), 4),
            "merged": round(float(merged[true].mean()), 4),
        }
    return out


def exact_jaccard(keys: np.ndarray, n: int, sets: list) -> np.ndarray:
    out = np.empty(len(keys), dtype=np.float64)
    last, a, la = -1, frozenset(), 0
    for t, (i, j) in enumerate(zip((keys // n).tolist(), (keys % n).tolist(), strict=True)):
        if i != last:
            last, a = i, sets[i]
            la = len(a)
        b = sets[j]
        both = len(a & b)
        union = la + len(b) - both
        out[t] = both / union if union else 1.0
    return out


def s_curve(j: np.ndarray, bands: int, rows: int) -> np.ndarray:
    return 1.0 - (1.0 - j**rows) ** bands


def quality(
    keys: np.ndarray,
    pool: np.ndarray,
    jac: np.ndarray,
    within: np.ndarray,
    layout: tuple[int, int] = (BANDS, ROWS),
) -> dict:
    """Recall and precision of `keys` against the pool restricted to `within`; `layout` is the
    contender's (bands, rows), for the S-curve column."""
    pool, jac = pool[within], jac[within]
    pos = np.searchsorted(pool, keys)
    assert np.all(pool[pos] == keys), "a reported pair is missing from the pool"
    got = jac[pos]
    true = jac >= THRESHOLD
    reported = np.zeros(len(pool), dtype=bool)
    reported[pos] = True
    missed = true & ~reported
    hist, _ = np.histogram(jac[missed], bins=J_BINS)
    high = jac >= 0.8
    return {
        "reported_pairs": len(keys),
        "reported_true": int((got >= THRESHOLD).sum()),
        "true_pairs": int(true.sum()),
        "precision": round(float((got >= THRESHOLD).mean()) if len(keys) else 1.0, 4),
        "recall": round(float((reported & true).sum() / max(1, true.sum())), 4),
        "recall_j_ge_0_8": round(float((reported & high).sum() / max(1, high.sum())), 4),
        "recall_j_ge_0_9": round(
            float((reported & (jac >= 0.9)).sum() / max(1, (jac >= 0.9).sum())), 4
        ),
        "s_curve_expected_recall": round(float(s_curve(jac[true], *layout).mean()), 4),
        "reported_below_threshold_j": {
            "below_0.5": int((got < 0.5).sum()),
            "0.5-0.6": int(((got >= 0.5) & (got < 0.6)).sum()),
            "0.6-0.7": int(((got >= 0.6) & (got < THRESHOLD)).sum()),
        },
        "missed_true_pairs_by_j": {
            f"{lo:.2f}-{hi:.2f}" if hi <= 1.0 else "1.00": int(c)
            for lo, hi, c in zip(J_BINS[:-1], J_BINS[1:], hist, strict=True)
        },
    }


# --------------------------------------------------------------------------------------------
# Report


def row(label: str, r: dict, total: int, extrapolated: bool = False) -> dict:
    per_s = r["functions"] / r["seconds"]
    return {
        "contender": label,
        "functions": r["functions"],
        "seconds": round(r["seconds"], 3),
        "functions_per_s": round(per_s),
        "seconds_at_full_corpus": round(total / per_s, 1) if extrapolated else None,
        "peak_rss_above_corpus_mb": r.get("peak_above_baseline_mb"),
    }


def markdown(report: dict) -> str:
    c, m, rows, ratios = report["corpus"], report["machine"], report["timings"], report["ratios"]
    q, mem = report["quality"], report["memory"]
    ds = report["datasketch"]
    lines = [
        f"Measured on this project's {m['cores']}-core machine (CPython {m['python']}, datasketch "
        f"{m['datasketch']}), corpus: {c['functions']:,} functions = {c['originals']:,} "
        f"top-level functions of site-packages + {c['copies']:,} mutated copies (1-3 edits "
        f"each, seed {c['seed']}), {c['mb']:.0f} MB of source, {c['shingles'] / 1e6:.1f} M "
        f"shingles; 5-token shingles, 256 permutations, Jaccard 0.7:",
        "",
        "| contender | functions | seconds | functions/s | peak RSS above corpus, MB |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        extra = (
            f" (≈ {r['seconds_at_full_corpus']:.0f} s for {c['functions']:,})"
            if r["seconds_at_full_corpus"]
            else ""
        )
        peak = "" if r["peak_rss_above_corpus_mb"] is None else f"{r['peak_rss_above_corpus_mb']:,}"
        lines.append(
            f"| {r['contender']} | {r['functions']:,} | {r['seconds']:.2f}{extra} | "
            f"{r['functions_per_s']:,} | {peak} |"
        )
    lines += [
        "",
        "| ratio (same run) | measured | target |",
        "|---|---|---|",
        f"| Deduper (verify, {m['threads']} threads) vs datasketch MinHash + LSH, functions/s | "
        f"**{ratios['ours_verify_vs_datasketch']:.2f}{TIMES}** | ≥ 20{TIMES} |",
        f"| Deduper (no verify) vs datasketch MinHash + LSH | "
        f"{ratios['ours_noverify_vs_datasketch']:.2f}{TIMES} | |",
        f"| `case2code.dedup()` end to end vs datasketch MinHash + LSH | "
        f"{ratios['end_to_end_vs_datasketch']:.2f}{TIMES} | |",
        f"| Deduper (verify) vs datasketch with its shingling counted | "
        f"{ratios['ours_verify_vs_datasketch_with_shingling']:.2f}{TIMES} | |",
        f"| datasketch peak RSS ÷ Deduper (verify) peak RSS | "
        f"{ratios['datasketch_over_ours_memory']:.1f}{TIMES} | |",
        "",
        f"Pair quality against the exact Jaccard of the shingle sets, on "
        f"{q['scope']}: the pool of {q['pool_pairs']:,} pairs (every contender's pairs and "
        f"a 64 {TIMES} 4-band superset catcher's) holds {q['true_pairs']:,} pairs with J ≥ 0.7 "
        f"({q['true_pairs_exact']:,} of them exact, J = 1):",
        "",
        "| contender | pairs reported | precision | recall, J ≥ 0.7 | recall, J ≥ 0.8 | "
        "recall, J ≥ 0.9 | its S-curve's recall | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, e in q["contenders"].items():
        lines.append(
            f"| {label} | {e['reported_pairs']:,} | {e['precision']:.4f} | **{e['recall']:.4f}** | "
            f"{e['recall_j_ge_0_8']:.4f} | {e['recall_j_ge_0_9']:.4f} | "
            f"{e['s_curve_expected_recall']:.4f} | ≥ 0.95 |"
        )
    by_len = report["recall_by_length"]
    ours_len, ds_len = by_len["Deduper, verify"], by_len["datasketch MinHashLSH"]
    lines += [
        "",
        "By function length (shingles of the shorter function of the pair), true pairs with "
        "J ≥ 0.7: pair recall, and the share `finish` put in one cluster (merged):",
        "",
        "| shingles | true pairs | Deduper (verify) recall | Deduper merged | "
        "datasketch recall | target |",
        "|---|---|---|---|---|---|",
    ]
    for label, e in ours_len.items():
        if label == "all" or not e["true_pairs"]:
            continue
        ds_recall = f"{ds_len[label]['recall']:.4f}" if ds_len else "n/a"
        lines.append(
            f"| {label} | {e['true_pairs']:,} | **{e['recall']:.4f}** | {e['merged']:.4f} | "
            f"{ds_recall} | ≥ 0.95 |"
        )
    ours = q["contenders"][q["ours_label"]]
    missed = ", ".join(f"{k}: {v:,}" for k, v in ours["missed_true_pairs_by_j"].items())
    copies = report["copies_jaccard"]
    lines += [
        "",
        f"The S-curve column is the recall each contender's LSH alone would give on these true "
        f"pairs, 1 - (1 - J^r)^b averaged over them; for the Deduper ({BANDS} {TIMES} {ROWS}) "
        f"a pair at J = 0.7 shares a band "
        f"{s_curve(np.array([0.7]), BANDS, ROWS)[0]:.0%} of the time, at 0.8 "
        f"{s_curve(np.array([0.8]), BANDS, ROWS)[0]:.0%}. The Deduper's (verify) missed true "
        f"pairs by J: {missed}. True Jaccard of each copy with its original: deciles "
        f"{', '.join(f'{v:.2f}' for v in copies['deciles'])}; "
        f"{copies['exact_share']:.0%} are exact (comment, docstring, quoting, no-op or layout "
        f"edits only).",
        "",
        f"datasketch chose b = {ds['bands']} bands {TIMES} r = {ds['rows']} rows; its MinHash "
        f"creation took {ds['minhash_seconds']:.1f} s and LSH insert + query "
        f"{ds['lsh_seconds']:.1f} s; the shingles were handed to it from "
        f"`_core.dedup_shingles` (Rust, 1 thread, {ds['shingling_seconds']:.1f} s, not counted "
        f"in its time; the per-object `MinHash()` + `update_batch` path is "
        f"{ds['per_object_over_bulk']:.2f}{TIMES} slower than the `MinHash.bulk` used). "
        f"Deduper (verify) time: add {report['ours_breakdown']['add_seconds']:.2f} s, finish "
        f"(LSH buckets, exact Jaccard of each candidate pair, union-find) "
        f"{report['ours_breakdown']['finish_seconds']:.2f} s; `candidate_pairs`, called only "
        f"for these quality figures, took {report['ours_breakdown']['pairs_seconds']:.2f} s "
        f"more and is not counted. Load average (1, 5, 15 min) at the start "
        f"{', '.join(map(str, report['load_average']['start']))}, at the end "
        f"{', '.join(map(str, report['load_average']['end']))} (shared machine).",
        "",
        f"Memory: the Deduper keeps {mem['bytes_per_function']} bytes per function (33 of "
        f"them in RAM, the rest in temporary files) plus its shingle set on disk for exact "
        f"verification, 4 bytes a shingle ({4 * c['shingles'] / c['functions']:,.0f} bytes "
        f"on average here), so 10 million such functions need "
        f"{(mem['bytes_per_function'] + 4 * c['shingles'] / c['functions']) * 1e7 / 1e9:.1f} GB "
        f"of disk and 0.3 GB of RAM; datasketch's peak here is "
        f"{mem['datasketch_bytes_per_function']:,} bytes per function "
        f"(≈ {mem['datasketch_10m_gb']:.0f} GB for 10 million). Peak RSS is each contender's "
        f"own child process, above its RSS once the corpus is loaded. Whole benchmark: "
        f"{report['total_seconds']:.0f} s.",
    ]
    return "\n".join(wrap(line) for line in lines)


# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=200_000, help="corpus size")
    parser.add_argument(
        "--datasketch-functions",
        type=int,
        default=0,
        help="run datasketch on a seeded random subset of this many functions (0: all)",
    )
    parser.add_argument("--threads", type=int, default=2, help="threads of the Rust deduper")
    parser.add_argument("--block", type=int, default=50_000, help="functions per add() call")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benches/results/dedup.json"))
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument(
        "--pool-out", help="also save the pool (keys i * n + j, exact Jaccard) to this .npz"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child)
        return
    begun = time.perf_counter()
    load_before = [round(x, 2) for x in os.getloadavg()]
    import datasketch

    sources, origin, edits, n_originals = build_corpus(args.functions, args.seed)
    n = len(sources)
    mb = sum(len(s.encode()) for s in sources) / 1e6
    corpus_seconds = time.perf_counter() - begun
    print(
        f"corpus: {n:,} functions ({n_originals:,} originals + {n - n_originals:,} copies), "
        f"{mb:.0f} MB, built in {corpus_seconds:.0f} s; {os.cpu_count()} cores",
        flush=True,
    )
    subset_n = args.datasketch_functions if 0 < args.datasketch_functions < n else 0
    with tempfile.TemporaryDirectory(prefix="c2c-bench-dedup-") as tmp:
        work = Path(tmp)
        pl.DataFrame({"source": sources}).write_parquet(work / "corpus.parquet")
        subset = None
        if subset_n:
            subset = np.array(sorted(random.Random(args.seed).sample(range(n), subset_n)))
            np.save(work / "subset.npy", subset)
        common = {"threads": args.threads, "block": args.block}
        ours = {"kind": "ours", "bands": BANDS, "rows": ROWS, **common}
        runs = {
            "ours_verify": run_child(work, "ours_verify", verify=True, **ours),
            "ours_noverify": run_child(work, "ours_noverify", verify=False, **ours),
            "end_to_end": run_child(work, "end_to_end", kind="end_to_end", **common),
        }
        sub = {"subset": str(work / "subset.npy")} if subset_n else {}
        runs["datasketch"] = run_child(work, "datasketch", kind="datasketch", **sub)
        if subset_n:
            runs["ours_verify_subset"] = run_child(
                work, "ours_verify_subset", verify=True, **ours, **sub
            )
            runs["ours_noverify_subset"] = run_child(
                work, "ours_noverify_subset", verify=False, **ours, **sub
            )
        catcher = {"kind": "ours", "bands": CATCHER_BANDS, "rows": CATCHER_ROWS, **common}
        runs["catcher"] = run_child(work, "catcher", verify=False, **catcher)
        ours_clusters = np.load(work / "ours_verify.clusters.npy")

    print("ground truth: exact Jaccard of the pool...", flush=True)
    truth_started = time.perf_counter()
    pool = np.unique(np.concatenate([r["keys"] for r in runs.values() if r["keys"] is not None]))
    copies = np.array([k for k, o in enumerate(origin) if o >= 0], dtype=np.int64)
    parents = np.array([origin[k] for k in copies], dtype=np.int64)
    wanted = np.unique(np.concatenate([pool // n, pool % n, copies, parents]))
    sets = shingle_sets(sources, wanted)
    shingles = sum(len(s) for s in sets if s is not None)
    jac = exact_jaccard(pool, n, sets)
    copy_keys = np.minimum(copies, parents) * n + np.maximum(copies, parents)
    order = np.argsort(copy_keys)
    copy_j = exact_jaccard(copy_keys[order], n, sets)
    sizes = np.array([len(s) if s is not None else 0 for s in sets], dtype=np.int64)
    shorter = np.minimum(sizes[pool // n], sizes[pool % n])
    del sets
    if args.pool_out:
        np.savez(args.pool_out, n=n, pool=pool, jaccard=jac, copies=copies, parents=parents)
    truth_seconds = time.perf_counter() - truth_started
    print(f"  {len(pool):,} pool pairs in {truth_seconds:.0f} s", flush=True)

    if subset_n:
        member = np.zeros(n, dtype=bool)
        member[subset] = True
        within = member[pool // n] & member[pool % n]
        scope = f"the datasketch subset of {subset_n:,} functions"
        quality_runs = {
            "Deduper, verify": "ours_verify_subset",
            "Deduper, no verify": "ours_noverify_subset",
            "datasketch MinHashLSH": "datasketch",
        }
    else:
        within = np.ones(len(pool), dtype=bool)
        scope = f"all {n:,} functions"
        quality_runs = {
            "Deduper, verify": "ours_verify",
            "Deduper, no verify": "ours_noverify",
            "datasketch MinHashLSH": "datasketch",
        }
    ds_layout = (runs["datasketch"]["result"]["bands"], runs["datasketch"]["result"]["rows"])
    contenders_q = {
        label: quality(
            runs[k]["keys"], pool, jac, within, ds_layout if k == "datasketch" else (BANDS, ROWS)
        )
        for label, k in quality_runs.items()
    }
    if subset_n:
        full = np.ones(len(pool), dtype=bool)
        contenders_q["Deduper, verify (all functions)"] = quality(
            runs["ours_verify"]["keys"], pool, jac, full
        )
    in_scope = jac[within]
    lengths = {
        "Deduper, verify": by_length(
            runs["ours_verify"]["keys"], ours_clusters, pool, jac, shorter, n
        ),
        "datasketch MinHashLSH": by_length(runs["datasketch"]["keys"], None, pool, jac, shorter, n)
        if not subset_n
        else None,
    }
    res = {k: r["result"] for k, r in runs.items()}
    ds = res["datasketch"]
    ds_shingled = dict(ds, seconds=ds["seconds"] + ds["shingling_seconds"])
    threads = args.threads
    rows = [
        row(f"case2code Deduper, verify, {threads} threads", res["ours_verify"], n),
        row(f"case2code Deduper, no verify, {threads} threads", res["ours_noverify"], n),
        row(f"case2code.dedup() end to end, {threads} threads", res["end_to_end"], n),
        row("datasketch MinHash + MinHashLSH, 1 process", ds, n, bool(subset_n)),
        row("  datasketch MinHash creation", dict(ds, seconds=ds["minhash_seconds"]), n),
        row("  datasketch LSH insert + query", dict(ds, seconds=ds["lsh_seconds"]), n),
        row("datasketch + shingling (Rust, 1 thread)", ds_shingled, n, bool(subset_n)),
    ]
    for label in ("  datasketch MinHash creation", "  datasketch LSH insert + query"):
        next(r for r in rows if r["contender"] == label)["peak_rss_above_corpus_mb"] = None
    rows[-1]["peak_rss_above_corpus_mb"] = None
    if subset_n:
        rows += [
            row(
                f"case2code Deduper, verify, {threads} threads, subset",
                res["ours_verify_subset"],
                n,
            ),
            row(
                f"case2code Deduper, no verify, {threads} threads, subset",
                res["ours_noverify_subset"],
                n,
            ),
        ]

    def per_s(r: dict) -> float:
        return r["functions"] / r["seconds"]

    ratios = {
        "ours_verify_vs_datasketch": round(per_s(res["ours_verify"]) / per_s(ds), 2),
        "ours_noverify_vs_datasketch": round(per_s(res["ours_noverify"]) / per_s(ds), 2),
        "end_to_end_vs_datasketch": round(per_s(res["end_to_end"]) / per_s(ds), 2),
        "ours_verify_vs_datasketch_with_shingling": round(
            per_s(res["ours_verify"]) / per_s(ds_shingled), 2
        ),
        "datasketch_over_ours_memory": round(
            (ds["peak_above_baseline_mb"] / ds["functions"])
            / max(
                1e-9, res["ours_verify"]["peak_above_baseline_mb"] / res["ours_verify"]["functions"]
            ),
            2,
        ),
    }
    bpf = res["ours_verify"]["bytes_per_function"]
    ds_bpf = round(ds["peak_above_baseline_mb"] * 2**20 / ds["functions"])
    report = {
        "machine": {
            "cores": os.cpu_count(),
            "threads": threads,
            "python": sys.version.split()[0],
            "datasketch": datasketch.__version__,
        },
        "corpus": {
            "functions": n,
            "originals": n_originals,
            "copies": n - n_originals,
            "mb": round(mb, 1),
            "shingles": shingles,
            "seed": args.seed,
            "build_seconds": round(corpus_seconds, 1),
            "edits": dict(Counter(e for es in edits for e in es).most_common()),
            "edits_per_copy": dict(sorted(Counter(len(es) for es in edits if es).items())),
        },
        "timings": rows,
        "ratios": ratios,
        "ours_breakdown": {
            k: round(res["ours_verify"][k], 3)
            for k in ("add_seconds", "pairs_seconds", "finish_seconds")
        },
        "ours_reasons": res["ours_verify"]["reasons"],
        "end_to_end": {"kept": res["end_to_end"]["kept"], "removed": res["end_to_end"]["removed"]},
        "datasketch": {
            k: ds[k]
            for k in (
                "bands",
                "rows",
                "minhash_seconds",
                "lsh_seconds",
                "shingling_seconds",
                "per_object_over_bulk",
                "functions",
            )
        },
        "memory": {
            "bytes_per_function": bpf,
            "ours_10m_gb": round(bpf * 1e7 / 1e9, 2),
            "datasketch_bytes_per_function": ds_bpf,
            "datasketch_10m_gb": round(ds_bpf * 1e7 / 1e9, 1),
            "children": {
                k: {
                    f: r[f]
                    for f in (
                        "baseline_rss_mb",
                        "peak_rss_mb",
                        "peak_above_baseline_mb",
                        "peak_reset",
                    )
                }
                for k, r in res.items()
            },
        },
        "quality": {
            "scope": scope,
            "pool_pairs": int(within.sum()),
            "true_pairs": int((in_scope >= THRESHOLD).sum()),
            "true_pairs_exact": int((in_scope >= 1.0).sum()),
            "pool_pairs_by_j": {
                f"{lo:.1f}-{hi:.1f}": int(((in_scope >= lo) & (in_scope < hi)).sum())
                for lo, hi in zip(np.arange(0, 1.0, 0.1), np.arange(0.1, 1.1, 0.1), strict=True)
            }
            | {"1.0": int((in_scope >= 1.0).sum())},
            "ours_label": "Deduper, verify",
            "contenders": contenders_q,
            "ours_noverify_vs_datasketch_pairs_jaccard": round(
                len(np.intersect1d(runs["ours_noverify"]["keys"], runs["datasketch"]["keys"]))
                / max(
                    1, len(np.union1d(runs["ours_noverify"]["keys"], runs["datasketch"]["keys"]))
                ),
                4,
            )
            if not subset_n
            else None,
        },
        "copies_jaccard": {
            "deciles": [round(float(v), 3) for v in np.percentile(copy_j, range(10, 100, 10))],
            "exact_share": round(float((copy_j >= 1.0).mean()), 4),
            "below_0.4_share": round(float((copy_j < 0.4).mean()), 4),
        },
        "recall_by_length": lengths,
        "load_average": {"start": load_before, "end": [round(x, 2) for x in os.getloadavg()]},
        "ground_truth_seconds": round(truth_seconds, 1),
        "total_seconds": round(time.perf_counter() - begun, 1),
    }
    text = markdown(report)
    print()
    print(text)
    print()
    for label, e in contenders_q.items():
        print(f"{label}: below-threshold reported pairs {e['reported_below_threshold_j']}")
        print(f"  missed true pairs by J: {e['missed_true_pairs_by_j']}")
    print(f"pool pairs by J: {report['quality']['pool_pairs_by_j']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")
    if args.write_readme:
        write_readme(text, README_BEGIN, README_END)


if __name__ == "__main__":
    main()
