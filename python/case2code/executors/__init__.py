"""Executors run steps (`case2code.steps`): the local one on this machine."""

from case2code.executors.local import PARTITION_FUNCTIONS, LocalExecutor, StepRun

__all__ = ["PARTITION_FUNCTIONS", "LocalExecutor", "StepRun"]
