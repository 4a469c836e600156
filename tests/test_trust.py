"""Issue 13's acceptance tests, "data you can trust", end to end on the real sandbox.

1. A corpus of realistic functions whose outputs no model could infer (hash seeds, set order,
   module state, mutable defaults, addresses, the clock, failing reprs) and of sources CPython or
   the size caps reject goes through the real `c2c run`: no such output reaches a sample (training
   shards or the eval split), and every problem function is counted under its reason.
2. Every case that reached a sample of a default-style run gives the same output again in the
   sandbox under another arrangement: a fresh instance per case, cases reversed, functions
   shuffled, and the stability probe's perturbed world (hash salt, date, addresses).
"""

from __future__ import annotations

import ast
import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from case2code.evalsplit import read_eval_split
from case2code.extract import extract
from case2code.inputs.literals import values
from case2code.pipeline import run
from case2code.run_config import RunConfig
from case2code.sandbox import CaseResult, Limits, Sandbox
from faults import c2c

STAGES_DIR = Path("stages")
TRAIN_GLOB = "dataset/data/*.parquet"
EVAL_FILE = Path("eval/case2code-eval.jsonl")
RETURNING = ("ok", "error")  # the only statuses whose outputs a sample may show

# ---------------------------------------------------------------- the corpus

HASHING = '''\
"""Hash-seed dependent helpers: their outputs depend on the interpreter's hash salt."""


def bucket(key: str, n: int) -> int:
    """Spread keys over n buckets.

    >>> bucket("alpha", 1000)
    678
    """
    n = max(n, 1)
    return hash(key) % n


def unique_words(text: str) -> list:
    """The distinct words of a text.

    >>> unique_words("the cat and the hat and the bat")
    ['the', 'cat', 'and', 'hat', 'bat']
    """
    words = text.split()
    return list(set(words))


def tag_set(text: str) -> set:
    """Comma-separated tags, lower-cased.

    >>> tag_set("Red, green, BLUE, red")
    {'red', 'green', 'blue'}
    """
    parts = text.lower().split(",")
    return {part.strip() for part in parts}


def vocabulary(words: list[str]) -> frozenset:
    """The words of a list, stripped and lower-cased.

    >>> vocabulary(["Apple", " pear", "fig", "apple"])
    frozenset({'apple', 'pear', 'fig'})
    """
    cleaned = [word.strip().lower() for word in words]
    return frozenset(cleaned)


def sorted_vocabulary(text: str) -> list:
    """A set, but sorted before it is shown: a stable output.

    >>> sorted_vocabulary("b a c a")
    ['a', 'b', 'c']
    """
    seen = set(text.lower().split())
    return sorted(seen)
'''

STATE = '''\
"""Hidden state: a module-level cache and mutable defaults."""

CACHE = []
SEEN_NUMBERS = []


def remember(key: str) -> int:
    """How many keys were remembered so far."""
    CACHE.append(key)
    return len(CACHE)


def remember_doubled(x: int) -> tuple:
    """The call's rank among calls so far, and the number doubled."""
    SEEN_NUMBERS.append(x)
    rank = len(SEEN_NUMBERS)
    return (rank, x * 2)


def collect(x: int, acc=[]) -> int:
    """Counts calls through a mutable default."""
    acc.append(x)
    return len(acc)


def history(value: int, past=[]) -> list:
    """Every value passed so far, kept in a default list."""
    past.append(value)
    return list(past)
'''

ADDRESSES = '''\
"""Outputs that depend on where objects live in memory."""


def fresh_token(x: int) -> int:
    """A token made from a new object's hash."""
    marker = object()
    return hash(marker) % 1000 + x


def object_suffix(label: str) -> str:
    """The label with the tail of a new object's repr."""
    marker = object()
    return label + repr(marker)[-6:]


def identity_code(x: int) -> int:
    """The object's address, folded."""
    code = id(x)
    return code % 1000
'''

CLOCK = '''\
"""The virtual clock reached around the extraction rules."""
import datetime


def stamp(label: str) -> str:
    """The label with today's date."""
    today = getattr(datetime.date, "to" + "day")()
    return label + "@" + today.isoformat()


def weekday_after(days: int) -> str:
    """The weekday so many days from today."""
    today = getattr(datetime.date, "to" + "day")()
    return (today + datetime.timedelta(days=days)).strftime("%A")
'''

