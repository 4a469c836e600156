"""What the benches share: the machine's load as they measure it, and the README's measured
blocks (prose wrapped like the rest, written between a bench's markers)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def load() -> list[float]:
    """The 1-, 5- and 15-minute load averages, for the machine line of a bench's block."""
    return [round(x, 2) for x in os.getloadavg()]


def wrap(line: str, width: int = 96) -> str:
    """Prose wrapped as the README's other blocks; table rows and list items are left alone."""
    if not line or line.startswith(("|", "- ")):
        return line
    return textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)


def write_readme(text: str, begin: str, end: str) -> None:
    """Replace what stands between the `begin` and `end` markers with `text`."""
    content = README.read_text()
    if begin not in content or end not in content:
        print(f"note: {README} has no {begin} ... {end} markers; not edited")
        return
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    README.write_text(f"{head}{begin}\n{text}\n{end}{tail}")
    print(f"updated {README}")


def add_block(after: str, command: str, begin: str, end: str) -> None:
    """The first time a bench writes the README: its command line and empty markers, placed
    right after the `after` marker (another bench's block end)."""
    content = README.read_text()
    if begin in content or after not in content:
        return
    block = f"\n\n```bash\n{command}\n```\n\n{begin}\n{end}"
    README.write_text(content.replace(after, after + block, 1))


def publish(report: dict, results: Path, text: str, readme: bool, begin: str, end: str) -> None:
    """Keep a bench's figures as JSON, print its Markdown block, and put it in the README
    when asked."""
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(report, indent=2) + "\n")
    print(text)
    if readme:
        write_readme(text, begin, end)
