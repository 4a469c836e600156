"""What the sandbox reports: inputs, values, determinism, and the paper's benchmark reproduced."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from case2code.sandbox import Limits, Sandbox

# 20 records of the paper's published benchmark (Apache-2.0; LICENSE and NOTICE beside it).
OFFICIAL_SAMPLE = Path(__file__).parent / "data" / "case2code-official-sample.jsonl"


IDENTITY = "def same(*args, **kwargs):\n    return (args, kwargs)\n"


@pytest.mark.parametrize(
    ("input_text", "expected_repr"),
    [
        ("(1, 'a', b'x', None, True)", "((1, 'a', b'x', None, True), {})"),
        ("([1, [2]], (3,), {'k': {4}})", "(([1, [2]], (3,), {'k': {4}}), {})"),
        ("(-1.5, 2+3j, -0.0)", "((-1.5, (2+3j), -0.0), {})"),
        ("(set(), frozenset({1}), float('inf'))", "((set(), frozenset({1}), inf), {})"),
        ("(*[1, 2], key='x', **{'other': 3})", "((1, 2), {'key': 'x', 'other': 3})"),
        ("()", "((), {})"),
        ("(1, 2,)", "((1, 2), {})"),
    ],
)
def test_literal_inputs_are_accepted(sandbox, input_text, expected_repr):
    (result,) = sandbox.run([(IDENTITY, "same", [input_text])])[0]
    assert (result.status, result.value_repr) == ("ok", expected_repr)


@pytest.mark.parametrize(
    "input_text",
    [
        "(__import__('os'),)",
        "(open('f'),)",
        "(x,)",
        "([i for i in range(3)],)",
        "(1 + 2,)",
        "(1,)(2)",
        "1, 2",
        "(1,",
        "(print('hi'),)",
        "(float.fromhex('0x1p3'),)",
        "('a' * 10**9,)",
    ],
)
def test_non_literal_inputs_are_refused(sandbox, input_text):
    (result,) = sandbox.run([(IDENTITY, "same", [input_text])])[0]
    assert result.status == "invalid_input", result
    assert result.error


def test_values_come_back_as_repr_and_json(sandbox):
    source = (
        "def f(kind):\n    return {'tuple': (1, 'a'), 'set': {1}, 'nan': float('nan'),\n"
        "            'keys': {1: 2}, 'plain': {'a': [1.5, None, True]}}[kind]\n"
    )
    kinds = ["tuple", "set", "nan", "keys", "plain"]
    results = sandbox.run([(source, "f", [f"({k!r},)" for k in kinds])])[0]
    assert [r.value_repr for r in results] == [
        "(1, 'a')",
        "{1}",
        "nan",
        "{1: 2}",
        "{'a': [1.5, None, True]}",
    ]
    assert [r.value_json for r in results] == ['[1,"a"]', None, None, None, '{"a":[1.5,null,true]}']
    assert json.loads(results[4].value_json) == {"a": [1.5, None, True]}


def test_exceptions_use_the_papers_format(sandbox):
    source = "def f(x):\n    return [1][x]\n"
    (result,) = sandbox.run([(source, "f", ["(5,)"])])[0]
    assert result.status == "error"
    assert result.error_type == "IndexError"
    assert result.error == "<class 'IndexError'>: list index out of range"
    assert result.paper_output == result.error


def test_a_broken_definition_fails_every_case(sandbox):
    source = "import not_a_module_anywhere\ndef f(x):\n    return x\n"
    results = sandbox.run([(source, "f", ["(1,)", "(2,)"])])[0]
    assert [r.error_type for r in results] == ["ModuleNotFoundError"] * 2


def test_stdout_is_captured_per_case(sandbox):
    source = "def f(x):\n    print('got', x)\n    return x\n"
    results = sandbox.run([(source, "f", ["(1,)", "(2,)"])])[0]
    assert [r.stdout for r in results] == ["got 1\n", "got 2\n"]


# A warning whose "already shown" registry outlives the case (it lives on a module the instance
# keeps, as a stdlib module's own registry does), and one the compiler raises from C.
WARNS = (
    "def f(x):\n"
    "    import warnings\n"
    "    registry = vars(warnings).setdefault('registry_of_a_kept_module', {})\n"
    "    warnings.warn_explicit('careful', UserWarning, 'kept.py', 7, registry=registry)\n"
    "    compile('x is 1', '<s>', 'eval')\n"
    "    return x\n"
)


def test_every_case_shows_the_warnings_it_raises(sandbox):
    """Warnings print once per place per interpreter; each case starts with none shown, so a
    case prints the same whichever cases ran before it."""
    results = sandbox.run([(WARNS, "f", ["(1,)", "(2,)", "(3,)"])])[0]
    assert [r.status for r in results] == ["ok"] * 3
    for result in results:
        assert "kept.py:7: UserWarning: careful" in result.stdout
        assert "SyntaxWarning" in result.stdout
    assert len({r.stdout for r in results}) == 1


ENTROPY = (
    "import random, os, time, uuid\n"
    "def f(x):\n"
    "    return (random.random(), os.urandom(8).hex(), time.time(), time.monotonic() > 0,\n"
    "            hash('abc'), str(uuid.uuid4()), id(object()) % 7)\n"
)


def test_entropy_and_clocks_are_the_same_on_every_run():
    unchecked = Limits(check_stability=False)
    first = Sandbox(unchecked, workers=0).run([(ENTROPY, "f", ["(1,)", "(2,)"])])
    second = Sandbox(unchecked, workers=2).run([(ENTROPY, "f", ["(1,)", "(2,)"])])
    assert [r.value_repr for r in first[0]] == [r.value_repr for r in second[0]]
    assert first[0][0].status == "ok"


def test_the_stability_check_marks_every_entropy_source_unstable():
    # Each source alone: the value is fixed on every run, yet no model could infer it.
    sources = {
        "random": "import random\ndef f(x):\n    return random.random()\n",
        "urandom": "import os\ndef f(x):\n    return os.urandom(4).hex()\n",
        "wall clock": "import time\ndef f(x):\n    return int(time.time())\n",
        "date": "import datetime\ndef f(x):\n    return str(datetime.date.today())\n",
        "monotonic": "import time\ndef f(x):\n    return int(time.monotonic() * 1000)\n",
        "str hash": "def f(x):\n    return hash('abc') % 1000\n",
        "address": "def f(x):\n    return id(object()) % 1000\n",
        "uuid4": "import uuid\ndef f(x):\n    return str(uuid.uuid4())\n",
        "pure": "def f(x):\n    return [x, x * 2, hash(x), sorted({'b', 'a'})]\n",
    }
    results = Sandbox(Limits(), workers=0).run([(s, "f", ["(7,)"]) for s in sources.values()])
    statuses = {name: r[0].status for name, r in zip(sources, results, strict=True)}
    assert statuses == {name: "ok" if name == "pure" else "unstable" for name in sources}
    unstable = results[0][0]
    assert unstable.value_repr is not None  # the first run's value stays visible
    assert unstable.error.startswith("first run: ok ") and "perturbed run: ok " in unstable.error


def official_cases() -> list[tuple[str, str, list[str], list[str]]]:
    """The paper's published benchmark records: (code, name, inputs, expected outputs).

    `example_str` is LLM-written Python (`examples = [dict(a=1), ...]`): it is parsed here, never
    run; each `dict(...)` call's keyword sources become one call argument list for the sandbox.
    """
    cases = []
    for line in OFFICIAL_SAMPLE.read_text().splitlines():
        record = json.loads(line)
        text = record["example_str"]
        inputs = []
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dict":
                parts = [
                    f"{kw.arg}={ast.get_source_segment(text, kw.value)}" for kw in node.keywords
                ]
                inputs.append("(" + ", ".join(parts) + ")")
        expected = []
        for output in record["example_outputs"]:
            if "return" in output:
                expected.append(json.loads(output["return"]))
            else:
                expected.append(json.loads(output["error"].removeprefix("<|EXCEPTION|> ")))
        assert len(inputs) == len(expected)
        cases.append((record["code"], record["func_name"], inputs, expected))
    return cases


def test_the_papers_benchmark_outputs_are_reproduced(sandbox):
    cases = official_cases()
    results = sandbox.run([(code, name, inputs) for code, name, inputs, _ in cases])
    total = same = 0
    differences = []
    for (_, name, inputs, expected), got in zip(cases, results, strict=True):
        for input_text, want, result in zip(inputs, expected, got, strict=True):
            total += 1
            if result.paper_output == want:
                same += 1
            else:
                got_text = f"{result.status} {result.paper_output!r}"
                differences.append(f"{name}{input_text}: paper {want!r}, sandbox {got_text}")
    share = same / total
    print(f"\nreproduced {same}/{total} = {share:.1%} of the paper's cases; differences:")
    print("\n".join(differences) or "none")
    assert total == 600
    assert share >= 0.95, differences


def test_cases_before_a_dead_instance_are_still_probed():
    # Case 3 kills its instance before the probe runs: the cases before it are probed again in
    # a fresh instance of their own, the one after it in the instance that resumed.
    source = (
        "import os, time\n"
        "def f(x):\n"
        "    if x == 3:\n"
        "        os._exit(1)\n"
        "    return (x, int(time.time()) // 86400)\n"
    )
    (results,) = Sandbox(Limits(), workers=0).run([(source, "f", ["(1,)", "(2,)", "(3,)", "(4,)"])])
    assert [r.status for r in results] == ["unstable", "unstable", "crash", "unstable"]


def test_a_case_whose_probe_runs_out_of_budget_is_unstable():
    # In 2024 the loop ends at once; in the probe's world (2031) it never does.
    source = (
        "import time\n"
        "def f(x):\n"
        "    n = 0\n"
        "    while time.time() > 1_800_000_000:\n"
        "        n += 1\n"
        "    return x + n\n"
    )
    (results,) = Sandbox(Limits(fuel_per_case=50_000_000), workers=0).run([(source, "f", ["(1,)"])])
    assert results[0].status == "unstable"
    assert results[0].value_repr == "1"
    assert "perturbed run: timeout" in results[0].error
