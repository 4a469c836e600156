"""Real results for hand-written functions: extracted by the real extractor and run on their
inputs in the real sandbox, for tests of the stages after execute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl
from case2code import ExtractConfig, extract_source
from case2code.execute import execute

# Three ordinary functions, with inputs that return and one that raises: the base the tests of
# the stages after execute add their own functions to.
SOURCE = """
def clamp(x, low, high):
    if low > high:
        raise ValueError("low > high")
    return max(low, min(x, high))

def initials(name):
    return "".join(part[0].upper() for part in name.split())

def digit_sum(n):
    return sum(int(d) for d in str(abs(n)))
"""
INPUTS = {
    "clamp": ["(5, 0, 10)", "(-2, 0, 3)", "(12, 1, 4)", "(1, 5, 2)", "(7, 7, 7)", "(0.5, 0, 1)"],
    "initials": ["('ada lovelace')", "('alan')", "('grace b hopper')", "('x y')", "('')", "(3)"],
    "digit_sum": ["(123)", "(-45)", "(0)", "(9999)", "(10)", "(7)"],
}


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
