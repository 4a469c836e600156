"""Coverage guidance for the inputs stage (issue 17), as a fuzzer steers by coverage.

Every validated candidate carries the lines and branch arms its call ran (traced in the
sandbox). From those: which inputs reached an arm no earlier input had (mutation's parents get
more energy), which arms a function's inputs have not reached yet (its rounds go on while a
round brings new ones), the kept inputs chosen greedily by new arms, and for LLM re-prompts the
source lines no input has reached.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from functools import lru_cache

from case2code.inputs.spec import Tried

# Times a parent that reached a new arm is chosen for mutation, against one that did not.
ENERGY = 4
# Unreached source lines shown in an LLM re-prompt.
UNREACHED_LIMIT = 12
# Statements with no code of their own on their first line: never reported by the tracer.
NO_CODE = (ast.Try, ast.Global, ast.Nonlocal, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
if hasattr(ast, "TryStar"):
    NO_CODE += (ast.TryStar,)


def arms_of(tried: Sequence[Tried]) -> set[int]:
    """The arms the inputs ran together."""
    return {arm for t in tried for arm in t.arms or ()}


def novel(tried: Sequence[Tried]) -> set[str]:
    """The inputs that, in the order they were tried, reached an arm none before them had."""
    seen: set[int] = set()
    found = set()
    for t in tried:
        if t.arms and not seen.issuperset(t.arms):
            found.add(t.input)
            seen.update(t.arms)
    return found


def select_covering(tried: Sequence[Tried], n: int, max_errors: int) -> list[Tried]:
    """Up to `n` inputs, picked greedily: the one adding the most arms the picks have not
    reached, then one with a new output (or a new error), the earliest first. As without
    guidance: raises only beside a return, and up to `max_errors` slots go to distinct errors
    when there are some (the paper keeps exceptions as cases); the picks in the order tried."""
    returned = [(i, t) for i, t in enumerate(tried) if t.status == "ok"]
    if not returned:
        return []
    raised: dict[str | None, tuple[int, Tried]] = {}
    for i, t in enumerate(tried):
        if t.status == "error" and max_errors > 0:
            raised.setdefault(t.error, (i, t))  # one per distinct error, the first tried
    reserve = min(max_errors, n, len(raised))
    picks = _greedy(returned, n - reserve, [])
    picks = _greedy(list(raised.values()), reserve, picks)
    picks = _greedy([p for p in returned if p not in picks], n - len(picks), picks)
    return [t for _, t in sorted(picks, key=lambda pair: pair[0])]


def _greedy(
    pool: list[tuple[int, Tried]], count: int, picks: list[tuple[int, Tried]]
) -> list[tuple[int, Tried]]:
    """`picks` and up to `count` more from `pool`, each adding the most new arms, then a new
    output or error, the earliest first."""
    picks, pool = list(picks), list(pool)
    arms = {a for _, t in picks for a in t.arms or ()}
    kinds = {_kind(t) for _, t in picks}
    for _ in range(min(count, len(pool))):
        best = max(
            range(len(pool)),
            key=lambda k: (
                len(set(pool[k][1].arms or ()) - arms),
                _kind(pool[k][1]) not in kinds,
                -pool[k][0],
            ),
        )
        picked = pool.pop(best)
        picks.append(picked)
        arms.update(picked[1].arms or ())
        kinds.add(_kind(picked[1]))
    return picks


def _kind(t: Tried) -> tuple[str, str | None]:
    return (t.status, t.output if t.status == "ok" else t.error)


@lru_cache(maxsize=4096)
def code_lines(source: str) -> tuple[int, ...]:
    """The lines of the source's function bodies (helpers' too) that start a statement with
    code: not blank, not a comment or a docstring, not a `def` or `try:` line."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and _is_docstring(body[0]):
                body = body[1:]
            for stmt in body:
                lines.update(_statement_lines(stmt))
    return tuple(sorted(lines))


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _statement_lines(stmt: ast.stmt) -> set[int]:
    """The first lines of a statement and of those nested in it, nested functions aside."""
    lines = set() if isinstance(stmt, NO_CODE) else {stmt.lineno}
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return lines  # walked on its own (functions) or not the function's code (a class body)
    for child in ast.iter_child_nodes(stmt):
        if isinstance(child, ast.stmt):
            lines |= _statement_lines(child)
        elif isinstance(child, ast.ExceptHandler | ast.match_case):
            for inner in child.body:
                lines |= _statement_lines(inner)
    return lines


def unreached(source: str, tried: Sequence[Tried]) -> tuple[int, ...]:
    """The code lines no input has run (empty until some input was traced)."""
    ran = {line for t in tried for line in t.lines or ()}
    if not ran:
        return ()
    return tuple(line for line in code_lines(source) if line not in ran)


def show_lines(source: str, numbers: Sequence[int]) -> str:
    """The lines, numbered as in the source, for a prompt (at most `UNREACHED_LIMIT`)."""
    text = source.splitlines()
    return "\n".join(f"{number:>4} | {text[number - 1]}" for number in numbers[:UNREACHED_LIMIT])
