"""Render one Case2Code sample: shown cases of a function in, a prompt and chat turns out.

A sample is put together from parts chosen at random with a seed: an instruction, a case header,
a function-name header (left out when the name is hidden), a case format, a separator between the
parts and an order of the parts; as one prompt or as a multi-turn chat. The answer is the
function's source, plain or in a ```python fence.

Parts are data files in `case2code/templates/samples/`; `load_parts(extra_dir)` adds a user's
files of the same names (see docs/templates.md):

- `instructions.txt`, `case_headers.txt`, `name_headers.txt`, `separators.txt`,
  `neutral_names.txt`, `replies_after_cases.txt`, `replies_after_task.txt`: one part per line;
  blank lines and `# comment` lines are skipped; escapes `\\n` newline, `\\t` tab, `\\s` space,
  `\\\\` backslash. `{{name}}`, `{{n}}`, `{{function}}` are filled in where each file allows.
- `case_formats.txt`: `[name]` sections of `key = value` lines (`case`, `error`, `before`,
  `after`, `joiner`, `escape`), documented at the top of the built-in file.

A bad file raises `PartFileError` naming the file and line. With the name hidden, the cases call a
neutral name (`f`, `func`, ...) and the real name is replaced by it in error messages too; the
completion keeps the real source.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
import re
import tokenize
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Literal, TypeVar

from case2code.errors import C2CError

Reveal = Literal["signature", "name", "hidden"]
Turns = Literal["single", "multi"]
Message = dict[str, str]
T = TypeVar("T")

LINE_FILES: dict[str, frozenset[str]] = {  # file stem -> placeholders it may use
    "instructions": frozenset({"name"}),
    "case_headers": frozenset({"name", "n"}),
    "name_headers": frozenset({"name", "function"}),
    "separators": frozenset(),
    "neutral_names": frozenset(),
    "replies_after_cases": frozenset({"name"}),
    "replies_after_task": frozenset({"name"}),
}
FORMATS_FILE = "case_formats.txt"
_CASE_KEYS = frozenset({"index", "name", "call", "args", "input", "output"})
_FORMAT_KEYS: dict[str, frozenset[str]] = {
    "case": _CASE_KEYS,
    "error": _CASE_KEYS | {"error", "error_type", "error_message"},
    "before": frozenset({"name", "n"}),
    "after": frozenset({"name", "n"}),
    "joiner": frozenset(),
    "escape": frozenset(),
}
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_TEXT_ESCAPES = {"n": "\n", "t": "\t", "s": " ", "\\": "\\"}
_ERROR_TEXT = re.compile(r"<class '([^']+)'>:? ?(.*)", re.DOTALL)
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_FORMAT_NAME = re.compile(r"[a-z0-9_]+")


class PartFileError(C2CError):
    """A template part file that cannot be used; the message starts with `file:line:`."""


@dataclass(frozen=True)
class Function:
    name: str
    source: str
    signature: str  # `add(a, b)` as extract writes it; a bare `(a, b)` gets the name prefixed


@dataclass(frozen=True)
class Case:
    """One shown case: the call's argument list such as `(1, [2], key='x')` and its result."""

    input: str
    output: str  # the repr of the return value, or `<class 'ValueError'>: msg`
    is_error: bool = False


@dataclass(frozen=True)
class CaseFormat:
    name: str
    case: str
    error: str
    before: str = ""
    after: str = ""
    joiner: str = "\n"
    escape: str = "none"


@dataclass(frozen=True)
class Parts:
    instructions: tuple[str, ...]
    case_headers: tuple[str, ...]
    name_headers: tuple[str, ...]
    separators: tuple[str, ...]
    neutral_names: tuple[str, ...]
    replies_after_cases: tuple[str, ...]
    replies_after_task: tuple[str, ...]
    formats: tuple[CaseFormat, ...]

    def paper_combinations(self) -> int:
        """Instructions x case headers x name headers x case formats, as the paper counts."""
        return (
            len(self.instructions)
            * len(self.case_headers)
            * len(self.name_headers)
            * len(self.formats)
        )

    def combinations(self) -> int:
        """Distinct single-turn prompts per function and cases, over every choice made."""
        named = self.paper_combinations() * 6  # 3! part orders
        hidden = (
            len(self.instructions)
            * len(self.case_headers)
            * len(self.formats)
            * len(self.neutral_names)
            * 2  # 2! part orders
        )
        return (2 * named + hidden) * len(self.separators) * 2  # x reveal modes, x fence


