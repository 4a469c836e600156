"""Print the lowest version pyproject.toml allows for a dependency (`name>=X` -> X), so CI
tests the floor written there and nowhere else."""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


def floor(name: str, pyproject: Path) -> str:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    specs = [*project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    for spec in specs:
        found = re.fullmatch(rf"{re.escape(name)}\s*>=\s*([\w.]+)", spec.split(";")[0].strip())
        if found:
            return found.group(1)
    raise SystemExit(f"{pyproject}: no `{name}>=X` dependency")


if __name__ == "__main__":
    print(floor(sys.argv[1], Path(__file__).resolve().parent.parent / "pyproject.toml"))
