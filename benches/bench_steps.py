"""Partition size against speed in the local executor: the inputs and execute steps on the same
functions with partitions of 32 and of 256 functions, one partition at a time (`in_flight=1`,
the scheduling before the executor) and two at once (the default). With one at a time, every
partition ends with sandbox workers idle while its slowest function finishes, so small
partitions are slower; with two, the next partition's jobs fill them.

    python benches/bench_steps.py [--functions 600] [--repeats 2] [--workers 2]

Writes benches/results/steps.json and prints the seconds and the 32 ÷ 256 ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import sysconfig
import time
from pathlib import Path

import case2code
import polars as pl
from case2code.execute import ExecuteStep
from case2code.executors import LocalExecutor
from case2code.inputs import BuiltinGenerator, InputsConfig
from case2code.inputs.stage import InputsStep

RESULTS = Path(__file__).parent / "results" / "steps.json"
SIZES = (32, 256)
IN_FLIGHT = (1, 2)


def stdlib_functions(count: int) -> pl.DataFrame:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.glob("*.py") if not p.name.startswith("_"))
    functions = case2code.extract(files).functions
    return functions.sample(min(count, functions.height), seed=0)


def timed(executor: LocalExecutor, step, tables) -> tuple[float, pl.DataFrame]:
    started = time.perf_counter()
    run = executor.run(step, tables)
    assert run.table is not None
    return time.perf_counter() - started, run.table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--functions", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    functions = stdlib_functions(args.functions)
    config = InputsConfig(workers=args.workers)
    inputs = LocalExecutor().run(InputsStep(BuiltinGenerator(), config), {"functions": functions})
    assert inputs.table is not None
    seconds: dict[str, list[float]] = {}
    for _ in range(args.repeats):  # interleaved, so a change of machine load hits all alike
        for flight in IN_FLIGHT:
            for size in SIZES:
                executor = LocalExecutor(size, in_flight=flight)
                steps = {
                    "inputs": (InputsStep(BuiltinGenerator(), config), {"functions": functions}),
                    "execute": (
                        ExecuteStep(workers=args.workers),
                        {"functions": functions, "inputs": inputs.table},
                    ),
                }
                for name, (step, tables) in steps.items():
                    took, _ = timed(executor, step, tables)
                    seconds.setdefault(f"{name} size={size} in_flight={flight}", []).append(took)
                    print(f"{name:8} partitions of {size:3} in flight {flight}: {took:6.2f} s")
    best = {key: min(values) for key, values in seconds.items()}
    ratios = {
        f"{name} in_flight={flight}": best[f"{name} size=32 in_flight={flight}"]
        / best[f"{name} size=256 in_flight={flight}"]
        for name in ("inputs", "execute")
        for flight in IN_FLIGHT
    }
    for key, ratio in ratios.items():
        print(f"32 ÷ 256, {key}: {ratio:.2f}x")
    load = os.getloadavg()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "functions": functions.height,
                "workers": args.workers,
                "cpus": os.cpu_count(),
                "load_after": load,
                "seconds": seconds,
                "ratios_32_to_256": ratios,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
