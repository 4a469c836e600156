"""Prompt templates for LLM input generation, as data files users can add to.

A template is a text file: `# comment` lines at the top, then `[system]`, `[user]` and
`[assistant]` sections (few-shot turns are just more sections). `{{name}}`, `{{source}}`, `{{n}}`,
`{{signature_tail}}`, `{{param_names}}` and `{{example_item}}` are filled in; nothing else in the
text is touched, so sources full of braces are safe. The built-in ones live in
`case2code/templates/inputs/`; `load_template(path)` reads a user's.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from case2code.errors import C2CError
from case2code.inputs.guide import show_lines
from case2code.inputs.spec import FunctionSpec, Tried

Message = dict[str, str]
ROLES = ("system", "user", "assistant")
# A section header: `[user]` alone on its line.
_SECTION = re.compile(rf"^[^\S\n]*\[({'|'.join(ROLES)})\][^\S\n]*$", re.MULTILINE)
# Templates that ask for a JSON answer; the others ask for Python code.
JSON_TEMPLATES = ("json",)
CODE_TEMPLATES = ("paper", "calls", "edge-cases")
FEEDBACK_LIMIT = 6  # failed inputs shown when re-prompting


@dataclass(frozen=True)
class Template:
    name: str
    turns: tuple[tuple[str, str], ...]  # (role, text)

    def render(self, values: dict[str, str]) -> list[Message]:
        return [{"role": role, "content": _fill(text, values)} for role, text in self.turns]


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def parse_template(name: str, text: str) -> Template:
    # Split into lines as `str.splitlines` does: a file with "\r\n" endings reads the same.
    preamble, *sections = _SECTION.split("\n".join(text.splitlines()))
    if any(line.strip()[:1] not in ("", "#") for line in preamble.splitlines()):
        raise C2CError(f"template {name}: text before the first [system]/[user] section")
    turns = tuple(zip(sections[::2], [body.strip() for body in sections[1::2]], strict=True))
    if not turns or turns[-1][0] != "user":
        raise C2CError(f"template {name}: must end with a [user] section")
    return Template(name, turns)


@cache  # templates are immutable; the feedback one is read for every re-prompt
def builtin_template(name: str) -> Template:
    path = resources.files("case2code") / "templates" / "inputs" / f"{name}.txt"
    if not path.is_file():
        raise C2CError(f"no built-in input template {name!r}")
    return parse_template(name, path.read_text(encoding="utf-8"))


def load_template(name_or_path: str) -> Template:
    """A built-in template by name, or a user's template file by path."""
    path = Path(name_or_path)
    if path.suffix == ".txt" or path.exists():
        if not path.is_file():
            raise C2CError(f"input template {path} does not exist")
        return parse_template(path.stem, path.read_text(encoding="utf-8"))
    return builtin_template(name_or_path)


def template_values(spec: FunctionSpec, n: int) -> dict[str, str]:
    names = [p.name for p in spec.callable_params]
    signature = spec.signature or spec.name + "()"
    return {
        "name": spec.name,
        "source": spec.source.strip(),
        "n": str(n),
        "signature_tail": signature[len(spec.name) :] if signature.startswith(spec.name) else "",
        "param_names": ", ".join(names) or "none",
        "example_item": "{" + ", ".join(f'"{p}": ...' for p in names) + "}",
    }


def feedback(
    spec: FunctionSpec, history: Sequence[Tried], n: int, unreached: Sequence[int] = ()
) -> str | None:
    """The re-prompt text listing what failed and the source lines no input ran (`unreached`,
    guided), or None when there is neither."""
    notes = []
    failed = [t for t in history if t.status != "ok"]
    if failed:
        lines = []
        for tried in failed[:FEEDBACK_LIMIT]:
            why = tried.error or tried.status
            lines.append(f"- {spec.name}{tried.input} -> {why[:160]}")
        text = builtin_template("feedback").turns[0][1]
        notes.append(_fill(text, {"failures": "\n".join(lines), "n": str(n)}))
    if unreached:
        text = builtin_template("unreached").turns[0][1]
        shown = show_lines(spec.source, unreached)
        notes.append(_fill(text, {"name": spec.name, "lines": shown, "n": str(n)}))
    return "\n\n".join(notes) or None


def messages_for(
    spec: FunctionSpec,
    n: int,
    history: Sequence[Tried],
    templates: Sequence[Template],
    seed: int,
    unreached: Sequence[int] = (),
) -> list[Message]:
    """The chat for one request: a template chosen per function with the seed (the same one on
    a re-prompt, so the format asked for stays), plus the errors of earlier rounds and the
    source lines no input ran yet (`unreached`)."""
    rng = random.Random(f"{seed}:{spec.function_id}:template")
    template = rng.choice(list(templates))
    messages = template.render(template_values(spec, n))
    note = feedback(spec, history, n, unreached)
    if note:
        messages[-1]["content"] += "\n\n" + note
    return messages
