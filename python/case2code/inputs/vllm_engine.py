"""Input generation with vLLM's offline engine: one batched `LLM.chat` call over many functions
(`pip install case2code[vllm]`, a GPU machine). Structured output uses vLLM's guided decoding
with the inputs schema. `chat` runs plain chats (no schema), the model answers `c2c eval` grades.

vLLM is imported only when the engine starts, so everything up to the call (chat prompts,
sampling settings) and after it (answer parsing) is plain Python that runs and is tested
anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from case2code.errors import C2CError
from case2code.inputs.llm import Chat, ChatReply, LLMGenerator, LLMSettings, reply_row, row_chat

# Ray Data's vLLM processor under the Ray executor: one engine replica (one GPU).
PROCESSOR_DEFAULTS: dict[str, Any] = {"concurrency": 1, "batch_size": 64}


class VLLMGenerator(LLMGenerator):
    name = "vllm"

    def __init__(
        self,
        model: str,
        settings: LLMSettings | None = None,
        engine_args: dict[str, Any] | None = None,
        llm: Any = None,
        processor_args: dict[str, Any] | None = None,
    ) -> None:
        """`llm` takes an already built `vllm.LLM`; otherwise one is made from `model` and
        `engine_args` on first use. `processor_args`: more settings of Ray Data's
        `vLLMEngineProcessorConfig` under the Ray executor (`concurrency`: the engine replicas,
        one GPU each by default; `accelerator_type`; `batch_size`)."""
        super().__init__(model, settings)
        self.engine_args = engine_args or {}
        self.processor_args = {**PROCESSOR_DEFAULTS, **(processor_args or {})}
        self._llm = llm

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "engine_args": self.engine_args}

    def engine(self) -> Any:
        if self._llm is None:
            try:
                import vllm
            except ImportError as error:
                raise C2CError(
                    "the vllm generator needs vLLM: pip install 'case2code[vllm]' "
                    f"(on a machine with a GPU): {error}"
                ) from None
            try:
                self._llm = vllm.LLM(model=self.model, **self.engine_args)
            except Exception as error:  # no engine is a setting to fix, not a function's fault
                raise C2CError(f"cannot start vLLM with model {self.model}: {error}") from None
        return self._llm

    def chat(self, chats: Sequence[Chat]) -> list[ChatReply]:
        """One batched `LLM.chat` over all chats, replies in order. vLLM fails a batch as a
        whole (a prompt longer than the model's context, say): that is a C2CError."""
        try:
            return self._replies(chats)
        except C2CError:
            raise
        except Exception as error:
            raise C2CError(f"vLLM ({self.model}) failed on the batch: {error}") from None

    def _replies(self, chats: Sequence[Chat]) -> list[ChatReply]:
        """`chat` raising what vLLM raises: the inputs stage splits the batch until the prompt
        vLLM fails is alone, and fails that function only."""
        if not chats:
            return []
        llm = self.engine()  # first: it says how to install vLLM when it is missing
        import vllm

        outputs = llm.chat(
            [chat.messages for chat in chats],
            sampling_params=[sampling_params(vllm, chat) for chat in chats],
            use_tqdm=False,
        )
        return [chat_reply(output) for output in outputs]

    # ------------------------------------------------ Ray Data's LLM processor (vLLM engine)

    def ray_pass(self, rows: Sequence[dict[str, Any]]) -> list[ChatReply]:
        """Replies to `llm.prompt_row`s, in order, through Ray Data's vLLM engine processor
        (executors/ray_llm.py): the model loaded once per replica for the whole pass."""
        from case2code.executors.ray_llm import run_processor

        return run_processor(self.ray_processor(), rows)

    def ray_processor_config(self) -> Any:
        """Ray Data's `vLLMEngineProcessorConfig`: this model and engine arguments, and a row
        whose request fails (a prompt longer than the context) costs its function only."""
        from ray.data.llm import vLLMEngineProcessorConfig

        return vLLMEngineProcessorConfig(
            model_source=self.model,
            engine_kwargs=dict(self.engine_args),
            should_continue_on_error=True,
            **self.processor_args,
        )

    def ray_processor(self) -> Any:
        from ray.data.llm import build_processor

        config = self.ray_processor_config()
        return build_processor(config, preprocess=self.ray_request, postprocess=self.ray_reply)

    def ray_request(self, row: dict[str, Any]) -> dict[str, Any]:
        """The engine stage's input for a prompt row: chat messages and sampling parameters,
        the JSON schema as text (vLLM's `StructuredOutputsParams(json=...)` takes either)."""
        chat = row_chat(row, self.settings)
        sampling = chat.sampling()
        if row["schema"]:
            sampling["structured_outputs"] = {"json": row["schema"]}
        return {"messages": chat.messages, "sampling_params": sampling}

    def ray_reply(self, row: dict[str, Any]) -> dict[str, Any]:
        """A reply row from the engine stage's output. Ray keeps no finish reason: an answer
        of `max_tokens` tokens was cut."""
        generated = int(row["num_generated_tokens"])
        reply = ChatReply(
            text=row["generated_text"],
            truncated=generated >= self.settings.max_tokens,
            prompt_tokens=int(row["num_input_tokens"]),
            completion_tokens=generated,
        )
        return {"order": row["order"], **reply_row(reply)}


def sampling_params(vllm: Any, chat: Chat) -> Any:
    """`vllm.SamplingParams` of a chat, with guided decoding when it has a schema: across vLLM
    versions, `structured_outputs` (0.10.2+), else `guided_decoding` (0.6-0.10)."""
    kwargs = chat.sampling()
    if chat.schema is not None:
        params = getattr(vllm.sampling_params, "StructuredOutputsParams", None)
        if params is not None:
            kwargs["structured_outputs"] = params(json=chat.schema)
        else:
            kwargs["guided_decoding"] = vllm.sampling_params.GuidedDecodingParams(json=chat.schema)
    return vllm.SamplingParams(**kwargs)


def chat_reply(output: Any) -> ChatReply:
    """A reply from one `vllm.RequestOutput`."""
    completion = output.outputs[0]
    return ChatReply(
        text=completion.text,
        truncated=completion.finish_reason == "length",
        prompt_tokens=len(output.prompt_token_ids or ()),
        completion_tokens=len(completion.token_ids or ()),
    )