@dataclass(frozen=True)
class RenderOptions:
    reveal: Reveal | Literal["random"] = "random"
    turns: Turns | Literal["random"] = "random"


@dataclass(frozen=True)
class Sample:
    template_id: str
    prompt: str
    messages: tuple[Message, ...]
    completion: str

    def as_record(self) -> dict[str, object]:
        return {
            "template_id": self.template_id,
            "prompt": self.prompt,
            "messages": list(self.messages),
            "completion": self.completion,
        }


# ---------------------------------------------------------------- part files


def _unescape(text: str, where: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        code = next(chars, "")
        if code not in _TEXT_ESCAPES:
            raise PartFileError(f"{where}: unknown escape \\{code} (use \\n, \\t, \\s or \\\\)")
        out.append(_TEXT_ESCAPES[code])
    return "".join(out)


def _check_placeholders(text: str, allowed: frozenset[str], where: str) -> None:
    for used in _PLACEHOLDER.findall(text):
        if used not in allowed:
            known = ", ".join("{{" + name + "}}" for name in sorted(allowed)) or "none"
            raise PartFileError(f"{where}: unknown placeholder {{{{{used}}}}} (allowed: {known})")
    rest = _PLACEHOLDER.sub("", text)
    if "{{" in rest or "}}" in rest:
        raise PartFileError(f"{where}: malformed placeholder (write {{{{name}}}})")


def _content_lines(text: str, path: str) -> Iterator[tuple[str, str]]:
    """(`file:line`, stripped line) for every line that is not blank or a comment."""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield f"{path}:{number}", stripped


def parse_line_file(text: str, path: str, stem: str) -> tuple[str, ...]:
    parts: list[str] = []
    for where, line in _content_lines(text, path):
        part = _unescape(line, where)
        _check_placeholders(part, LINE_FILES[stem], where)
        _check_line_part(stem, part, where)
        parts.append(part)
    return tuple(parts)


def _check_line_part(stem: str, part: str, where: str) -> None:
    if stem == "name_headers" and "{{function}}" not in part:
        raise PartFileError(f"{where}: a name header needs {{{{function}}}}")
    if stem == "separators" and "\n" not in part:
        raise PartFileError(f"{where}: a separator needs a newline (\\n)")
    if stem == "neutral_names" and not _IDENTIFIER.fullmatch(part):
        raise PartFileError(f"{where}: {part!r} is not a Python identifier")


def parse_formats(text: str, path: str) -> tuple[CaseFormat, ...]:
    sections: list[tuple[str, str, dict[str, str]]] = []  # (where, name, values)
    for where, line in _content_lines(text, path):
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            if not _FORMAT_NAME.fullmatch(name):
                raise PartFileError(f"{where}: format name {name!r} must match [a-z0-9_]+")
            if any(name == seen for _, seen, _ in sections):
                raise PartFileError(f"{where}: format [{name}] defined twice")
            sections.append((where, name, {}))
            continue
        key, equals, value = line.partition("=")
        key = key.strip()
        if not equals or key not in _FORMAT_KEYS:
            keys = ", ".join(_FORMAT_KEYS)
            raise PartFileError(f"{where}: expected `key = value` with a key among {keys}")
        if not sections:
            raise PartFileError(f"{where}: `{key}` before the first [format] section")
        values = sections[-1][2]
        if key in values:
            raise PartFileError(f"{where}: `{key}` given twice in [{sections[-1][1]}]")
        values[key] = _unescape(value.strip(), where)
        _check_placeholders(values[key], _FORMAT_KEYS[key], where)
    return tuple(_make_format(where, name, values) for where, name, values in sections)


def _make_format(where: str, name: str, values: dict[str, str]) -> CaseFormat:
    for key in ("case", "error"):
        if key not in values:
            raise PartFileError(f"{where}: [{name}] has no `{key} = ...` line")
        if not any("{{" + shown + "}}" in values[key] for shown in ("call", "args", "input")):
            raise PartFileError(f"{where}: [{name}] {key} shows no {{{{call}}}}/args/input")
    if "{{output}}" not in values["case"]:
        raise PartFileError(f"{where}: [{name}] case needs {{{{output}}}}")
    error = values["error"]
    if not (
        "{{output}}" in error
        or "{{error}}" in error
        or ("{{error_type}}" in error and "{{error_message}}" in error)
    ):
        raise PartFileError(f"{where}: [{name}] error needs {{{{error}}}} or type and message")
    if values.get("escape", "none") not in _ESCAPERS:
        raise PartFileError(f"{where}: [{name}] escape must be one of {', '.join(_ESCAPERS)}")
    return CaseFormat(name=name, **values)


def _read_dir(directory: Traversable, label: str) -> dict[str, tuple]:
    """Every part file present in `directory`, parsed; `label` names it in errors."""
    found: dict[str, tuple] = {}
    for stem in LINE_FILES:
        file = directory / f"{stem}.txt"
        if file.is_file():
            found[stem] = parse_line_file(file.read_text("utf-8"), f"{label}/{stem}.txt", stem)
    file = directory / FORMATS_FILE
    if file.is_file():
        found["formats"] = parse_formats(file.read_text("utf-8"), f"{label}/{FORMATS_FILE}")
    return found


def load_parts(extra_dir: str | Path | None = None, builtin: bool = True) -> Parts:
    """The built-in parts, plus (appended after them) the part files found in `extra_dir`."""
    merged: dict[str, list] = {stem: [] for stem in (*LINE_FILES, "formats")}
    sources: list[tuple[Traversable, str]] = []
    if builtin:
        sources.append((resources.files("case2code") / "templates" / "samples", "<builtin>"))
    if extra_dir is not None:
        if not Path(extra_dir).is_dir():
            raise PartFileError(f"{extra_dir}: not a directory of template part files")
        sources.append((Path(extra_dir), str(extra_dir)))
    for directory, label in sources:
        found = _read_dir(directory, label)
        taken = {fmt.name for fmt in merged["formats"]}
        if clash := sorted(taken & {fmt.name for fmt in found.get("formats", ())}):
            raise PartFileError(f"{label}/{FORMATS_FILE}: format names already defined: {clash}")
        for stem, parts in found.items():
            merged[stem].extend(parts)
    if empty := [stem for stem, parts in merged.items() if not parts]:
        raise PartFileError(f"no template parts of kind {', '.join(empty)}")
    return Parts(**{stem: tuple(parts) for stem, parts in merged.items()})


@cache
def default_parts() -> Parts:
    return load_parts()


# ---------------------------------------------------------------- cases


def split_args(input_text: str) -> str:
    """`(1, [2], key='x')` -> `1, [2], key='x'`; text not wrapped in one pair of parens is kept."""
    text = input_text.strip()
    if not (text.startswith("(") and text.endswith(")")) or not _outer_parens(text):
        return text
    inner = text[1:-1].strip()
    return inner[:-1].rstrip() if inner.endswith(",") else inner


def _outer_parens(text: str) -> bool:
    """Whether the first `(` of `text` closes at its last character (strings skipped)."""
    depth = 0
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return False
    lines = text.splitlines()
    for token in tokens:
        if token.type != tokenize.OP:
            continue
        depth += token.string in "([{"
        depth -= token.string in ")]}"
        if depth == 0:
            return token.end == (len(lines), len(lines[-1]))
    return False


def _error_parts(output: str) -> tuple[str, str]:
    """`<class 'ValueError'>: msg` -> (`ValueError`, `msg`); other text is an Exception's msg."""
    match = _ERROR_TEXT.fullmatch(output)
    if match is None:
        return "Exception", output
    return match.group(1), match.group(2) or "(no message)"


def _csv_field(text: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([text])
    return buffer.getvalue()


_ESCAPERS: dict[str, Callable[[str], str]] = {
    "none": str,
    "json": lambda text: json.dumps(text, ensure_ascii=False),
    "python": repr,
    "markdown": lambda text: text.replace("|", "\\|").replace("\n", "<br>"),
    "csv": _csv_field,
}


def _fill(template: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def render_cases(fmt: CaseFormat, cases: Sequence[Case], name: str, real_name: str = "") -> str:
    """The cases in one format, calling `name`; `real_name` is replaced by it in error texts."""
    escape = _ESCAPERS[fmt.escape]
    rendered = []
    for index, case in enumerate(cases, 1):
        args = split_args(case.input)
        output = case.output
        if case.is_error and real_name and real_name != name:
            output = re.sub(rf"\b{re.escape(real_name)}\b", name, output)
        raw = {"call": f"{name}({args})", "args": args, "input": f"({args})", "output": output}
        if case.is_error:
            raw["error"] = output
            raw["error_type"], raw["error_message"] = _error_parts(output)
        values = {key: escape(value) for key, value in raw.items()}
        values |= {"index": str(index), "name": name}
        rendered.append(_fill(fmt.error if case.is_error else fmt.case, values))
    frame = {"name": name, "n": str(len(cases))}
    body = [_fill(fmt.before, frame), fmt.joiner.join(rendered), _fill(fmt.after, frame)]
    return "\n".join(piece for piece in body if piece)


# ---------------------------------------------------------------- one sample


def _pick(rng: random.Random, tokens: list[str], prefix: str, options: Sequence[T]) -> T:
    """A part drawn at random; its index, after `prefix`, joins the template_id `tokens`."""
    index = rng.randrange(len(options))
    tokens.append(f"{prefix}{index}")
    return options[index]


def _signature(function: Function) -> str:
    signature = function.signature.strip()
    return function.name + signature if signature.startswith("(") else signature


def render(
    function: Function,
    cases: Sequence[Case],
    rng: random.Random | int,
    options: RenderOptions | None = None,
    parts: Parts | None = None,
) -> Sample:
    """One sample; the same `rng` seed, inputs and parts always give the same sample."""
    if not cases:
        raise ValueError(f"{function.name}: no cases to show")
    rng = rng if isinstance(rng, random.Random) else random.Random(rng)
    options = options or RenderOptions()
    parts = parts or default_parts()
    reveal = (
        rng.choice(("signature", "name", "hidden"))
        if options.reveal == "random"
        else options.reveal
    )
    turns = rng.choice(("single", "multi")) if options.turns == "random" else options.turns
    tokens: list[str] = []
    name = function.name
    if reveal == "hidden":
        # Index among the neutral names that differ from the real one.
        neutral = [n for n in parts.neutral_names if n != function.name]
        name = _pick(rng, tokens, "u", neutral or [n for n in ("f", "g") if n != function.name])
    values = {"name": name, "n": str(len(cases))}
    instruction = _pick(rng, tokens, "i", parts.instructions)
    header = _pick(rng, tokens, "h", parts.case_headers)
    pieces = {"instruction": _fill(instruction, values)}
    if reveal != "hidden":
        name_header = _pick(rng, tokens, "n", parts.name_headers)
        shown = _signature(function) if reveal == "signature" else function.name
        pieces["name"] = _fill(name_header, values | {"function": shown})
    fmt = parts.formats[rng.randrange(len(parts.formats))]
    tokens.append(f"f:{fmt.name}")
    block = render_cases(fmt, cases, name, function.name)
    pieces["cases"] = _fill(header, values) + "\n" + block
    separator = _pick(rng, tokens, "s", parts.separators)
    orders = list(itertools.permutations(pieces))
    order = _pick(rng, tokens, "o", orders)
    prompt = separator.join(pieces[key] for key in order)

    fenced = rng.random() < 0.5
    source = function.source.rstrip("\n")
    completion = f"```python\n{source}\n```" if fenced else function.source
    tokens += [reveal[:3], "fence" if fenced else "plain"]
    if turns == "single":
        tokens.append("single")
        messages = ({"role": "user", "content": prompt},)
    else:
        messages = _multi_turn(rng, tokens, parts, pieces, separator, values)
    messages += ({"role": "assistant", "content": completion},)
    return Sample("-".join(tokens), prompt, messages, completion)


def _multi_turn(
    rng: random.Random,
    tokens: list[str],
    parts: Parts,
    pieces: dict[str, str],
    separator: str,
    values: dict[str, str],
) -> tuple[Message, ...]:
    """Cases first (then the task) or task first (then the cases), with a reply in between."""
    named = [pieces["name"]] if "name" in pieces else []
    if rng.random() < 0.5:
        tokens.append("multic")
        reply = _pick(rng, tokens, "r", parts.replies_after_cases)
        first, second = [*named, pieces["cases"]], [pieces["instruction"]]
    else:
        tokens.append("multit")
        reply = _pick(rng, tokens, "r", parts.replies_after_task)
        first, second = [pieces["instruction"], *named], [pieces["cases"]]
    return (
        {"role": "user", "content": separator.join(first)},
        {"role": "assistant", "content": _fill(reply, values)},
        {"role": "user", "content": separator.join(second)},
    )