REPRS = '''\
"""Values whose repr() fails: the call itself returns."""


def power(a: int, b: int) -> int:
    """a to the power b.

    >>> power(10, 5000)
    >>> power(7, 9000)
    >>> power(2, 10)
    1024
    """
    result = a ** b
    return result


def boxed(value: int):
    """The value in a box that cannot be shown."""

    class Box:
        def __init__(self, inner):
            self.inner = inner

        def __repr__(self):
            raise RuntimeError("boom")

    return Box(value)
'''

GOOD = '''\
"""Ordinary functions: their outputs are what the code says."""


def clamp(x: int, lo: int, hi: int) -> int:
    """x limited to the range [lo, hi]."""
    if lo > hi:
        lo, hi = hi, lo
    return max(lo, min(x, hi))


def word_lengths(text: str) -> list:
    """The length of each word."""
    words = text.split()
    return [len(word) for word in words]


def digit_sum(n: int) -> int:
    """The sum of the decimal digits of n."""
    total = 0
    for digit in str(abs(n)):
        total += int(digit)
    return total


def distinct_count(text: str) -> int:
    """How many different words a text has: a set, but only its size is shown."""
    return len(set(text.split()))
'''

# Written with CRLF line endings (a multi-line docstring included): completions must use \n.
CRLF = '''\
"""Written on Windows."""


def title_words(text: str) -> str:
    """Each word capitalised.

    >>> title_words("hello big world")
    'Hello Big World'
    """
    words = text.split()
    return " ".join(word.capitalize() for word in words)


def count_vowels(text: str) -> int:
    """How many vowels a text has."""
    vowels = "aeiou"
    return sum(1 for char in text.lower() if char in vowels)
'''

# A tab where the line before used spaces: 8 columns either way for tree-sitter, a TabError
# for CPython.
TABS = 'def halve(x: int) -> int:\n        """Half of x."""\n        y = x // 2\n\treturn y\n'

PY2 = '''\
def differs(a: int, b: int) -> bool:
    """Python 2's inequality."""
    result = a <> b
    return result
'''

HUGE_LITERAL_BYTES = 5_000_000
MEDIUM_LITERAL_BYTES = 2_000  # over the 1,000-byte literal cap, far under the 20 kB source cap


def _lookup_source(name: str, literal_bytes: int) -> str:
    table = "abcdefghij" * (literal_bytes // 10)
    return (
        f"def {name}(i: int) -> str:\n"
        f'    """A character of a long table."""\n'
        f'    table = "{table}"\n'
        f"    return table[i % len(table)]\n"
    )


# name -> the reason it must be rejected at extraction, kept out of every sample.
EXTRACT_REJECTED = {
    "identity_code": "denied_builtin",
    "huge_lookup": "source_too_large",
    "medium_lookup": "literal_too_large",
    "halve": "compile_error",
    "differs": "compile_error",
}
# Functions whose output depends on the hash salt (a string key) or the address layout (a new
# object): such cases must be unstable and never shown.
SALT_OR_ADDRESS = ("bucket", "fresh_token", "object_suffix")
# Functions whose output shows a hash-ordered collection of strings: only a collection of at
# most one element may reach a sample (its order and repr depend on nothing hidden).
HASH_ORDERED = ("unique_words", "tag_set", "vocabulary")
CLOCK_FUNCTIONS = ("stamp", "weekday_after")


# Hidden state: what a call gives from the function's freshly defined state (an empty cache, the
# default list) or with the list the call passes itself; computed here from the argument values.
def _fresh_count(x: Any, acc: list[Any] | None = None) -> int:
    return len(acc or []) + 1


def _fresh_history(value: Any, past: list[Any] | None = None) -> list[Any]:
    return [*(past or []), value]


FRESH_OUTPUT = {
    "remember": lambda key: 1,
    "remember_doubled": lambda x: (1, x * 2),
    "collect": _fresh_count,
    "history": _fresh_history,
}
GOOD_FUNCTIONS = (
    "clamp",
    "word_lengths",
    "digit_sum",
    "distinct_count",
    "sorted_vocabulary",
    "title_words",
    "count_vowels",
)


def write_corpus(root: Path) -> Path:
    """The corpus folder: one file per theme, a CRLF file and files CPython rejects."""
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "hashing.py": HASHING,
        "state.py": STATE,
        "addresses.py": ADDRESSES,
        "clock.py": CLOCK,
        "reprs.py": REPRS,
        "good.py": GOOD,
        "tabs.py": TABS,
        "py2.py": PY2,
        "huge.py": _lookup_source("huge_lookup", HUGE_LITERAL_BYTES),
        "medium.py": _lookup_source("medium_lookup", MEDIUM_LITERAL_BYTES),
    }
    for name, text in files.items():
        (root / name).write_text(text)
    (root / "windows.py").write_bytes(CRLF.replace("\n", "\r\n").encode())
    return root


