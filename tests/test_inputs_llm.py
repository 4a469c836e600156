"""LLM input generation: prompts, schemas, the OpenAI-compatible driver against loopback servers
(a scripted one for retries and fallbacks, and the real SmolLM2 server), and the vLLM driver's
request building and answer reading (vLLM itself cannot run here: no GPU)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace

import jsonschema
import polars as pl
import pytest
from case2code import ExtractConfig, extract, extract_source
from case2code.errors import C2CError
from case2code.inputs import FunctionSpec, InputsConfig, Request, Tried, generate_inputs
from case2code.inputs.literals import canonical
from case2code.inputs.llm import LLMSettings, build_prompts
from case2code.inputs.openai_server import OpenAIGenerator
from case2code.inputs.prompts import (
    Template,
    builtin_template,
    load_template,
    parse_template,
)
from case2code.inputs.schema import inputs_schema
from case2code.inputs.vllm_engine import VLLMGenerator
from loopback_chat import loopback_chat_server
from vllm_outputs import Completion, RequestOutput

SOURCE = (
    "def clamp(value: int, low=0, high=10):\n"
    "    '''Clamp {value} into [low, high].'''\n"
    "    return max(low, min(high, value))\n"
)


def spec_of(source: str, name: str) -> FunctionSpec:
    functions = extract_source(source, config=ExtractConfig(min_lines=1)).functions
    return FunctionSpec.from_row(functions.filter(pl.col("name") == name).row(0, named=True))


@pytest.fixture(scope="module")
def clamp() -> FunctionSpec:
    return spec_of(SOURCE, "clamp")


# ------------------------------------------------------------------ templates and schema


@pytest.mark.parametrize("name", ["paper", "calls", "edge-cases", "json"])
def test_builtin_templates_render_sources_with_braces(name: str, clamp: FunctionSpec) -> None:
    [prompt] = build_prompts(
        [Request(clamp, 7)],
        LLMSettings(structured=name == "json", templates=(name,)),
        [builtin_template(name)],
    )
    last = prompt.messages[-1]
    assert last["role"] == "user"
    assert "Clamp {value} into [low, high]." in last["content"]  # braces untouched
    assert "{{" not in last["content"]
    assert "7" in last["content"] and "clamp" in last["content"]


def test_user_templates_and_their_errors(tmp_path) -> None:
    mine = tmp_path / "terse.txt"
    mine.write_text("# mine\n[user]\nInputs for {{name}}, {{n}} of them:\n{{source}}\n")
    template = load_template(str(mine))
    assert template.name == "terse"
    assert template.turns == (("user", "Inputs for {{name}}, {{n}} of them:\n{{source}}"),)
    with pytest.raises(C2CError, match="must end with a \\[user\\] section"):
        parse_template("bad", "[user]\nhi\n[assistant]\nho\n")
    with pytest.raises(C2CError, match="does not exist"):
        load_template(str(tmp_path / "missing.txt"))
    with pytest.raises(C2CError, match="no built-in input template"):
        load_template("nonesuch")


def test_reprompt_shows_the_errors(clamp: FunctionSpec) -> None:
    history = (
        Tried("('x')", "error", "<class 'TypeError'>: '<' not supported"),
        Tried("(1)", "ok"),
    )
    [prompt] = build_prompts(
        [Request(clamp, 5, round=1, history=history)],
        LLMSettings(),
        [builtin_template("json")],
    )
    text = prompt.messages[-1]["content"]
    assert "clamp('x') -> <class 'TypeError'>: '<' not supported" in text
    assert "clamp(1)" not in text


def test_schema_follows_annotations_and_defaults(clamp: FunctionSpec) -> None:
    schema = inputs_schema(clamp, 3)
    item = schema["properties"]["inputs"]["items"]
    assert item["required"] == ["value"]
    assert item["properties"]["value"] == {"type": "integer"}
    assert item["properties"]["low"] == {"type": "integer"}
    good = {"inputs": [{"value": 5}, {"value": -1, "low": 2}, {"value": 3, "high": 4}]}
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"inputs": [{"value": "5"}, {"value": 1}, {"value": 2}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"inputs": [{"value": 1}]}, schema)


# ------------------------------------------------------------------ a scripted loopback server


@dataclass
class Script:
    """What the scripted server answers, one entry per request, and what it was sent."""

    answers: list[tuple[int, dict]]
    seen: list[dict] = field(default_factory=list)


def completion(text: str, finish: str = "stop") -> dict:
    return {
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7},
    }


@pytest.fixture
def scripted() -> Iterator[tuple[str, Script]]:
    script = Script([])

    def answer(body: dict) -> tuple[int, dict]:
        script.seen.append(body)
        status, reply = script.answers.pop(0) if script.answers else (500, {})
        if status >= 400 and body.get("response_format", {}).get("type") == "json_object":
            status, reply = script.answers.pop(0)  # only json_schema is refused
        return status, reply

    with loopback_chat_server(answer) as base_url:
        yield base_url, script


def test_openai_driver_retries_then_reads_tokens(scripted, clamp: FunctionSpec) -> None:
    base_url, script = scripted
    script.answers = [
        (503, {"error": "busy"}),
        (429, {"error": "slow down"}),
        (200, completion('{"inputs": [{"value": 4}, {"value": -2, "high": 1}]}')),
    ]
    generator = OpenAIGenerator("m", base_url, settings=LLMSettings(), backoff_s=0.01)
    [proposal] = generator.propose([Request(clamp, 2)])
    assert proposal.failure is None
    assert [c.input for c in proposal.candidates] == ["(4)", "(-2, high=1)"]
    assert {c.origin for c in proposal.candidates} == {"openai"}
    assert (proposal.usage.requests, proposal.usage.prompt_tokens) == (3, 11)
    assert proposal.usage.completion_tokens == 7
    sent = script.seen[-1]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == inputs_schema(clamp, 2)
    assert sent["max_tokens"] == 1024 and sent["temperature"] == 0.2


def test_openai_driver_falls_back_to_llama_cpp_schema_style(scripted, clamp) -> None:
    base_url, script = scripted
    script.answers = [
        (500, {"detail": "response_format.type: json_schema not allowed"}),
        (200, completion('{"inputs": [{"value": 1}]}')),
        (200, completion('{"inputs": [{"value": 2}]}')),
    ]
    generator = OpenAIGenerator(
        "m", base_url, settings=LLMSettings(), backoff_s=0.01, concurrency=1
    )
    first, second = generator.propose([Request(clamp, 1), Request(clamp, 1, seed=1)])
    assert [c.input for c in first.candidates + second.candidates] == ["(1)", "(2)"]
    styles = [body["response_format"]["type"] for body in script.seen]
    assert styles == ["json_schema", "json_object", "json_object"]
    assert script.seen[-1]["response_format"]["schema"]["required"] == ["inputs"]


def test_openai_driver_marks_runaway_and_failed_answers(scripted, clamp) -> None:
    base_url, script = scripted
    script.answers = [(200, completion('{"inputs": [{"value": 1}, {"value": 2}, {"va', "length"))]
    generator = OpenAIGenerator("m", base_url, settings=LLMSettings(), backoff_s=0.01, retries=1)
    [cut] = generator.propose([Request(clamp, 3)])
    assert cut.failure is not None and cut.failure.startswith("truncated")
    assert [c.input for c in cut.candidates] == ["(1)", "(2)"]
    assert cut.usage.truncated == 1 and len(script.seen) == 1  # never retried
    script.answers = [(500, {}), (500, {})]
    [down] = generator.propose([Request(clamp, 3)])
    assert down.failure is not None and "gave up after 2 attempts" in down.failure
    assert down.candidates == [] and down.usage.failed_requests == 1
    script.answers = [(401, {"error": "bad key"})]
    [denied] = generator.propose([Request(clamp, 3)])
    assert denied.failure is not None and denied.failure.startswith("http: 401")


def test_openai_driver_survives_a_dead_server(clamp: FunctionSpec) -> None:
    generator = OpenAIGenerator(
        "m", "http://127.0.0.1:9/v1", settings=LLMSettings(), retries=1, backoff_s=0.01
    )
    [proposal] = generator.propose([Request(clamp, 3)])
    assert proposal.failure is not None and "ConnectError" in proposal.failure


class TemplateFailingFor(Template):
    """A prompt template that raises for one function's source (an injected failure)."""

    def render(self, values: dict[str, str]) -> list[dict[str, str]]:
        if "def shout" in values["source"]:
            raise RuntimeError("template broke on this source")
        return super().render(values)


