"""`c2c eval` without the sandbox's verdicts: tasks read from the paper's file, answers found in
completions (parsed, never run), predictions files, the pass@k estimator, bad input named by
file, line and id; and the command end to end."""

from __future__ import annotations

import json
from math import comb
from pathlib import Path

import pytest
from case2code.errors import C2CError
from case2code.evaluation import checks
from case2code.evaluation.answers import read_predictions
from case2code.evaluation.passk import pass_at_k, reported_ks
from case2code.evaluation.sanitize import (
    FOUND,
    NO_CODE,
    UNPARSED,
    Extracted,
    extract_code,
    unwrap_code,
)
from case2code.evaluation.tasks import load_tasks, paper_cases
from case2code.sandbox import Limits
from faults import c2c, error_line

OFFICIAL = Path(__file__).parent / "data" / "case2code-official-sample.jsonl"
FIRST_ID = "b14e5d06e24218aedad32f15b64f6c07f46542f2_0"


def test_official_records_load_with_every_case() -> None:
    tasks = load_tasks(OFFICIAL)
    records = [json.loads(line) for line in OFFICIAL.read_text().splitlines()]
    assert tasks["id"].to_list() == [r["id"] for r in records]
    for task, record in zip(tasks.iter_rows(named=True), records, strict=True):
        # example_str's three lists define 30 cases; example_inputs lists only the first 10.
        assert len(task["cases"]) == len(record["example_outputs"]) == 30
        assert all(case.startswith("(**dict(") for case in task["cases"])
        assert task["raises"] == ["error" in o for o in record["example_outputs"]]
        first = record["example_outputs"][0]
        assert json.dumps(task["expected"][0]) == first.get("return", first.get("error", "")[14:])
        assert task["shown"] == len(record["choosed_example_idx"])
        assert task["family"] == "paper" and task["setup"] == ""
    assert tasks["expects_exception"].sum() == 4


def test_paper_cases_keep_setup_statements_apart() -> None:
    cases, setup = paper_cases(
        "from datetime import date\n"
        "examples = [dict(d=date(2020, 1, 2)), {'d': None}]\n"
        "LIMIT = 3\n"
        "examples += [dict(d=LIMIT)]  # uses the constant\n"
        "examples.extend([dict(d=1)])\n"
        "examples.append(dict(\n    d=2,\n))\n"
    )
    assert cases == [
        "(**dict(d=date(2020, 1, 2)))",
        "(**{'d': None})",
        "(**dict(d=LIMIT))",
        "(**dict(d=1))",
        "(**dict(\n    d=2,\n))",
    ]
    assert setup == "from datetime import date\nLIMIT = 3"


def _write(tmp_path: Path, records: list[dict]) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _official(n: int = 2) -> list[dict]:
    return [json.loads(line) for line in OFFICIAL.read_text().splitlines()[:n]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("prompt"), "missing field(s) prompt"),
        (lambda r: r.pop("example_str"), "missing field(s) example_str"),
        (lambda r: r.update(func_name="not a name"), "func_name 'not a name' is not a Python"),
        (lambda r: r.update(example_str="examples = [dict(x=1)"), "example_str does not parse"),
        (lambda r: r["example_outputs"].pop(), "builds 30 cases but example_outputs has 29"),
        (lambda r: r["example_outputs"].__setitem__(3, {"value": "1"}), "example_outputs[3]"),
        (lambda r: r.update(id=FIRST_ID), "is repeated (first on line 1)"),
    ],
)
def test_bad_records_are_named(tmp_path: Path, change, message: str) -> None:
    records = _official()
    change(records[1])
    path = _write(tmp_path, records)
    with pytest.raises(C2CError) as error:
        load_tasks(path)
    assert f"{path}:2" in str(error.value) and message in str(error.value)


def test_a_file_in_neither_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text(json.dumps({"messages": []}) + "\n")
    with pytest.raises(C2CError, match=r"x.jsonl:1: missing field"):
        load_tasks(tmp_path / "x.jsonl")
    record = _official(1)[0]
    record["example_str"] = None
    record["cases"] = "no"
    with pytest.raises(C2CError, match="example_str must be a non-empty string"):
        load_tasks(_write(tmp_path, [record]))


def test_printed_text_before_an_exception_is_not_compared(tmp_path: Path) -> None:
    """The paper's sandbox printed a function's own output before the exception mark."""
    record = _official(1)[0]
    record["example_outputs"][0] = {"error": "hi\n<|EXCEPTION|> \"<class 'E'>: m\""}
    tasks = load_tasks(_write(tmp_path, [record]))
    assert tasks["expected"][0][0] == "<class 'E'>: m" and tasks["raises"][0][0]


# ---------------------------------------------------------------- the code in an answer


