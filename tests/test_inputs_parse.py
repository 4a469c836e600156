"""parse_response: a model's raw answer to canonical call argument lists."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path

import pytest
from case2code.inputs.parse import (
    MAX_ITEMS,
    MAX_RESPONSE_CHARS,
    ParsedResponse,
    Rejected,
    parse_response,
)

DATA = Path(__file__).parent / "data"
RESPONSES = DATA / "llm-responses"


def parse(text: str, name: str = "f", params: tuple[str, ...] = ("a", "b")) -> ParsedResponse:
    return parse_response(text, name, params)


def reasons(result: ParsedResponse) -> list[str]:
    return [r.reason for r in result.rejected]


def case(
    id: str,
    text: str,
    inputs: list[str],
    *why: str,
    truncated: bool = False,
    params: tuple[str, ...] = ("a", "b"),
) -> object:
    """One answer for a function `f(params)`: its inputs, rejection reasons and truncation."""
    return pytest.param(text, params, inputs, list(why), truncated, id=id)


CASES = [
    # The paper's form.
    case(
        "paper-form",
        "examples = [\n    dict(a=1, b=[2]),\n    dict(a=-3, b=[]),\n]",
        ["(a=1, b=[2])", "(a=-3, b=[])"],
    ),
    case(
        "paper-form-blocks-comments-duplicates",
        "```python\nexamples = [\n    dict(a=1, b=2),  # small\n    dict(a=1, b=2),\n]\n"
        "examples += [\n    dict(b=5, a=4)   # keyword order is kept\n]\n```",
        ["(a=1, b=2)", "(b=5, a=4)"],
    ),
    case(
        "paper-form-bad-items",
        "examples = [dict(a=1, q=2), dict(a=len('x')), dict(a=2)]",
        ["(a=2)"],
        "unknown parameter 'q'",
        "argument a=`len('x')` is not a literal",
    ),
    # Plain calls.
    case(
        "plain-calls-prose-trailing-comma",
        "Here are some calls:\n\nf(1, 2)\nf(1, b=2,)\nf(  3 ,\n  4 )\n",
        ["(1, 2)", "(1, b=2)", "(3, 4)"],
    ),
    case(
        "calls-inside-assert-print-assignment",
        "```python\nassert f(1, 2) == 3\nprint(f([1], 'x'))\nresult = f(None, True)\n"
        "print(len(f(-1, 2.5)))\n```",
        ["(1, 2)", "([1], 'x')", "(None, True)", "(-1, 2.5)"],
    ),
    case(
        "doctest-outputs-dropped",
        ">>> f(1, 2)\n3\n>>> f([1,\n...    2], 0)\n[1, 2]\n>>> (1, 2)\n(1, 2)\n",
        ["(1, 2)", "([1, 2], 0)"],
    ),
    case(
        "renamed-calls-builtins-and-classes-ignored",
        "```python\nfrom mod import add_numbers\nadd_numbers(1, 2)\nadd_numbers(a=3, b=4)\n"
        "print(max(5, 6), sorted([3, 1]))\nResult(7)\n```",
        ["(1, 2)", "(a=3, b=4)"],
    ),
    case(
        "helpers-skipped-renamed-nonliteral-silent",
        "def helper(x):\n    return x\n\nhelper(5)\nsolve(x)\nf(g(1), 2)\n",
        ["(1)"],
        "argument `g(1)` is not a literal",
    ),
    case(
        "own-definition-body-skipped",
        "def f(a, b):\n    if a > 10:\n        return f(a - 1, b)\n    return f(1, 2)\n\nf(3, 4)\n",
        ["(3, 4)"],
    ),
    case(
        "method-calls-of-the-name",
        "math.f(1, 2)\nSolution().f([1, 2], 3)\nobj.other(5, 6)\n",
        ["(1, 2)", "([1, 2], 3)"],
    ),
    case(
        "target-calls-rejected-with-reasons",
        "f(x, 2)\nf(1, [y])\nf(a=1, q=2)\nf(*[1, 2])\nf(**{'a': 1})\n",
        ["(*[1, 2])", "(**{'a': 1})"],
        "argument `x` is not a literal",
        "argument `[y]` is not a literal",
        "unknown parameter 'q'",
    ),
    case(
        "prose-mentions",
        "The `f()` function takes two numbers; call f(1, 2) (or f(3, 4)).",
        ["(1, 2)", "(3, 4)"],
    ),
    case("no-parameters", "f()\n", ["()"], params=()),
    # Argument lines, bullets, labels.
    case(
        "argument-lines",
        "(1, 2)\n(3, [4, 5]),\n  (6, 'x');  # a comment\n(a + b) * 2\n(x, 1)\n",
        ["(1, 2)", "(3, [4, 5])", "(6, 'x')"],
        "argument `x` is not a literal",
    ),
    case(
        "bullets-and-labels",
        "1. (1, 2)\n2) f(3, 4)\n- a=5, b=6\n* some prose\nInput: f(7, 8)\nInput: 9, b=10\n"
        "Example 3: Input: a = 11\nOutput: 12\n",
        ["(1, 2)", "(3, 4)", "(a=5, b=6)", "(7, 8)", "(9, b=10)", "(a=11)"],
    ),
    case(
        "labels-with-unknown-names",
        "Inputs:\n- x=1\nInput: q = 3\n",
        [],
        "unknown parameter 'x'",
        "unknown parameter 'q'",
    ),
    # Cut short.
    case(
        "paper-form-truncated",
        "examples = [\n    dict(a=1, b=2),\n    dict(a=3, b=4),\n    dict(a=5, b=[6, 7",
        ["(a=1, b=2)", "(a=3, b=4)"],
        "truncated",
        truncated=True,
    ),
    case(
        "truncated-inside-a-string",
        "```python\nexamples = [\n    dict(s='ab'),\n    dict(s='it\\'s",
        ["(s='ab')"],
        "truncated",
        truncated=True,
        params=("s",),
    ),
    case("plain-call-truncated", "f(1, 2)\nf(3, [4,", ["(1, 2)"], "truncated", truncated=True),
    case(
        "prose-cut-is-not-an-input",
        "f(1, 2)\nThat is all for now, see the docs (section 3",
        ["(1, 2)"],
    ),
    case(
        "unclosed-before-a-fence-is-not-truncation",
        "```python\nexamples = [dict(a=1), dict(a=2\n```\nand f(3, 4)",
        ["(a=1)", "(3, 4)"],
        "unclosed",
    ),
    case(
        "paper-form-cut-between-items",
        "examples = [\n    dict(a=1),\n    dict(a=2),  # two\n    ",
        ["(a=1)", "(a=2)"],
        "truncated",
        truncated=True,
    ),
    case(
        "paper-form-cut-after-an-item",
        "examples = [dict(a=1), dict(a=2)",
        ["(a=1)", "(a=2)"],
        "truncated",
        truncated=True,
    ),
    case(
        "broken-item-of-a-list",
        "examples = [dict(a=1), dict(a=2 b=3), (4, 5)]\nf(6, 7)",
        ["(a=1)", "(4, 5)", "(6, 7)"],
        "not a Python expression",
    ),
    case("repetition", "f(1, 2)\n" * 50 + "f(1, 2)\nf(1,", ["(1, 2)"], "truncated", truncated=True),
    # Items of a Python examples list.
    case(
        "python-list-items-two-params",
        "test_cases = [(1, 2), [3, 4], (5,), 6, {'a': 7, 'b': 8}, {'b': 9}, {1: 2}]",
        ["(1, 2)", "(3, 4)", "(5)", "(6)", "(a=7, b=8)", "(b=9)"],
        "the keys of an input mapping must be parameter names",
    ),
    case(
        "python-list-items-one-param",
        "inputs = [[1, 2], (3, 4), 'abc', {'x': 1}, {'xs': [5]}, set([6])]",
        ["([1, 2])", "((3, 4))", "('abc')", "({'x': 1})", "(xs=[5])", "(set([6]))"],
        params=("xs",),
    ),
    case(
        "lists-not-named-as-examples",
        "data = [1, 2, 3]\nnums = [dict(a=1)]\nf(data, 2)\n",
        ["(a=1)"],
        "argument `data` is not a literal",
    ),
    case("bare-python-list", "[dict(a=1), {'a': 2}, (3, 4)]", ["(a=1)", "(a=2)", "(3, 4)"]),
    case(
        "prose-brackets-are-not-lists",
        "See [1] and [the docs](https://x.org) for f(1, 2).\n[3, 4]\n",
        ["(1, 2)", "(3)", "(4)"],
    ),
    # JSON.
    case(
        "json-object-inputs",
        '{"inputs": [{"a": 1, "b": [1, 2]}, {"b": "x", "a": null}, {"a": true}, {"b": 2.5}]}',
        ["(1, [1, 2])", "(None, 'x')", "(True)", "(b=2.5)"],
    ),
    case(
        "json-prefix-positional-rest-keywords",
        '{"inputs": [{"a": 1, "c": 3}, {"a": 1, "q": 0}]}',
        ["(1, c=3)"],
        "unknown parameter 'q'",
        params=("a", "b", "c"),
    ),
    case(
        "json-bare-list",
        '[{"a": 1, "b": 2}, [3, 4], 5, [6, {"k": [7]}]]',
        ["(1, 2)", "(3, 4)", "(5)", "(6, {'k': [7]})"],
    ),
    case(
        "json-one-param-arrays-are-the-argument",
        '[[1, 2], [3, 4], {"xs": []}, {"k": 1}, "s"]',
        ["([1, 2])", "([3, 4])", "([])", "({'k': 1})", "('s')"],
        params=("xs",),
    ),
    case(
        "json-fenced-with-prose",
        '```json\n{"inputs": [{"a": 1}, {"a": 2}]}\n```\nThese cover small values.',
        ["(1)", "(2)"],
        params=("a",),
    ),
    case(
        "json-truncated-in-item",
        '{"inputs": [{"a": 1, "b": 2}, {"a": 3, "b": [4, 5',
        ["(1, 2)"],
        "truncated",
        truncated=True,
    ),
    case(
        "json-truncated-in-string",
        '{"inputs": [{"a": 1, "b": 2}, {"a": "x\\"y, ',
        ["(1, 2)"],
        "truncated",
        truncated=True,
    ),
    case(
        "json-truncated-between-items",
        '{"inputs": [{"a": 1, "b": 2},  ',
        ["(1, 2)"],
        "truncated",
        truncated=True,
    ),
    case(
        "json-broken-after-good-items",
        '{"inputs": [{"a": 1}, {"a": 2} {"a": 3}]}',
        ["(1)", "(2)"],
        "invalid JSON: expected ',' or ']'",
        params=("a",),
    ),
    case("json-single-object-truncated", '{"a": 1, "b": [1, 2', [], "truncated", truncated=True),
    case("json-single-object", '{"a": 1, "b": [2, 3]}', ["(1, [2, 3])"]),
    case(
        "json-object-without-inputs",
        '{"result": "ok", "count": 2}',
        [],
        'the JSON object has no "inputs" list',
    ),
    case("json-other-list-key", '{"examples": [{"a": 1}]}', ["(1)"]),
    case(
        "json-non-finite",
        '{"inputs": [{"a": 1e999}, {"a": NaN}]}',
        ["(float('inf'))", "(float('nan'))"],
        params=("a",),
    ),
    # Nothing there.
    case("empty", "", []),
    case("refusal", "I cannot help with that.", []),
]


@pytest.mark.parametrize(("text", "params", "inputs", "why", "truncated"), CASES)
def test_parse_response(
    text: str, params: tuple[str, ...], inputs: list[str], why: list[str], truncated: bool
) -> None:
    result = parse_response(text, "f", params)
    assert result.inputs == inputs
    assert reasons(result) == why
    assert result.truncated is truncated


def test_rejected_snippets_are_short() -> None:
    result = parse("f(x" + ", 1" * 200 + ")")
    assert result.rejected == [
        Rejected("f(x" + ", 1" * 24 + ", ...", "argument `x` is not a literal")
    ]
    assert len(result.rejected[0].snippet) == 80


def test_too_long_argument_list_is_rejected() -> None:
    result = parse("f(" + ", ".join(["123456789"] * 500) + ")")
    assert result.inputs == []
    assert reasons(result) == ["argument list is 5500 characters (limit 4000)"]


# --- hostile text: never an exception, and quickly -----------------------------------------

HOSTILE = [
    pytest.param("(" * 100_000, id="deep-parens"),
    pytest.param("[" * 50_000 + "]" * 50_000, id="deep-brackets-json"),
    pytest.param("f(" * 30_000 + ")" * 30_000, id="deep-calls"),
    pytest.param("examples = [" + "[" * 5_000 + "1" + "]" * 5_000 + "]", id="deep-list"),
    pytest.param('{"inputs": [' + "[" * 10_000, id="deep-truncated-json"),
    pytest.param("-" * 100_000 + "1", id="deep-unary"),
    pytest.param(bytes(range(256)).decode("latin-1") * 50, id="binary-junk"),
    pytest.param("\x00f(1, 2)\x00", id="nul-bytes"),
    pytest.param("f(1, 2)\n" + "word (it's) f(" * 75_000, id="megabyte-ish"),
    pytest.param("'''" + "f(1)\n" * 10_000, id="unclosed-triple-quote"),
    pytest.param("f(" + "9" * 5_000 + ")", id="huge-int"),
    pytest.param('{"inputs": [{"a": ' + "9" * 5_000 + "}]}", id="json-huge-int"),
    pytest.param("f(a=1, a=2)\nf(1, 2, 3)", id="repeated-keyword"),
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_never_raises(text: str) -> None:
    started = time.perf_counter()
    result = parse(text)
    # A guard against runaway parsing (backtracking, recursion), not a speed target: a loaded
    # 2-core machine took 1.2 s on one of these.
    assert time.perf_counter() - started < 5.0
    assert all(isinstance(i, str) for i in result.inputs)


def test_hostile_results() -> None:
    assert parse("\x00f(1, 2)\x00").inputs == ["(1, 2)"]
    deep = parse("f(" * 30_000 + ")" * 30_000)
    assert deep.inputs == [] and not deep.truncated
    assert parse("'''" + "f(1)\n" * 3).inputs == ["(1)"]  # not Python: read line by line
    huge = parse('{"inputs": [{"a": ' + "9" * 5_000 + "}]}")
    assert huge.inputs == []
    assert len(huge.rejected) == 1 and huge.rejected[0].reason.startswith("invalid JSON")
    assert parse("f(" + "9" * 5_000 + ")").inputs == []
    nested = parse("[" * 50_000 + "]" * 50_000)
    assert nested.inputs == [] and reasons(nested) == ["too deeply nested"]
    repeated = parse("f(a=1, a=2)\nf(1, 2, 3)\nexamples = [{'a': 1, 'a': 2}]")
    assert repeated.inputs == ["(1, 2, 3)"]  # how many arguments is the sandbox's to judge
    assert reasons(repeated) == ["parameter 'a' given twice"] * 2


@pytest.mark.parametrize("tail", ["]", ""], ids=["closed", "cut"])
def test_examples_list_is_capped(tail: str) -> None:
    result = parse("examples = [" + "".join(f"{i}, " for i in range(MAX_ITEMS + 5)) + tail)
    assert result.inputs == [f"({i})" for i in range(MAX_ITEMS)]
    assert reasons(result)[0] == f"more than {MAX_ITEMS} items; the rest ignored"


def test_long_answer_is_cut() -> None:
    text = "f(1, 2)\n" + "x" * MAX_RESPONSE_CHARS
    result = parse(text)
    assert result.inputs == ["(1, 2)"]
    assert reasons(result) == [
        f"answer is {len(text)} characters; only the first {MAX_RESPONSE_CHARS} are read"
    ]


# --- the paper's own answers ---------------------------------------------------------------


def official_records() -> list[dict]:
    lines = (DATA / "case2code-official-sample.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def parameters(code: str, name: str) -> tuple[str, ...]:
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return tuple(a.arg for a in node.args.args)
    raise AssertionError(name)


def keyword_call(pairs: list[list[str]]) -> str:
    """The record's `parsed_inputs` entry, `[[name, source], ...]`, as canonical text."""
    return ast.unparse(ast.parse("_(" + ", ".join(f"{k}={v}" for k, v in pairs) + ")")).lstrip("_")


