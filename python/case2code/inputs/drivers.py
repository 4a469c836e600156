"""Pick an input generator by name, as the CLI and `c2c run` configs name them."""

from __future__ import annotations

import httpx

from case2code.errors import C2CError
from case2code.inputs.builtin import BuiltinGenerator
from case2code.inputs.llm import LLMSettings
from case2code.inputs.spec import InputGenerator

GENERATORS = ("builtin", "openai", "vllm")


def make_generator(
    name: str,
    model: str | None = None,
    base_url: str = "http://127.0.0.1:8000/v1",
    settings: LLMSettings | None = None,
    concurrency: int = 8,
) -> InputGenerator:
    if name == "builtin":
        return BuiltinGenerator()
    if name == "openai":
        from case2code.inputs.openai_server import OpenAIGenerator

        return OpenAIGenerator(
            model or served_model(base_url), base_url, settings=settings, concurrency=concurrency
        )
    if name == "vllm":
        if not model:
            raise C2CError("--generator vllm needs --model (a Hugging Face id or a local path)")
        from case2code.inputs.vllm_engine import VLLMGenerator

        return VLLMGenerator(model, settings=settings)
    raise C2CError(f"unknown generator {name!r}; choose one of {', '.join(GENERATORS)}")


def served_model(base_url: str) -> str:
    """The first model the server lists, for servers that serve one."""
    try:
        response = httpx.get(base_url.rstrip("/") + "/models", timeout=10)
        response.raise_for_status()
        return str(response.json()["data"][0]["id"])
    except (httpx.HTTPError, ValueError, KeyError, IndexError) as error:
        raise C2CError(f"cannot ask {base_url} for its model (give --model): {error}") from None
