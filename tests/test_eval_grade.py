"""Grading in the real sandbox (case2code.evaluation.grade): the reference code passes every case of
the 20 official records and of a split made by a real `c2c run`; wrong, broken, prose-wrapped,
truncated and hostile answers each get their status; case inputs are evaluated only in the
sandbox; the self-checks and a killed-and-resumed evaluation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from case2code.evaluation import evaluate
from case2code.evaluation.checks import answers_of, self_check
from case2code.evaluation.grade import grade_answers
from case2code.evaluation.tasks import load_tasks
from case2code.execute import run_jobs
from case2code.pipeline import Pipeline
from case2code.run_config import RunConfig
from case2code.sandbox import Limits, Sandbox
from conftest import TEST_LIMITS

OFFICIAL = Path(__file__).parent / "data" / "case2code-official-sample.jsonl"
LIMITS = Limits(check_stability=False, **TEST_LIMITS)

CORPUS = """
def clamp(x, low, high):
    if low > high:
        raise ValueError("low > high")
    return max(low, min(x, high))


def initials(name):
    parts = name.split()
    return "".join(part[0].upper() for part in parts)


def digit_sum(n):
    total = 0
    for d in str(abs(n)):
        total += int(d)
    return total


def count_vowels(text):
    vowels = "aeiou"
    return sum(1 for c in text.lower() if c in vowels)


def safe_ratio(a, b):
    if b == 0:
        raise ZeroDivisionError("b is zero")
    return round(a / b, 3)


def repeat_word(word, times):
    out = []
    for _ in range(times):
        out.append(word)
    return "-".join(out)
"""


@pytest.fixture(scope="module")
def grader() -> Sandbox:
    return Sandbox(LIMITS, workers=2)


@pytest.fixture(scope="module")
def official() -> pl.DataFrame:
    return load_tasks(OFFICIAL)


@pytest.fixture(scope="module")
def our_split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The evaluation split of a real `c2c run` over a small corpus, half of it held out."""
    root = tmp_path_factory.mktemp("run")
    (root / "corpus.py").write_text(CORPUS)
    config = RunConfig(
        out=root / "run", corpus=(str(root / "corpus.py"),), workers=2, against=(), eval_share=0.5
    )
    Pipeline(config).run()
    path = root / "run" / "eval" / "case2code-eval.jsonl"
    assert load_tasks(path).height >= 2
    return path


def graded(grader: Sandbox, tasks: pl.DataFrame, completions: dict[str, str], **extra: Any):
    """Verdicts of one answer per named task (the completions by task id)."""
    chosen = tasks.filter(pl.col("id").is_in(list(completions)))
    answers = answers_of(chosen, [completions[i] for i in chosen["id"]])
    if extra:
        answers = answers.with_columns(**{k: pl.lit(v) for k, v in extra.items()})
    verdicts = grade_answers(grader, tasks, answers)
    return {row["id"]: row for row in verdicts.iter_rows(named=True)}


def test_reference_code_passes_every_official_case(grader: Sandbox, official: pl.DataFrame):
    verdicts = graded(
        grader, official, dict(zip(official["id"], official["reference"], strict=True))
    )
    for task in official.iter_rows(named=True):
        verdict = verdicts[task["id"]]
        assert verdict["status"] == "correct", (task["func_name"], verdict)
        assert verdict["cases_passed"] == verdict["cases_total"] == len(task["cases"]) == 30


def test_reference_code_passes_our_split(grader: Sandbox, our_split: Path):
    tasks = load_tasks(our_split)
    verdicts = graded(grader, tasks, dict(zip(tasks["id"], tasks["reference"], strict=True)))
    assert {v["status"] for v in verdicts.values()} == {"correct"}
    assert all(v["cases_passed"] == v["cases_total"] > 0 for v in verdicts.values())
    check = self_check(grader, tasks)
    assert check["reference"] == {"pass@1": 1.0, "not_reproduced": {}}
    assert check["baseline"]["pass@1"] <= 0.2


def _first(official: pl.DataFrame, name: str) -> dict[str, Any]:
    return official.filter(pl.col("func_name") == name).row(0, named=True)


