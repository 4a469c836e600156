"""The eval split in the Case2Code paper's benchmark format.

First against 20 records of the paper's own test set (tests/data/case2code-official-sample.jsonl):
their prompts and answers rebuilt from their own fields, and records built by `convert` from
the paper's functions run on the paper's inputs in our sandbox, compared field by field. Then on
samples made for real (extract, sandbox execute, assemble): the written file, its partition of
cases, skips, and the reference solution passing the split's own `example_str` as the paper's
grader runs it.
"""

from __future__ import annotations

import ast
import itertools
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from case2code import C2CError, ExtractConfig, extract_source
from case2code.assemble import AssembleConfig, assemble
from case2code.evalsplit import (
    ANSWER,
    ARGUMENT_MISMATCH,
    CASE_LINE,
    NEW_LINES,
    OUR_FIELDS,
    PAPER_FIELDS,
    PARTS,
    UNPARSABLE_INPUT,
    EvalRecordsStep,
    Layout,
    Unconvertible,
    convert,
    dict_call,
    encode_output,
    layout_of,
    paper_prompt,
    prompt_output,
    read_eval_split,
    record_line,
    write_records,
)
from case2code.execute import execute
from case2code.executors.local import LocalExecutor
from case2code.inputs.literals import render_arguments
from hand_functions import run_hand_functions

OFFICIAL = Path(__file__).parent / "data" / "case2code-official-sample.jsonl"


@pytest.fixture(scope="module")
def official() -> list[dict[str, Any]]:
    records = read_eval_split(OFFICIAL)
    assert len(records) == 20
    return records