def test_unwrap_code_is_the_papers() -> None:
    assert unwrap_code("a\n```python\nx = 1\n```\n```python\ny\n```") == "x = 1"
    assert unwrap_code("```Python\nx = 1\n```") == "x = 1"
    assert unwrap_code("```py\nx = 1\n```") == "x = 1"  # the tag line is not code
    assert unwrap_code("```python\ndef f():\n    return 1") == "def f():\n    return 1"
    assert unwrap_code("  def f(): pass  ") == "def f(): pass"


def test_only_what_the_function_needs_is_kept() -> None:
    completion = (
        "```python\nimport math\nfrom functools import lru_cache\n\nSCALE = 2\nUNUSED = 3\n\n"
        "@lru_cache\ndef f(x):\n    return helper(x) * SCALE\n\n"
        "def helper(y):\n    return math.isqrt(y)\n\nprint(f(16))\nassert f(4) == 4\n"
        "if __name__ == '__main__':\n    f(1)\n```"
    )
    extracted = extract_code(completion, "f")
    assert extracted.status == FOUND
    assert extracted.code == (
        "import math\nfrom functools import lru_cache\nSCALE = 2\n@lru_cache\ndef f(x):\n"
        "    return helper(x) * SCALE\ndef helper(y):\n    return math.isqrt(y)\n"
    )


def test_prose_around_code_falls_back_to_the_longest_parsing_run() -> None:
    completion = "The function is:\ndef f(x):\n    return x + 1\nIt adds one, so f(2) is 3."
    assert extract_code(completion, "f").code == "def f(x):\n    return x + 1\n"


# Reference code whose docstring holds a ``` fence (as pydantic_core's `tuple_schema` does).
FENCED_DOCSTRING = (
    'def f(x):\n    """Twice x.\n\n    ```python\n    f(2)  # 4\n    ```\n    """\n'
    "    return 2 * x\n"
)


@pytest.mark.parametrize(
    "completion",
    [
        f"The function is:\n\n```python\n{FENCED_DOCSTRING}\n```",  # the record's `output`
        FENCED_DOCSTRING,  # the reference code as is (the self-check's answer)
        f"Here:\n```\n{FENCED_DOCSTRING}```\nDone.",
    ],
)
def test_a_fence_inside_a_docstring_does_not_cut_the_code(completion: str) -> None:
    # The paper's rule takes the text up to the docstring's fence, which does not parse.
    assert "return 2 * x" not in unwrap_code(completion)
    assert extract_code(completion, "f") == Extracted(FOUND, FENCED_DOCSTRING)


def test_the_papers_block_is_kept_when_it_defines_the_function() -> None:
    first = "def f(x):\n    return 1\n"
    completion = f"```python\n{first}```\nOr:\n```python\ndef f(x):\n    return 2\n```"
    assert extract_code(completion, "f").code == first
    # A first block without the definition: a later one that has it is taken.
    usage = "```python\nprint(f(3))\n```\n"
    assert extract_code(usage + f"```python\n{first}```", "f").code == first


@pytest.mark.parametrize(
    ("completion", "status"),
    [
        ("", NO_CODE),
        ("I do not know.", NO_CODE),
        ("```python\ndef g(x):\n    return x\n```", NO_CODE),
        ("```python\nif __name__ == '__main__':\n    def f(x): return x\n```", NO_CODE),
        ("```python\ndef f(x)\n    return x\n```", UNPARSED),  # the sandbox's compiler decides
        ("```python\nf = lambda x: x\n```", FOUND),
    ],
)
def test_extraction_statuses(completion: str, status: str) -> None:
    assert extract_code(completion, "f").status == status


def test_our_inputs_must_be_literal_argument_lists(tmp_path: Path) -> None:
    """Our split's inputs are graded as the execute stage ran them, which takes literals only."""
    record = _official(1)[0] | {
        "function_id": "abc",
        "cases": [{"input": "(open('x'),)", "output": "1", "is_error": False}],
    }
    with pytest.raises(C2CError, match=r"cases\[0\]: input \"\(open\('x'\),\)\" is not made of"):
        load_tasks(_write(tmp_path, [record]))
    record["cases"][0]["input"] = "({3, 1}, [2], k={'a': -1})"
    tasks = load_tasks(_write(tmp_path, [record]))
    assert tasks["literal_cases"].to_list() == [True]
    assert load_tasks(OFFICIAL)["literal_cases"].unique().to_list() == [False]


@pytest.mark.parametrize(
    ("status", "got", "cause"),
    [
        ("no_code", None, checks.UNEXTRACTED),
        ("syntax_error", "<class 'SyntaxError'>: bad (<function>, line 3)", checks.SYNTAX),
        ("timeout", None, checks.LIMIT),
        ("crash", None, checks.EXITS),
        ("wrong_output", "{2, 1}", checks.ORDER),
    ],
)
def test_a_reference_failure_is_named_by_its_cause(status: str, got: str | None, cause: str):
    verdict = {"status": status, "got": got}
    assert checks.mismatch_cause(verdict, "{1, 2}", raises=False) == cause


