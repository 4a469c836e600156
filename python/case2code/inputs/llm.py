"""What every LLM driver shares: building a request's prompt (and schema) and reading the
model's answer into candidate inputs. Drivers only move text to and from a model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from case2code.errors import C2CError
from case2code.inputs.parse import parse_response
from case2code.inputs.prompts import (
    CODE_TEMPLATES,
    JSON_TEMPLATES,
    Message,
    Template,
    load_template,
    messages_for,
)
from case2code.inputs.schema import inputs_schema
from case2code.inputs.spec import Candidate, Proposal, Request, Usage, generator_error

MAX_INPUTS_PER_REQUEST = 20


@dataclass(frozen=True)
class LLMSettings:
    """How inputs are asked for. `structured` sends a JSON schema (structured output on
    OpenAI-compatible servers, guided decoding in vLLM) and uses the JSON templates; without
    it, the model writes Python (the paper's way) and the answer is parsed leniently."""

    structured: bool = True
    templates: tuple[str, ...] = ()  # names or paths; empty: the built-ins for the mode
    temperature: float = 0.2  # the paper's setting
    top_p: float = 0.95
    max_tokens: int = 1024  # a longer answer is cut and marked truncated, never retried

    def load_templates(self) -> list[Template]:
        names = self.templates or (JSON_TEMPLATES if self.structured else CODE_TEMPLATES)
        return [load_template(name) for name in names]


def llm_identity(
    name: str, model: str, settings: LLMSettings, templates: Sequence[Template], **extra: Any
) -> dict[str, Any]:
    """An LLM generator's identity: what changes its answers (the templates' texts, not
    their names; no API key, timeout or concurrency)."""
    return {
        "name": name,
        "model": model,
        "settings": asdict(settings),
        "templates": [asdict(template) for template in templates],
        **extra,
    }


@dataclass(frozen=True)
class Prompt:
    request: Request
    template: str
    messages: list[Message]
    schema: dict[str, Any] | None
    n: int


@dataclass(frozen=True)
class Chat:
    """A plain chat request (no schema, no input prompt): model answers for `c2c eval`."""

    messages: list[Message]
    temperature: float
    max_tokens: int
    seed: int  # per sample, so sampled answers to one prompt differ and rerun the same


@dataclass(frozen=True)
class ChatReply:
    """The model's answer to one `Chat`, or why none came (`failure`)."""

    text: str = ""
    truncated: bool = False  # finish_reason == "length"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    failure: str | None = None
    status: int | None = None  # the last HTTP status (None: no response, or not HTTP)


def build_prompts(
    requests: Sequence[Request], settings: LLMSettings, templates: Sequence[Template]
) -> list[Prompt]:
    prompts = []
    for request in requests:
        n = max(1, min(request.want, MAX_INPUTS_PER_REQUEST))
        template, messages = messages_for(
            request.spec, n, request.history, templates, request.seed, request.unreached
        )
        schema = inputs_schema(request.spec, n) if settings.structured else None
        prompts.append(Prompt(request, template.name, messages, schema, n))
    return prompts


def read_answer(
    prompt: Prompt,
    text: str,
    origin: str,
    usage: Usage,
    truncated: bool = False,
) -> Proposal:
    """A proposal from the model's text; a cut-off answer keeps its complete inputs but is
    marked failed (`truncated`). An answer whose reading raises costs its function only: a
    proposal failed with `generator_error`."""
    spec = prompt.request.spec
    params = [p.name for p in spec.callable_params]
    try:
        parsed = parse_response(text, spec.name, params)
    except C2CError:
        raise
    except Exception as error:
        return failed(prompt, generator_error(error), usage)
    truncated = truncated or parsed.truncated
    usage.truncated += truncated
    proposal = Proposal(
        spec.function_id,
        candidates=[Candidate(text, origin) for text in parsed.inputs],
        rejected=[r.reason for r in parsed.rejected],
        usage=usage,
    )
    if truncated:
        proposal.failure = "truncated: answer reached max_tokens"
    elif not parsed.inputs:
        proposal.failure = "unparseable: no literal inputs in the answer"
    return proposal


def prompt_for(
    request: Request, settings: LLMSettings, templates: Sequence[Template]
) -> Prompt | Proposal:
    """The request's prompt, or a failed proposal (`generator_error`) when building it raised:
    one function's odd source costs that function only."""
    try:
        [prompt] = build_prompts([request], settings, templates)
    except C2CError:
        raise
    except Exception as error:
        return Proposal(request.spec.function_id, failure=generator_error(error))
    return prompt


def read_reply(prompt: Prompt, reply: ChatReply, origin: str) -> Proposal:
    """A proposal from one reply of a Ray Data LLM pass (executors/ray_llm.py)."""
    usage = Usage(requests=1)
    if reply.failure is not None:
        return failed(prompt, reply.failure, usage)
    usage.prompt_tokens = reply.prompt_tokens or 0
    usage.completion_tokens = reply.completion_tokens or 0
    return read_answer(prompt, reply.text, origin, usage, reply.truncated)


def prompt_row(prompt: Prompt) -> dict[str, Any]:
    """A prompt as a Ray Data row. JSON text, not nested columns: Arrow would merge the rows'
    different schemas into one, adding each key a row lacks as a null."""
    schema = "" if prompt.schema is None else json.dumps(prompt.schema)
    return {"messages": json.dumps(prompt.messages), "schema": schema, "seed": prompt.request.seed}


def row_prompt(row: dict[str, Any]) -> tuple[list[Message], str | None, int]:
    """A `prompt_row`'s messages, JSON schema text (None: free text) and seed."""
    return json.loads(row["messages"]), row["schema"] or None, int(row["seed"])


def reply_row(reply: ChatReply) -> dict[str, Any]:
    """A reply as a flat Ray Data row (`failure` "" when there is none)."""
    return {
        "text": reply.text,
        "truncated": reply.truncated,
        "prompt_tokens": reply.prompt_tokens or 0,
        "completion_tokens": reply.completion_tokens or 0,
        "failure": reply.failure or "",
    }


def row_reply(row: dict[str, Any]) -> ChatReply:
    return ChatReply(
        text=row["text"],
        truncated=bool(row["truncated"]),
        prompt_tokens=int(row["prompt_tokens"]),
        completion_tokens=int(row["completion_tokens"]),
        failure=row["failure"] or None,
    )


def failed(prompt: Prompt, reason: str, usage: Usage) -> Proposal:
    usage.failed_requests += 1
    return Proposal(prompt.request.spec.function_id, usage=usage, failure=reason)
