"""The held-out evaluation split, written in the Case2Code paper's benchmark format.

One JSONL record per function with the fields of the paper's `dataset/test.jsonl` (20 of its
records are in tests/data/case2code-official-sample.jsonl), in its order, then ours:

- `example_str`: Python source defining `examples = [dict(arg=value), ...]`, every case in order;
  the paper's grader runs it after a model's code and calls `func_name(**example)` for each.
- `example_inputs`: per case, `json.dumps(repr(kwargs))`, e.g. `"{'num': 123}"` in quotes.
- `example_outputs`: per case, `{"return": json.dumps(repr(value))}` or, for an exception,
  `{"error": "<|EXCEPTION|> " + json.dumps("<class 'X'>: msg")}`: what the paper's sandbox
  prints (ASCII escapes), so its grader compares them as text.
- `parsed_inputs`: per case, `[[name, value source], ...]`; a string's source is its
  `json.dumps` form (`"a"`, `"\\u662f"`), any other value's its repr.
- `code` / `exec_code`: the standalone source, ending in a newline; `func_name`; `exec_status`
  (true: every case here ran); `id` (`<function_id>_0`); `choosed_example_idx`: the cases shown.
- `output`: "The function is:\\n\\n```python\\n{code}\\n```".
- `prompt`: the instruction, the header "Function: {name}" and one `Input: dict(a=1, b="x"),
  Output: {output}` line per shown case ({output}: the `return` text, or the `error` text less
  its mark), the three parts in a random order, each followed by "\\n" (5 in 8), "\\n\\n" (2 in
  8) or "\\n\\n\\n" (1 in 8), as the paper's generator does in eval mode (`prompt_code_data.py
  --for_eval`, choosewhatulike/case2code); here the draw is seeded by the function id.
- ours: `function_id`, `held_out_idx` and `cases` (our argument-list inputs, outputs and error
  flags, for graders that call with our inputs).

Cases are the sample's shown ones, then its held-out ones (`choosed_example_idx` is `0..k-1`),
every per-case list has one entry per case, and lines are `json.dumps(record,
ensure_ascii=False)`, as the paper wrote them. A function whose cases have no keyword-dict form
(a positional-only or `*args` parameter, an input the host does not parse -- see
`case2code.inputs.literals`, nothing is evaluated -- or arguments that do not bind by name) is
left out and counted by reason.

The shown and held-out cases are the sample's, chosen by `assemble.choose_cases`: with traced
results every held-out case takes only branch arms a shown case took. The sample's
`coverage.held_out_inferable` says whether that holds (false can happen only with
`held_out_choice = "random"`); `write_records` counts the written records where it does not.
"""

from __future__ import annotations

import json
import keyword
import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from case2code.atomic import write_text
from case2code.errors import C2CError
from case2code.inputs.literals import render_value, values
from case2code.steps.base import Partition, Process, Schema, Stats, Step
from case2code.tables import json_object, require_columns

INSTRUCTION = "Write a function that generates the output from the input."
NAME_HEADER = "Function: {name}"
CASE_LINE = "Input: {input}, Output: {output}\n"
ANSWER = "The function is:\n\n```python\n{code}\n```"
EXCEPTION_MARK = "<|EXCEPTION|>"
PARTS = ("instruction", "name", "cases")
# The paper's newline choices after each prompt part, repeats giving the weights.
NEW_LINES = ("\n",) * 5 + ("\n\n",) * 2 + ("\n\n\n",)
PAPER_FIELDS = (
    "example_str",
    "code",
    "func_name",
    "exec_status",
    "example_inputs",
    "example_outputs",
    "parsed_inputs",
    "exec_code",
    "output",
    "choosed_example_idx",
    "prompt",
    "id",
)
OUR_FIELDS = ("function_id", "held_out_idx", "cases")
# Skip reasons, counted as `skipped_<reason>`.
POSITIONAL_ONLY = "positional_only"
VAR_POSITIONAL = "var_positional"
UNPARSABLE_INPUT = "unparsable_input"
ARGUMENT_MISMATCH = "argument_mismatch"
NOT_INFERABLE = "held_out_not_inferable"


class Unconvertible(Exception):
    """A sample whose cases cannot be written as keyword dicts; `reason` says why."""

    @property
    def reason(self) -> str:
        return self.args[0]


class Layout(NamedTuple):
    """The prompt's parts in order, and the newlines after each."""

    order: tuple[str, ...]
    gaps: tuple[str, ...]


def layout_of(function_id: str) -> Layout:
    """A function's prompt layout, drawn as the paper's generator draws it, seeded by its id."""
    rng = random.Random(f"evalsplit:{function_id}")
    order = list(PARTS)
    rng.shuffle(order)
    return Layout(tuple(order), tuple(rng.choice(NEW_LINES) for _ in order))


