"""A JSON schema for a function's inputs, sent with the request so that even a very small model
returns parseable, well-typed inputs (structured output / guided decoding).

The answer is `{"inputs": [{"<param>": value, ...}, ...]}`: one object per call, keyed by
parameter name. Each parameter's schema comes from the kinds the built-in generator's analysis
guessed (annotations, defaults, usage); where the guess is unsure, the schema allows the leading
candidates (`anyOf`). Sizes are capped so a constrained answer cannot run away.
"""

from __future__ import annotations

from typing import Any

from case2code.inputs.analyze import analyze, annotation_kinds
from case2code.inputs.spec import FunctionSpec
from case2code.inputs.values import BROAD

MAX_STRING = 80
MAX_ITEMS = 8

_STRING = {"type": "string", "maxLength": MAX_STRING}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items, "maxItems": MAX_ITEMS}


def _mapping(values: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": values, "maxProperties": MAX_ITEMS}


_INTEGER = {"type": "integer"}
_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": _INTEGER,
    "float": {"type": "number"},
    "str": _STRING,
    "char": {"type": "string", "minLength": 1, "maxLength": 1},
    "digits": {"type": "string", "pattern": "^[0-9]{1,12}$"},
    "bool": {"type": "boolean"},
    "none": {"type": "null"},
    "bytes": _STRING,
    "list[int]": _array(_INTEGER),
    "list[str]": _array(_STRING),
    "list[float]": _array({"type": "number"}),
    "list[list[int]]": _array(_array(_INTEGER)),
    "tuple[int]": _array(_INTEGER),  # JSON has arrays only
    "set[int]": _array(_INTEGER),
    "dict[str,int]": _mapping(_INTEGER),
    "dict[str,str]": _mapping(_STRING),
}
# A guess this far below the best one is left out of the schema.
CUTOFF = 0.35
MAX_ALTERNATIVES = 3


def param_schema(weights: dict[str, float]) -> dict[str, Any]:
    ranked = sorted((weights or BROAD).items(), key=lambda kv: -kv[1])
    best = ranked[0][1]
    chosen: list[dict[str, Any]] = []
    for kind, weight in ranked[:MAX_ALTERNATIVES]:
        schema = _KIND_SCHEMAS[kind]
        if weight >= CUTOFF * best and schema not in chosen:
            chosen.append(schema)
    return chosen[0] if len(chosen) == 1 else {"anyOf": chosen}


def inputs_schema(spec: FunctionSpec, n: int) -> dict[str, Any]:
    """The schema of an answer holding exactly `n` inputs for `spec`."""
    weights = analyze(spec).weights
    for p in spec.params:
        declared = annotation_kinds(p.annotation) if p.annotation else {}
        if declared:
            weights[p.name] = declared  # an annotation is the author's word: nothing else
    params = spec.callable_params
    item = {
        "type": "object",
        "properties": {p.name: param_schema(dict(weights.get(p.name, {}))) for p in params},
        "required": [p.name for p in params if p.required],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"inputs": {"type": "array", "items": item, "minItems": n, "maxItems": n}},
        "required": ["inputs"],
        "additionalProperties": False,
    }