def test_a_template_raising_for_one_function_costs_only_that_one(scripted, sandbox) -> None:
    base_url, script = scripted
    answer = completion('{"inputs": [{"text": "ab"}, {"text": "xyz"}]}')
    script.answers = [(200, answer)] * 2
    source = (
        "def shout(text):\n    return text.upper()\n\n"
        "def whisper(text):\n    return text.lower()\n\n"
        "def width(text):\n    return len(text)\n"
    )
    functions = extract_source(source, config=ExtractConfig(min_lines=1)).functions
    generator = OpenAIGenerator("m", base_url, settings=LLMSettings(), backoff_s=0.01)
    json_template = builtin_template("json")
    generator.templates = [TemplateFailingFor(json_template.name, json_template.turns)]
    config = InputsConfig(n_inputs=2, min_valid=2, rounds=1)
    result = generate_inputs(functions, generator, config, sandbox=sandbox)
    report = result.report()
    assert report["function_errors"] == {"generator_error: RuntimeError": 1}
    assert report["requests"] == len(script.seen) == 2  # shout's prompt was never sent
    names = dict(zip(functions["function_id"], functions["name"], strict=True))
    kept = result.inputs.group_by("function_id").agg(pl.col("input"))
    assert {names[f]: sorted(i) for f, i in kept.iter_rows()} == {
        "whisper": ["('ab')", "('xyz')"],
        "width": ["('ab')", "('xyz')"],
    }


