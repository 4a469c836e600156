"""case2code: execution-verified Case2Code training data from real Python code.

The stages are table-to-table steps; this release has the first one, extraction.
"""

from case2code._core import __version__
from case2code.errors import C2CError
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

__all__ = [
    "C2CError",
    "ExtractConfig",
    "ExtractResult",
    "ExtractSummary",
    "ExtractedFunction",
    "Param",
    "__version__",
    "extract",
    "extract_source",
    "extract_texts",
]
