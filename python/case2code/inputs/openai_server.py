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
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import httpx

from case2code.errors import C2CError
from case2code.inputs.llm import Chat, ChatReply, LLMGenerator, LLMSettings, reply_row, row_chat
from case2code.inputs.spec import generator_error

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
SCHEMA_STYLES = ("json_schema", "json_object")
# Prompts per batch of Ray Data's HTTP request stage (one actor sends a batch's in turn).
RAY_BATCH_ROWS = 8


class OpenAIGenerator(LLMGenerator):
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
        super().__init__(model, settings)
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.extra_body = extra_body or {}
        self.schema_style = SCHEMA_STYLES[0]

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "base_url": self.base_url, "extra_body": self.extra_body}

    def chat(
        self, chats: Sequence[Chat], on_reply: Callable[[], None] | None = None
    ) -> list[ChatReply]:
        """One request per chat, at most `concurrency` at a time, replies in order; `on_reply`
        is called as each ends. A request that fails after the retries is a reply with
        `failure` set."""
        return asyncio.run(self._ask_all(chats, on_reply))

    def _replies(self, chats: Sequence[Chat]) -> list[ChatReply]:
        return self.chat(chats)

    async def _ask_all(
        self, chats: Sequence[Chat], on_reply: Callable[[], None] | None
    ) -> list[ChatReply]:
        limit = asyncio.Semaphore(self.concurrency)
        timeout = httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 10.0))
        async with httpx.AsyncClient(headers=self._headers(), timeout=timeout) as client:

            async def one(chat: Chat) -> ChatReply:
                async with limit:
                    try:
                        reply = await self._ask(client, chat)
                    except C2CError:
                        raise
                    except Exception as error:  # costs this chat only, not the batch
                        reply = ChatReply(failure=generator_error(error))
                if on_reply is not None:
                    on_reply()
                return reply

            return await asyncio.gather(*(one(chat) for chat in chats))

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def body(self, chat: Chat) -> dict[str, Any]:
        """The chat-completions request for one chat."""
        body: dict[str, Any] = {"model": self.model, "messages": chat.messages, **chat.sampling()}
        if chat.schema is not None and self.schema_style == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "inputs", "schema": chat.schema},
            }
        elif chat.schema is not None:
            body["response_format"] = {"type": "json_object", "schema": chat.schema}
        return {**body, **self.extra_body}

    async def _ask(self, client: httpx.AsyncClient, chat: Chat) -> ChatReply:
        """POST the chat until an answer that is not retried comes: transport errors and
        RETRY_STATUSES back off and retry, and so does a refusal of OpenAI's schema style (sent
        again in llama.cpp's)."""
        # Jitter seeded by the chat, so retries of concurrent requests spread out.
        rng = random.Random(f"{chat.seed}:{chat.messages[-1]['content']}")
        url = f"{self.base_url}/chat/completions"
        last_error = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1) * (1 + rng.random()))
            try:
                response = await client.post(url, json=self.body(chat))
            except httpx.HTTPError as error:  # timeouts, refused connections, resets
                last_error = f"{type(error).__name__}: {error}"
                continue
            if self._refused_schema_style(response) and self._downgrade_schema(chat.schema):
                continue
            if response.status_code in RETRY_STATUSES:
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            return _reply(response, attempt + 1)
        return ChatReply(
            failure=f"http: gave up after {self.retries + 1} attempts: {last_error}",
            attempts=self.retries + 1,
        )

    @staticmethod
    def _refused_schema_style(response: httpx.Response) -> bool:
        """A 4xx, or llama-cpp-python's 500 wrapping a validation error, about the format."""
        return response.status_code >= 400 and _names_schema_style(response.text)

    def _downgrade_schema(self, schema: dict[str, Any] | str | None) -> bool:
        """Switch to llama.cpp's schema style once, if the server refused OpenAI's for a
        request with a schema (as a dict, or JSON text in a Ray row)."""
        if not schema or self.schema_style != "json_schema":
            return False
        self.schema_style = "json_object"
        return True

    # ------------------------------------------------ Ray Data's LLM processor (HTTP)

    def ray_pass(self, rows: Sequence[dict[str, Any]]) -> list[ChatReply]:
        """Replies to `llm.prompt_row`s, in order, through Ray Data's HTTP request processor
        (executors/ray_llm.py). A server that refuses OpenAI's schema style is asked again in
        llama.cpp's, as `propose` does."""
        from case2code.executors.ray_llm import run_processor

        replies = run_processor(self.ray_processor(), rows)
        refused = [i for i, r in enumerate(replies) if _names_schema_style(r.failure or "")]
        if refused and self._downgrade_schema(rows[refused[0]]["schema"]):
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
            headers=self._headers() or None,
            batch_size=RAY_BATCH_ROWS,
            concurrency=self.concurrency,
            max_retries=self.retries,
            base_retry_wait_time_in_s=self.backoff_s,
            session_factory=partial(TextBodySession, self.timeout_s),
        )
        return build_processor(config, preprocess=self.ray_request, postprocess=ray_reply)

    def ray_request(self, row: dict[str, Any]) -> dict[str, Any]:
        """The HTTP stage's payload for a prompt row: the request body as JSON text."""
        return {"payload": {"body": json.dumps(self.body(row_chat(row, self.settings)))}}


def _names_schema_style(text: str) -> bool:
    return "json_schema" in text or "response_format" in text


def _reply(response: httpx.Response, attempts: int) -> ChatReply:
    """The answer in a final response, or why it has none."""
    status = response.status_code
    failure = f"http: {status} {response.text[:200]}"
    if status == 200:
        try:
            data = response.json()
        except ValueError:
            data = None
        if (reply := completion_reply(data, status=status, attempts=attempts)) is not None:
            return reply
        failure = f"http: malformed answer {response.text[:200]}"
    return ChatReply(failure=failure, status=status, attempts=attempts)


def completion_reply(data: Any, **fields: Any) -> ChatReply | None:
    """The first choice's text, whether it was cut at max_tokens, and the token counts; None
    when `data` is not a chat completion."""
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
    return ChatReply(text, truncated, prompt_tokens, completion_tokens, **fields)


def ray_reply(row: dict[str, Any]) -> dict[str, Any]:
    """A reply row from the HTTP stage's `http_response` (any JSON body the server sent: Ray
    keeps no status, so an error is a body without choices)."""
    data = row["http_response"]
    failure = f"http: no answer: {json.dumps(data, default=str)[:200]}"
    reply = completion_reply(data) or ChatReply(failure=failure)
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