# ---------------------------------------------------------------- one case


def value_source(value: Any) -> str:
    """A value as the paper's `parsed_inputs` write it: JSON for a string, else the repr."""
    return json.dumps(value) if isinstance(value, str) else render_value(value)


def dict_call(pairs: Sequence[Sequence[str]]) -> str:
    """`[[name, source], ...]` -> `dict(name=source, ...)`."""
    return "dict(" + ", ".join(f"{name}={source}" for name, source in pairs) + ")"


def encode_output(output: str, is_error: bool) -> dict[str, str]:
    """Our case output (a repr, or `<class 'X'>: msg`) as the paper's sandbox prints it."""
    if is_error:
        return {"error": f"{EXCEPTION_MARK} {json.dumps(output)}"}
    return {"return": json.dumps(output)}


def prompt_output(encoded: Mapping[str, str]) -> str:
    """The output text a prompt shows for one of `example_outputs`."""
    if "error" in encoded:
        return encoded["error"].replace(EXCEPTION_MARK, "", 1).strip()
    return encoded["return"]


def paper_prompt(name: str, examples: Sequence[tuple[str, str]], layout: Layout) -> str:
    """The prompt for shown `(dict call, output text)` examples, parts placed by `layout`."""
    parts = {
        "instruction": INSTRUCTION,
        "name": NAME_HEADER.format(name=name),
        "cases": "".join(CASE_LINE.format(input=i, output=o) for i, o in examples),
    }
    return "".join(parts[part] + gap for part, gap in zip(layout.order, layout.gaps, strict=True))


