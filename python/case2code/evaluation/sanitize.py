"""The code in a model's answer, found by parsing only: nothing here runs it.

First the paper's `unwrap_code` (the first ```python fence, else the first ``` fence, else the
whole text): when that parses and defines `func_name` it is the code, so scores stay comparable.
Otherwise, beyond the paper: the text from each fence line to every later one or the end, then
the whole answer (a fence inside a docstring cuts the paper's block short; reference code may
have no fence), the first that parses and defines `func_name`; then, as EvalPlus's sanitizer
does, the longest run of lines of the paper's block that does. Only the imports and the
top-level statements the definition of `func_name` reaches are kept, so a stray example call or
an `if __name__ == "__main__":` block never runs in the grader.

The host's `ast` is older than the sandbox's CPython 3.15: an answer the host cannot parse but
which defines `func_name` is sent as it is (`UNPARSED`), for the sandbox's compiler to judge.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

# Extraction statuses: code found, none found, and code only the sandbox can judge.
FOUND = "found"
NO_CODE = "no_code"
UNPARSED = "unparsed"

FENCE = "```"
# A line that opens or closes a fence (possibly indented, as in a docstring).
FENCE_LINE = re.compile(r"^[ \t]*```", re.MULTILINE)
# Fence lines considered for the other candidates (their pairs grow quadratically).
MAX_FENCES = 24
# The line runs tried when the text does not parse (quadratic in the lines that start one),
# among its first MAX_RUN_LINES lines.
MAX_RUN_ATTEMPTS = 1_000
MAX_RUN_LINES = 1_000


@dataclass(frozen=True)
class Extracted:
    status: str  # FOUND, NO_CODE or UNPARSED
    code: str  # what will run (empty for NO_CODE)


def unwrap_code(text: str) -> str:
    """The paper's rule: the first ```python block, else the first ``` block (an unclosed one
    runs to the end), else the text; the fence line's language tag is not code."""
    text = text.replace("```Python", "```python")
    start = text.find(FENCE + "python")
    if start < 0:
        start = text.find(FENCE)
    if start < 0:
        return text.strip()
    body_start = text.find("\n", start)
    if body_start < 0:
        return ""
    end = text.find(FENCE, body_start)
    return text[body_start + 1 : end if end >= 0 else len(text)].strip()


def code_candidates(completion: str) -> list[str]:
    """The texts tried as the answer's code, in order, without repeats: the paper's choice,
    the text from each fence line to every later fence line (longest last) or to the end,
    then the whole answer."""
    candidates = [unwrap_code(completion)]
    fences = [m.start() for m in FENCE_LINE.finditer(completion)][:MAX_FENCES]
    for i, start in enumerate(fences):
        body_start = completion.find("\n", start)
        if body_start < 0:
            continue
        for end in [*fences[i + 1 :], len(completion)]:
            candidates.append(completion[body_start + 1 : end].strip())
    candidates.append(completion.strip())
    return [c for c in dict.fromkeys(candidates) if c]


def extract_code(completion: str, func_name: str) -> Extracted:
    """The code of `completion` that defines `func_name`, reduced to what that needs."""
    for text in code_candidates(completion):
        tree = _parse(text)
        if tree is not None and _defines(tree, func_name):
            return Extracted(FOUND, _needed_code(text, tree, func_name))
    text = unwrap_code(completion)
    if not text:
        return Extracted(NO_CODE, "")
    text, tree = _longest_parsing_run(text, func_name)
    if tree is not None:
        return Extracted(FOUND, _needed_code(text, tree, func_name))
    if _parse(text) is None and _mentions_definition(text, func_name):
        return Extracted(UNPARSED, text)
    return Extracted(NO_CODE, "")


def _defines(tree: ast.Module, func_name: str) -> bool:
    return any(func_name in _bound_names(s) for s in tree.body)


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):  # ValueError: a NUL byte
        return None


def _mentions_definition(text: str, func_name: str) -> bool:
    name = re.escape(func_name)
    return re.search(rf"^\s*(def\s+{name}\s*\(|{name}\s*=)", text, re.MULTILINE) is not None


def _longest_parsing_run(text: str, func_name: str) -> tuple[str, ast.Module | None]:
    """The longest run of whole lines, starting at a top-level line, that parses and defines
    `func_name`; (text, None) when none does within MAX_RUN_ATTEMPTS tries."""
    lines = text.splitlines()[:MAX_RUN_LINES]
    starts = [i for i, line in enumerate(lines) if line[:1].strip()]
    ends = [i + 1 for i in range(len(lines)) if i + 1 == len(lines) or lines[i + 1][:1].strip()]
    runs = sorted(((a, b) for a in starts for b in ends if b > a), key=lambda r: r[0] - r[1])
    for start, end in runs[:MAX_RUN_ATTEMPTS]:
        candidate = "\n".join(lines[start:end])
        if func_name not in candidate:
            continue
        tree = _parse(candidate)
        if tree is not None and _defines(tree, func_name):
            return candidate, tree
    return text, None


# ---------------------------------------------------------------- what func_name needs


def _bound_names(statement: ast.stmt) -> set[str]:
    """Names a top-level statement binds in the module (imports, definitions, assignments,
    including those inside a top-level `if` or `try`)."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in statement.names}
    if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        stored = (n for n in ast.walk(statement) if isinstance(n, ast.Name))
        return {n.id for n in stored if isinstance(n.ctx, ast.Store)}
    if isinstance(statement, ast.If) and not _is_main_guard(statement):
        blocks = [statement.body, statement.orelse]
    elif isinstance(statement, ast.Try):
        handlers = [h.body for h in statement.handlers]
        blocks = [statement.body, *handlers, statement.orelse, statement.finalbody]
    else:
        return set()
    return {name for block in blocks for inner in block for name in _bound_names(inner)}


def _is_main_guard(statement: ast.If) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "__name__" for n in ast.walk(statement.test))


def _needed_code(text: str, tree: ast.Module, func_name: str) -> str:
    """Imports, plus the statements binding a name that `func_name`'s definition reaches
    (transitively), in their order, as their original lines."""
    binders = [(s, _bound_names(s)) for s in tree.body]
    needed, wanted, seen = set(), [func_name], set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        for index, (statement, names) in enumerate(binders):
            if name in names and index not in needed:
                needed.add(index)
                used = {n.id for n in ast.walk(statement) if isinstance(n, ast.Name)}
                wanted.extend(used - seen)
    lines = text.splitlines()
    kept: list[str] = []
    last_line = 0
    for index, (statement, _) in enumerate(binders):
        if index in needed or isinstance(statement, (ast.Import, ast.ImportFrom)):
            decorators = getattr(statement, "decorator_list", [])
            first = min([statement.lineno] + [d.lineno for d in decorators])
            first = max(first, last_line + 1)  # two statements on one line: kept once
            kept.extend(lines[first - 1 : statement.end_lineno])
            last_line = statement.end_lineno or first
    return "\n".join(kept) + "\n"
