"""The stage contract (see `case2code.steps.base`). The steps themselves live beside their
stage's logic: `case2code.execute.ExecuteStep`, `case2code.inputs.stage.InputsStep`,
`case2code.assemble.AssembleStep`, `case2code.evalsplit.EvalRecordsStep`, dedup's `SignStep`,
`ClusterStep` and `LabelStep` (`case2code.dedup`); extraction's `ExtractStep`
(`case2code.extract`) takes partitions of the corpus instead."""

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
