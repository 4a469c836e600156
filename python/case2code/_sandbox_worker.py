"""A sandbox worker process: the parent sends jobs on stdin and reads outcomes on stdout.

It only hosts wasmtime; the untrusted code runs inside the WebAssembly instances it creates.
It is started as a script (`python -I -S .../_sandbox_worker.py`) and loads the extension
module from its file, without importing the `case2code` package: the package's imports
(polars among them) cost ~180 ms of CPU per worker that a worker never uses.
"""

import importlib.machinery
import importlib.util
import sys
from pathlib import Path


def _load_core():
    here = Path(__file__).resolve().parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = here / f"_core{suffix}"
        if path.is_file():
            spec = importlib.util.spec_from_file_location("case2code._core", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    sys.exit(f"case2code sandbox worker: no _core extension next to {here}")


if __name__ == "__main__":
    _load_core().sandbox_worker_main()
