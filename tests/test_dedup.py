"""Dedup: hand-made near-duplicates and look-alikes, keep rules, decontamination, real corpora,
and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import case2code
import polars as pl
import pytest
from case2code import _core
from case2code.dedup import DedupConfig, dedup
from case2code.errors import C2CError
from case2code.extract import RULES, ExtractConfig

BASE = '''def merge_intervals(intervals, gap=0):
    """Merge overlapping [start, end] intervals; `gap` joins intervals closer than it."""
    if not intervals:
        return []
    ordered = sorted(intervals, key=lambda pair: pair[0])
    merged = [list(ordered[0])]
    count = 1
    for start, end in ordered[1:]:
        last = merged[-1]
        if start <= last[1] + gap:
            last[1] = max(last[1], end)
        else:
            merged.append([start, end])
            count += 1
    widths = [end - start for start, end in merged]
    total = sum(widths)
    return [tuple(pair) for pair in merged], count, total
'''

RENAMES = {"intervals": "spans", "ordered": "by_start", "merged": "out", "last": "tail"}


def renamed(source: str) -> str:
    for old, new in RENAMES.items():
        source = source.replace(old, new)
    return source


NEAR = {
    "comments and docstring": BASE.replace(
        '"""Merge overlapping [start, end] intervals; `gap` joins intervals closer than it."""',
        "# merge step\n    # (sorted first)",
    ).replace("count += 1", "count += 1  # one more"),
    "reformatted": BASE.replace(
        "merged = [list(ordered[0])]", "merged = [\n        list(ordered[0]),\n    ]"
    )
    .replace("if start <= last[1] + gap:", "if (start <= (last[1] + gap)):")
    .replace("    return []\n", "    return [ ]\n\n"),
    "reordered independent statements": BASE.replace(
        "    merged = [list(ordered[0])]\n    count = 1\n",
        "    count = 1\n    merged = [list(ordered[0])]\n",
    ),
    "one line changed": BASE.replace(
        "last[1] = max(last[1], end)", "last[1] = end if end > last[1] else last[1]"
    ),
}

LOOK_ALIKES = {
    "same shape, other job": '''def split_intervals(intervals, size=1):
    """Cut every [start, end] interval into pieces of at most `size`."""
    if not intervals:
        return []
    pieces = []
    for start, end in intervals:
        while end - start > size:
            pieces.append((start, start + size))
            start += size
        pieces.append((start, end))
    return pieces
''',
    "same vocabulary": '''def interval_gaps(intervals):
    """The gaps between consecutive sorted [start, end] intervals."""
    ordered = sorted(intervals, key=lambda pair: pair[0])
    gaps = []
    for (_, end), (start, _) in zip(ordered, ordered[1:]):
        if start > end:
            gaps.append((end, start))
    return gaps
''',
}


def true_jaccard(a: str, b: str, structural: bool = False) -> float:
    sa, sb = (set(s) for s in _core.dedup_shingles([a, b], 5, structural))
    return len(sa & sb) / len(sa | sb)


def table(sources: dict[str, str]) -> pl.DataFrame:
    names = list(sources)
    return pl.DataFrame(
        {
            "function_id": [f"id{i}" for i in range(len(names))],
            "name": names,
            "source": list(sources.values()),
        }
    )


@pytest.mark.parametrize("variant", list(NEAR))
def test_near_duplicates_are_clustered_with_the_original(variant):
    source = NEAR[variant]
    assert true_jaccard(BASE, source) >= 0.7, "the hand-made variant must be a true near-duplicate"
    result = dedup(table({"base": BASE, variant: source}))
    reasons = dict(zip(result.functions["name"], result.functions["dedup_reason"], strict=True))
    assert sorted(reasons.values()) in (["kept", "near"], ["exact", "kept"])
    assert result.functions["cluster_id"].n_unique() == 1


def test_comment_and_layout_changes_are_exact_duplicates():
    for variant in ("comments and docstring",):
        result = dedup(table({"base": BASE, variant: NEAR[variant]}))
        assert sorted(result.functions["dedup_reason"]) == ["exact", "kept"]


def test_renamed_copies_match_in_structural_mode_only():
    copy = renamed(BASE)
    plain = dedup(table({"base": BASE, "renamed": copy}))
    structural = dedup(table({"base": BASE, "renamed": copy}), DedupConfig(structural=True))
    assert sorted(plain.functions["dedup_reason"]) == ["kept", "kept"]
    assert sorted(structural.functions["dedup_reason"]) == ["exact", "kept"]


@pytest.mark.parametrize("variant", list(LOOK_ALIKES))
def test_look_alikes_are_not_duplicates(variant):
    source = LOOK_ALIKES[variant]
    assert true_jaccard(BASE, source) < 0.5
    for structural in (False, True):
        result = dedup(table({"base": BASE, variant: source}), DedupConfig(structural=structural))
        assert list(result.functions["dedup_reason"]) == ["kept", "kept"]


def test_keep_rules_pick_the_representative():
    long_copy = NEAR["reformatted"]
    sources = {"base": BASE, "long": long_copy}
    shortest = dedup(table(sources))
    first = dedup(table({"long": long_copy, "base": BASE}), DedupConfig(keep="first"))
    scored = dedup(
        table(sources).with_columns(pl.Series("stars", [1, 50])),
        DedupConfig(keep="score", score_column="stars"),
    )
    kept = lambda r: r.unique["name"].to_list()  # noqa: E731
    assert kept(shortest) == ["base"]
    assert kept(first) == ["long"]
    assert kept(scored) == ["long"]


def test_decontamination_drops_leaked_benchmark_solutions():
    functions = table({"leak": NEAR["reformatted"], "clean": LOOK_ALIKES["same vocabulary"]})
    result = dedup(functions, against=[BASE])
    reasons = dict(zip(result.functions["name"], result.functions["dedup_reason"], strict=True))
    assert reasons == {"leak": "contaminated", "clean": "kept"}
    assert result.functions.filter(pl.col("name") == "leak")["cluster_id"][0] == "reference:0"


def test_bad_configurations_are_explained():
    with pytest.raises(C2CError, match="exceeds"):
        dedup(table({"a": BASE}), DedupConfig(bands=30, rows=10))
    with pytest.raises(C2CError, match="score_column"):
        dedup(table({"a": BASE}), DedupConfig(keep="score"))


@pytest.fixture(scope="module")
def stdlib_functions(stdlib_dir):
    return case2code.extract([stdlib_dir]).functions


def test_real_corpus_is_deterministic_and_thread_independent(stdlib_functions):
    one = dedup(stdlib_functions, DedupConfig(threads=1))
    two = dedup(stdlib_functions, DedupConfig(threads=2))
    columns = ["function_id", "cluster_id", "dedup_reason", "exact_hash"]
    assert one.functions.select(columns).equals(two.functions.select(columns))
    report = one.report
    assert report.functions == stdlib_functions.height
    assert report.kept + sum(report.removed.values()) == report.functions
    assert 0 < report.kept < report.functions
    # Every removed function's representative is kept and in the same exact group for "exact".
    kept_ids = set(one.unique["function_id"])
    removed = one.functions.filter(pl.col("dedup_reason") != "kept")
    assert set(removed["cluster_id"]) <= kept_ids
    hashes = dict(zip(one.functions["function_id"], one.functions["exact_hash"], strict=True))
    for row in removed.filter(pl.col("dedup_reason") == "exact").iter_rows(named=True):
        assert hashes[row["cluster_id"]] == row["exact_hash"]


def test_near_duplicate_pairs_in_the_stdlib_are_truly_similar(stdlib_functions):
    sources = stdlib_functions["source"].to_list()
    deduper = _core.Deduper()
    deduper.add(sources, [float(len(s)) for s in sources])
    pairs = deduper.candidate_pairs(verify=True)
    assert pairs
    shingles = [set(s) for s in _core.dedup_shingles(sources)]
    similar = sum(
        len(shingles[i] & shingles[j]) / len(shingles[i] | shingles[j]) >= 0.6 for i, j in pairs
    )
    assert similar / len(pairs) >= 0.95


def test_cli_dedups_a_table_and_reports(tmp_path, stdlib_functions):
    stdlib_functions.write_parquet(tmp_path / "functions.parquet")
    (tmp_path / "bench.jsonl").write_text(
        json.dumps(
            {
                "prompt": BASE.split("    if not")[0],
                "canonical_solution": "    if not" + BASE.split("    if not", 1)[1],
            }
        )
        + "\n"
    )
    command = [
        sys.executable, "-m", "case2code", "dedup", "functions.parquet", "-o", "unique.parquet",
        "--all", "all.parquet", "--report", "report.json", "--against", "bench.jsonl",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    unique = pl.read_parquet(tmp_path / "unique.parquet")
    everything = pl.read_parquet(tmp_path / "all.parquet")
    report = json.loads((tmp_path / "report.json").read_text())
    assert everything.height == stdlib_functions.height
    assert unique.height == report["kept"] == (everything["dedup_reason"] == "kept").sum()
    assert report["bytes_per_function"] == 625  # 617 + where its shingle set starts
    assert report["largest_clusters"][0]["size"] >= 2
    assert set(unique.columns) >= set(stdlib_functions.columns) | {"cluster_id", "dedup_reason"}


def test_cli_errors_name_the_problem(tmp_path):
    pl.DataFrame({"function_id": ["a"], "name": ["f"]}).write_parquet(tmp_path / "bad.parquet")
    for args, message in [
        (["missing.parquet"], "does not exist"),
        (["bad.parquet"], "no column(s) source"),
    ]:
        command = [sys.executable, "-m", "case2code", "dedup", *args, "-o", "u.parquet"]
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2
        assert message in done.stderr


@pytest.fixture(scope="module")
def site_packages_sample(site_packages_dir):
    """Every top-level function (all extraction rules off, as the dedup benchmark takes them) of
    every 40th site-packages file: relative imports, match statements and line continuations
    that the stdlib has few of."""
    files = sorted(site_packages_dir.rglob("*.py"))[::40]
    config = ExtractConfig(rules=dict.fromkeys(RULES, False), min_lines=1, max_lines=100_000)
    return case2code.extract(files, config).functions


@pytest.mark.parametrize("corpus", ["stdlib_functions", "site_packages_sample"])
def test_the_fast_lexer_gives_tree_sitters_tokens(corpus, request):
    """Dedup hashes tokens from a Python lexer; tree-sitter's leaves define what they must be."""
    sources = request.getfixturevalue(corpus)["source"].to_list()
    assert len(sources) > 500
    for structural in (False, True):
        fast = _core.dedup_tokens(sources, structural=structural)
        oracle = _core.dedup_tokens(sources, structural=structural, tree_sitter=True)
        same = sum(a == b for a, b in zip(fast, oracle, strict=True))
        differing = [s[:200] for s, a, b in zip(sources, fast, oracle, strict=True) if a != b]
        assert same / len(sources) >= 0.998, differing[:3]


