"""Stand-ins for the parts of vLLM's outputs the drivers read (vLLM cannot run here: no GPU),
shared by the input-generation and eval driver tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Completion:  # the fields of vllm.CompletionOutput the driver reads
    text: str
    token_ids: list[int]
    finish_reason: str


@dataclass
class RequestOutput:  # the fields of vllm.RequestOutput the driver reads
    prompt_token_ids: list[int]
    outputs: list[Completion]