def _shown_examples(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The (dict call, output) pairs a record's prompt shows, from its own fields."""
    return [
        (dict_call(record["parsed_inputs"][i]), prompt_output(record["example_outputs"][i]))
        for i in record["choosed_example_idx"]
    ]


def _layouts() -> list[Layout]:
    """Every layout the paper's generator can pick."""
    gaps = sorted(set(NEW_LINES), key=len)
    orders = itertools.permutations(PARTS)
    return [Layout(o, g) for o in orders for g in itertools.product(gaps, repeat=len(PARTS))]


def _matching_layouts(record: dict[str, Any]) -> list[Layout]:
    shown = _shown_examples(record)
    return [
        lay
        for lay in _layouts()
        if paper_prompt(record["func_name"], shown, lay) == record["prompt"]
    ]


def _write_split(samples: pl.DataFrame, functions: pl.DataFrame, path: Path) -> dict[str, int]:
    """Every function's record written, as `c2c run` writes the held-out ones."""
    run = LocalExecutor().run(EvalRecordsStep(), {"samples": samples, "functions": functions})
    assert run.table is not None
    return write_records(run.table, path)


# ---------------------------------------------------------------- the paper's records


def test_official_prompts_rebuild_byte_for_byte(official: list[dict[str, Any]]) -> None:
    orders = set()
    for record in official:
        matches = _matching_layouts(record)
        assert len(matches) == 1, record["id"]
        orders.add(matches[0].order)
    assert len(orders) > 2  # the paper's layouts do vary; ours are drawn from the same set


def test_official_answers_rebuild(official: list[dict[str, Any]]) -> None:
    for record in official:
        assert record["code"].endswith("\n") and record["exec_code"] == record["code"]
        assert ANSWER.format(code=record["code"]) == record["output"]
        assert record["id"].endswith("_0") and record["exec_status"] is True


def test_official_lines_serialise_alike(official: list[dict[str, Any]]) -> None:
    lines = OFFICIAL.read_text(encoding="utf-8").splitlines(keepends=True)
    assert [record_line(r) for r in official] == lines
    assert all(tuple(r) == PAPER_FIELDS for r in official)


def test_layouts_drawn_are_the_papers() -> None:
    every = set(_layouts())
    assert len(every) == 6 * 27
    assert all(layout_of(f"f{i}") in every for i in range(200))


@pytest.fixture(scope="module")
def official_rebuilt(official: list[dict[str, Any]]) -> list[tuple[dict, dict]]:
    """(official record, ours built from its function run on its inputs in our sandbox)."""
    frames, by_name = [], {}
    for i, record in enumerate(official):
        found = extract_source(record["code"], f"official{i}.py", ExtractConfig(min_lines=1))
        if found.functions.height == 1:
            frames.append(found.functions.with_columns(row=pl.lit(i)))
    functions = pl.concat(frames)
    rows = []
    for function in functions.iter_rows(named=True):
        record = official[function["row"]]
        by_name[function["function_id"]] = (record, function)
        for text in record["example_inputs"][: len(record["parsed_inputs"])]:
            kwargs = ast.literal_eval(json.loads(text))  # `"{'num': 123}"`
            rows.append((function["function_id"], render_arguments(list(kwargs.values()))))
    inputs = pl.DataFrame(rows, schema=["function_id", "input"], orient="row")
    results = execute(functions, inputs, workers=2).sort("function_id", "case")
    pairs = []
    for function_id, (record, function) in by_name.items():
        got = results.filter(pl.col("function_id") == function_id).to_dicts()
        cases = [
            {
                "input": r["input"],
                "output": r["value_repr"] if r["status"] == "ok" else r["error"],
                "is_error": r["status"] != "ok",
            }
            for r in got
        ]
        chosen = record["choosed_example_idx"]
        rest = [i for i in range(len(cases)) if i not in chosen]
        sample = {
            "function_id": function_id,
            "name": function["name"],
            "source": function["source"],
            "shown": [cases[i] for i in chosen],
            "held_out": [cases[i] for i in rest],
        }
        ours = convert(sample, function["params"])
        pairs.append((record, ours | {"_order": chosen + rest}))
    assert len(pairs) >= 15  # the rest use print or undefined helpers, which extract rejects
    return pairs


def test_records_from_the_papers_functions_match(official_rebuilt: list[tuple[dict, dict]]) -> None:
    for official, ours in official_rebuilt:
        order = ours["_order"]
        for field in ("example_inputs", "example_outputs", "parsed_inputs"):
            assert ours[field] == [official[field][i] for i in order], (official["id"], field)
        for field in ("code", "exec_code", "output", "func_name", "exec_status"):
            assert ours[field] == official[field], (official["id"], field)
        # Our prompt, laid out as the paper's was, is the paper's prompt byte for byte.
        layout = _matching_layouts(official)[0]
        shown = _shown_examples(ours)
        assert paper_prompt(ours["func_name"], shown, layout) == official["prompt"]


def test_error_outputs_use_the_papers_mark(official: list[dict[str, Any]]) -> None:
    errors = [o for r in official for o in r["example_outputs"] if "error" in o]
    assert errors
    for encoded in errors:
        text = json.loads(encoded["error"].removeprefix("<|EXCEPTION|> "))
        assert encode_output(text, is_error=True) == encoded


# ---------------------------------------------------------------- samples made for real

SOURCE = """
def clamp(x, low, high):
    if low > high:
        raise ValueError("low > high")
    return max(low, min(x, high))

def join_words(words, sep=" ", *, upper=False):
    text = sep.join(words)
    return text.upper() if upper else text

def digit_sum(n):
    return sum(int(d) for d in str(abs(n)))

def head(xs, n, /):
    return xs[:n]

def total(*nums):
    return sum(nums)
"""
INPUTS = {
    "clamp": ["(5, 0, 10)", "(-2, 0, 3)", "(12, 1, 4)", "(1, 5, 2)", "(7, 7, 7)", "(0.5, 0, 1)"],
    "join_words": [
        "(['a', 'b'])",
        "(['ada', 'lovelace'], sep='-')",
        "(['x'], upper=True)",
        "([], '+')",
        "(['é', 'ß'], sep='', upper=True)",
        "(('q', 'r'), '.')",
        "([3])",
    ],
    "digit_sum": ["(123)", "(-45)", "(0)", "(9999)", "(10)", "(7)"],
    "head": ["([1, 2, 3], 2)", "('abc', 1)", "([], 3)", "((4, 5, 6), 0)", "('hello', 4)"],
    "total": ["(1, 2)", "()", "(1.5, 2, 3)", "(1, 'a')", "(10,)"],
}
WRITTEN = {"clamp", "join_words", "digit_sum"}
SKIPPED = {"skipped_positional_only": 1, "skipped_var_positional": 1}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    functions, results = run_hand_functions(SOURCE, INPUTS)
    samples = assemble(functions, results, AssembleConfig(seed=5, samples_per_function=2)).samples
    assert set(samples["name"]) == set(INPUTS)
    path = tmp_path_factory.mktemp("split") / "eval.jsonl"
    counts = _write_split(samples, functions, path)
    return {"functions": functions, "samples": samples, "path": path, "counts": counts}


def test_counts_and_fields(made: dict[str, Any], official: list[dict[str, Any]]) -> None:
    assert made["counts"] == {"functions": len(WRITTEN), **SKIPPED}
    records = read_eval_split(made["path"])
    assert {r["func_name"] for r in records} == WRITTEN
    assert [r["function_id"] for r in records] == sorted(r["function_id"] for r in records)
    for record in records:
        assert list(record) == [*official[0], *OUR_FIELDS]
        assert record["id"] == f"{record['function_id']}_0" and record["exec_status"] is True
        assert record["exec_code"] == record["code"] and record["code"].endswith("\n")
        assert record["output"] == f"The function is:\n\n```python\n{record['code']}\n```"


def test_cases_partition_and_prompt(made: dict[str, Any]) -> None:
    firsts = made["samples"].sort("sample_id").unique("function_id", keep="first")
    by_id = {s["function_id"]: s for s in firsts.iter_rows(named=True)}
    for record in read_eval_split(made["path"]):
        sample = by_id[record["function_id"]]
        assert record["cases"] == sample["shown"] + sample["held_out"]
        n, shown, held = len(record["cases"]), record["choosed_example_idx"], record["held_out_idx"]
        assert sorted(shown + held) == list(range(n)) and not set(shown) & set(held)
        assert len(shown) == len(sample["shown"]) and len(held) == len(sample["held_out"]) > 0
        for field in ("example_inputs", "example_outputs", "parsed_inputs"):
            assert len(record[field]) == n
        lines = record["prompt"].splitlines(keepends=True)
        case_lines = [
            CASE_LINE.format(
                input=dict_call(record["parsed_inputs"][i]),
                output=prompt_output(record["example_outputs"][i]),
            )
            for i in range(n)
        ]
        assert all(case_lines[i] in lines for i in shown)
        assert not any(case_lines[i] in lines for i in held)
        assert len(_matching_layouts(record)) == 1  # the paper's prompt conventions


def test_reference_passes_its_examples(made: dict[str, Any]) -> None:
    """Run each function on its record's `example_str` (keyword calls, as the paper's grader
    does) in the sandbox: the outputs are the record's `example_outputs`, text for text."""
    records = read_eval_split(made["path"])
    rows = []
    for record in records:
        tree = ast.parse(record["example_str"])
        (assign,) = tree.body
        assert isinstance(assign, ast.Assign) and isinstance(assign.value, ast.List)
        for call in assign.value.elts:
            assert isinstance(call, ast.Call) and ast.unparse(call.func) == "dict"
            kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
            rows.append((record["function_id"], render_arguments([], kwargs)))
    inputs = pl.DataFrame(rows, schema=["function_id", "input"], orient="row")
    results = execute(made["functions"], inputs, workers=2).sort("function_id", "case")
    for record in records:
        got = results.filter(pl.col("function_id") == record["function_id"]).to_dicts()
        outputs = [
            encode_output(
                r["value_repr"] if r["status"] == "ok" else r["error"], r["status"] != "ok"
            )
            for r in got
        ]
        assert outputs == record["example_outputs"]
    # Non-ASCII values are JSON-escaped inside fields, as the paper's sandbox prints them.
    joined = next(r for r in records if r["func_name"] == "join_words")
    assert any("\\u00c9SS" in o.get("return", "") for o in joined["example_outputs"])


def test_rewrite_is_identical(made: dict[str, Any], tmp_path: Path) -> None:
    shuffled = made["samples"].sample(fraction=1.0, shuffle=True, seed=11)
    counts = _write_split(shuffled, made["functions"], tmp_path / "again.jsonl")
    assert counts == made["counts"]
    assert (tmp_path / "again.jsonl").read_bytes() == made["path"].read_bytes()
    assert not list(tmp_path.glob("*.tmp"))


# ---------------------------------------------------------------- skips and bad files


def _sample_and_params(made: dict[str, Any], name: str) -> tuple[dict, list]:
    sample = made["samples"].filter(pl.col("name") == name).row(0, named=True)
    params = made["functions"].filter(pl.col("name") == name)["params"][0]
    return sample, params


def test_positional_only_and_star_args_are_skipped(made: dict[str, Any]) -> None:
    for name in ("head", "total"):
        sample, params = _sample_and_params(made, name)
        with pytest.raises(Unconvertible):
            convert(sample, params)


@pytest.mark.parametrize(
    ("bad_input", "reason"),
    [
        ("(bytes(3), 0, 1)", UNPARSABLE_INPUT),  # left to the sandbox, never evaluated here
        ("(1, 2, 3, 4)", ARGUMENT_MISMATCH),
        ("(1, 2, x=3)", ARGUMENT_MISMATCH),
    ],
)
def test_inputs_without_keyword_form_are_skipped(
    made: dict[str, Any], bad_input: str, reason: str
) -> None:
    sample, params = _sample_and_params(made, "clamp")
    convert(sample, params)  # writable as it is
    held = [{**sample["held_out"][0], "input": bad_input}, *sample["held_out"][1:]]
    broken = {**sample, "held_out": held}
    with pytest.raises(Unconvertible) as caught:
        convert(broken, params)
    assert caught.value.reason == reason


def test_keyword_inputs_bind_by_name(made: dict[str, Any]) -> None:
    sample, params = _sample_and_params(made, "join_words")
    case = {"input": "(['a'], upper=True, sep='+')", "output": "'A'", "is_error": False}
    record = convert({**sample, "shown": [case], "held_out": []}, params)
    # A string is JSON-quoted only on its own; inside a list it keeps its repr (the paper's rule).
    assert record["parsed_inputs"] == [[["words", "['a']"], ["upper", "True"], ["sep", '"+"']]]
    assert record["example_inputs"] == [json.dumps("{'words': ['a'], 'upper': True, 'sep': '+'}")]
    assert "Input: dict(words=['a'], upper=True, sep=\"+\"), Output: \"'A'\"\n" in record["prompt"]


def test_unknown_function_is_an_error(made: dict[str, Any], tmp_path: Path) -> None:
    others = made["functions"].filter(pl.col("name") != "clamp")
    with pytest.raises(C2CError, match="not in the functions table"):
        _write_split(made["samples"], others, tmp_path / "x.jsonl")
    with pytest.raises(C2CError, match="missing column"):
        _write_split(made["samples"].drop("shown"), made["functions"], tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"example_str": "examples', r":3: not JSON"),
        ("[1, 2]", r":3: not a JSON object"),
        ('{"id": "x_0"}', r":3: missing field\(s\) example_str"),
    ],
)
def test_bad_line_names_its_number(tmp_path: Path, bad_line: str, message: str) -> None:
    good = OFFICIAL.read_text(encoding="utf-8").splitlines(keepends=True)[:2]
    path = tmp_path / "split.jsonl"
    path.write_text("".join(good) + bad_line + "\n", encoding="utf-8")
    with pytest.raises(C2CError, match=message) as caught:
        read_eval_split(path)
    assert str(path) in str(caught.value)
    with pytest.raises(C2CError, match="cannot read"):
        read_eval_split(tmp_path / "absent.jsonl")
