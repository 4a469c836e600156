"""Tasks to grade, from our evaluation split or the Case2Code paper's benchmark file.

Both have the paper's fields (see case2code.evalsplit); the cases differ:

- ours: `cases`, each our argument-list `input` (`(1, [2], key='x')`), its `output` text and
  `is_error`: literals only, the very texts the execute stage ran, so the sandbox's driver builds
  the arguments as it did then (a set display element by element, in the written order).
- the paper's (`dataset/test.jsonl` of choosewhatulike/case2code): `example_str`, Python source
  building `examples`, the keyword dicts of every case (often an assignment and two `+=`), and
  `example_outputs`, one per case. About 3% of its dicts are not plain literals (`list('abc')`,
  a lambda) and a few files add statements (imports, classes) the cases use.

Nothing here runs any of it: `example_str` is parsed with `ast` only. Each case becomes an
argument-list text (`(**dict(num=123))`), evaluated only in the sandbox, and the statements that
build no case become the task's `setup`, run there before the cases.
"""

from __future__ import annotations

import ast
import json
import keyword
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from case2code.errors import C2CError
from case2code.evalsplit import EXCEPTION_MARK, layout_of, numbered_eval_split
from case2code.inputs.literals import is_literal

# The family of every task of the paper's file: its prompts have one layout family.
PAPER_FAMILY = "paper"
EXAMPLES = "examples"

TASK_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "func_name": pl.String(),
    "reference": pl.String(),  # the task's code
    "prompt": pl.String(),  # the prompt text as in the file
    "cases": pl.List(pl.String()),  # argument-list text per case, evaluated in the sandbox
    # True: literal argument lists the sandbox's driver parses itself, as the execute stage ran
    # them (ours); False: expressions the grading wrapper evaluates (the paper's).
    "literal_cases": pl.Boolean(),
    "expected": pl.List(pl.String()),  # a repr, or `<class 'X'>: msg`
    "raises": pl.List(pl.Boolean()),  # whether each expected output is an exception
    "setup": pl.String(),  # statements run before the cases (the paper's file only)
    "shown": pl.Int64(),  # cases shown in the prompt
    "family": pl.String(),  # prompt layout family
    "n_lines": pl.Int64(),
    "expects_exception": pl.Boolean(),
}


class BadTask(Exception):
    """A record that cannot be graded; the message says which field and why."""


def load_tasks(path: str | Path) -> pl.DataFrame:
    """One row per task (TASK_SCHEMA); a C2CError names the file, line, id and field of
    anything malformed, and a file in neither format."""
    path = Path(path)
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, record in numbered_eval_split(path):
        where = f"{path}:{line}"
        task_id = record.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise C2CError(f"{where}: field id must be a non-empty string")
        if task_id in seen:
            raise C2CError(f"{where}: id {task_id} is repeated (first on line {seen[task_id]})")
        seen[task_id] = line
        try:
            rows.append(task_row(record))
        except BadTask as e:
            raise C2CError(f"{where} (id {task_id}): {e}") from None
    if not rows:
        raise C2CError(f"{path}: holds no tasks")
    return pl.DataFrame(rows, schema=TASK_SCHEMA)


def task_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record of either format as a TASK_SCHEMA row."""
    func_name = _text_field(record, "func_name")
    if not func_name.isidentifier() or keyword.iskeyword(func_name):
        raise BadTask(f"field func_name {func_name!r} is not a Python name")
    code = _text_field(record, "code")
    prompt = _text_field(record, "prompt")
    shown = record.get("choosed_example_idx")
    if not isinstance(shown, list):
        raise BadTask("field choosed_example_idx must be a list of case indices")
    if isinstance(record.get("cases"), list):
        cases, expected, raises = _our_cases(record["cases"])
        setup, family, literal = "", _layout_family(record), True
    elif "example_str" in record:
        cases, setup = paper_cases(_text_field(record, "example_str"))
        expected, raises = _paper_outputs(record.get("example_outputs"))
        if len(expected) != len(cases):
            raise BadTask(
                f"example_str builds {len(cases)} cases but example_outputs has {len(expected)}"
            )
        family, literal = PAPER_FAMILY, False
    else:
        raise BadTask("neither our `cases` field nor the paper's `example_str`")
    if not cases:
        raise BadTask("the task has no cases")
    return {
        "id": record["id"],
        "func_name": func_name,
        "reference": code,
        "prompt": prompt,
        "cases": cases,
        "literal_cases": literal,
        "expected": expected,
        "raises": raises,
        "setup": setup,
        "shown": len(shown),
        "family": family,
        "n_lines": len(code.rstrip("\n").splitlines()),
        "expects_exception": any(raises),
    }


def _text_field(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadTask(f"field {name} must be a non-empty string")
    return value


def _our_cases(cases: list[Any]) -> tuple[list[str], list[str], list[bool]]:
    inputs, outputs, raises = [], [], []
    for i, case in enumerate(cases):
        if not (
            isinstance(case, dict)
            and isinstance(case.get("input"), str)
            and isinstance(case.get("output"), str)
            and isinstance(case.get("is_error"), bool)
        ):
            raise BadTask(f"cases[{i}] must have input (str), output (str) and is_error (bool)")
        if reason := _not_literal_arguments(case["input"]):
            raise BadTask(f"cases[{i}]: input {case['input'][:60]!r} {reason}")
        inputs.append(case["input"])
        outputs.append(case["output"])
        raises.append(case["is_error"])
    return inputs, outputs, raises


def _not_literal_arguments(text: str) -> str | None:
    """Why `f` + text is not one call of `f` on literals the sandbox's driver accepts, or None
    (parsed, never run)."""
    try:
        call = ast.parse("f" + text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "is not a call argument list"
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "f"
        and call.func.end_col_offset == 1
    ):
        return "is not a call argument list"
    arguments = [a.value if isinstance(a, ast.Starred) else a for a in call.args]
    if not all(is_literal(node) for node in [*arguments, *(k.value for k in call.keywords)]):
        return "is not made of literals (the execute stage runs literal inputs only)"
    return None


def _layout_family(record: Mapping[str, Any]) -> str:
    """Our split's prompt layout (the order of its parts), drawn again as evalsplit drew it."""
    function_id = record.get("function_id")
    if not isinstance(function_id, str):
        raise BadTask("field function_id must be a string")
    return "/".join(layout_of(function_id).order)


