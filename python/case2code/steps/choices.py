"""The pipeline's seeded choices over the whole corpus, as global steps on compact summaries.

Both rank functions by a digest of (purpose, seed, function id), so a function's rank does
not depend on which other functions made it this far nor on row order, and the choice is the
same wherever and in whatever partitions the tables were made.

- `SampleFunctions`: the `max_functions` functions kept after dedup (summary: the ids).
- `EvalSplit`: the functions held out for evaluation, a share of every function with samples,
  taken among those the paper-format writer accepts (summary: ids and `writable`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import polars as pl

from case2code.steps.base import KEY, GlobalStep, Schema

CHOSEN: Schema = {KEY: pl.Utf8()}


def rank_digest(*parts: Any) -> str:
    """A function's rank for a seeded choice (canonical JSON, SHA-256, 32 hex digits)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _chosen(ids: Iterable[str]) -> pl.DataFrame:
    return pl.DataFrame({KEY: sorted(ids)}, schema=dict(CHOSEN))


class SampleFunctions(GlobalStep):
    """A seeded sample of `count` functions; all of them when there are no more (0: all)."""

    name = "sample"
    reads = "functions"
    summary_columns = (KEY,)
    decision_schema = CHOSEN

    def __init__(self, count: int, seed: int) -> None:
        self.count, self.seed = count, seed

    def settings(self) -> Mapping[str, Any]:
        # Without a sample (0) the seed changes nothing.
        return {"max_functions": self.count, "seed": self.seed if self.count else None}

    def decide(self, summary: pl.DataFrame) -> pl.DataFrame:
        ids = summary[KEY].unique().to_list()
        if not self.count or len(ids) <= self.count:
            return _chosen(ids)
        ranked = sorted(ids, key=lambda f: rank_digest("sample", self.seed, f))
        return _chosen(ranked[: self.count])


class EvalSplit(GlobalStep):
    """The functions held out for evaluation: `share` of all functions with samples (at most
    `most`), the first by seeded rank among the `writable` ones (one the paper-format writer
    refuses would land in neither set)."""

    name = "eval_split"
    reads = "eval_records"
    summary_columns = (KEY, "writable")
    decision_schema = CHOSEN

    def __init__(self, share: float, most: int, seed: int) -> None:
        self.share, self.most, self.seed = share, most, seed

    def settings(self) -> Mapping[str, Any]:
        return {"eval_share": self.share, "eval_max": self.most, "seed": self.seed}

    def decide(self, summary: pl.DataFrame) -> pl.DataFrame:
        writable = set(summary.filter(pl.col("writable"))[KEY].to_list())
        ids = summary[KEY].unique().to_list()
        return _chosen(self.choose(ids, writable.__contains__))

    def choose(self, function_ids: list[str], writable: Callable[[str], bool]) -> set[str]:
        """Only the functions ranked before the last one chosen are asked about."""
        wanted = min(self.most, math.floor(self.share * len(function_ids) + 0.5))
        ranked = sorted(function_ids, key=lambda f: rank_digest("eval", self.seed, f))
        return set(itertools.islice((f for f in ranked if writable(f)), wanted))