def test_wrong_broken_wrapped_and_truncated_answers(grader: Sandbox, official: pl.DataFrame):
    task = _first(official, "command_R")  # num % 10 * 1000 + num // 10
    right = "def command_R(num):\n    return num % 10 * 1000 + num // 10\n"
    answers = {
        "wrapped": f"Sure! The rule moves the last digit.\n\n```python\n{right}```\nDone.",
        "prose": f"Here it is:\n{right}It rotates the digits.",
        "wrong": "```python\ndef command_R(num):\n    return num // 10\n```",
        "raises": "```python\ndef command_R(num):\n    return num / 0\n```",
        "broken": "```python\ndef command_R(num)\n    return num\n```",
        "other_name": "```python\ndef rotate(num):\n    return num\n```",
        "nothing": "I am not sure what this function does.",
    }
    expected = {
        "wrapped": "correct",
        "prose": "correct",
        "wrong": "wrong_output",
        "raises": "exception",
        "broken": "syntax_error",
        "other_name": "no_code",
        "nothing": "no_code",
    }
    for label, completion in answers.items():
        verdict = graded(grader, official, {task["id"]: completion})[task["id"]]
        assert verdict["status"] == expected[label], (label, verdict)
    wrong = graded(grader, official, {task["id"]: answers["wrong"]})[task["id"]]
    assert 0 < wrong["cases_passed"] < 30 and wrong["got"] is not None
    cut = graded(grader, official, {task["id"]: answers["wrapped"]}, truncated=True)
    assert cut[task["id"]]["status"] == "truncated" and cut[task["id"]]["cases_passed"] == 0


def test_an_exception_must_match_exactly(grader: Sandbox, official: pl.DataFrame):
    task = next(t for t in official.iter_rows(named=True) if t["expects_exception"])
    verdict = graded(grader, official, {task["id"]: task["reference"]})[task["id"]]
    assert verdict["status"] == "correct"
    raising = [i for i, r in enumerate(task["raises"]) if r]
    # The same code with every exception message changed fails exactly those cases.
    renamed = (
        task["reference"]
        + "\n\n_real = "
        + task["func_name"]
        + "\n"
        + (
            f"def {task['func_name']}(*a, **k):\n"
            "    try:\n        return _real(*a, **k)\n"
            "    except Exception as e:\n        raise type(e)('other message') from None\n"
        )
    )
    changed = graded(grader, official, {task["id"]: renamed})[task["id"]]
    assert changed["status"] == "exception"
    assert changed["cases_passed"] == 30 - len(raising)


HOSTILE = {
    "loop": ("def f(x):\n    while True:\n        pass\n", "timeout"),
    "alloc": ("def f(x):\n    return ' ' * (1 << 30)\n", "memory"),
    "grow": (
        "def f(x):\n    a = []\n    while True:\n        a.append(bytearray(1 << 20))\n",
        "memory",
    ),
    "flood": ("def f(x):\n    while True:\n        print('spam' * 1000)\n", "output_limit"),
    "host_file": ("def f(x):\n    return open('/etc/passwd').read()\n", "exception"),
    "exit": ("import os\n\ndef f(x):\n    os._exit(0)\n", "crash"),
    # A bare top-level call is dropped by the sanitizer; one the function needs runs.
    "exit_at_import": ("import os\nBASE = os._exit(0)\n\ndef f(x):\n    return BASE\n", "crash"),
    "dropped_call": ("import os\nos._exit(0)\n\ndef f(x):\n    return x\n", "correct"),
}


def test_hostile_answers_get_a_status(grader: Sandbox, tmp_path: Path):
    """Each hostile answer is one task of 2 cases; the evaluation finishes with a status each."""
    rows = [
        {
            "id": label,
            "func_name": "f",
            "code": "def f(x):\n    return x\n",
            "prompt": "Function: f",
            "choosed_example_idx": [0],
            "example_str": "examples = [dict(x=1), dict(x=2)]",
            "example_outputs": [{"return": '"1"'}, {"return": '"2"'}],
        }
        for label in HOSTILE
    ]
    data = tmp_path / "tasks.jsonl"
    data.write_text("".join(json.dumps(_paper_record(r)) + "\n" for r in rows))
    tasks = load_tasks(data)
    verdicts = graded(grader, tasks, {label: code for label, (code, _) in HOSTILE.items()})
    assert {k: v["status"] for k, v in verdicts.items()} == {k: s for k, (_, s) in HOSTILE.items()}