@pytest.mark.parametrize("record", official_records(), ids=lambda r: r["id"])
def test_official_answers(record: dict) -> None:
    """The record's own `parsed_inputs` come from the first `examples` block, in order; the
    answer holds 30 `dict(...)` items in all (three blocks of ten), some repeated."""
    params = parameters(record["code"], record["func_name"])
    result = parse_response(record["example_str"], record["func_name"], params)
    expected = list(dict.fromkeys(keyword_call(p) for p in record["parsed_inputs"]))
    assert result.inputs[: len(expected)] == expected
    all_items = [
        ast.unparse(n).removeprefix("dict")
        for n in ast.walk(ast.parse(record["example_str"]))
        if isinstance(n, ast.Call)
    ]
    assert len(all_items) == 30
    assert sorted(result.inputs) == sorted(set(all_items))
    assert result.rejected == [] and not result.truncated


# --- real answers of SmolLM2-135M-Instruct (see data/llm-responses/README.md) ---------------

GCD = ("gcd", ("a", "b"))
PALINDROME = ("is_palindrome", ("s",))
CHUNK = ("chunk", ("items", "size"))
WORD_COUNT = ("word_count", ("text", "ignore_case"))
CLAMP = ("clamp", ("value", "low", "high"))

REAL = [
    # A one-shot `dict(x=1, y=2)` example; the model writes dict literals, some of them sets.
    (
        "examples-clamp.txt",
        CLAMP,
        ["(low=1, high=2)", "(low=-5, high=0)", "({'low', 3})", "({'low', 4})", "(low=6, high=8)"],
        [],
        False,
    ),
    ("examples-clamp-cut.txt", CLAMP, ["(low=1, high=2)"], ["truncated"], True),
    # Tuples as argument lists, then code that calls chunk on a variable.
    (
        "examples-chunk.txt",
        CHUNK,
        ["(1, 2)", "(3, 4)"],
        ["argument `items` is not a literal"],
        False,
    ),
    ("examples-gcd.txt", GCD, ["(10, 2)", "(30, 4)"], ["argument `a` is not a literal"], False),
    # `test_cases = [{"input": lambda s: is_palindrome("..."), ...}]`: the call in the lambda.
    (
        "examples-is_palindrome.txt",
        PALINDROME,
        ["('A man a day ago...')"],
        [
            "argument `{'input': lambda s: is_palindrome(s), 'output': True}` is not a literal",
            "argument `s` is not a literal",
            "argument `{'input': lambda s: is_palindrome('A man a day ago...')}` is not a literal",
        ],
        False,
    ),
    # `Example 2: Input: s = "..."` lines after a rewritten function.
    (
        "zeroshot-is_palindrome.txt",
        PALINDROME,
        [
            "(s='A man, a plan, a canal: Panama')",
            "(s='Not a palindrome')",
            "(s='a man, a plan, a canal: Panama')",
        ],
        [],
        False,
    ),
    # The rewritten function does not parse (`a %= b` in a tuple): read call by call.
    ("zeroshot-gcd.txt", GCD, ["(5, 4)", "(-3, -2)"], [], False),
    ("calls-word_count.txt", WORD_COUNT, ["(['hello', 'world'], ignore_case=True)"], [], False),
    # `print(chunk([1, 2, 3], 5))`, and "`chunk()` takes a list" in prose.
    ("calls-chunk.txt", CHUNK, ["([1, 2, 3], 5)"], [], False),
    ("json-chunk-cut.txt", CHUNK, ["([1, 2], 3)"], ["truncated"], True),
    # Untyped schema: the model wrote prose inside JSON strings, with raw newlines.
    (
        "json-untyped-gcd.txt",
        GCD,
        [],
        ["invalid JSON: Invalid control character at: line 1 column 67 (char 66)"],
        False,
    ),
]


@pytest.mark.parametrize(
    ("file", "function", "inputs", "why", "truncated"), REAL, ids=[r[0] for r in REAL]
)
def test_real_small_model_answers(
    file: str,
    function: tuple[str, tuple[str, ...]],
    inputs: list[str],
    why: list[str],
    truncated: bool,
) -> None:
    result = parse_response((RESPONSES / file).read_text(), *function)
    assert result.inputs == inputs
    assert reasons(result) == why
    assert result.truncated is truncated


def test_every_real_answer_is_tested() -> None:
    assert sorted(p.name for p in RESPONSES.glob("*.txt")) == sorted(r[0] for r in REAL)
