"""Executors run steps (`case2code.steps`): the local one on this machine, the Ray one
(`case2code.executors.ray`, imported on demand: Ray is an optional dependency) on actors."""

from case2code.executors.local import PARTITION_FUNCTIONS, LocalExecutor, StepRun

EXECUTORS = ("local", "ray")  # `[run] executor`

__all__ = ["EXECUTORS", "PARTITION_FUNCTIONS", "LocalExecutor", "StepRun"]
