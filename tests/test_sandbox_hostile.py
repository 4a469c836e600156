"""Hostile code in the sandbox: every attack ends as a clean per-case status, the host is
unharmed, and the innocent functions run in the same batch still get the right answers."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from pathlib import Path

import pytest
from case2code.sandbox import Limits, Sandbox, prepare

INNOCENT = (
    "import json\ndef innocent(x):\n    return [len(x), json.dumps(x), sorted(x)]\n",
    "innocent",
)
INNOCENT_INPUT = "([3, 1, 2],)"
INNOCENT_REPR = "[3, '[3, 1, 2]', [1, 2, 3]]"

MARKER = Path("/tmp/c2c-sandbox-escape-marker")

# name -> (source defining f, input, allowed statuses, text the error must contain)
HOSTILE = {
    "infinite loop": (
        "def f(x):\n    while True:\n        pass\n",
        "(1,)",
        {"timeout"},
        "instruction",
    ),
    "memory bomb": (
        "def f(x):\n    hog = []\n    while True:\n        hog.append(bytearray(10**6))\n",
        "(1,)",
        {"memory"},
        "MemoryError",
    ),
    "huge allocation": (
        "def f(x):\n    return len(bytearray(2**31 - 1))\n",
        "(1,)",
        {"memory", "error"},
        "",
    ),
    "million-deep recursion": (
        "def f(n):\n    return f(n - 1) + 1 if n else 0\n",
        "(1000000,)",
        {"error"},
        "RecursionError",
    ),
    "recursion limit raised, then recursion": (
        "import sys\ndef f(n):\n    sys.setrecursionlimit(10**9)\n"
        "    def down(k):\n        return down(k - 1) + 1 if k else 0\n    return down(n)\n",
        "(10**8,)".replace("10**8", "100000000"),
        {"timeout", "memory", "crash", "error"},
        "",
    ),
    "read /etc/passwd": (
        "def f(x):\n    return open('/etc/passwd').read()\n",
        "(1,)",
        {"error"},
        "Error",
    ),
    "read the home directory": (
        "import os\ndef f(x):\n    return os.listdir(os.path.expanduser('~'))\n",
        "(1,)",
        {"error"},
        "Error",
    ),
    "read the host's root": (
        "import os\ndef f(x):\n    return os.listdir('/')\n",
        "(1,)",
        {"error"},
        "Error",
    ),
    "write a file": (
        f"def f(x):\n    with open({str(MARKER)!r}, 'w') as out:\n        out.write('escaped')\n",
        "(1,)",
        {"error"},
        "Error",
    ),
    "delete the stdlib": (
        "import os\ndef f(x):\n    os.remove('/usr/local/lib/python315.zip')\n",
        "(1,)",
        {"error"},
        "Error",
    ),
    "os.system": (
        f"import os\ndef f(x):\n    return os.system('touch {MARKER}')\n",
        "(1,)",
        {"error"},
        "Error",
    ),
    "subprocess": (
        f"import subprocess\ndef f(x):\n    return subprocess.run(['touch', '{MARKER}'])\n",
        "(1,)",
        {"error"},
        "Error",
    ),
    "os.fork": ("import os\ndef f(x):\n    return os.fork()\n", "(1,)", {"error"}, "Error"),
    "ctypes": (
        "import ctypes\ndef f(x):\n    return ctypes.CDLL(None)\n",
        "(1,)",
        {"error"},
        "Error",
    ),
    "sys.exit": ("import sys\ndef f(x):\n    sys.exit(3)\n", "(1,)", {"error"}, "SystemExit"),
    "os._exit": ("import os\ndef f(x):\n    os._exit(4)\n", "(1,)", {"crash"}, "status 4"),
    "KeyboardInterrupt": (
        "def f(x):\n    raise KeyboardInterrupt\n",
        "(1,)",
        {"error"},
        "KeyboardInterrupt",
    ),
    "SystemExit": ("def f(x):\n    raise SystemExit(5)\n", "(1,)", {"error"}, "SystemExit"),
    "print 100 MB": ("def f(x):\n    print('x' * 100_000_000)\n", "(1,)", {"output_limit"}, ""),
    "print forever": (
        "def f(x):\n    while True:\n        print('spam')\n",
        "(1,)",
        {"output_limit"},
        "",
    ),
    "huge return value": ("def f(x):\n    return 'y' * 10_000_000\n", "(1,)", {"output_limit"}, ""),
    "input calls __import__": (
        "def f(x):\n    return x\n",
        "(__import__('os'),)",
        {"invalid_input"},
        "",
    ),
    "input calls open": (
        "def f(x):\n    return x\n",
        "(open('/etc/passwd').read(),)",
        {"invalid_input"},
        "",
    ),
    "input with a lambda": ("def f(x):\n    return x\n", "((lambda: 1),)", {"invalid_input"}, ""),
    "sleep for 30 years": (
        "import time\ndef f(x):\n    time.sleep(10**9)\n    return 'woke'\n",
        "(1,)",
        {"ok"},
        "",
    ),
    "patch builtins": (
        "import builtins\ndef f(x):\n"
        "    builtins.len = lambda v: -1\n    builtins.sorted = None\n    return 1\n",
        "(1,)",
        {"ok"},
        "",
    ),
    "patch json": (
        "import json\ndef f(x):\n"
        "    json.dumps = lambda *a, **k: 'pwned'\n    return json.dumps(1)\n",
        "(1,)",
        {"ok"},
        "",
    ),
    "call the door": (
        'import _host\ndef f(x):\n    return _host.call(b\'{"op":"next"}\')\n',
        "(1,)",
        {"crash"},
        "protocol",
    ),
}


@pytest.fixture(scope="module")
def hostile_results(sandbox):
    MARKER.unlink(missing_ok=True)
    calls = []
    for source, input_text, _, _ in HOSTILE.values():
        calls.append((source, "f", [input_text]))
        calls.append((*INNOCENT, [INNOCENT_INPUT]))
    return sandbox.run(calls)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_case_ends_cleanly(hostile_results, name):
    index = list(HOSTILE).index(name)
    _, _, allowed, needle = HOSTILE[name]
    (result,) = hostile_results[2 * index]
    assert result.status in allowed, result
    assert needle in ((result.error or "") + (result.error_type or "")), result
    # The innocent function right after it in the same batch is unaffected.
    (innocent,) = hostile_results[2 * index + 1]
    assert (innocent.status, innocent.value_repr) == ("ok", INNOCENT_REPR), (name, innocent)


def test_nothing_escaped_to_the_host(hostile_results):
    assert not MARKER.exists()
    _, stdlib_dir = prepare()
    from case2code.sandbox import STDLIB_ZIP_SHA256

    digest = hashlib.sha256((stdlib_dir / "python315.zip").read_bytes()).hexdigest()
    assert digest == STDLIB_ZIP_SHA256


def test_output_is_capped_not_lost(hostile_results):
    (printed,) = hostile_results[2 * list(HOSTILE).index("print forever")]
    assert 0 < len(printed.stdout) <= Limits().stdout_chars
    assert printed.stdout.startswith("spam\n")


def test_socket_to_loopback_never_connects(sandbox):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(1.0)
    port = listener.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        try:
            accepted.append(listener.accept())
        except OSError:
            pass

    waiter = threading.Thread(target=accept)
    waiter.start()
    source = (
        "import socket\ndef f(port):\n"
        "    s = socket.socket()\n    s.connect(('127.0.0.1', port))\n    s.sendall(b'hi')\n"
    )
    (result,) = sandbox.run([(source, "f", [f"({port},)"])])[0]
    waiter.join()
    listener.close()
    assert result.status == "error", result
    assert accepted == []


def test_a_case_that_kills_its_instance_does_not_lose_the_others(sandbox):
    source = (
        "import os\ndef f(x):\n"
        "    if x == 0:\n        os._exit(1)\n"
        "    if x == 1:\n        while True:\n            pass\n"
        "    return x * 10\n"
    )
    results = sandbox.run([(source, "f", ["(2,)", "(0,)", "(3,)", "(1,)", "(4,)"])])[0]
    assert [r.status for r in results] == ["ok", "crash", "ok", "timeout", "ok"]
    assert [r.value_repr for r in results if r.status == "ok"] == ["20", "30", "40"]


def test_wall_clock_deadline_stops_a_guest(sandbox):
    slow = Sandbox(Limits(fuel_per_case=10**15, wall_ms_per_case=300), workers=0)
    (result,) = slow.run([("def f(x):\n    while True:\n        x += 1\n", "f", ["(1,)"])])[0]
    assert result.status == "timeout"
    assert "wall-clock" in result.error


def test_functions_are_isolated_from_each_other(sandbox):
    patcher = (
        "import json, builtins\ndef patch(x):\n"
        "    json.loads = None\n    builtins.abs = lambda v: 'patched'\n    json.marker = x\n"
        "    return abs(-1)\n"
    )
    checker = (
        "import json\ndef check(x):\n"
        "    return (hasattr(json, 'marker'), abs(-x), json.loads('[1]'))\n"
    )
    results = sandbox.run([(patcher, "patch", ["(1,)"]), (checker, "check", ["(5,)"])])
    assert results[0][0].value_repr == "'patched'"
    assert results[1][0].value_repr == "(False, 5, [1])"


def test_every_case_starts_from_the_freshly_defined_function():
    # Module globals and mutable defaults are new for every case; an imported module is not
    # re-imported, so a function that counts in one still counts within its instance.
    counter = (
        "import json\nCOUNT = []\n"
        "def count(x, acc=[]):\n"
        "    COUNT.append(x)\n    acc.append(x)\n"
        "    json.seen = getattr(json, 'seen', 0) + 1\n"
        "    return (len(COUNT), len(acc), json.seen)\n"
    )
    inputs = ["(1,)", "(2,)", "(3,)"]
    unchecked = {"check_stability": False}
    per_function = Sandbox(Limits(isolation="function", **unchecked), workers=0).run(
        [(counter, "count", inputs)]
    )
    per_case = Sandbox(Limits(isolation="case", **unchecked), workers=0).run(
        [(counter, "count", inputs)]
    )
    assert [r.value_repr for r in per_function[0]] == ["(1, 1, 1)", "(1, 1, 2)", "(1, 1, 3)"]
    assert [r.value_repr for r in per_case[0]] == ["(1, 1, 1)"] * 3
    # The stability check reruns the cases in an order where none keeps its place.
    checked = Sandbox(Limits(), workers=0).run([(counter, "count", inputs)])
    assert [r.status for r in checked[0]] == ["unstable"] * 3


def test_the_host_process_is_not_the_guest():
    # The guest sees no host environment variables and the wasm platform.
    os.environ["C2C_HOST_SECRET"] = "s3cret"
    try:
        source = "import os, sys\ndef f(x):\n    return (dict(os.environ), sys.platform)\n"
        (result,) = Sandbox(Limits(), workers=0).run([(source, "f", ["(1,)"])])[0]
    finally:
        del os.environ["C2C_HOST_SECRET"]
    assert "s3cret" not in result.value_repr
    assert "wasi" in result.value_repr


def _workers() -> set[int]:
    """This process's sandbox worker processes: every process whose parent is this one (a
    child of a thread has the process as its parent; /proc/<tid>/children misses children
    whose thread has exited) and whose command line names the worker."""
    found = set()
    me = str(os.getpid())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        # Processes come and go while we look: a vanished one is skipped.
        try:
            status = (proc / "status").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        parent = next(
            (line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), ""
        )
        if parent == me and b"_sandbox_worker" in cmdline:
            found.add(int(proc.name))
    return found


def test_a_killed_worker_is_replaced_and_its_jobs_rerun():
    import time as clock

    before = _workers()
    pool = Sandbox(Limits(fuel_per_case=50_000_000), workers=1)
    busy = "def f(x):\n    n = 0\n    while n < x:\n        n += 1\n    return n\n"
    pool.run([(busy, "f", ["(1,)"])])  # start the worker
    (worker,) = _workers() - before
    results: list = []
    runner = threading.Thread(
        target=lambda: results.extend(pool.run([(busy, "f", ["(1000000000,)"] * 200)]))
    )
    runner.start()
    clock.sleep(0.5)
    os.kill(worker, 9)
    runner.join(timeout=120)
    assert len(results) == 1
    assert [r.status for r in results[0]] == ["timeout"] * 200
    # The run outlived the worker it started on: a new one finished it.
    assert worker not in _workers()
    assert _workers() - before - {worker}


def test_closing_a_sandbox_stops_its_workers():
    before = _workers()
    with Sandbox(Limits(), workers=2) as pool:
        pool.run([("def f(x):\n    return x\n", "f", ["(1,)"])] * 4)
        started = _workers() - before
        assert started
    assert not (_workers() & started)