def test_rows_sharing_a_function_id_are_copies_and_the_keep_rule_picks_among_them():
    """Rows with one function id share their standalone source (exact copies from other files):
    one of them stands for the id (here the best-scored), the others are exact duplicates of
    it, and the figures count every row."""
    other = NEAR["one line changed"]
    functions = pl.DataFrame(
        {
            "function_id": ["b", "a", "a", "a"],
            "name": ["other", "base", "base", "base"],
            "source": [LOOK_ALIKES["same vocabulary"], BASE, BASE, BASE],
            "stars": [5, 1, 9, 3],
        }
    )
    result = dedup(functions, DedupConfig(keep="score", score_column="stars"))
    rows = result.functions.select("function_id", "stars", "dedup_reason", "cluster_id").rows()
    assert rows == [
        ("a", 1, "exact", "a"),
        ("a", 9, "kept", "a"),
        ("a", 3, "exact", "a"),
        ("b", 5, "kept", "b"),
    ]
    assert result.report.as_dict()["removed"] == {"exact": 2}
    assert result.report.largest == [{"cluster_id": "a", "size": 3, "names": ["base"] * 3}]
    # A near copy under its own id joins the cluster of the row that stands for "a".
    with_near = pl.concat(
        [
            functions,
            pl.DataFrame({"function_id": ["c"], "name": ["near"], "source": [other], "stars": [1]}),
        ]
    )
    near = dedup(with_near, DedupConfig(keep="score", score_column="stars")).functions
    assert near.filter(pl.col("function_id") == "c")["dedup_reason"].to_list() == ["near"]
    assert near.filter(pl.col("function_id") == "c")["cluster_id"].to_list() == ["a"]
