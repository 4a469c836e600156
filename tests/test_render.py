"""The sample renderer: template parts, determinism, coverage, every case format, user parts."""

from __future__ import annotations

import ast
import csv
import io
import json
import random
import re
from collections import defaultdict
from pathlib import Path

import pytest
from case2code.render import (
    Case,
    Function,
    PartFileError,
    Parts,
    RenderOptions,
    default_parts,
    load_parts,
    render,
    render_cases,
    split_args,
)

SOURCE = "def compute_total(xs, scale=1):\n    return sum(xs) * scale\n"
FUNCTION = Function("compute_total", SOURCE, "compute_total(xs, scale=1)")
ERROR = "<class 'TypeError'>: compute_total() got an unexpected keyword argument 'bad'"
CASES = (
    Case("([1, 2], scale=3)", "9"),
    Case("([4, 5, 6],)", "15"),
    Case("([], bad=1)", ERROR, is_error=True),
)
SEEDS = range(2000)


@pytest.fixture(scope="module")
def parts() -> Parts:
    return default_parts()


@pytest.fixture(scope="module")
def renderings() -> list:
    return [render(FUNCTION, CASES, seed) for seed in SEEDS]


def test_part_counts_beat_the_paper(parts: Parts) -> None:
    counts = (
        len(parts.instructions),
        len(parts.case_headers),
        len(parts.name_headers),
        len(parts.formats),
    )
    assert counts >= (28, 20, 8, 13) and min(counts) > 0, counts
    paper = 28 * 20 * 8 * 13
    print(f"parts {counts}: {parts.paper_combinations():,} vs the paper's {paper:,}")
    print(f"all choices (orders, separators, reveal, fence): {parts.combinations():,}")
    assert parts.paper_combinations() >= paper
    assert parts.combinations() > parts.paper_combinations() * 100


def test_same_seed_same_sample_and_rng_objects_work() -> None:
    assert render(FUNCTION, CASES, 7) == render(FUNCTION, CASES, 7)
    assert render(FUNCTION, CASES, random.Random(7)) == render(FUNCTION, CASES, 7)
    ids = {render(FUNCTION, CASES, seed).template_id for seed in range(50)}
    assert len(ids) == 50


def test_every_part_is_used_across_seeds(parts: Parts, renderings: list) -> None:
    used: dict[str, set[str]] = defaultdict(set)
    for sample in renderings:
        for token in sample.template_id.split("-"):
            if token.startswith("f:"):
                used["f:"].add(token[2:])
            elif re.fullmatch(r"[a-z]\d+", token):
                used[token[0]].add(token)
    kinds = {
        "i": parts.instructions,
        "h": parts.case_headers,
        "n": parts.name_headers,
        "s": parts.separators,
        "u": parts.neutral_names,  # FUNCTION's name is not among them, so all are candidates
        "o": range(6),
    }
    for prefix, options in kinds.items():
        assert used[prefix] == {f"{prefix}{i}" for i in range(len(options))}, prefix
    assert used["f:"] == {fmt.name for fmt in parts.formats}
    after_cases = {s.template_id for s in renderings if "-multic-" in s.template_id}
    after_task = {s.template_id for s in renderings if "-multit-" in s.template_id}
    for ids, replies in (
        (after_cases, parts.replies_after_cases),
        (after_task, parts.replies_after_task),
    ):
        assert {i.rsplit("-", 1)[1] for i in ids} == {f"r{i}" for i in range(len(replies))}
    modes = {
        tuple(s.template_id.split("-")[-3:-1]) for s in renderings if "single" in s.template_id
    }
    assert modes == {(r, a) for r in ("sig", "nam", "hid") for a in ("fence", "plain")}


def test_template_id_names_the_parts_in_the_prompt(parts: Parts, renderings: list) -> None:
    for sample in renderings[:200]:
        tokens = dict(re.findall(r"(?:^|-)([ihns])(\d+)", sample.template_id))
        assert parts.instructions[int(tokens["i"])].split("{{")[0] in sample.prompt
        assert parts.case_headers[int(tokens["h"])].split("{{")[0] in sample.prompt


@pytest.mark.parametrize("fmt", default_parts().formats, ids=lambda fmt: fmt.name)
def test_every_format_shows_exact_inputs_outputs_and_errors(fmt) -> None:
    block = render_cases(fmt, CASES, "compute_total")
    for case in CASES:
        assert split_args(case.input) in block
    assert "9" in block and "15" in block
    assert "TypeError" in block
    assert "compute_total() got an unexpected keyword argument" in block
    assert "'bad'" in block or "\\'bad\\'" in block  # python-repr quoting escapes the quotes


