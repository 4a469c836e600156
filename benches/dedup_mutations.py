"""Deterministic near-duplicate copies of Python functions, for the dedup benchmark.

`mutate(source, rng)` applies 1-3 edits drawn from `MUTATIONS`, each a cheap text edit that a
copy-paste of real code goes through:

- rename: rename 1-3 parameters or local variables consistently (every whole-word occurrence
  not after a `.`), the edit that moves the token Jaccard most;
- comment / docstring: change, add or delete comments, replace or delete the docstring;
- blank_lines / line_breaks: add or remove blank lines, break a line after a comma inside brackets;
- parens: wrap a `return` value or an assigned value in parentheses;
- delete_line / duplicate_line / swap_lines: drop, repeat, or swap with its neighbour one simple
  statement line (no brackets open across it, not a block header, not inside a string);
- literal: change a number or a short string literal on a simple line;
- quotes: reformat string literals to the other quoting ('a' <-> "a"), as a formatter does;
- noop: add a `pass` statement before a simple line.

The comment, docstring, quotes and layout edits do not change the code dedup compares (they
make exact duplicates); the others change a few shingles (a line edit) to most of them (a
rename of a name used everywhere). Copies are not checked to parse: the tokenizer is
error-tolerant, and every edit keeps bracket balance and indentation, so almost all do.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

IDENT = re.compile(r"[A-Za-z_]\w*")
ASSIGNED = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:[-+*/%|&^]|//|\*\*|<<|>>)?=(?!=)", re.MULTILINE)
FOR_TARGET = re.compile(r"\bfor\s+([A-Za-z_]\w*)(?:\s*,\s*([A-Za-z_]\w*))?\s+in\b")
DEF = re.compile(r"^\s*def\s+\w+\s*\(", re.MULTILINE)
NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")
SHORT_STRING = re.compile(r"""'[^'\\\n]{0,30}'|"[^"\\\n]{0,30}\"""")
STRINGS = re.compile(r"""'[^'\\\n]*'|"[^"\\\n]*\"""")
COMPOUND = (
    "def ",
    "class ",
    "if ",
    "elif ",
    "else",
    "for ",
    "while ",
    "try",
    "except",
    "finally",
    "with ",
    "async ",
    "@",
    "match ",
    "case ",
)
KEYWORDS = frozenset(
    "False None True and as assert async await break class continue def del elif else except "
    "finally for from global if import in is lambda nonlocal not or pass raise return try while "
    "with yield self cls match case print len range str int list dict set".split()
)
NEW_NAMES = (
    "value",
    "item",
    "result",
    "tmp",
    "data",
    "node",
    "arg",
    "obj",
    "key",
    "val",
    "acc",
    "elem",
    "out",
    "res",
    "buf",
    "ctx",
)
COMMENTS = (
    "# TODO: clean this up",
    "# see above",
    "# fast path",
    "# handle the edge case",
    "# NOTE: copied from upstream",
    "# keep in sync with the caller",
)
DOCSTRINGS = (
    '"""Helper."""',
    '"""Return the computed value."""',
    '"""Internal use only.\n\n    Kept for compatibility.\n    """',
)
TRIPLE = re.compile(r'"""|' + r"'''")


def _lines(source: str) -> tuple[list[str], list[bool]]:
    """The lines, and whether each is a simple statement: not in or opening a triple-quoted
    string, no bracket open before or after it, not a block header or continuation."""
    lines = source.split("\n")
    simple = [False] * len(lines)
    in_triple: str | None = None
    depth = 0
    continued = False
    for k, line in enumerate(lines):
        starts_free = in_triple is None and depth == 0 and not continued
        if '"""' in line or "'''" in line:
            for m in TRIPLE.finditer(line):
                if in_triple is None:
                    in_triple = m.group()
                elif in_triple == m.group():
                    in_triple = None
            continued = False
            continue
        if in_triple is not None:
            continue
        code = STRINGS.sub("''", line) if "'" in line or '"' in line else line
        if "#" in code:
            code = code.split("#", 1)[0]
        opened = code.count("(") + code.count("[") + code.count("{")
        closed = code.count(")") + code.count("]") + code.count("}")
        depth = max(0, depth + opened - closed)
        stripped = code.strip()
        continued = stripped.endswith("\\")
        simple[k] = (
            starts_free
            and depth == 0
            and bool(stripped)
            and not continued
            and not stripped.endswith((":", ","))
            and not stripped.startswith(COMPOUND)
            and "'" not in code.replace("''", "")
            and '"' not in code.replace('""', "")
        )
    return lines, simple


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _pick_simple(
    rng: random.Random, lines: list[str], simple: list[bool], ok: Callable[[int], bool]
) -> int | None:
    candidates = [k for k, s in enumerate(simple) if s and ok(k)]
    return rng.choice(candidates) if candidates else None


def _has_sibling(lines: list[str], simple: list[bool], k: int) -> bool:
    """Another simple line at the same indent right before or after: deleting k keeps its
    block non-empty."""
    for j in (k - 1, k + 1):
        if 0 <= j < len(lines) and simple[j] and _indent(lines[j]) == _indent(lines[k]):
            return True
    return False


