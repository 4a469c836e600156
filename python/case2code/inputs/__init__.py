"""Stage 3: call inputs for each function, written by a generator and validated in the sandbox.

Generators: the built-in type-aware one (no model; the default), any OpenAI-compatible server,
and vLLM's offline engine. See `case2code.inputs.stage` for how rounds, mutation and selection
work.
"""

from case2code.inputs.builtin import BuiltinGenerator
from case2code.inputs.spec import (
    Candidate,
    FunctionSpec,
    InputGenerator,
    Proposal,
    Request,
    Tried,
    Usage,
)
from case2code.inputs.stage import (
    INPUT_SCHEMA,
    VALIDATION_LIMITS,
    InputsConfig,
    InputsResult,
    generate_inputs,
    generate_inputs_to_parquet,
)

__all__ = [
    "INPUT_SCHEMA",
    "VALIDATION_LIMITS",
    "BuiltinGenerator",
    "Candidate",
    "FunctionSpec",
    "InputGenerator",
    "InputsConfig",
    "InputsResult",
    "Proposal",
    "Request",
    "Tried",
    "Usage",
    "generate_inputs",
    "generate_inputs_to_parquet",
]