def _paper_record(fields: dict[str, Any]) -> dict[str, Any]:
    """A record with every field of the paper's format (those not given left empty)."""
    record = {
        "example_str": "",
        "code": "",
        "func_name": "",
        "exec_status": True,
        "example_inputs": [],
        "example_outputs": [],
        "parsed_inputs": [],
        "exec_code": "",
        "output": "",
        "choosed_example_idx": [],
        "prompt": "",
        "id": "",
    }
    return record | fields


def test_case_inputs_are_evaluated_in_the_sandbox_only(grader: Sandbox, tmp_path: Path):
    """Non-literal inputs (a call, a module the setup imports) work in the sandbox; an input
    that would write a host file if the host evaluated it fails there and writes nothing."""
    marker = tmp_path / "written-by-an-input"
    example_str = (
        "import xml.etree.ElementTree as ET\n"
        "examples = [dict(node=ET.Element('a')), dict(node=ET.Element('bb'))]\n"
        f"examples.append(dict(node=open({str(marker)!r}, 'w')))\n"
    )
    record = _paper_record(
        {
            "id": "tags",
            "func_name": "tag_length",
            "code": "def tag_length(node):\n    return len(node.tag)\n",
            "prompt": "Function: tag_length",
            "choosed_example_idx": [0],
            "example_str": example_str,
            "example_outputs": [
                {"return": '"1"'},
                {"return": '"2"'},
                {"error": "<|EXCEPTION|> " + json.dumps("<class 'OSError'>: x")},
            ],
        }
    )
    data = tmp_path / "tasks.jsonl"
    data.write_text(json.dumps(record) + "\n")
    tasks = load_tasks(data)
    assert tasks["setup"][0] == "import xml.etree.ElementTree as ET"
    verdict = graded(grader, tasks, {"tags": record["code"]})["tags"]
    assert verdict["cases_passed"] == 2 and verdict["first_failure"] == 2
    assert verdict["status"] == "exception" and "Error" in verdict["got"]
    assert not marker.exists()


def test_killed_evaluation_resumes_to_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import case2code.evaluation as package

    tasks = load_tasks(OFFICIAL)
    predictions = tmp_path / "preds.jsonl"
    with predictions.open("w") as out:
        for k, task in enumerate(tasks.iter_rows(named=True)):
            code = task["reference"] if k % 3 else f"def {task['func_name']}(**kw):\n    return 0\n"
            out.write(json.dumps({"id": task["id"], "completion": code}) + "\n")
    monkeypatch.setattr(package, "SHARD_ANSWERS", 6)
    common = dict(predictions=predictions, limits=LIMITS, workers=2, self_check=False)
    whole = evaluate(OFFICIAL, output=tmp_path / "whole", **common)

    def stop_after_two_shards(stage: str, done: int, total: int) -> None:
        if stage == "grading" and done >= 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(OFFICIAL, output=tmp_path / "again", progress=stop_after_two_shards, **common)
    parts = tmp_path / "again" / "samples.parquet.parts"
    assert len(list(parts.glob("part-*.parquet"))) == 2
    graded_shards: list[int] = []
    original = package.grade_answers
    monkeypatch.setattr(
        package,
        "grade_answers",
        lambda sandbox, t, block: graded_shards.append(block.height) or original(sandbox, t, block),
    )
    evaluate(OFFICIAL, output=tmp_path / "again", **common)
    assert graded_shards == [6, 2]  # only the shards not written before the kill
    for name in ("results.json", "tasks.jsonl", "samples.jsonl", "report.md"):
        assert (tmp_path / "whole" / name).read_text() == (tmp_path / "again" / name).read_text()
    assert not parts.exists()
    summary = json.loads((tmp_path / "whole" / "results.json").read_text())
    assert summary["pass@1"] == pytest.approx(whole.figures["pass@1"]) == pytest.approx(13 / 20)