def test_free_text_mode_parses_the_papers_form(scripted, clamp) -> None:
    base_url, script = scripted
    answer = (
        "Sure!\n```python\nexamples = [\n    dict(value=3),\n    dict(value=-4, low=-5),\n]\n```"
    )
    script.answers = [(200, completion(answer))]
    settings = LLMSettings(structured=False, templates=("paper",))
    [proposal] = OpenAIGenerator("m", base_url, settings=settings).propose([Request(clamp, 2)])
    assert [c.input for c in proposal.candidates] == ["(value=3)", "(value=-4, low=-5)"]
    assert "response_format" not in script.seen[0]


# ------------------------------------------------------------------ vLLM, without vLLM


def test_vllm_driver_builds_requests_and_reads_outputs(clamp: FunctionSpec, monkeypatch) -> None:
    """One batch through a stand-in `vllm` (the real one needs a GPU): the sampling settings and
    the guided JSON schema go in, proposals with token counts come out."""
    sent: list[dict] = []

    class Params:  # SamplingParams and StructuredOutputsParams alike
        def __init__(self, **kwargs: object) -> None:
            self.kwargs = kwargs

    class Engine:
        def chat(self, messages: list, sampling_params: list, use_tqdm: bool) -> list:
            sent.extend(params.kwargs for params in sampling_params)
            answer = Completion('{"inputs": [{"value": 8}]}', [2] * 9, "stop")
            return [
                RequestOutput([1] * 40, [answer]),
                RequestOutput([1], [Completion("[", [2], "length")]),
            ]

    guided = SimpleNamespace(StructuredOutputsParams=Params)
    monkeypatch.setitem(
        sys.modules, "vllm", SimpleNamespace(SamplingParams=Params, sampling_params=guided)
    )
    generator = VLLMGenerator("some/model", settings=LLMSettings(max_tokens=300), llm=Engine())
    proposal, cut = generator.propose([Request(clamp, 4, seed=9), Request(clamp, 4, seed=2)])
    schemas = [params.pop("structured_outputs").kwargs["json"] for params in sent]
    assert sent == [
        {"temperature": 0.2, "top_p": 0.95, "max_tokens": 300, "seed": seed} for seed in (9, 2)
    ]
    assert schemas == [inputs_schema(clamp, 4)] * 2
    assert [c.input for c in proposal.candidates] == ["(8)"] and proposal.failure is None
    assert (proposal.usage.prompt_tokens, proposal.usage.completion_tokens) == (40, 9)
    assert cut.failure is not None and cut.failure.startswith("truncated")


def test_vllm_driver_says_what_is_missing(clamp: FunctionSpec) -> None:
    with pytest.raises(C2CError, match="pip install 'case2code\\[vllm\\]'"):
        VLLMGenerator("some/model").propose([Request(clamp, 2)])


# ------------------------------------------------------------------ the real small model


def test_real_llm_inputs_end_to_end(llm_server, sandbox) -> None:
    """Prompt -> schema-constrained answer -> parse -> sandbox validation, with SmolLM2."""
    functions = extract(config=ExtractConfig(min_lines=1)).functions
    sample = functions.unique("function_id").sort("function_id").sample(24, seed=3)
    generator = OpenAIGenerator(
        llm_server.model,
        llm_server.base_url,
        settings=LLMSettings(structured=True, max_tokens=200),
        concurrency=1,
    )
    # One round: the re-prompt path is covered above; this server answers one request at a time.
    config = InputsConfig(n_inputs=5, min_valid=3, rounds=1)
    result = generate_inputs(sample, generator, config, sandbox=sandbox)
    figures = result.report()
    assert figures["functions"] == 24
    # One request per function, plus the one llama-cpp-python refuses for its json_schema style.
    assert figures["requests"] >= 25 and figures["failed_requests"] == 0
    assert figures["tokens_in"] > 0 and figures["tokens_out"] > 0
    assert figures["candidates"] > 24  # the constrained answers parse into inputs
    inputs = result.inputs
    assert inputs.height > 0
    assert set(inputs["function_id"]) <= set(sample["function_id"])
    assert set(inputs["origin"]) == {"openai"} and set(inputs["model"]) == {llm_server.model}
    assert set(inputs["status"]) <= {"ok", "error"}
    for text in inputs["input"]:
        assert canonical(text) == text
