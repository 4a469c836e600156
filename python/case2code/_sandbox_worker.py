"""A sandbox worker process: the parent sends jobs on stdin and reads outcomes on stdout.

It only hosts wasmtime; the untrusted code runs inside the WebAssembly instances it creates.
"""

from case2code import _core

if __name__ == "__main__":
    _core.sandbox_worker_main()
