"""case2code: execution-verified Case2Code training data from real Python code.

The stages are table-to-table steps: extract, dedup and execute (in the sandbox) are built.
"""

from case2code._core import __version__
from case2code.dedup import DedupConfig, DedupReport, DedupResult, dedup
from case2code.errors import C2CError
from case2code.execute import execute
from case2code.extract import (
    ExtractConfig,
    ExtractedFunction,
    ExtractResult,
    ExtractSummary,
    Param,
    extract,
    extract_source,
    extract_texts,
)
from case2code.sandbox import Call, CaseResult, Limits, Sandbox

__all__ = [
    "C2CError",
    "Call",
    "CaseResult",
    "DedupConfig",
    "DedupReport",
    "DedupResult",
    "ExtractConfig",
    "ExtractResult",
    "ExtractSummary",
    "ExtractedFunction",
    "Limits",
    "Param",
    "Sandbox",
    "__version__",
    "dedup",
    "execute",
    "extract",
    "extract_source",
    "extract_texts",
]
