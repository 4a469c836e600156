"""The stage contract (`case2code.steps.base`). The steps live beside their stage's logic
(`ExecuteStep`, `InputsStep`, `AssembleStep`, `EvalRecordsStep`, dedup's `SignStep`,
`ClusterStep` and `LabelStep`); extraction's `ExtractStep` takes partitions of the corpus."""

from case2code.steps.base import (
    KEY,
    GlobalStep,
    Partition,
    Process,
    Schema,
    Stats,
    Step,
    busy_seconds,
    by_count,
    fingerprint_of,
    sum_counters,
)

__all__ = [
    "KEY",
    "GlobalStep",
    "Partition",
    "Process",
    "Schema",
    "Stats",
    "Step",
    "busy_seconds",
    "by_count",
    "fingerprint_of",
    "sum_counters",
]