def keyword_arguments(input_text: str, params: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A call's arguments bound to parameter names, or Unconvertible saying why not."""
    kinds = [p["kind"] for p in params]
    if "positional_only" in kinds:
        raise Unconvertible(POSITIONAL_ONLY)
    if "var_positional" in kinds:
        raise Unconvertible(VAR_POSITIONAL)
    arguments = values(input_text)
    if arguments is None:
        raise Unconvertible(UNPARSABLE_INPUT)
    positional = [p["name"] for p in params if p["kind"] == "positional_or_keyword"]
    if len(arguments.args) > len(positional):
        raise Unconvertible(ARGUMENT_MISMATCH)
    bound = dict(zip(positional, arguments.args, strict=False))
    for name, value in arguments.kwargs:
        # A name bound twice, or one `dict(name=...)` cannot spell, has no keyword form.
        if (
            name in bound
            or not isinstance(name, str)
            or not name.isidentifier()
            or keyword.iskeyword(name)
        ):
            raise Unconvertible(ARGUMENT_MISMATCH)
        bound[name] = value
    return bound


def _dict_repr(kwargs: Mapping[str, Any]) -> str:
    """repr(kwargs), with sets in a fixed order (their repr changes with the hash seed)."""
    return "{" + ", ".join(f"{name!r}: {render_value(v)}" for name, v in kwargs.items()) + "}"


# ---------------------------------------------------------------- one record


def convert(sample: Mapping[str, Any], params: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A sample row and its function's params as a paper-format record, or Unconvertible."""
    cases = [*sample["shown"], *sample["held_out"]]
    try:
        bound = [keyword_arguments(case["input"], params) for case in cases]
        pairs = [[[name, value_source(v)] for name, v in kw.items()] for kw in bound]
        inputs = [json.dumps(_dict_repr(kw)) for kw in bound]
    except TypeError:  # a value with no literal form
        raise Unconvertible(UNPARSABLE_INPUT) from None
    outputs = [encode_output(case["output"], case["is_error"]) for case in cases]
    calls = [dict_call(p) for p in pairs]
    shown = range(len(sample["shown"]))
    function_id = sample["function_id"]
    code = sample["source"] if sample["source"].endswith("\n") else sample["source"] + "\n"
    examples = [(calls[i], prompt_output(outputs[i])) for i in shown]
    return {
        "example_str": "examples = [\n" + "".join(f"    {call},\n" for call in calls) + "]",
        "code": code,
        "func_name": sample["name"],
        "exec_status": True,
        "example_inputs": inputs,
        "example_outputs": outputs,
        "parsed_inputs": pairs,
        "exec_code": code,
        "output": ANSWER.format(code=code),
        "choosed_example_idx": list(shown),
        "prompt": paper_prompt(sample["name"], examples, layout_of(function_id)),
        "id": f"{function_id}_0",
        "function_id": function_id,
        "held_out_idx": list(range(len(shown), len(cases))),
        "cases": [
            {"input": c["input"], "output": c["output"], "is_error": c["is_error"]} for c in cases
        ],
    }


def record_line(record: Mapping[str, Any]) -> str:
    """One JSONL line, serialised as the paper's file is."""
    return json.dumps(record, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- the split file


SAMPLE_COLUMNS = ("function_id", "name", "source", "shown", "held_out")
# One row per function with samples: its paper-format line, or why it has none.
RECORD_SCHEMA: dict[str, pl.DataType] = {
    "function_id": pl.Utf8(),
    "writable": pl.Boolean(),
    "line": pl.Utf8(),  # the JSONL line written when the function is held out
    "skipped": pl.Utf8(),  # the reason it cannot be written (null when writable)
    "held_out_inferable": pl.Boolean(),  # the sample's coverage says so (null: untraced)
}


def _record_row(sample: Mapping[str, Any], params: Mapping[str, list[Any]]) -> dict[str, Any]:
    function_id = sample["function_id"]
    if function_id not in params:
        raise C2CError(f"samples: function {function_id} is not in the functions table")
    inferable = (sample.get("coverage") or {}).get("held_out_inferable")
    row = {"function_id": function_id, "held_out_inferable": inferable}
    try:
        line = record_line(convert(sample, params[function_id]))
    except Unconvertible as skip:
        return row | {"writable": False, "line": None, "skipped": skip.reason}
    return row | {"writable": True, "line": line, "skipped": None}


class EvalRecordsStep(Step):
    """Each function's paper-format record (from its first sample), or the reason it has none:
    what the evaluation split is chosen among (`steps.choices.EvalSplit`) and written from."""

    name = "eval_records"
    reads = ("samples", "functions")

    def check(self, schemas: Mapping[str, Schema]) -> None:
        require_columns(pl.DataFrame(schema=dict(schemas["samples"])), SAMPLE_COLUMNS, "samples")
        functions = pl.DataFrame(schema=dict(schemas["functions"]))
        require_columns(functions, ("function_id", "params"), "functions")

    def schema(self, schemas: Mapping[str, Schema]) -> Schema:
        return RECORD_SCHEMA

    def settings(self) -> Mapping[str, Any]:
        return {}

    @contextmanager
    def worker(self) -> Iterator[Process]:
        yield self._process

    def _process(self, partition: Partition) -> tuple[pl.DataFrame, Stats]:
        functions = partition["functions"].unique("function_id", keep="first")
        params = {fid: p or [] for fid, p in functions.select("function_id", "params").iter_rows()}
        samples = partition["samples"]
        order = ["function_id", "sample_id"] if "sample_id" in samples.columns else ["function_id"]
        # Each function's first sample (by sample id) is the one its record is written from.
        first = samples.sort(order, maintain_order=True).unique(
            "function_id", keep="first", maintain_order=True
        )
        rows = [_record_row(sample, params) for sample in first.iter_rows(named=True)]
        skipped = Counter(row["skipped"] for row in rows if row["skipped"])
        stats = {"functions": len(rows), "skipped": dict(skipped)}
        return pl.DataFrame(rows, schema=RECORD_SCHEMA), stats


def write_records(records: pl.DataFrame, path: str | Path) -> dict[str, int]:
    """The records' lines, sorted by function id, written atomically. Returns
    {"functions": records written, "skipped_<reason>": functions left out} and, when some are,
    "held_out_not_inferable": records written whose held-out cases take an arm no shown one
    took."""
    records = records.sort("function_id")
    written = records.filter(pl.col("writable"))
    skipped = Counter(records["skipped"].drop_nulls().to_list())
    write_text("".join(written["line"].to_list()), path)
    counts = {"functions": written.height} | {f"skipped_{r}": n for r, n in sorted(skipped.items())}
    if "held_out_inferable" in written.columns:  # records written before coverage had none
        if not_inferable := written.filter(~pl.col("held_out_inferable")).height:
            counts[NOT_INFERABLE] = not_inferable
    return counts


def jsonl_objects(path: str | Path, what: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-blank line; C2CError names the file and the bad line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise C2CError(f"{what}: cannot read {path}: {e}") from None
    lines = enumerate(text.splitlines(), 1)
    return [(n, json_object(line, f"{path}:{n}")) for n, line in lines if line.strip()]


def numbered_eval_split(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) of an eval split file (ours or the paper's)."""
    records = jsonl_objects(path, "eval split")
    for number, record in records:
        if missing := [f for f in PAPER_FIELDS if f not in record]:
            raise C2CError(f"{path}:{number}: missing field(s) {', '.join(missing)}")
    return records


def read_eval_split(path: str | Path) -> list[dict[str, Any]]:
    """The records of an eval split file (ours or the paper's)."""
    return [record for _, record in numbered_eval_split(path)]
