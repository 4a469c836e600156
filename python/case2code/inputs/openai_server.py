"""Input generation through any OpenAI-compatible chat server: `vllm serve`, llama.cpp's server,
hosted APIs. Async, with bounded concurrency, retries with backoff, timeouts and token counts.
The same client sends plain chats (`chat`), the model answers `c2c eval` grades.

Structured output is sent the OpenAI way (`response_format: json_schema`); servers that only know
`{"type": "json_object", "schema": ...}` are detected by an error naming the format (a 422, or
llama-cpp-python's 500 wrapping one) and asked that way from then on.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import httpx

from case2code.errors import C2CError
from case2code.inputs.llm import (
    Chat,
    ChatReply,
    LLMSettings,
    Message,
    Prompt,
    build_prompts,
    failed,
    llm_identity,
    read_answer,
    reply_row,
    row_prompt,
)
from case2code.inputs.spec import Proposal, Request, Usage, generator_error

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
SCHEMA_STYLES = ("json_schema", "json_object")
# Prompts per batch of Ray Data's HTTP request stage (one actor sends a batch's in turn).
RAY_BATCH_ROWS = 8

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True)
class Posted:
    """How a request ended: the final response (None when every attempt failed, `error` says
    why) and how many attempts it took."""

    response: httpx.Response | None
    attempts: int
    error: str


@dataclass(frozen=True)
class Completion:
    """The fields of a chat-completions answer the drivers read."""

    text: str
    truncated: bool
    prompt_tokens: int
    completion_tokens: int


class OpenAIGenerator:
    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key: str | None = None,
        settings: LLMSettings | None = None,
        concurrency: int = 8,
        timeout_s: float = 120.0,
        retries: int = 4,
        backoff_s: float = 1.0,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if concurrency < 1:
            raise C2CError("concurrency must be at least 1")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.settings = settings or LLMSettings()
        self.templates = self.settings.load_templates()
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.extra_body = extra_body or {}
        self.schema_style = SCHEMA_STYLES[0]

    def identity(self) -> dict[str, Any]:
        return llm_identity(
            self.name,
            self.model,
            self.settings,
            self.templates,
            base_url=self.base_url,
            extra_body=self.extra_body,
        )

    def propose(self, requests: Sequence[Request]) -> list[Proposal]:
        prompts = build_prompts(requests, self.settings, self.templates)
        return asyncio.run(
            self._gather(
                prompts,
                self._ask,
                lambda prompt, error: failed(prompt, generator_error(error), Usage(requests=1)),
            )
        )

    def chat(
        self, chats: Sequence[Chat], on_reply: Callable[[], None] | None = None
    ) -> list[ChatReply]:
        """One plain chat request per chat, in order; `on_reply` is called as each ends. A
        request that fails after the retries is a reply with `failure` set."""
        return asyncio.run(
            self._gather(
                chats,
                self._ask_chat,
                lambda _, error: ChatReply(failure=generator_error(error)),
                on_reply,
            )
        )

    async def _gather(
        self,
        items: Sequence[Item],
        ask: Callable[[httpx.AsyncClient, Item], Awaitable[Result]],
        on_error: Callable[[Item, Exception], Result],
        on_done: Callable[[], None] | None = None,
    ) -> list[Result]:
        """`ask` for every item, at most `concurrency` at a time, results in order."""
        limit = asyncio.Semaphore(self.concurrency)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 10.0))
        async with httpx.AsyncClient(headers=headers, timeout=timeout) as client:

            async def one(item: Item) -> Result:
                async with limit:
                    try:
                        result = await ask(client, item)
                    except C2CError:
                        raise
                    except Exception as error:  # costs this item only, not the batch
                        result = on_error(item, error)
                if on_done is not None:
                    on_done()
                return result

            return await asyncio.gather(*(one(item) for item in items))

    def body(self, prompt: Prompt) -> dict[str, Any]:
        """The chat-completions request for one prompt."""
        return self.request_body(prompt.messages, prompt.schema, prompt.request.seed)

    def request_body(
        self, messages: list[Message], schema: dict[str, Any] | None, seed: int
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "top_p": self.settings.top_p,
            "max_tokens": self.settings.max_tokens,
            "seed": seed,
        }
        if schema is not None:
            if self.schema_style == "json_schema":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "inputs", "schema": schema},
                }
            else:
                body["response_format"] = {"type": "json_object", "schema": schema}
        return {**body, **self.extra_body}

    # ------------------------------------------------ Ray Data's LLM processor (HTTP)

    def ray_pass(self, rows: Sequence[dict[str, Any]]) -> list[ChatReply]:
        """Replies to `llm.prompt_row`s, in order, through Ray Data's HTTP request processor
        (executors/ray_llm.py). A server that refuses OpenAI's schema style is asked again in
        llama.cpp's, as `propose` does."""
        from case2code.executors.ray_llm import run_processor

        replies = run_processor(self.ray_processor(), rows)
        refused = [i for i, r in enumerate(replies) if _names_schema_style(r.failure or "")]
        if refused and self._downgrade_schema(bool(rows[refused[0]]["schema"])):
            again = run_processor(self.ray_processor(), [rows[i] for i in refused])
            for i, reply in zip(refused, again, strict=True):
                replies[i] = reply
        return replies

    def ray_processor(self) -> Any:
        """Ray Data's HTTP request processor for this server: `concurrency` actors, each
        sending its batch's requests in turn, with this driver's retries and timeout."""
        from ray.data.llm import HttpRequestProcessorConfig, build_processor

        config = HttpRequestProcessorConfig(
            url=f"{self.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {self.api_key}"} if self.api_key else None,
            batch_size=RAY_BATCH_ROWS,
            concurrency=self.concurrency,
            max_retries=self.retries,
            base_retry_wait_time_in_s=self.backoff_s,
            session_factory=partial(TextBodySession, self.timeout_s),
        )
        return build_processor(config, preprocess=self.ray_request, postprocess=ray_reply)

    def ray_request(self, row: dict[str, Any]) -> dict[str, Any]:
        """The HTTP stage's payload for a prompt row: the request body as JSON text."""
        messages, schema, seed = row_prompt(row)
        body = self.request_body(messages, None if schema is None else json.loads(schema), seed)
        return {"payload": {"body": json.dumps(body)}}

    def chat_body(self, chat: Chat) -> dict[str, Any]:
        """The chat-completions request for one plain chat."""
        body = {
            "model": self.model,
            "messages": chat.messages,
            "temperature": chat.temperature,
            "max_tokens": chat.max_tokens,
            "seed": chat.seed,
        }
        return {**body, **self.extra_body}

    async def _post(
        self,
        client: httpx.AsyncClient,
        make_body: Callable[[], dict[str, Any]],
        rng: random.Random,
        resend: Callable[[httpx.Response], bool] = lambda response: False,
    ) -> Posted:
        """POST to chat/completions until an answer that is not retried comes: transport errors
        and RETRY_STATUSES back off and retry, and so does any response `resend` accepts (after
        it changed what `make_body` builds)."""
        last_error = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1) * (1 + rng.random()))
            try:
                response = await client.post(f"{self.base_url}/chat/completions", json=make_body())
            except httpx.HTTPError as error:  # timeouts, refused connections, resets
                last_error = f"{type(error).__name__}: {error}"
                continue
            if resend(response):
                continue
            if response.status_code in RETRY_STATUSES:
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            return Posted(response, attempt + 1, "")
        return Posted(None, self.retries + 1, last_error)

    def _gave_up(self, posted: Posted) -> str:
        return f"http: gave up after {posted.attempts} attempts: {posted.error}"

    async def _ask(self, client: httpx.AsyncClient, prompt: Prompt) -> Proposal:
        posted = await self._post(
            client,
            lambda: self.body(prompt),
            random.Random(prompt.request.spec.function_id),
            lambda r: (
                self._refused_schema_style(r) and self._downgrade_schema(prompt.schema is not None)
            ),
        )
        usage = Usage(requests=posted.attempts)
        response = posted.response
        if response is None:
            return failed(prompt, self._gave_up(posted), usage)
        if response.status_code != 200:
            return failed(prompt, f"http: {response.status_code} {response.text[:200]}", usage)
        return self._read(prompt, response, usage)

    async def _ask_chat(self, client: httpx.AsyncClient, chat: Chat) -> ChatReply:
        # Jitter seeded by the chat, so retries of concurrent requests spread out.
        rng = random.Random(f"{chat.seed}:{chat.messages[-1]['content']}")
        posted = await self._post(client, lambda: self.chat_body(chat), rng)
        response = posted.response
        if response is None:
            return ChatReply(failure=self._gave_up(posted))
        status = response.status_code
        if status != 200:
            return ChatReply(failure=f"http: {status} {response.text[:200]}", status=status)
        answer = read_completion(response)
        if answer is None:
            return ChatReply(failure=malformed(response), status=status)
        return ChatReply(
            answer.text,
            answer.truncated,
            answer.prompt_tokens,
            answer.completion_tokens,
            status=status,
        )

    @staticmethod
    def _refused_schema_style(response: httpx.Response) -> bool:
        """A 4xx, or llama-cpp-python's 500 wrapping a validation error, about the format."""
        return response.status_code >= 400 and _names_schema_style(response.text)

    def _downgrade_schema(self, has_schema: bool) -> bool:
        """Switch to llama.cpp's schema style once, if the server refused OpenAI's."""
        if not has_schema or self.schema_style != "json_schema":
            return False
        self.schema_style = "json_object"
        return True

    def _read(self, prompt: Prompt, response: httpx.Response, usage: Usage) -> Proposal:
        answer = read_completion(response)
        if answer is None:
            return failed(prompt, malformed(response), usage)
        usage.prompt_tokens += answer.prompt_tokens
        usage.completion_tokens += answer.completion_tokens
        return read_answer(prompt, answer.text, self.name, usage, answer.truncated)


