"""Real results for hand-written functions: extracted by the real extractor and run on their
inputs in the real sandbox, for tests of the stages after execute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl
from case2code import ExtractConfig, extract_source
from case2code.execute import execute


def run_hand_functions(
    source: str, inputs: Mapping[str, Sequence[str]]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(functions, results) for the functions in `source`, each run on `inputs[name]`."""
    functions = extract_source(source, "hand.py", ExtractConfig(min_lines=1)).functions
    ids = dict(zip(functions["name"], functions["function_id"], strict=True))
    table = pl.DataFrame(
        [(ids[name], text) for name, texts in inputs.items() for text in texts],
        schema=["function_id", "input"],
        orient="row",
    )
    return functions, execute(functions, table, workers=2)
