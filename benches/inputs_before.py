"""The inputs stage of another version of case2code, for bench_inputs' baseline row.

bench_inputs runs this file in a subprocess with that version's `python/` first on PYTHONPATH
(and its own sandbox cache), so the baseline is the code as it was, not a reconstruction. Only
API that every version since the stage contract has: `InputsConfig(n_inputs, min_valid, rounds,
mutate, seed)`, `BuiltinGenerator`, `generate_inputs`, `Sandbox(limits, workers)`.

    python benches/inputs_before.py FUNCTIONS.parquet KEPT.parquet WORKERS

Prints one JSON object: the stage's report, its wall and CPU seconds (this process and its
sandbox workers), the package's path; writes the kept (function_id, input) rows to KEPT.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import case2code
import polars as pl
from case2code.inputs import BuiltinGenerator, InputsConfig, generate_inputs


def cpu_seconds() -> tuple[float, float]:
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def main() -> None:
    functions, kept, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    frame = pl.read_parquet(functions)
    config = InputsConfig(n_inputs=10, min_valid=5, rounds=4, mutate=True, seed=0)
    case2code.sandbox.prepare()  # untimed: a first run compiles that version's interpreter
    host_before, workers_before = cpu_seconds()
    started = time.perf_counter()
    with case2code.Sandbox(config.limits, workers=workers) as sandbox:
        result = generate_inputs(frame, BuiltinGenerator(), config, sandbox=sandbox)
    figures = result.report()
    figures["wall_seconds"] = time.perf_counter() - started
    host_after, workers_after = cpu_seconds()
    figures["host_cpu_seconds"] = host_after - host_before
    figures["worker_cpu_seconds"] = workers_after - workers_before
    figures["package"] = str(case2code.__file__)
    result.inputs.select("function_id", "input").write_parquet(kept)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
