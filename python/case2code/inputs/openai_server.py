"""Input generation through any OpenAI-compatible chat server: `vllm serve`, llama.cpp's server,
hosted APIs. Async, with bounded concurrency, retries with backoff, timeouts and token counts.

Structured output is sent the OpenAI way (`response_format: json_schema`); servers that only know
`{"type": "json_object", "schema": ...}` are detected by an error naming the format (a 422, or
llama-cpp-python's 500 wrapping one) and asked that way from then on.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Sequence
from typing import Any

import httpx

from case2code.errors import C2CError
from case2code.inputs.llm import LLMSettings, Prompt, build_prompts, failed, read_answer
from case2code.inputs.spec import Proposal, Request, Usage, generator_error

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
SCHEMA_STYLES = ("json_schema", "json_object")


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

    def propose(self, requests: Sequence[Request]) -> list[Proposal]:
        prompts = build_prompts(requests, self.settings, self.templates)
        return asyncio.run(self._all(prompts))

    async def _all(self, prompts: list[Prompt]) -> list[Proposal]:
        limit = asyncio.Semaphore(self.concurrency)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 10.0))
        async with httpx.AsyncClient(headers=headers, timeout=timeout) as client:

            async def one(prompt: Prompt) -> Proposal:
                async with limit:
                    try:
                        return await self._ask(client, prompt)
                    except C2CError:
                        raise
                    except Exception as error:  # costs this prompt only, not the batch
                        return failed(prompt, generator_error(error), Usage(requests=1))

            return await asyncio.gather(*(one(p) for p in prompts))

    def body(self, prompt: Prompt) -> dict[str, Any]:
        """The chat-completions request for one prompt."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": prompt.messages,
            "temperature": self.settings.temperature,
            "top_p": self.settings.top_p,
            "max_tokens": self.settings.max_tokens,
            "seed": prompt.request.seed,
        }
        if prompt.schema is not None:
            if self.schema_style == "json_schema":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "inputs", "schema": prompt.schema},
                }
            else:
                body["response_format"] = {"type": "json_object", "schema": prompt.schema}
        return {**body, **self.extra_body}

    async def _ask(self, client: httpx.AsyncClient, prompt: Prompt) -> Proposal:
        usage = Usage()
        last_error = "no attempt"
        rng = random.Random(prompt.request.spec.function_id)
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1) * (1 + rng.random()))
            try:
                usage.requests += 1
                response = await client.post(
                    f"{self.base_url}/chat/completions", json=self.body(prompt)
                )
            except httpx.HTTPError as error:  # timeouts, refused connections, resets
                last_error = f"{type(error).__name__}: {error}"
                continue
            if self._refused_schema_style(response) and self._downgrade_schema(prompt):
                continue
            if response.status_code in RETRY_STATUSES:
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code != 200:
                return failed(prompt, f"http: {response.status_code} {response.text[:200]}", usage)
            return self._read(prompt, response, usage)
        return failed(
            prompt, f"http: gave up after {self.retries + 1} attempts: {last_error}", usage
        )

    @staticmethod
    def _refused_schema_style(response: httpx.Response) -> bool:
        """A 4xx, or llama-cpp-python's 500 wrapping a validation error, about the format."""
        text = response.text
        return response.status_code >= 400 and ("json_schema" in text or "response_format" in text)

    def _downgrade_schema(self, prompt: Prompt) -> bool:
        """Switch to llama.cpp's schema style once, if the server refused OpenAI's."""
        if prompt.schema is None or self.schema_style != "json_schema":
            return False
        self.schema_style = "json_object"
        return True

    def _read(self, prompt: Prompt, response: httpx.Response, usage: Usage) -> Proposal:
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            return failed(prompt, f"http: malformed answer {response.text[:200]}", usage)
        counts = data.get("usage") or {}
        usage.prompt_tokens += int(counts.get("prompt_tokens") or 0)
        usage.completion_tokens += int(counts.get("completion_tokens") or 0)
        truncated = choice.get("finish_reason") == "length"
        return read_answer(prompt, text, self.name, usage, truncated)