def test_structured_formats_round_trip(parts: Parts) -> None:
    tricky = (Case('("a|b, \\"c\\"",)', "'x|y'"), Case("(1,)", "<class 'KeyError'>: 'k|'", True))
    formats = {fmt.name: fmt for fmt in parts.formats}
    lines = render_cases(formats["json_lines"], tricky, "f").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"input": '("a|b, \\"c\\"")', "output": "'x|y'"},
        {"input": "(1)", "error": "<class 'KeyError'>: 'k|'"},
    ]
    array = json.loads(render_cases(formats["json_array"], tricky, "f"))
    assert array[1] == {"call": "f(1)", "raises": "KeyError", "message": "'k|'"}
    rows = list(csv.reader(io.StringIO(render_cases(formats["csv"], tricky, "f"))))
    assert rows == [["input", "output"], ['("a|b, \\"c\\"")', "'x|y'"], ["(1)", tricky[1].output]]
    table = render_cases(formats["markdown_table"], tricky, "f").splitlines()
    assert [len(re.split(r"(?<!\\)\|", row)) for row in table] == [4, 4, 4, 4]
    listing = render_cases(formats["python_dicts"], tricky, "f")
    examples = ast.literal_eval(listing.removeprefix("examples = "))
    assert examples[0] == {"call": 'f("a|b, \\"c\\"")', "result": "'x|y'"}


def test_split_args_keeps_text_that_is_not_one_argument_list() -> None:
    assert split_args("(1, [2], key='x')") == "1, [2], key='x'"
    assert split_args("((1, 2),)") == "(1, 2)"
    assert split_args("(1), (2)") == "(1), (2)"
    assert split_args("(')(',)") == "')('"
    assert split_args("()") == ""


def test_hidden_name_never_leaks_into_the_prompt() -> None:
    options = RenderOptions(reveal="hidden")
    for seed in range(300):
        sample = render(FUNCTION, CASES, seed, options)
        assert "compute_total" not in sample.prompt, sample.template_id
        assert all("compute_total" not in m["content"] for m in sample.messages[:-1])
        assert "def compute_total" in sample.completion
        neutral = sample.template_id.split("-")[0]
        name = default_parts().neutral_names[int(neutral[1:])]
        assert "scale=3" in sample.prompt and f"{name}() got an unexpected" in sample.prompt


def test_neutral_name_avoids_the_real_name() -> None:
    function = Function("f", "def f(x):\n    return x\n", "f(x)")
    for seed in range(100):
        sample = render(function, (Case("(1,)", "1"),), seed, RenderOptions(reveal="hidden"))
        assert not re.search(r"\bf\(", sample.prompt), sample.template_id


def test_shown_name_and_signature(parts: Parts) -> None:
    for seed in range(100):
        sig = render(FUNCTION, CASES, seed, RenderOptions(reveal="signature", turns="single"))
        assert "compute_total(xs, scale=1)" in sig.prompt and "-sig-" in sig.template_id
        named = render(FUNCTION, CASES, seed, RenderOptions(reveal="name", turns="single"))
        assert "xs, scale=1" not in named.prompt and "compute_total" in named.prompt
    bare = Function("add", "def add(a, b):\n    return a + b\n", "(a, b)")
    sample = render(bare, (Case("(1, 2)", "3"),), 0, RenderOptions(reveal="signature"))
    assert "add(a, b)" in sample.prompt


def test_single_turn_messages_and_completion() -> None:
    fences = set()
    for seed in range(60):
        sample = render(FUNCTION, CASES, seed, RenderOptions(turns="single"))
        assert [m["role"] for m in sample.messages] == ["user", "assistant"]
        assert sample.messages[0]["content"] == sample.prompt
        assert sample.messages[1]["content"] == sample.completion
        fenced = sample.completion.startswith("```python\n")
        fences.add(fenced)
        assert sample.completion == (f"```python\n{SOURCE.rstrip()}\n```" if fenced else SOURCE)
    assert fences == {True, False}


def test_multi_turn_structure(parts: Parts) -> None:
    shapes = set()
    for seed in range(100):
        sample = render(FUNCTION, CASES, seed, RenderOptions(turns="multi"))
        roles = [m["role"] for m in sample.messages]
        assert roles == ["user", "assistant", "user", "assistant"]
        first, reply, second, answer = (m["content"] for m in sample.messages)
        assert answer == sample.completion
        has_cases = "scale=3" in first, "scale=3" in second
        shape = "multic" if "-multic-" in sample.template_id else "multit"
        shapes.add(shape)
        assert has_cases == ((True, False) if shape == "multic" else (False, True))
        replies = parts.replies_after_cases if shape == "multic" else parts.replies_after_task
        assert reply in {r.replace("{{name}}", "compute_total") for r in replies} | {
            r.replace("{{name}}", n) for r in replies for n in parts.neutral_names
        }
        assert all(
            line in sample.prompt.splitlines() for line in (first + "\n" + second).splitlines()
        )
    assert shapes == {"multic", "multit"}