# A small, quick run (about 2 s): 8 inputs per function, enough for string arguments of several
# words to come up, and an eval share that holds some of the functions out.
RUN_TOML = """
[run]
seed = 0
workers = 2
eval_share = 0.3

[inputs]
n_inputs = 8
min_valid = 4
rounds = 2
"""


@pytest.fixture(scope="module")
def trust_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The problem corpus through the real `c2c run`, as a user starts it; the run folder."""
    root = tmp_path_factory.mktemp("trust")
    corpus = write_corpus(root / "corpus")
    (root / "run.toml").write_text(RUN_TOML)
    out = root / "run"
    result = c2c("run", root / "run.toml", "--corpus", corpus, "-o", out)
    assert result.returncode == 0, result.stderr
    return out


# ---------------------------------------------------------------- reading a run folder


def _figures(out: Path, stage: str) -> dict[str, Any]:
    return json.loads((out / STAGES_DIR / stage / "stage.json").read_text())["figures"]


def _names(out: Path) -> dict[str, str]:
    """function_id -> name of every function extracted (names are unique in these corpora)."""
    functions = pl.read_parquet(out / STAGES_DIR / "extract" / "functions.parquet")
    return dict(zip(functions["function_id"], functions["name"], strict=True))


def _results(out: Path) -> pl.DataFrame:
    results = pl.read_parquet(out / STAGES_DIR / "execute" / "results.parquet")
    names = pl.DataFrame(list(_names(out).items()), schema=["function_id", "name"], orient="row")
    return results.join(names, on="function_id", how="left")


def _training_rows(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / TRAIN_GLOB)


def sampled_cases(out: Path) -> list[dict[str, Any]]:
    """Every case a published sample shows or holds out: the training shards and the eval split,
    each with its function's id, name and standalone source."""
    cases = []
    for row in _training_rows(out).iter_rows(named=True):
        for case in [*row["shown"], *row["held_out"]]:
            cases.append(
                {"function_id": row["function_id"], "name": row["name"], "source": row["source"]}
                | case
            )
    for record in read_eval_split(out / EVAL_FILE):
        for case in record["cases"]:
            cases.append(
                {
                    "function_id": record["function_id"],
                    "name": record["func_name"],
                    "source": record["code"],
                }
                | case
            )
    return cases


def _paper_output(row: Mapping[str, Any]) -> str | None:
    """A results row's output as a sample writes it (repr, or `<class 'X'>: msg`)."""
    return CaseResult(**{k: row[k] for k in CaseResult.__dataclass_fields__}).paper_output


