"""The native baselines' executor: runs functions in this CPython process, NOT sandboxed.

SAFETY: only for trusted code. `bench_sandbox.py` feeds it nothing but functions extracted
from this interpreter's own standard library (it checks every origin path), after dropping
any whose source names an obviously dangerous call. The guard below (after HumanEval's
`reliability_guard`, a light version) and the per-case alarm are seat belts, not a sandbox.

    python native_worker.py --one      one job as JSON on stdin, its results as JSON on stdout
                                       (the paper's executor: one process per function)
    python native_worker.py --serve    jobs as JSON lines on stdin, results as JSON lines
                                       (the persistent native worker)

A job is `{"source": ..., "name": ..., "inputs": ["(1, 'a')", ...]}`; each result is
`{"status": "ok"|"error"|"timeout"|"invalid_input", "output": repr or "<class 'X'>: msg",
"error_type": ...}`, and every reply carries `maxrss_kb`, this process's peak RSS so far
(VmHWM).
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import os
import resource
import signal
import sys

CASE_SECONDS = 2.0
MEMORY_BYTES = 2 << 30
REPR_CHARS = 64 << 10


class CaseTimeout(BaseException):
    """Raised by the per-case alarm; a BaseException so `except Exception` cannot hide it."""


def _alarm(signum, frame):
    raise CaseTimeout()


def reliability_guard() -> None:
    """A light HumanEval-style guard: cap memory, disable destructive os/shutil/subprocess calls."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    import shutil
    import subprocess

    for name in (
        "kill",
        "killpg",
        "system",
        "putenv",
        "unsetenv",
        "remove",
        "removedirs",
        "rmdir",
        "unlink",
        "rename",
        "renames",
        "replace",
        "truncate",
        "fork",
        "forkpty",
        "fchmod",
        "fchown",
        "chmod",
        "chown",
        "lchown",
        "chroot",
        "setuid",
        "execv",
        "execve",
    ):
        if hasattr(os, name):
            setattr(os, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    builtins.exit = builtins.quit = builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


def parse_call(text: str) -> tuple[list, dict]:
    """`(1, [2], key="x")` -> (args, kwargs), literals only (as the sandbox's driver)."""
    call = ast.parse("_" + text, mode="eval").body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        raise ValueError("not a call argument list")
    args = [ast.literal_eval(a) for a in call.args]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    return args, kwargs


def describe(e: BaseException) -> str:
    """The paper's exception text, `<class 'X'>: message`."""
    try:
        message = str(e)
    except BaseException:
        message = "<unprintable>"
    return f"{type(e)}: {message}"


def run_job(source: str, name: str, inputs: list[str]) -> list[dict]:
    """Define the function in a fresh namespace, then call it on every input, in order."""
    real_stdout, real_stderr = sys.stdout, sys.stderr
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    define_error = None
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    try:
        exec(compile(source, "<function>", "exec"), namespace)
        function = namespace.get(name)
        if not callable(function):
            raise NameError(f"the source does not define a callable {name!r}")
    except BaseException as e:
        define_error = e
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    results = []
    for call_text in inputs:
        if define_error is not None:
            results.append(error(define_error))
            continue
        try:
            args, kwargs = parse_call(call_text)
        except Exception as e:
            results.append({"status": "invalid_input", "output": describe(e), "error_type": None})
            continue
        sys.stdout = sys.stderr = io.StringIO()
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
        try:
            try:
                value = function(*args, **kwargs)
                shown = repr(value)
                status = "ok" if len(shown) <= REPR_CHARS else "output_limit"
                results.append({"status": status, "output": shown, "error_type": None})
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except CaseTimeout:
            results.append({"status": "timeout", "output": None, "error_type": None})
        except MemoryError as e:
            results.append({**error(e), "status": "memory"})
        except BaseException as e:
            results.append(error(e))
        finally:
            sys.stdout, sys.stderr = real_stdout, real_stderr
    return results


def error(e: BaseException) -> dict:
    return {"status": "error", "output": describe(e), "error_type": type(e).__name__}


def reply(job: dict) -> str:
    try:
        results = run_job(job["source"], job["name"], job["inputs"])
    except CaseTimeout:  # the alarm fired between cases; report the job as timed out
        results = [{"status": "timeout", "output": None, "error_type": None}] * len(job["inputs"])
    return json.dumps({"results": results, "maxrss_kb": peak_rss_kb()})


def peak_rss_kb() -> int:
    """This process's peak RSS, VmHWM: `ru_maxrss` would include the parent's RSS at fork."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    # The protocol keeps private copies of stdin/stdout; fds 0 and 1 become /dev/null so that
    # nothing a function reads or writes at the fd level can touch the protocol.
    proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    sys.stdin = io.StringIO()
    signal.signal(signal.SIGALRM, _alarm)
    reliability_guard()
    if sys.argv[1:] == ["--one"]:
        proto_out.write(reply(json.loads(proto_in.read())) + "\n")
        proto_out.flush()
    elif sys.argv[1:] == ["--serve"]:
        for line in proto_in:
            proto_out.write(reply(json.loads(line)) + "\n")
            proto_out.flush()
    else:
        raise SystemExit("usage: native_worker.py --one | --serve")


if __name__ == "__main__":
    main()