def _names_schema_style(text: str) -> bool:
    return "json_schema" in text or "response_format" in text


def read_completion(response: httpx.Response) -> Completion | None:
    """The first choice's text, whether it was cut at max_tokens, and the token counts; None
    when the body is not a chat completion."""
    try:
        data = response.json()
    except ValueError:
        return None
    return completion_of(data)


def completion_of(data: Any) -> Completion | None:
    """`read_completion` of a decoded body."""
    try:
        choice = data["choices"][0]
        text = choice["message"]["content"] or ""
        counts = data.get("usage") or {}
        prompt_tokens = int(counts.get("prompt_tokens") or 0)
        completion_tokens = int(counts.get("completion_tokens") or 0)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
    if not isinstance(text, str):
        return None
    truncated = choice.get("finish_reason") == "length"
    return Completion(text, truncated, prompt_tokens, completion_tokens)


def malformed(response: httpx.Response) -> str:
    return f"http: malformed answer {response.text[:200]}"


def ray_reply(row: dict[str, Any]) -> dict[str, Any]:
    """A reply row from the HTTP stage's `http_response` (any JSON body the server sent: Ray
    keeps no status, so an error is a body without choices)."""
    data = row["http_response"]
    answer = completion_of(data)
    if answer is None:
        reply = ChatReply(failure=f"http: no answer: {json.dumps(data, default=str)[:200]}")
    else:
        reply = ChatReply(
            answer.text, answer.truncated, answer.prompt_tokens, answer.completion_tokens
        )
    return {"order": row["order"], **reply_row(reply)}


class TextBodySession:
    """The session of Ray's HTTP request stage, sending each payload's `body` (JSON text) as
    the request: Ray Data carries it as text, since Arrow would merge the rows' different
    schemas into one (each key a row lacks added as a null)."""

    def __init__(self, timeout_s: float) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s))

    async def __aenter__(self) -> TextBodySession:
        await self.session.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.session.__aexit__(*exc)

    def post(self, url: str, headers: dict[str, str], data: str) -> Any:
        return self.session.post(url, headers=headers, data=json.loads(data)["body"])
