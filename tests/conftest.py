from __future__ import annotations

import ast
import logging
import os
import site
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
from llm_server import LLMUnavailable, require_installed, run_llm_server


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


@pytest.fixture(scope="session")
def llm_server():
    """A real OpenAI-compatible LLM server for the session: llama-cpp-python's `llama_cpp.server`
    on a free 127.0.0.1 port, serving SmolLM2-135M-Instruct (tests/llm_server.py). Yields an
    object with `base_url` (``http://127.0.0.1:PORT/v1``) and `model` (the id the server
    reports). It answers one request at a time.

    When llama-cpp-python or the model is not installed this FAILS, not skips, so CI cannot
    silently lose the LLM tests: run `bash scripts/install-llm.sh` (scripts/test.sh does). Set
    the environment variable C2C_SKIP_LLM_TESTS=1 to skip every test that uses it instead.
    """
    if os.environ.get("C2C_SKIP_LLM_TESTS") == "1":
        pytest.skip("C2C_SKIP_LLM_TESTS=1")
    try:
        require_installed()
    except LLMUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    with run_llm_server() as server:
        yield server


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray cluster of 2 CPUs for the test module (skipped without Ray); its workers
    import what this process does (the test module's own steps included)."""
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level=logging.WARNING,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path)}},
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
