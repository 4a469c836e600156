"""What every LLM driver shares: a request's prompt (and schema) as a chat, and the model's
reply read into candidate inputs. Drivers only move chats to and from a model."""

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

    def chat(self, messages: list[Message], seed: int, schema: dict[str, Any] | None) -> Chat:
        """The request of one input prompt."""
        return Chat(messages, self.temperature, self.max_tokens, seed, self.top_p, schema)


@dataclass(frozen=True)
class Prompt:
    request: Request
    messages: list[Message]
    schema: dict[str, Any] | None


@dataclass(frozen=True)
class Chat:
    """One chat request: an input prompt's (with its schema when structured) or a plain one
    (model answers for `c2c eval`, no top_p)."""

    messages: list[Message]
    temperature: float
    max_tokens: int
    seed: int  # per sample, so sampled answers to one prompt differ and rerun the same
    top_p: float | None = None
    schema: dict[str, Any] | None = None

    def sampling(self) -> dict[str, Any]:
        """The sampling settings, named as both the OpenAI API and `vllm.SamplingParams` name
        them."""
        settings: dict[str, Any] = {"temperature": self.temperature}
        if self.top_p is not None:
            settings["top_p"] = self.top_p
        return {**settings, "max_tokens": self.max_tokens, "seed": self.seed}


@dataclass(frozen=True)
class ChatReply:
    """The model's answer to one `Chat`, or why none came (`failure`)."""

    text: str = ""
    truncated: bool = False  # finish_reason == "length"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    failure: str | None = None
    status: int | None = None  # the last HTTP status (None: no response, or not HTTP)
    attempts: int = 1  # requests sent, retries included


class LLMGenerator:
    """What the LLM drivers share: a prompt per request, sent as a chat (`_replies`, which may
    raise: the inputs stage then splits the batch), and the replies read into proposals."""

    name: str

    def __init__(self, model: str, settings: LLMSettings | None) -> None:
        self.model = model
        self.settings = settings or LLMSettings()
        self.templates = self.settings.load_templates()

    def identity(self) -> dict[str, Any]:
        """What changes the answers: the templates' texts, not their names; no API key,
        timeout or concurrency. Drivers add their own settings."""
        return {
            "name": self.name,
            "model": self.model,
            "settings": asdict(self.settings),
            "templates": [asdict(template) for template in self.templates],
        }

    def propose(self, requests: Sequence[Request]) -> list[Proposal]:
        prompts = build_prompts(requests, self.settings, self.templates)
        if not prompts:
            return []
        chats = [self.settings.chat(p.messages, p.request.seed, p.schema) for p in prompts]
        replies = self._replies(chats)
        return [read_reply(p, r, self.name) for p, r in zip(prompts, replies, strict=True)]

    def _replies(self, chats: Sequence[Chat]) -> list[ChatReply]:
        raise NotImplementedError


def build_prompts(
    requests: Sequence[Request], settings: LLMSettings, templates: Sequence[Template]
) -> list[Prompt]:
    prompts = []
    for request in requests:
        n = max(1, min(request.want, MAX_INPUTS_PER_REQUEST))
        messages = messages_for(
            request.spec, n, request.history, templates, request.seed, request.unreached
        )
        schema = inputs_schema(request.spec, n) if settings.structured else None
        prompts.append(Prompt(request, messages, schema))
    return prompts


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
    """A proposal from the reply to a prompt's chat (a driver's, or a Ray Data LLM pass's). A
    cut-off answer keeps its complete inputs but is marked failed (`truncated`); an answer
    whose reading raises costs its function only (`generator_error`)."""
    usage = Usage(requests=reply.attempts)
    if reply.failure is not None:
        return failed(prompt, reply.failure, usage)
    usage.prompt_tokens = reply.prompt_tokens or 0
    usage.completion_tokens = reply.completion_tokens or 0
    spec = prompt.request.spec
    try:
        parsed = parse_response(reply.text, spec.name, [p.name for p in spec.callable_params])
    except C2CError:
        raise
    except Exception as error:
        return failed(prompt, generator_error(error), usage)
    truncated = reply.truncated or parsed.truncated
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


def prompt_row(prompt: Prompt) -> dict[str, Any]:
    """A prompt as a Ray Data row. JSON text, not nested columns: Arrow would merge the rows'
    different schemas into one, adding each key a row lacks as a null."""
    schema = "" if prompt.schema is None else json.dumps(prompt.schema)
    return {"messages": json.dumps(prompt.messages), "schema": schema, "seed": prompt.request.seed}


def row_chat(row: dict[str, Any], settings: LLMSettings) -> Chat:
    """The chat of a `prompt_row`."""
    schema = json.loads(row["schema"]) if row["schema"] else None
    return settings.chat(json.loads(row["messages"]), int(row["seed"]), schema)


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
