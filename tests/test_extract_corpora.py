"""Extraction over real corpora, broken files, and every input format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from case2code import ExtractConfig, extract, extract_texts
from conftest import defines_function

GOOD = "import math\n\ndef hyp(a, b):\n    s = a * a + b * b\n    return math.sqrt(s)\n"


def test_whole_standard_library_compiles_and_defines(stdlib_dir: Path) -> None:
    result = extract()  # the default corpus: this interpreter's stdlib
    summary = result.summary
    assert summary.sources > 500 and summary.kept > 500
    assert summary.skipped.get("syntax_error", 0) < 0.01 * summary.sources
    failures = [
        (row["origin"], row["name"])
        for row in result.functions.iter_rows(named=True)
        if not defines_function(row["source"], row["name"])
    ]
    assert failures == []
    # Provenance names the corpus (the stdlib folder's name) and paths inside it, never the
    # folders of the machine that built the table.
    assert set(result.functions["origin_corpus"]) == {stdlib_dir.name}
    origins = result.functions["origin"].to_list()
    assert not any(origin.startswith("/") or "site-packages" in origin for origin in origins)
    assert all((stdlib_dir / origin).is_file() for origin in origins)


def test_site_packages_compile_and_define(site_packages_dir: Path) -> None:
    result = extract(site_packages_dir, ExtractConfig(threads=2))
    assert result.summary.kept > 100
    for row in result.functions.iter_rows(named=True):
        assert defines_function(row["source"], row["name"]), (row["origin"], row["name"])


def test_same_answer_on_one_thread_and_all(stdlib_dir: Path) -> None:
    corpus = stdlib_dir / "json"
    one = extract(corpus, ExtractConfig(threads=1)).functions
    many = extract(corpus, ExtractConfig(threads=0)).functions
    assert one.height > 0
    assert one.equals(many)


def make_broken_tree(root: Path) -> None:
    root.mkdir()
    (root / "good.py").write_text(GOOD)
    (root / "syntax.py").write_text("def f(:\n    return 1\n" + GOOD)
    (root / "nul.py").write_bytes(GOOD.encode() + b"\0")
    (root / "latin1_cookie.py").write_bytes(
        b"# -*- coding: latin-1 -*-\nS = '\xe9t\xe9'\n" + GOOD.encode()
    )
    (root / "latin1_no_cookie.py").write_bytes(b"S = '\xe9t\xe9'\n" + GOOD.encode())
    (root / "empty.py").write_bytes(b"")
    (root / "long_line.py").write_text("DATA = [" + "1, " * 3_500_000 + "]\n" + GOOD)
    (root / "sub").mkdir()
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    (root / "notes.txt").write_text("not python")


def test_broken_files_are_counted_never_fatal(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    make_broken_tree(root)
    assert (root / "long_line.py").stat().st_size > 10_000_000
    result = extract(root)
    skipped = dict(zip(result.skipped["origin"], result.skipped["reason"], strict=True))
    names = {Path(o).name: r for o, r in skipped.items()}
    assert names["syntax.py"] == "syntax_error"
    assert names["nul.py"] == "nul_bytes"
    assert names["latin1_no_cookie.py"] == "undecodable"
    assert names["loop"] == "unreadable"
    kept_in = sorted(Path(o).name for o in result.functions["origin"])
    assert kept_in == ["good.py", "latin1_cookie.py", "long_line.py"]
    assert "notes.txt" not in str(result.skipped["origin"].to_list())


def test_in_memory_strings() -> None:
    result = extract_texts([GOOD, "def broken(:\n", "x = 1\n"], origins=["a", "b", "c"])
    assert result.functions["origin"].to_list() == ["a"]
    assert result.skipped.select("origin", "reason").rows() == [("b", "syntax_error")]
    assert result.summary.sources == 3


def test_jsonl_rows_keep_origin_columns_and_report_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "stack.jsonl"
    rows = [
        {"content": GOOD, "max_stars_repo_name": "me/repo", "max_stars_repo_licenses": ["MIT"]},
        {"content": None},
        {"content": "def f(:\n"},
        {"content": GOOD.replace("hyp", "hyp2"), "max_stars_repo_name": "you/repo"},
    ]
    lines = [json.dumps(r) for r in rows]
    lines.insert(2, "{not json")
    path.write_text("\n".join(lines) + "\n")
    result = extract(path)
    functions = result.functions.sort("origin_row")  # they come sorted by function id
    assert functions["name"].to_list() == ["hyp", "hyp2"]
    assert functions["origin_row"].to_list() == [0, 4]
    assert functions["origin_max_stars_repo_name"].to_list() == ["me/repo", "you/repo"]
    assert functions["origin_max_stars_repo_licenses"].to_list() == [["MIT"], None]
    bad = result.skipped.sort("origin_row").select("origin_row", "reason").rows()
    assert bad == [(1, "bad_row"), (2, "bad_row"), (3, "syntax_error")]


def test_parquet_rows_stream_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "stack.parquet"
    texts = [GOOD.replace("hyp", f"hyp{i}") for i in range(300)] + [None]
    pl.DataFrame(
        {"code": texts, "repo_name": [f"r{i}" for i in range(301)], "size": list(range(301))}
    ).write_parquet(path)
    result = extract(path, ExtractConfig(text_column="code", batch_bytes=2_000))
    assert result.functions.height == 300
    functions = result.functions.sort("origin_row")  # they come sorted by function id
    assert functions["origin_row"].to_list() == list(range(300))
    assert functions["origin_repo_name"][299] == "r299"
    assert result.skipped.select("origin_row", "reason").rows() == [(300, "bad_row")]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "case2code", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_cli_writes_parquet_and_summary(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    make_broken_tree(root)
    done = run_cli(
        "extract",
        str(root),
        "-o",
        "out.parquet",
        "--rejected",
        "rej.parquet",
        "--summary-json",
        "summary.json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert pl.read_parquet(tmp_path / "out.parquet").height == 3
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["kept"] == 3 and summary["skipped"]["syntax_error"] == 1
    assert "functions seen" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing_dir"], "missing_dir: no such file or directory"),
        (["missing.py"], "missing.py: no such file or directory"),
        (["missing.parquet"], "missing.parquet: no such file or directory"),
        (["data.csv"], "not a directory, Python (.py, .pyw, .ipynb), JSONL"),
        (["table.parquet"], "no column 'content'; columns are code"),
        (["--off", "sise", "."], "unknown rule"),
    ],
)
def test_cli_errors_are_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "data.csv").write_text("a,b\n")
    pl.DataFrame({"code": ["x = 1"]}).write_parquet(tmp_path / "table.parquet")
    done = run_cli("extract", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
