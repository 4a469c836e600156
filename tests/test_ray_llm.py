"""LLM inputs on Ray (executors/ray_llm.py): the inputs stage's rounds as phases of the run, each
round's prompts answered by one pass of Ray Data's LLM processor.

The HTTP processor runs here for real, against a deterministic scripted loopback server: the
kept inputs and the requests sent equal the local executor's. vLLM cannot run here (no GPU): its
processor's config, the prompt row -> engine request building and the engine's output row ->
proposal reading are tested without it, as tests/test_inputs_llm.py tests the vLLM driver."""

from __future__ import annotations

import importlib.util
import json
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import case2code
import polars as pl
import pytest
from case2code import ExtractConfig
from case2code.errors import C2CError
from case2code.executors import LocalExecutor
from case2code.inputs import FunctionSpec, InputsConfig, Request
from case2code.inputs.llm import LLMSettings, build_prompts, prompt_row, read_reply, row_reply
from case2code.inputs.openai_server import OpenAIGenerator, ray_reply
from case2code.inputs.schema import inputs_schema
from case2code.inputs.stage import InputsStep
from case2code.inputs.vllm_engine import VLLMGenerator
from loopback_chat import Reply, loopback_chat_server

needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="Ray is not installed: pip install ray[data]"
)

SOURCE = "def clamp(value: int, low=0, high=10):\n    return max(low, min(high, value))\n"
MODULES = ("colorsys.py", "textwrap.py", "bisect.py", "fnmatch.py", "shlex.py")
FUNCTIONS = 12
PARTITION = 3  # 4 partitions
# Two rounds: the re-prompt shows a function's errors, so round 1 depends on round 0's results.
CONFIG = InputsConfig(n_inputs=4, min_valid=3, rounds=2, reprompts=1, workers=1)
KEPT = ["function_id", "input", "status", "origin", "round"]


@pytest.fixture(scope="module")
def clamp() -> FunctionSpec:
    functions = case2code.extract_source(SOURCE, config=ExtractConfig(min_lines=1)).functions
    return FunctionSpec.from_row(functions.row(0, named=True))


def completion(text: str, finish: str = "stop") -> dict[str, Any]:
    return {
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7},
    }


# ------------------------------------------------------------------ vLLM, without vLLM


def test_vllm_processor_config_takes_the_model_engine_and_placement() -> None:
    pytest.importorskip("ray")
    generator = VLLMGenerator(
        "some/model",
        engine_args={"max_model_len": 4096},
        processor_args={"concurrency": 2, "accelerator_type": "H100"},
    )
    config = generator.ray_processor_config()
    assert (config.model_source, config.engine_kwargs["max_model_len"]) == ("some/model", 4096)
    assert (config.concurrency, config.accelerator_type, config.batch_size) == (2, "H100", 64)
    assert config.should_continue_on_error  # a failed prompt costs its function only
    assert "processor_args" not in json.dumps(generator.identity())  # batching: same answers


def test_vllm_rows_are_the_drivers_requests_and_answers(clamp: FunctionSpec) -> None:
    generator = VLLMGenerator("some/model", settings=LLMSettings(max_tokens=300))
    [prompt] = build_prompts([Request(clamp, 4, seed=9)], generator.settings, generator.templates)
    request = generator.ray_request(prompt_row(prompt))
    assert request["messages"] == prompt.messages
    sampling = dict(request["sampling_params"])
    guided = sampling.pop("structured_outputs")
    chat = generator.settings.chat(prompt.messages, prompt.request.seed, prompt.schema)
    assert sampling == chat.sampling()  # what the offline driver samples with
    assert json.loads(guided["json"]) == inputs_schema(clamp, 4)  # text: Arrow keeps it whole
    # An output row of Ray's vLLM engine stage (it keeps no finish reason).
    output = {"order": 5, "generated_text": '{"inputs": [{"value": 8}]}'}
    reply = row_reply(
        generator.ray_reply({**output, "num_input_tokens": 40, "num_generated_tokens": 9})
    )
    proposal = read_reply(prompt, reply, generator.name)
    assert [c.input for c in proposal.candidates] == ["(8)"] and proposal.failure is None
    assert (proposal.usage.prompt_tokens, proposal.usage.completion_tokens) == (40, 9)
    cut = generator.ray_reply({**output, "num_input_tokens": 40, "num_generated_tokens": 300})
    assert read_reply(prompt, row_reply(cut), "vllm").failure.startswith("truncated")
    free = VLLMGenerator("m", settings=LLMSettings(structured=False, templates=("paper",)))
    [plain] = build_prompts([Request(clamp, 2)], free.settings, free.templates)
    assert "structured_outputs" not in free.ray_request(prompt_row(plain))["sampling_params"]


def test_http_rows_are_the_drivers_requests_and_answers(clamp: FunctionSpec) -> None:
    generator = OpenAIGenerator("m", "http://127.0.0.1:9/v1", settings=LLMSettings())
    [prompt] = build_prompts([Request(clamp, 2, seed=3)], generator.settings, generator.templates)
    payload = generator.ray_request(prompt_row(prompt))["payload"]
    chat = generator.settings.chat(prompt.messages, prompt.request.seed, prompt.schema)
    assert json.loads(payload["body"]) == generator.body(chat)  # the local driver's request
    answer = completion('{"inputs": [{"value": 4}, {"value": -2, "high": 1}]}')
    proposal = read_reply(
        prompt, row_reply(ray_reply({"order": 0, "http_response": answer})), "openai"
    )
    assert [c.input for c in proposal.candidates] == ["(4)", "(-2, high=1)"]
    assert (proposal.usage.requests, proposal.usage.prompt_tokens) == (1, 11)
    refused = ray_reply({"order": 0, "http_response": {"error": "bad key"}})
    failed = read_reply(prompt, row_reply(refused), "openai")
    assert failed.failure.startswith("http: no answer") and failed.usage.failed_requests == 1