def _names(source: str) -> list[str]:
    names: dict[str, None] = {}
    for m in DEF.finditer(source):
        depth, start = 1, m.end()
        end = start
        while end < len(source) and depth:
            c = source[end]
            depth += c in "([{"
            depth -= c in ")]}"
            end += 1
        params = source[start : end - 1]
        for part in params.split(","):
            ident = IDENT.search(part.split("=", 1)[0].split(":", 1)[0])
            if ident:
                names[ident.group()] = None
    for m in ASSIGNED.finditer(source):
        names[m.group(1)] = None
    for m in FOR_TARGET.finditer(source):
        names[m.group(1)] = None
        if m.group(2):
            names[m.group(2)] = None
    return [n for n in names if n not in KEYWORDS and not n.startswith("__")]


def rename(source: str, rng: random.Random) -> str | None:
    names = _names(source)
    if not names:
        return None
    for name in rng.sample(names, min(len(names), rng.choice((1, 1, 1, 2)))):
        new = f"{rng.choice(NEW_NAMES)}_{rng.randrange(100)}"
        source = re.sub(rf"(?<![\w.]){re.escape(name)}\b", new, source)
    return source


def comment(source: str, rng: random.Random) -> str | None:
    lines = source.split("\n")
    commented = [k for k, line in enumerate(lines) if line.lstrip().startswith("#")]
    if commented and rng.random() < 0.5:
        k = rng.choice(commented)
        if rng.random() < 0.5:
            del lines[k]
        else:
            lines[k] = " " * _indent(lines[k]) + rng.choice(COMMENTS)
        return "\n".join(lines)
    lines, simple = _lines(source)
    k = _pick_simple(rng, lines, simple, lambda k: True)
    if k is None:
        return None
    lines.insert(k, " " * _indent(lines[k]) + rng.choice(COMMENTS))
    return "\n".join(lines)


def docstring(source: str, rng: random.Random) -> str | None:
    m = re.search(r'(def [^\n]*:\n)([ \t]+)("""|\'\'\')(.*?)\3[ \t]*\n', source, re.DOTALL)
    if m:
        body = "" if rng.random() < 0.5 else m.group(2) + rng.choice(DOCSTRINGS) + "\n"
        return source[: m.start()] + m.group(1) + body + source[m.end() :]
    m = re.search(r"(def [^\n]*:\n)([ \t]+)(?=\S)", source)
    if not m:
        return None
    return source[: m.end()] + rng.choice(DOCSTRINGS) + "\n" + m.group(2) + source[m.end() :]


def blank_lines(source: str, rng: random.Random) -> str | None:
    lines, simple = _lines(source)
    blanks = [k for k, line in enumerate(lines) if not line.strip() and k + 1 < len(lines)]
    if blanks and rng.random() < 0.5:
        for k in sorted(rng.sample(blanks, min(len(blanks), 3)), reverse=True):
            del lines[k]
        return "\n".join(lines)
    k = _pick_simple(rng, lines, simple, lambda k: True)
    if k is None:
        return None
    lines.insert(k + rng.randrange(2), "")
    return "\n".join(lines)


def line_breaks(source: str, rng: random.Random) -> str | None:
    lines, simple = _lines(source)
    k = _pick_simple(rng, lines, simple, lambda k: ", " in lines[k] and "(" in lines[k])
    if k is None:
        return None
    line = lines[k]
    depth, cuts = 0, []
    for i, c in enumerate(line):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth > 0 and line[i + 1 : i + 2] == " ":
            cuts.append(i + 1)
    if not cuts or "'" in line or '"' in line:
        return None
    cut = rng.choice(cuts)
    lines[k] = line[:cut] + "\n" + " " * (_indent(line) + 4) + line[cut + 1 :]
    return "\n".join(lines)


def parens(source: str, rng: random.Random) -> str | None:
    lines, simple = _lines(source)
    pattern = re.compile(r"^(\s*(?:return\s+|[A-Za-z_][\w.]*\s*=\s*))(\S.*)$")

    def ok(k: int) -> bool:
        return "#" not in lines[k] and pattern.match(lines[k]) is not None

    k = _pick_simple(rng, lines, simple, ok)
    if k is None:
        return None
    m = pattern.match(lines[k])
    assert m is not None
    lines[k] = f"{m.group(1)}({m.group(2)})"
    return "\n".join(lines)


def delete_line(source: str, rng: random.Random) -> str | None:
    lines, simple = _lines(source)
    k = _pick_simple(rng, lines, simple, lambda k: _has_sibling(lines, simple, k))
    if k is None:
        return None
    del lines[k]
    return "\n".join(lines)


def duplicate_line(source: str, rng: random.Random) -> str | None:
    lines, simple = _lines(source)
    k = _pick_simple(rng, lines, simple, lambda k: not lines[k].lstrip().startswith("return"))
    if k is None:
        return None
    lines.insert(k, lines[k])
    return "\n".join(lines)


