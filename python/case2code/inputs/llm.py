"""What every LLM driver shares: building a request's prompt (and schema) and reading the
model's answer into candidate inputs. Drivers only move text to and from a model."""

from __future__ import annotations

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
        template, messages = messages_for(request.spec, n, request.history, templates, request.seed)
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


def failed(prompt: Prompt, reason: str, usage: Usage) -> Proposal:
    usage.failed_requests += 1
    return Proposal(prompt.request.spec.function_id, usage=usage, failure=reason)