def test_render_as_record_is_json() -> None:
    record = render(FUNCTION, CASES, 3).as_record()
    assert json.loads(json.dumps(record)) == record
    assert set(record) == {"template_id", "prompt", "messages", "completion"}


def test_render_needs_cases() -> None:
    with pytest.raises(ValueError, match="no cases"):
        render(FUNCTION, (), 0)


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_user_parts_are_merged_after_the_builtin_ones(tmp_path: Path, parts: Parts) -> None:
    extra = _write(
        tmp_path / "mine",
        {
            "instructions.txt": "# mine\nPlease write {{name}} for me.\n\n",
            "case_formats.txt": "[tilde]\ncase = {{call}} ~ {{output}}\n"
            "error = {{call}} ~ boom {{error}}\njoiner = \\n\\n\n",
        },
    )
    merged = load_parts(extra)
    assert merged.instructions == (*parts.instructions, "Please write {{name}} for me.")
    assert merged.formats[:-1] == parts.formats and merged.formats[-1].joiner == "\n\n"
    assert merged.case_headers == parts.case_headers
    mine = [render(FUNCTION, CASES, seed, parts=merged) for seed in range(400)]
    assert any("f:tilde" in s.template_id and "~ boom <class" in s.prompt for s in mine)
    only = load_parts(
        _write(
            tmp_path / "all",
            {
                f"{k}.txt": "x\\n{{name}}\n"
                for k in (
                    "instructions",
                    "case_headers",
                    "replies_after_cases",
                    "replies_after_task",
                )
            }
            | {
                "name_headers.txt": "F {{function}}\n",
                "separators.txt": "\\n\n",
                "neutral_names.txt": "g\n",
                "case_formats.txt": (extra / "case_formats.txt").read_text(),
            },
        ),
        builtin=False,
    )
    assert only.paper_combinations() == 1 and only.formats[0].name == "tilde"


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        ("instructions.txt", "ok\n# c\nWrite {{nam}}.\n", 3, "unknown placeholder {{nam}}"),
        ("case_headers.txt", "Cases {{n}:\n", 1, "malformed placeholder"),
        ("name_headers.txt", "\nFunction: {{name}}\n", 2, "needs {{function}}"),
        ("separators.txt", "---\n", 1, "needs a newline"),
        ("neutral_names.txt", "f\nnot a name\n", 2, "not a Python identifier"),
        ("instructions.txt", "bad \\q escape\n", 1, "unknown escape \\q"),
        ("case_formats.txt", "[a]\ncase = {{call}} {{output}}\nerror = {{call}}\n", 1, "error"),
        ("case_formats.txt", "[a]\ncase = {{call}} {{error}}\n", 2, "unknown placeholder"),
        ("case_formats.txt", "case = x\n", 1, "before the first [format]"),
        ("case_formats.txt", "[a]\ncolour = red\n", 2, "expected `key = value`"),
        ("case_formats.txt", "[Bad-Name]\n", 1, "must match"),
        (
            "case_formats.txt",
            "[a]\nescape = xml\ncase = {{args}}{{output}}\nerror = {{args}}{{error}}\n",
            1,
            "escape must be one of",
        ),
        ("case_formats.txt", "[a]\ncase = {{args}}{{output}}\ncase = x\n", 3, "given twice"),
        (
            "case_formats.txt",
            "[doctest]\ncase = {{args}}{{output}}\nerror = {{args}}{{error}}\n",
            None,
            "already defined: ['doctest']",
        ),
    ],
)
def test_bad_part_file_names_file_and_line(tmp_path, name, text, line, message) -> None:
    _write(tmp_path, {name: text})
    with pytest.raises(PartFileError) as caught:
        load_parts(tmp_path)
    where = f"{tmp_path}/{name}" + (f":{line}:" if line else ":")
    assert str(caught.value).startswith(where), str(caught.value)
    assert message in str(caught.value)


def test_missing_directory_and_empty_kinds_are_errors(tmp_path: Path) -> None:
    with pytest.raises(PartFileError, match="not a directory"):
        load_parts(tmp_path / "nope")
    with pytest.raises(PartFileError, match="no template parts of kind instructions"):
        load_parts(tmp_path, builtin=False)