# ---------------------------------------------------------------- the paper's file


def paper_cases(example_str: str) -> tuple[list[str], str]:
    """The argument-list text of every case `example_str` builds, in order, and the source of
    its other statements (the setup). Only `examples = [...]`, `examples += [...]`,
    `examples.append(x)` and `examples.extend([...])` build cases."""
    try:
        tree = ast.parse(example_str)
    except SyntaxError as e:
        raise BadTask(f"example_str does not parse: {e.msg} (line {e.lineno})") from None
    cases: list[str] = []
    setup: list[str] = []
    for statement in tree.body:
        elements = _case_elements(statement)
        if elements is None:
            setup.append(_segment(example_str, statement))
            continue
        for element in elements:
            cases.append(f"(**{_segment(example_str, element)})")
    return cases, "\n".join(setup)


def _case_elements(statement: ast.stmt) -> list[ast.expr] | None:
    """The case expressions a statement adds to `examples`, or None when it adds none."""
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and _is_examples(statement.targets[0])
    ) or (
        isinstance(statement, ast.AugAssign)
        and isinstance(statement.op, ast.Add)
        and _is_examples(statement.target)
    ):
        value = statement.value
        if isinstance(value, (ast.List, ast.Tuple)):
            return list(value.elts)
        raise BadTask(f"example_str line {statement.lineno}: examples is not given as a list")
    if (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute)
        and _is_examples(statement.value.func.value)
        and statement.value.func.attr in ("append", "extend")
    ):
        call, method = statement.value, statement.value.func.attr
        if len(call.args) != 1 or call.keywords:
            raise BadTask(f"example_str line {statement.lineno}: examples.{method}() of one list")
        if method == "append":
            return [call.args[0]]
        if isinstance(call.args[0], (ast.List, ast.Tuple)):
            return list(call.args[0].elts)
        raise BadTask(f"example_str line {statement.lineno}: examples.extend() of a non-list")
    return None


def _is_examples(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == EXAMPLES


def _segment(source: str, node: ast.AST) -> str:
    return ast.get_source_segment(source, node) or ""  # parsed nodes always have positions


def _paper_outputs(outputs: Any) -> tuple[list[str], list[bool]]:
    """`example_outputs` decoded: `{"return": json(repr)}` or `{"error": MARK json(text)}`."""
    if not isinstance(outputs, list):
        raise BadTask("field example_outputs must be a list")
    texts, raises = [], []
    for i, output in enumerate(outputs):
        try:
            if isinstance(output, dict) and isinstance(output.get("return"), str):
                texts.append(json.loads(output["return"]))
                raises.append(False)
            elif isinstance(output, dict) and isinstance(output.get("error"), str):
                # What the function printed before raising can precede the mark (the
                # paper's sandbox printed both): only the exception is compared.
                encoded = output["error"]
                at = encoded.rfind(EXCEPTION_MARK)
                if at < 0:
                    raise ValueError(f"error has no {EXCEPTION_MARK} mark")
                texts.append(json.loads(encoded[at + len(EXCEPTION_MARK) :].strip()))
                raises.append(True)
            else:
                raise ValueError('neither {"return": ...} nor {"error": ...}')
            if not isinstance(texts[-1], str):
                raise ValueError("the output is not a JSON string")
        except (ValueError, json.JSONDecodeError) as e:
            raise BadTask(f"example_outputs[{i}]: {e}") from None
    return texts, raises