def swap_lines(source: str, rng: random.Random) -> str | None:
    lines, simple = _lines(source)

    def ok(k: int) -> bool:
        return (
            k + 1 < len(lines)
            and simple[k + 1]
            and _indent(lines[k]) == _indent(lines[k + 1])
            and lines[k].strip() != lines[k + 1].strip()
            and not lines[k].lstrip().startswith(("return", "raise"))
        )

    k = _pick_simple(rng, lines, simple, ok)
    if k is None:
        return None
    lines[k], lines[k + 1] = lines[k + 1], lines[k]
    return "\n".join(lines)


def literal(source: str, rng: random.Random) -> str | None:
    lines, simple = _lines(source)

    def ok(k: int) -> bool:
        return NUMBER.search(lines[k]) is not None or SHORT_STRING.search(lines[k]) is not None

    k = _pick_simple(rng, lines, simple, ok)
    if k is None:
        return None
    line = lines[k]
    spots = [(m, "n") for m in NUMBER.finditer(line)] + [
        (m, "s") for m in SHORT_STRING.finditer(line)
    ]
    m, kind = rng.choice(spots)
    if kind == "n":
        new = str(int(m.group()) + rng.randrange(1, 10))
    else:
        quote = m.group()[0]
        new = f"{quote}{rng.choice(NEW_NAMES)}{quote}"
    lines[k] = line[: m.start()] + new + line[m.end() :]
    return "\n".join(lines)


def quotes(source: str, rng: random.Random) -> str | None:
    """Every short string literal outside triple-quoted strings in the other quoting, when its
    body holds no quote or backslash (so the swap keeps its value)."""
    out, in_triple, changed = [], None, False
    for line in source.split("\n"):
        if '"""' in line or "'''" in line or in_triple is not None:
            for m in TRIPLE.finditer(line):
                if in_triple is None:
                    in_triple = m.group()
                elif in_triple == m.group():
                    in_triple = None
            out.append(line)
            continue
        code, hash_, comment = line.partition("#")

        def swap(m: re.Match[str]) -> str:
            text = m.group()
            body = text[1:-1]
            if "'" in body or '"' in body or "\\" in body:
                return text
            other = '"' if text[0] == "'" else "'"
            return other + body + other

        new = STRINGS.sub(swap, code) if "'" not in comment and '"' not in comment else code
        changed |= new != code
        out.append(new + hash_ + comment)
    return "\n".join(out) if changed else None


def noop(source: str, rng: random.Random) -> str | None:
    lines, simple = _lines(source)
    k = _pick_simple(rng, lines, simple, lambda k: True)
    if k is None:
        return None
    lines.insert(k, " " * _indent(lines[k]) + "pass")
    return "\n".join(lines)


# name -> (edit, weight). Renames are weighted up: they are what spreads the Jaccard down.
MUTATIONS: dict[str, tuple[Callable[[str, random.Random], str | None], float]] = {
    "rename": (rename, 2.0),
    "comment": (comment, 1.0),
    "docstring": (docstring, 1.0),
    "blank_lines": (blank_lines, 0.5),
    "line_breaks": (line_breaks, 0.5),
    "parens": (parens, 1.0),
    "delete_line": (delete_line, 1.5),
    "duplicate_line": (duplicate_line, 1.0),
    "swap_lines": (swap_lines, 1.0),
    "literal": (literal, 1.5),
    "quotes": (quotes, 1.0),
    "noop": (noop, 1.0),
}
_NAMES = list(MUTATIONS)
_WEIGHTS = [w for _, w in MUTATIONS.values()]


def mutate(source: str, rng: random.Random) -> tuple[str, list[str]]:
    """A copy of `source` with 1-3 edits; returns it and the names of the edits applied."""
    applied: list[str] = []
    want = rng.choice((1, 1, 2, 2, 3))
    for _ in range(want * 4):
        if len(applied) == want:
            break
        name = rng.choices(_NAMES, _WEIGHTS)[0]
        out = MUTATIONS[name][0](source, rng)
        if out is not None and out != source:
            source = out
            applied.append(name)
    return source, applied


def enlarge(
    originals: list[str], total: int, seed: int
) -> tuple[list[str], list[int], list[list[str]]]:
    """`originals` plus mutated copies of uniformly drawn originals up to `total`, shuffled.
    Returns the sources, for each the index (in the output) of the original it copies (-1 for
    an original), and the edits of each copy."""
    rng = random.Random(seed)
    n = len(originals)
    parents = [rng.randrange(n) for _ in range(max(0, total - n))]
    sources = list(originals)
    edits: list[list[str]] = [[] for _ in range(n)]
    for k, p in enumerate(parents):
        copy, applied = mutate(originals[p], random.Random(seed * 1_000_003 + k))
        sources.append(copy)
        edits.append(applied)
    order = list(range(len(sources)))
    rng.shuffle(order)
    position = [0] * len(order)
    for new, old in enumerate(order):
        position[old] = new
    origin = [-1] * len(order)
    for k, p in enumerate(parents):
        origin[position[n + k]] = position[p]
    return [sources[i] for i in order], origin, [edits[i] for i in order]