def test_self_check_figures_are_cached_per_data_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checks, "self_check_cache_dir", lambda: tmp_path / "cache")
    data = _write(tmp_path, _official(2))
    figures = {"reference": {"pass@1": 1.0, "not_reproduced": {"b": ["x"], "a": ["y"]}}}
    computed: list[int] = []

    def compute() -> dict:
        computed.append(1)
        return figures

    limits = Limits(check_stability=False)
    assert checks.cached_self_check(data, limits, compute) == figures
    assert checks.cached_self_check(data, limits, compute) == figures
    assert len(computed) == 1
    (cached,) = (tmp_path / "cache").iterdir()
    assert list(json.loads(cached.read_text())["reference"]["not_reproduced"]) == ["b", "a"]
    # Other limits or other data: computed again; a damaged entry too.
    checks.cached_self_check(data, Limits(check_stability=False, wall_ms_per_case=1), compute)
    data.write_text(data.read_text() + "\n")
    checks.cached_self_check(data, limits, compute)
    checks.self_check_cache_path(data, limits).write_text("{not json")
    assert checks.cached_self_check(data, limits, compute) == figures
    assert len(computed) == 4


# ---------------------------------------------------------------- pass@k and predictions


def test_pass_at_k_matches_the_binomial_form() -> None:
    for n, c, k in [(1, 1, 1), (1, 0, 1), (10, 3, 1), (10, 3, 5), (10, 0, 10), (20, 19, 10)]:
        assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 1, 2) == pytest.approx(0.4)  # 1 - C(4,2)/C(5,2) = 1 - 6/10
    assert pass_at_k(200, 13, 100) == pytest.approx(1 - comb(187, 100) / comb(200, 100))
    assert reported_ks([10, 12]) == [1, 5, 10] and reported_ks([4]) == [1]
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_predictions_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "preds.jsonl"
    cases = [
        ('{"id": "a", "completion": "x"}\n{"id": "zz", "completion": "x"}', ":2: id 'zz' is not"),
        ('{"id": "a", "completion": "x"}\n\n{"id": "a", "completion": "y"}', ":3: a second answer"),
        ('{"id": "a", "completion": 3}', ":1 (id a): field completion"),
        ('{"id": "a", "completion": "x", "sample": -1}', ":1 (id a): field sample"),
        ("[1]", ":1: not a JSON object"),
        ("{", ":1: not JSON"),
    ]
    for text, message in cases:
        path.write_text(text)
        with pytest.raises(C2CError) as error:
            read_predictions(path, ["a", "b"])
        assert f"{path}{message}" in str(error.value)
    path.write_text('{"id": "a", "completion": "x", "sample": 1}\n{"id": "a", "completion": "y"}')
    answers = read_predictions(path, ["a"])
    assert answers.select("sample", "truncated").rows() == [(1, False), (0, False)]


# ---------------------------------------------------------------- the command


def test_eval_command_end_to_end(tmp_path: Path) -> None:
    records = _official(4)
    data = _write(tmp_path, records)
    predictions = tmp_path / "preds.jsonl"
    lines = [
        {"id": records[0]["id"], "completion": records[0]["output"]},
        {"id": records[1]["id"], "completion": "no idea"},
        {"id": records[2]["id"], "completion": records[2]["output"], "sample": 0},
    ]
    predictions.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "out"
    result = c2c("eval", data, "--predictions", predictions, "-o", out, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "pass@1" in result.stderr and "self-check: reference code" in result.stderr
    summary = json.loads((out / "results.json").read_text())
    assert summary["pass@1"] == 0.5 and summary["pass@k"] == {"1": 0.5}
    assert summary["statuses"]["correct"] == 2 and summary["statuses"]["no_code"] == 1
    assert summary["statuses"]["no_answer"] == 1 and summary["tasks_without_answers"] == 1
    assert summary["self_check"]["reference"]["pass@1"] == 1.0
    assert summary["self_check"]["baseline"]["pass@1"] == 0.0
    tasks = [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]
    assert [t["status"] for t in tasks] == [None, "no_code", None, "no_answer"]
    assert tasks[0] == {
        "id": records[0]["id"],
        "n": 1,
        "correct": 1,
        "cases_passed": 30,
        "cases_total": 30,
        "status": None,
    }
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert samples[0]["code"] == records[0]["code"] and samples[1]["status"] == "no_code"
    report = (out / "report.md").read_text()
    for section in ("## Overall", "## Self-checks", "## By prompt family", "## By function size"):
        assert section in report
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text('{"id": "nope", "completion": ""}\n')
    error_line(c2c("eval", data, "--predictions", unknown, "-o", out), unknown, "nope")
    error_line(c2c("eval", data, "-o", out), "--predictions")
    error_line(c2c("eval", data, "--predictions", predictions, "-o", data), "data.jsonl")