def _arguments(input_text: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A call's argument values, parsed on the host (literals only, nothing evaluated)."""
    parsed = values(input_text)
    assert parsed is not None, input_text
    return parsed.args, dict(parsed.kwargs)


def _collection_size(output: str) -> int | None:
    """How many items a list/tuple/set/frozenset repr shows; None for any other output."""
    inner = output
    for wrapper in ("frozenset(", "set("):
        if output.startswith(wrapper) and output.endswith(")"):
            inner = output[len(wrapper) : -1] or "()"
    try:
        value = ast.literal_eval(inner)
    except (ValueError, SyntaxError):
        return None
    return len(value) if isinstance(value, list | tuple | set | frozenset) else None


# ---------------------------------------------------------------- 1. the problem corpus


def test_untrustworthy_outputs_never_reach_a_sample(trust_run: Path, sandbox: Sandbox) -> None:
    out = trust_run
    results = _results(out)
    by_case = {(r["function_id"], r["input"]): r for r in results.iter_rows(named=True)}
    assert len(by_case) == results.height, "one result per (function, input)"
    cases = sampled_cases(out)
    sampled_names = {case["name"] for case in cases}
    assert set(GOOD_FUNCTIONS) <= sampled_names, "the ordinary functions make samples"
    assert read_eval_split(out / EVAL_FILE), "some functions are held out for evaluation"

    # (a) Every shown or held-out output is a stable result of that very case, as executed.
    for case in cases:
        row = by_case.get((case["function_id"], case["input"]))
        assert row is not None, f"{case['name']}{case['input']}: no such case was executed"
        assert row["status"] in RETURNING, (case["name"], case["input"], row["status"])
        assert case["output"] == _paper_output(row), (case["name"], case["input"])
        assert case["is_error"] == (row["status"] == "error")

    # Outputs decided by the hash salt, the address layout or the clock: none reaches a sample.
    for name in (*SALT_OR_ADDRESS, *CLOCK_FUNCTIONS):
        statuses = Counter(results.filter(pl.col("name") == name)["status"])
        assert statuses["unstable"] >= 3, (name, statuses)
    assert not sampled_names & {"fresh_token", "object_suffix", *CLOCK_FUNCTIONS}
    bucket = results.filter(pl.col("name") == "bucket")
    string_keys = [r for r in bucket.iter_rows(named=True) if _string_key_over(r["input"], 1)]
    assert len(string_keys) >= 3, "bucket was given string keys"
    assert by_case[(bucket["function_id"][0], "('alpha', 1000)")]["status"] == "unstable"
    shown_buckets = [c for c in cases if c["name"] == "bucket" and not c["is_error"]]
    assert not [c for c in shown_buckets if _string_key_over(c["input"], 1)], shown_buckets
    for name in HASH_ORDERED:
        for case in (c for c in cases if c["name"] == name and not c["is_error"]):
            size = _collection_size(case["output"])
            assert size is not None and size <= 1, (name, case["input"], case["output"])
    # The doctest calls that build multi-element sets of strings were tried and never kept.
    unique_words = results.filter(pl.col("name") == "unique_words")
    assert Counter(unique_words["status"])["unstable"] >= 2
    for name, doctest_call in (
        ("tag_set", "('Red, green, BLUE, red')"),
        ("vocabulary", "(['Apple', ' pear', 'fig', 'apple'])"),
    ):
        assert doctest_call not in results.filter(pl.col("name") == name)["input"].to_list()
        source = _source_of(out, name)
        [[probed]] = sandbox.run([(source, name, [doctest_call])])
        assert probed.status == "unstable", (name, probed)

    # Hidden state: every output a function with a cache or a mutable default gives is what a
    # fresh call gives, in the results table and so in every sample.
    for name, fresh in FRESH_OUTPUT.items():
        ok = results.filter((pl.col("name") == name) & (pl.col("status") == "ok"))
        assert ok.height >= 4, (name, ok.height)
        for row in ok.iter_rows(named=True):
            args, kwargs = _arguments(row["input"])
            assert row["value_repr"] == repr(fresh(*args, **kwargs)), (name, row["input"])
    remember = results.filter(pl.col("name") == "remember")
    assert set(remember["value_repr"].drop_nulls()) == {"1"}
    assert "remember" not in sampled_names, "a constant output makes no sample"

    # repr() failures never become the function's exception, in the run or in the sandbox.
    outputs = [case["output"] for case in cases]
    assert not [o for o in outputs if "Exceeds the limit" in o or "boom" in o]
    [[huge], [box]] = sandbox.run(
        [
            (_source_of(out, "power"), "power", ["(10, 5000)"]),
            (_source_of(out, "boxed"), "boxed", ["(1)"]),
        ]
    )
    assert (huge.status, box.status) == ("output_limit", "repr_error"), (huge, box)
    assert "(10, 5000)" not in results.filter(pl.col("name") == "power")["input"].to_list()
    assert "boxed" not in set(results["name"]), "no input of boxed returns a showable value"

    # (b) Every problem function is counted under its reason.
    _check_extraction_reasons(out)
    _check_case_counts(out, results)

    # (c) Sources normalised to \n: the CRLF file's functions make samples, and nothing a sample
    # or the eval split shows carries a carriage return.
    assert {"title_words", "count_vowels"} <= sampled_names
    _check_no_carriage_returns(out)


def _string_key_over(input_text: str, n_min: int) -> bool:
    """Whether a bucket call hashes a non-empty string into more than `n_min` buckets."""
    args, kwargs = _arguments(input_text)
    bound = dict(zip(("key", "n"), args, strict=False)) | kwargs
    key, n = bound.get("key"), bound.get("n")
    return isinstance(key, str) and key != "" and isinstance(n, int) and n > n_min


def _source_of(out: Path, name: str) -> str:
    functions = pl.read_parquet(out / STAGES_DIR / "extract" / "functions.parquet")
    [source] = functions.filter(pl.col("name") == name)["source"].to_list()
    return source


def _check_extraction_reasons(out: Path) -> None:
    """Each rejected function under its reason, in the extract figures, run.json and report.md;
    the per-function reasons from the library's own extraction of the same corpus."""
    corpus = json.loads((out / "run.json").read_text())["corpus"]
    rejected = extract(corpus).rejected
    reasons = dict(zip(rejected["name"], rejected["reason"], strict=True))
    assert reasons == EXTRACT_REJECTED
    expected = dict(Counter(EXTRACT_REJECTED.values()))
    assert _figures(out, "extract")["rejected"] == expected
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["rejections"]["extract"] == expected
    report = (out / "report.md").read_text()
    for reason, count in expected.items():
        assert f"| extract | {reason} | {count} |" in report, reason


def _check_case_counts(out: Path, results: pl.DataFrame) -> None:
    """Unstable cases and functions dropped as unstable: the results table, the assemble figures,
    run.json, report.md and the dataset card agree. repr() failures and over-long ints are
    caught while inputs are validated, so they are counted among the inputs stage's candidates."""
    statuses = Counter(results["status"])
    assemble_figures = _figures(out, "assemble")
    assert statuses["unstable"] > 0
    assert assemble_figures["unstable_cases"] == statuses["unstable"]
    assert assemble_figures["repr_error_cases"] == statuses["repr_error"]
    per_function = results.group_by("name").agg(
        (pl.col("status") == "ok").sum().alias("ok"),
        (pl.col("status") == "unstable").sum().alias("unstable"),
    )
    all_unstable = per_function.filter((pl.col("ok") == 0) & (pl.col("unstable") > 0))
    assert set(all_unstable["name"]) == {"fresh_token", "object_suffix", *CLOCK_FUNCTIONS}
    assert assemble_figures["dropped"]["unstable"] == all_unstable.height
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["rejections"]["assemble"]["unstable"] == all_unstable.height
    [assemble_stage] = [s for s in run_json["stages"] if s["name"] == "assemble"]
    assert assemble_stage["figures"]["unstable_cases"] == statuses["unstable"]
    candidates = run_json["rejections"]["inputs"]
    assert candidates["repr_error"] >= 1 and candidates["output_limit"] >= 1, candidates
    assert candidates["unstable"] >= 2, "the set-of-strings doctest calls"
    report = (out / "report.md").read_text()
    assert f"Unstable cases: {statuses['unstable']:,}." in report
    assert f"| assemble | unstable | {all_unstable.height} |" in report
    for status in ("repr_error", "output_limit", "unstable"):
        assert f"| inputs | {status} | {candidates[status]:,} |" in report, status
    card = (out / "dataset" / "README.md").read_text()
    assert f"Unstable cases: {statuses['unstable']}." in card


def _check_no_carriage_returns(out: Path) -> None:
    texts: list[str] = []
    for row in _training_rows(out).iter_rows(named=True):
        texts += [row["completion"], row["prompt"], row["source"]]
        texts += [message["content"] for message in row["messages"]]
    for path in (out / "dataset" / "data").glob("*.jsonl"):
        texts.append(path.read_text())  # a raw \r would only appear escaped in JSON
    for record in read_eval_split(out / EVAL_FILE):
        texts += [record["code"], record["output"], record["prompt"]]
    functions = pl.read_parquet(out / STAGES_DIR / "extract" / "functions.parquet")
    texts += functions["source"].to_list()
    assert texts and not [t for t in texts if "\r" in t]


# ---------------------------------------------------------------- 2. the default run, rearranged

STABILITY_FUNCTIONS = 250  # a seeded sample of the stdlib's functions: about 10 s on 2 cores


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default run (the stdlib, built-in inputs, default limits) on a seeded sample."""
    out = tmp_path_factory.mktemp("default") / "run"
    run(RunConfig(out=out, max_functions=STABILITY_FUNCTIONS, workers=2))
    return out


def _calls_rearranged(
    cases: Sequence[Mapping[str, Any]], seed: int
) -> list[tuple[str, str, list[str]]]:
    """One call per function with its sampled inputs reversed, the functions shuffled."""
    by_function: dict[str, tuple[str, str, list[str]]] = {}
    for case in cases:
        _, _, inputs = by_function.setdefault(
            case["function_id"], (case["source"], case["name"], [])
        )
        if case["input"] not in inputs:
            inputs.append(case["input"])
    calls = [(source, name, inputs[::-1]) for source, name, inputs in by_function.values()]
    random.Random(seed).shuffle(calls)
    return calls


def test_every_sampled_case_is_stable_under_other_seeds_dates_and_order(
    default_run: Path,
) -> None:
    cases = sampled_cases(default_run)
    expected = {(c["source"], c["name"], c["input"]): c for c in cases}
    calls = _calls_rearranged(cases, seed=13)
    limits = Limits(isolation="case", check_stability=True)
    with Sandbox(limits, workers=2) as sandbox:
        results = sandbox.run(calls)
    checked = 0
    changed = []
    for (source, name, inputs), outcomes in zip(calls, results, strict=True):
        for input_text, outcome in zip(inputs, outcomes, strict=True):
            case = expected[(source, name, input_text)]
            if outcome.status not in RETURNING or outcome.paper_output != case["output"]:
                changed.append((name, input_text, case["output"], outcome))
            checked += 1
    assert not changed, changed[:5]
    assert checked == len(expected) > 100


# ------------------------------------------------- outputs that could match the probe by chance

PARITY = "def parity(key, n):\n    h = hash(key)\n    return h % n\n"
FIRST_OF_SET = "def pair_order(text):\n    words = set(text.split())\n    return list(words)\n"
WORDS = (
    "value",
    "data",
    "alpha",
    "beta",
    "key",
    "CamelCase",
    "abc",
    "q",
    "aaa",
    "bbb",
    "red",
    "blue",
    "up",
    "down",
    "left",
    "right",
    "x1",
    "foo",
    "bar",
    "baz",
)


def test_hash_dependent_outputs_that_could_match_by_chance_are_unstable(sandbox: Sandbox) -> None:
    """Each of these outputs depends on the hash seed (CPython with PYTHONHASHSEED=0..7 gives
    both parities of hash('value') and both orders of {'aaa', 'bbb'}). A salted hash that moved
    by a random amount would keep `h % n` one time in n, and a two-element set keeps its order
    in every table size when the bits that decide it agree, so the probe moves hashes by a prime
    and, failing every table size, pushes an element out of its slot."""
    moduli = (2, 3, 10)
    pairs = [f"('{a} {b}',)" for i, a in enumerate(WORDS) for b in WORDS[i + 1 :]]
    parity, ordered = sandbox.run(
        [
            (PARITY, "parity", [f"('{word}', {n})" for word in WORDS for n in moduli]),
            (FIRST_OF_SET, "pair_order", pairs),
        ]
    )
    assert len(parity) == 60 and len(ordered) == 190
    passed = [r.value_repr for r in (*parity, *ordered) if r.status != "unstable"]
    assert not passed, passed
