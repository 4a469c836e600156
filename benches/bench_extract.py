"""Extraction benchmark: the Rust extractor against the pure-Python `ast` reference.

On one corpus (this interpreter's standard library plus site-packages), in one run:
- tree-sitter's bare parse of the files (read + parse, nothing else): the floor;
- the Rust extractor (read + parse + rules + standalone sources; byte caps off, as the reference
  has none), all cores and one thread;
- `case2code.extract()` end to end (the same, plus polars frames);
- the `ast` reference (`benches/reference_extract.py`), one process, as a user would run it;
and the agreement of the two implementations: Jaccard of the kept function ids, with
every difference sorted by cause.

    python benches/bench_extract.py [--limit N] [--out benches/results/extract.json]
"""

from __future__ import annotations

import argparse
import json
import os
import site
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import case2code
import reference_extract
from case2code import _core


def corpus_files(limit: int | None) -> list[str]:
    roots = [sysconfig.get_paths()["stdlib"]]
    site_packages = site.getsitepackages()[0]
    if not site_packages.startswith(roots[0]):
        roots.append(site_packages)
    files, _ = _core.discover(roots)
    files = [str(f) for f in files]
    return files[:limit] if limit else files


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


# The `ast` reference has no byte caps, so the Rust extractor runs without them too: the two are
# compared on the same rules.
NO_BYTE_CAPS = {"source_bytes": False, "literal_bytes": False}


def rust_extract(files: list[str], threads: int) -> tuple[dict, float]:
    extractor = _core.Extractor(rules=NO_BYTE_CAPS)
    return timed(lambda: extractor.extract_files(files, threads))


def reference(files: list[str]) -> tuple[list[dict], float]:
    return timed(lambda: [reference_extract.extract_file(f) for f in files])


def agreement(files: list[str], rust: dict, ref: list[dict]) -> dict:
    """Jaccard of kept ids, and each difference with its cause."""
    r_funcs = rust["functions"]
    rust_kept = {
        (files[i], name, line): fid
        for i, name, line, fid in zip(
            r_funcs["source_index"],
            r_funcs["name"],
            r_funcs["line"],
            r_funcs["function_id"],
            strict=True,
        )
    }
    r_rej = rust["rejections"]
    rust_rejected = {
        (files[i], name, line): reason
        for i, name, line, reason in zip(
            r_rej["source_index"], r_rej["name"], r_rej["line"], r_rej["reason"], strict=True
        )
    }
    rust_skipped = {files[i]: s for i, s in enumerate(rust["sources"]["skipped"]) if s}
    ref_kept: dict[tuple, str] = {}
    ref_rejected: dict[tuple, str] = {}
    ref_skipped: dict[str, str] = {}
    for path, report in zip(files, ref, strict=True):
        if report["status"] != "ok":
            ref_skipped[path] = report["status"]
        for k in report["kept"]:
            ref_kept[(path, k["name"], k["line"])] = k["function_id"]
        for r in report["rejected"]:
            ref_rejected[(path, r["name"], r["line"])] = r["reason"]

    ids_rust, ids_ref = set(rust_kept.values()), set(ref_kept.values())
    jaccard = len(ids_rust & ids_ref) / max(1, len(ids_rust | ids_ref))
    causes: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for key in sorted(set(rust_kept) | set(ref_kept)):
        a, b = rust_kept.get(key), ref_kept.get(key)
        if a == b:
            continue
        path = key[0]
        if a and b:
            cause = "same function, different standalone source"
        elif path in rust_skipped or path in ref_skipped:
            cause = (
                f"file skipped by {'Rust' if path in rust_skipped else 'ast'}: "
                f"{rust_skipped.get(path) or ref_skipped.get(path)}"
            )
        elif a:
            cause = f"kept by Rust only; ast says {ref_rejected.get(key, 'not found')}"
        else:
            cause = f"kept by ast only; Rust says {rust_rejected.get(key, 'not found')}"
        causes[cause] += 1
        examples.setdefault(cause, [])
        if len(examples[cause]) < 3:
            examples[cause].append(f"{path}:{key[2]} {key[1]}")
    return {
        "kept_rust": len(ids_rust),
        "kept_ast": len(ids_ref),
        "jaccard": round(jaccard, 4),
        "differences": [
            {"cause": c, "count": n, "examples": examples[c]} for c, n in causes.most_common()
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N files")
    parser.add_argument("--out", default="benches/results/extract.json")
    args = parser.parse_args()

    files = corpus_files(args.limit)
    total_bytes = sum(os.stat(f).st_size for f in files)
    cores = os.cpu_count() or 1
    print(f"corpus: {len(files):,} files, {total_bytes / 1e6:.1f} MB, {cores} cores", flush=True)
    _core.parse_files(files, 0)  # warm the page cache so every contender reads from memory

    (_, parse_all) = timed(lambda: _core.parse_files(files, 0))
    (_, parse_one) = timed(lambda: _core.parse_files(files, 1))
    rust_all, extract_all = rust_extract(files, 0)
    _, extract_one = rust_extract(files, 1)
    end_to_end, e2e_seconds = timed(lambda: case2code.extract(files))
    print("rust done; running the ast reference (one process)...", flush=True)
    ref, ref_seconds = reference(files)

    seen = len(rust_all["functions"]["name"]) + len(rust_all["rejections"]["name"])
    mb = total_bytes / 1e6

    def row(label: str, seconds: float) -> dict:
        return {
            "contender": label,
            "seconds": round(seconds, 3),
            "mb_per_s": round(mb / seconds, 2),
            "functions_per_s": round(seen / seconds),
        }

    rows = [
        row(f"tree-sitter bare parse, {cores} threads", parse_all),
        row("tree-sitter bare parse, 1 thread", parse_one),
        row(f"Rust extractor, {cores} threads", extract_all),
        row("Rust extractor, 1 thread", extract_one),
        row(f"case2code.extract() end to end, {cores} threads", e2e_seconds),
        row("ast reference, 1 process", ref_seconds),
    ]
    ratios = {
        "rust_all_cores_vs_ast": round(ref_seconds / extract_all, 2),
        "rust_one_thread_vs_ast": round(ref_seconds / extract_one, 2),
        "end_to_end_vs_ast": round(ref_seconds / e2e_seconds, 2),
        "extraction_over_parse_all_cores": round(extract_all / parse_all, 3),
        "extraction_over_parse_one_thread": round(extract_one / parse_one, 3),
    }
    agree = agreement(files, rust_all, ref)
    report = {
        "corpus": {"files": len(files), "bytes": total_bytes, "functions_seen": seen},
        "machine": {"cores": cores, "python": sys.version.split()[0]},
        "timings": rows,
        "ratios": ratios,
        "agreement": agree,
        "end_to_end_kept": end_to_end.summary.kept,
    }
    for r in rows:
        print(
            f"{r['contender']:<48} {r['seconds']:>8.2f} s {r['mb_per_s']:>8.2f} MB/s "
            f"{r['functions_per_s']:>10,} functions/s"
        )
    for name, value in ratios.items():
        print(f"{name:<36} {value}")
    print(
        f"kept: Rust {agree['kept_rust']:,}, ast {agree['kept_ast']:,}; "
        f"Jaccard on ids {agree['jaccard']:.4f}"
    )
    for diff in agree["differences"]:
        print(f"  {diff['count']:>5}  {diff['cause']}  e.g. {'; '.join(diff['examples'][:2])}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
