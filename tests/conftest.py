from __future__ import annotations

import ast
import site
import sysconfig
from pathlib import Path

import pytest


def defines_function(source: str, name: str) -> bool:
    """Compile (never run) a standalone source and check it defines `name` at top level."""
    compile(source, "<standalone>", "exec")
    tree = ast.parse(source)
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in tree.body)


@pytest.fixture(scope="session")
def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


@pytest.fixture(scope="session")
def site_packages_dir() -> Path:
    return Path(site.getsitepackages()[0])
