"""Dedup sees code, not docstrings and formatting: copies of the real HumanEval functions with
their docstrings rewritten, comments and no-op statements added and quotes and line breaks
reformatted are caught as contamination, in a corpus extracted as a new user would; string
literals compare by value; the raw-text view still tells such copies apart."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import polars as pl
import pytest
from case2code import _core, extract
from case2code.benchmarks import load_benchmark, reference_parts
from case2code.dedup import DedupConfig, dedup

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benches"))
import dedup_mutations

DOCSTRING = re.compile(r'("""|\'\'\')(.*?)\1', re.DOTALL)


def disguise(source: str, rng: random.Random) -> str:
    """A HumanEval task as a training corpus might hold it: every docstring rewritten, the
    quotes swapped, a comment and a `pass` added, a call's arguments broken over lines."""
    source = DOCSTRING.sub('"""Rewritten by hand: see the tests for what it does."""', source)
    for edit in (dedup_mutations.quotes, dedup_mutations.comment, dedup_mutations.noop):
        source = edit(source, rng) or source
    return dedup_mutations.line_breaks(source, rng) or source


@pytest.fixture(scope="module")
def humaneval_corpus(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    folder = tmp_path_factory.mktemp("humaneval-copies")
    rng = random.Random(0)
    for task in load_benchmark("humaneval"):
        name = task.task_id.replace("/", "_") + ".py"
        (folder / name).write_text(disguise(task.source, rng))
    return extract([folder]).functions


def test_disguised_humaneval_functions_are_caught(humaneval_corpus: pl.DataFrame) -> None:
    functions = humaneval_corpus
    # The corpus really is disguised: no docstring survives and most functions changed text.
    assert functions.height >= 164
    assert all("Rewritten by hand" in d for d in functions["docstring"].drop_nulls())
    result = dedup(functions, DedupConfig(), against=["humaneval"])
    reasons = result.functions["dedup_reason"]
    caught = (reasons == "contaminated").sum()
    assert caught / functions.height >= 0.95, result.functions.filter(
        pl.col("dedup_reason") != "contaminated"
    )["name"].to_list()
    assert result.report.benchmarks == {"humaneval": 164}
    leaked = {h["task_id"] for h in result.report.contaminated}
    assert len(leaked) >= 0.95 * 164


def test_a_task_helper_is_checked_on_its_own() -> None:
    # HumanEval/10 holds `is_palindrome` and `make_palindrome`: the helper alone is far from
    # the whole task, so each function of a task is a reference of its own too.
    task = next(t for t in load_benchmark("humaneval") if t.task_id == "HumanEval/10")
    parts = reference_parts([task])
    assert [p.task_id for p in parts] == ["HumanEval/10"] * 3
    assert parts[1].source.startswith("def is_palindrome(")
    assert parts[2].source.startswith("def make_palindrome(")
    helper = pl.DataFrame({"source": [parts[1].source], "name": ["is_palindrome"]})
    result = dedup(helper, DedupConfig(), against=[task])
    assert result.functions["cluster_id"].to_list() == ["humaneval:HumanEval/10"]


def test_string_literals_compare_by_value() -> None:
    a = "def f(x):\n    return x.replace('\\'', \"'\") + u'a' + '\\x62'\n"
    b = 'def f(x):\n    return x.replace("\'", """\'""") + "a" + r"b"\n'
    plain, raw = _core.dedup_shingles([a, b]), _core.dedup_shingles([a, b], raw_text=True)
    assert plain[0] == plain[1]
    assert raw[0] != raw[1]
    frame = pl.DataFrame({"source": [a, b]})
    assert dedup(frame).functions["dedup_reason"].to_list() == ["kept", "exact"]
    raw_result = dedup(frame, DedupConfig(raw_text=True)).functions
    assert raw_result["exact_hash"][0] != raw_result["exact_hash"][1]


def test_the_raw_text_view_keeps_docstring_copies_apart() -> None:
    original = 'def weigh(values):\n    """Weighted sum."""\n    return sum(values)  # all\n'
    copy = original.replace("Weighted sum.", "Sum of the values.").replace("# all", "")
    frame = pl.DataFrame({"source": [original, copy]})
    assert dedup(frame).functions["dedup_reason"].to_list() == ["kept", "exact"]
    raw = dedup(frame, DedupConfig(raw_text=True)).functions["dedup_reason"].to_list()
    assert raw == ["kept", "kept"]


def test_verification_is_by_exact_jaccard() -> None:
    lines = [f"    v{i} = w{i} + {i}\n" for i in range(20)]
    original = "def f():\n" + "".join(lines)
    copy = "def f():\n" + "".join([*lines[:10], "    v10 = w10 - 10\n", *lines[11:]])
    deduper = _core.Deduper()
    deduper.add([original, copy], [0.0, 1.0])
    a, b = (set(s) for s in _core.dedup_shingles([original, copy]))
    assert deduper.jaccard(0, 1) == pytest.approx(len(a & b) / len(a | b), abs=1e-12)
    assert deduper.finish()["reason"] == ["kept", "near"]
