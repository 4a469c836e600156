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


# Tight limits keep the hostile tests quick: a runaway case stops after ~0.2 s of guest work.
TEST_LIMITS = dict(fuel_per_case=600_000_000, wall_ms_per_case=5_000, memory_bytes=256 << 20)


@pytest.fixture(scope="session")
def sandbox():
    """A two-process sandbox (the real worker pool, the real WebAssembly interpreter)."""
    from case2code.sandbox import Limits, Sandbox

    return Sandbox(Limits(**TEST_LIMITS), workers=2)
