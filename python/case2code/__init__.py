"""case2code: execution-verified Case2Code training data from real Python code.

The stages are table-to-table steps: extract, dedup, inputs (LLM-written or built-in, validated
in the sandbox), execute (in the sandbox), assemble (cases to rendered samples) and export.
"""

from case2code._core import __version__
from case2code.assemble import AssembleConfig, AssembleResult, assemble
from case2code.dedup import DedupConfig, DedupReport, DedupResult, dedup
from case2code.errors import C2CError
from case2code.evaluation import EvalResult, evaluate
from case2code.execute import execute
from case2code.export import ExportSummary, export
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
from case2code.inputs import (
    BuiltinGenerator,
    InputGenerator,
    InputsConfig,
    InputsResult,
    generate_inputs,
    generate_inputs_to_parquet,
)
from case2code.mix import MixConfig, MixSummary, mix
from case2code.sandbox import Call, CaseResult, Limits, Sandbox

__all__ = [
    "AssembleConfig",
    "AssembleResult",
    "BuiltinGenerator",
    "C2CError",
    "Call",
    "CaseResult",
    "DedupConfig",
    "DedupReport",
    "DedupResult",
    "EvalResult",
    "ExportSummary",
    "ExtractConfig",
    "ExtractResult",
    "ExtractSummary",
    "ExtractedFunction",
    "InputGenerator",
    "InputsConfig",
    "InputsResult",
    "Limits",
    "MixConfig",
    "MixSummary",
    "Param",
    "Sandbox",
    "__version__",
    "assemble",
    "dedup",
    "evaluate",
    "execute",
    "export",
    "extract",
    "extract_source",
    "extract_texts",
    "generate_inputs",
    "generate_inputs_to_parquet",
    "mix",
]