# ------------------------------------------------------------------ the HTTP processor on Ray


def first_type(schema: dict[str, Any]) -> str:
    return schema.get("anyOf", [schema])[0].get("type", "string")


VALUES = {
    "integer": lambda k: k,
    "number": lambda k: k + 0.5,
    "string": lambda k: "ab"[: k % 3],
    "boolean": lambda k: k % 2 == 0,
    "null": lambda k: None,
    "array": lambda k: list(range(k % 3)),
    "object": lambda k: {},
}


class Scripted:
    """Answers each request from its own content only (the schema's parameters, the last
    message), so the order the requests come in changes nothing; keeps what it was sent.
    `broken`: functions (by name in the prompt) answered with a body that is not JSON."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.broken: tuple[str, ...] = ()
        self.json_object_only = False  # refuses OpenAI's schema style, as llama-cpp-python does

    def __call__(self, body: dict[str, Any]) -> Reply:
        self.seen.append(body)
        last = body["messages"][-1]["content"]
        if any(f"def {name}(" in last for name in self.broken):
            return 500, "not json"
        style = body["response_format"]
        if self.json_object_only and style["type"] == "json_schema":
            return 500, {"detail": "response_format.type: json_schema not allowed"}
        schema = (style.get("schema") or style["json_schema"]["schema"])["properties"]["inputs"]
        seed = zlib.crc32(last.encode())
        inputs = [
            {
                name: VALUES[first_type(s)]((seed >> i) % 7)
                for name, s in schema["items"]["properties"].items()
            }
            for i in range(schema["minItems"])
        ]
        return 200, completion(json.dumps({"inputs": inputs}))


@pytest.fixture(scope="module")
def functions(stdlib_dir: Path) -> pl.DataFrame:
    extracted = case2code.extract([stdlib_dir / name for name in MODULES]).functions
    return extracted.unique("function_id").sort("function_id").head(FUNCTIONS)


@pytest.fixture
def server() -> Iterator[tuple[str, Scripted]]:
    script = Scripted()
    with loopback_chat_server(script) as base_url:
        yield base_url, script


def inputs_step(base_url: str, config: InputsConfig = CONFIG) -> InputsStep:
    generator = OpenAIGenerator(
        "m", base_url, settings=LLMSettings(), concurrency=2, retries=1, backoff_s=0.01
    )
    return InputsStep(generator, config)


def kept(table: pl.DataFrame) -> set[tuple[Any, ...]]:
    return set(table.select(KEPT).iter_rows())


def bodies(script: Scripted) -> Counter[str]:
    """The requests answered (those refused for their schema style aside)."""
    styles = ("json_schema",) if script.json_object_only else ()
    return Counter(
        json.dumps(body, sort_keys=True)
        for body in script.seen
        if body["response_format"]["type"] not in styles
    )


def ray_executor(**options: Any) -> Any:
    from case2code.executors.ray import RayExecutor

    return RayExecutor(PARTITION, **options)


@needs_ray
def test_http_processor_rounds_keep_the_local_inputs(ray_address, functions, server) -> None:
    base_url, script = server
    # As llama-cpp-python does: both executors fall back to llama.cpp's schema style.
    script.json_object_only = True
    tables = {"functions": functions}
    local = LocalExecutor(PARTITION).run(inputs_step(base_url), tables)
    sent_locally, script.seen = bodies(script), []
    step = inputs_step(base_url)
    ray = ray_executor().run(step, tables)
    assert kept(ray.table) == kept(local.table) and ray.table.height > functions.height
    assert step.generator.schema_style == "json_object"
    # The same requests, round 1's re-prompts included (the refused ones aside).
    assert bodies(script) == sent_locally
    assert local.stats["requests"] > functions.height  # some functions were re-prompted
    assert ray.stats["functions"] == functions.height and ray.stats["failed_requests"] == 0
    for figure in ("candidates", "inputs_kept", "candidate_statuses", "origins", "tokens_in"):
        assert ray.stats[figure] == local.stats[figure], figure


@needs_ray
def test_a_stopped_phase_run_resumes_to_the_same_inputs(
    ray_address, functions, server, tmp_path, monkeypatch
) -> None:
    import case2code.executors.ray_llm as ray_llm

    base_url, script = server
    tables = {"functions": functions}
    expected = (
        LocalExecutor(PARTITION).run(inputs_step(base_url, replace(CONFIG, rounds=1)), tables).table
    )
    # One actor, waves of two partitions: the first wave is stored when the second one's pass
    # fails on a function of the last partition.
    monkeypatch.setattr(ray_llm, "WAVE_PARTITIONS", 2)
    step = partial(inputs_step, config=replace(CONFIG, rounds=1))  # a pass per wave
    last = functions["name"][-1]
    script.broken = (last,)
    output = tmp_path / "inputs.parquet"
    with pytest.raises(C2CError, match=r"the LLM pass over \d+ prompts failed"):
        ray_executor(actors=1).run(step(base_url), tables, output)
    shards = sorted(p.name for p in (tmp_path / "inputs.parquet.parts").glob("part-*.parquet"))
    assert shards == ["part-00000.parquet", "part-00001.parquet"]
    script.broken = ()
    run = ray_executor(actors=1).run(step(base_url), tables, output)
    assert (run.partitions, run.computed) == (4, 2)
    assert kept(pl.read_parquet(output)) == kept(expected)
