"""The real small LLM the input-generation tests rely on answers schema-constrained JSON."""

from __future__ import annotations

import json
import urllib.request

SCHEMA = {
    "type": "object",
    "properties": {
        "inputs": {
            "type": "array",
            "minItems": 3,
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"],
            },
        }
    },
    "required": ["inputs"],
}


def validate(value: object) -> None:
    try:
        import jsonschema
    except ImportError:  # not a test dependency: check the same structure by hand
        assert isinstance(value, dict) and isinstance(value.get("inputs"), list), value
        assert len(value["inputs"]) == 3, value
        for item in value["inputs"]:
            assert isinstance(item, dict), value
            for key in ("a", "b"):
                assert isinstance(item.get(key), int) and not isinstance(item[key], bool), value
    else:
        jsonschema.validate(value, SCHEMA)


def test_chat_completion_follows_json_schema(llm_server):
    request = {
        "model": llm_server.model,
        "messages": [
            {"role": "system", "content": "You write test inputs for Python functions as JSON."},
            {"role": "user", "content": "Give 3 inputs (a, b) for: def add(a, b): return a + b"},
        ],
        "response_format": {"type": "json_object", "schema": SCHEMA},
        "max_tokens": 120,
        "temperature": 0,
        "seed": 0,
    }
    post = urllib.request.Request(
        f"{llm_server.base_url}/chat/completions",
        data=json.dumps(request).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(post, timeout=120) as response:
        reply = json.load(response)

    choice = reply["choices"][0]
    assert choice["finish_reason"] == "stop", reply  # not cut off at max_tokens
    validate(json.loads(choice["message"]["content"]))
    usage = reply["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0, usage
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"], usage