def test_our_set_inputs_are_built_as_the_execute_stage_built_them(grader: Sandbox, tmp_path: Path):
    """A set display built element by element (the sandbox's driver, as the execute stage ran
    it) and one compiled from a frozenset constant (evaluating the text) can differ in order:
    our split's cases are graded the first way, so the reference reproduces its outputs."""
    code = "def members(s):\n    return s\n"
    text = "({1, 198, 10, 42, 91, 158, 255},)"
    jobs = pl.DataFrame(
        {"function_id": ["m"], "source": [code], "name": ["members"], "inputs": [[text]]}
    )
    executed = run_jobs(grader, jobs)["value_repr"][0]  # the execute stage's own output
    record = _paper_record(
        {
            "id": "sets",
            "func_name": "members",
            "code": code,
            "prompt": "Function: members",
            "choosed_example_idx": [0],
            "function_id": "m",
            "cases": [{"input": text, "output": executed, "is_error": False}],
        }
    )
    ours = tmp_path / "ours.jsonl"
    ours.write_text(json.dumps(record) + "\n")
    verdict = graded(grader, load_tasks(ours), {"sets": code})["sets"]
    assert verdict["status"] == "correct", verdict
    # The same case as an expression (the paper's format) is evaluated, and shows the set in
    # the other order: the reason our inputs are not evaluated as text.
    paper = tmp_path / "paper.jsonl"
    record.pop("cases")
    record["example_str"] = "examples = [dict(s={1, 198, 10, 42, 91, 158, 255})]"
    record["example_outputs"] = [{"return": json.dumps(executed)}]
    paper.write_text(json.dumps(record) + "\n")
    evaluated = graded(grader, load_tasks(paper), {"sets": code})["sets"]
    assert evaluated["status"] == "wrong_output"
    assert sorted(evaluated["got"]) == sorted(executed) and evaluated["got"] != executed


def test_expression_cases_run_at_call_time_in_the_answers_namespace(
    grader: Sandbox, tmp_path: Path
):
    """The paper's cases, compiled once with the answer, are evaluated per case: a name the
    answer defines resolves, an exception in a case's own arguments is that case's output, and
    the function's exception text is its own."""
    reference = (
        "SCALE = 3\n\ndef scaled(x):\n    if x == 0:\n        raise ValueError('x is zero')\n"
        "    return x * SCALE\n"
    )
    record = _paper_record(
        {
            "id": "scaled",
            "func_name": "scaled",
            "code": reference,
            "prompt": "Function: scaled",
            "choosed_example_idx": [0],
            "example_str": "examples = [dict(x=SCALE), dict(x=0), dict(x=UNDEFINED)]",
            "example_outputs": [
                {"return": '"9"'},
                {"error": "<|EXCEPTION|> " + json.dumps("<class 'ValueError'>: x is zero")},
                {
                    "error": "<|EXCEPTION|> "
                    + json.dumps("<class 'NameError'>: name 'UNDEFINED' is not defined")
                },
            ],
        }
    )
    data = tmp_path / "tasks.jsonl"
    data.write_text(json.dumps(record) + "\n")
    verdict = graded(grader, load_tasks(data), {"scaled": reference})["scaled"]
    assert verdict["status"] == "correct" and verdict["cases_passed"] == 3, verdict
    wrong = reference.replace("'x is zero'", "'zero'")
    verdict = graded(grader, load_tasks(data), {"scaled": wrong})["scaled"]
    assert verdict["first_failure"] == 1 and verdict["cases_passed"] == 2
    assert verdict["status"] == "exception" and verdict["got"] == "<class 'ValueError'>: zero"


def test_self_checks_are_computed_once_per_data_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import case2code.evaluation.checks as checks

    monkeypatch.setattr(checks, "self_check_cache_dir", lambda: tmp_path / "cache")
    computed: list[int] = []
    original = checks.self_check
    monkeypatch.setattr(
        checks, "self_check", lambda sandbox, t: computed.append(1) or original(sandbox, t)
    )
    predictions = tmp_path / "preds.jsonl"
    tasks = load_tasks(OFFICIAL)
    with predictions.open("w") as out:
        for task in tasks.iter_rows(named=True):
            out.write(json.dumps({"id": task["id"], "completion": task["reference"]}) + "\n")
    common = dict(predictions=predictions, limits=LIMITS, workers=2)
    first = evaluate(OFFICIAL, output=tmp_path / "first", **common)
    second = evaluate(OFFICIAL, output=tmp_path / "second", **common)
    assert computed == [1]
    assert first.self_check == second.self_check
    assert first.self_check["reference"]["pass@1"] == 1.0
    for result in (first, second):
        summary = json.loads((result.files["results.json"]).read_text())
        assert summary["self_check"] == first.self_check
    assert evaluate(OFFICIAL, self_check=False, **common).self_check is None
    assert computed == [1]
