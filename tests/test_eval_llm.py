"""Model answers for `c2c eval` (case2code.evaluation.answers): the OpenAI-compatible driver
against a scripted loopback server (prompts, samples, settings, truncation, failures, a dead or
babbling server), vLLM's path with a stand-in `vllm` module (no GPU here), and the real SmolLM2
server answering tasks of the paper's published benchmark."""

from __future__ import annotations

import json
import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from case2code.errors import C2CError
from case2code.evaluation import evaluate
from case2code.evaluation.answers import ANSWER_SCHEMA, AnswerSettings, generate_answers
from case2code.evaluation.grade import SAMPLE_STATUSES
from case2code.evaluation.tasks import load_tasks
from case2code.inputs import openai_server
from loopback_chat import Reply, loopback_chat_server
from vllm_outputs import Completion, RequestOutput

OFFICIAL_SAMPLE = Path(__file__).parent / "data" / "case2code-official-sample.jsonl"

# ------------------------------------------------------------------ a scripted loopback server


def completion(text: str, finish: str = "stop", prompt_tokens: int = 11) -> Reply:
    choice = {"message": {"role": "assistant", "content": text}, "finish_reason": finish}
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split())}
    return 200, {"choices": [choice], "usage": usage}


def echo(body: dict) -> Reply:
    """Answers every chat with its prompt and seed."""
    prompt = body["messages"][-1]["content"]
    return completion(f"def f(): return {prompt!r}  # seed {body['seed']}")


@dataclass
class Server:
    """A loopback chat server: `answer` turns each request body into a reply (requests come
    concurrently, so replies depend on what is asked, not on the order); `seen` keeps them."""

    base_url: str = ""
    answer: Callable[[dict], Reply] = echo
    seen: list[dict] = field(default_factory=list)

    def asked(self, prompt: str) -> list[dict]:
        return [body for body in self.seen if body["messages"][-1]["content"] == prompt]


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()

    def answer(body: dict) -> Reply:
        state.seen.append(body)
        return state.answer(body)

    with loopback_chat_server(answer) as base_url:
        state.base_url = base_url
        yield state


class FastRetries(openai_server.OpenAIGenerator):
    """The real driver with millisecond backoff, so retry tests take no seconds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "backoff_s": 0.001})


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_server, "OpenAIGenerator", FastRetries)


def tasks_of(prompts: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame({"id": list(prompts), "prompt": list(prompts.values())})


PROMPTS = {"t2": "Function: b\nInput: 1, Output: 2", "t0": "Function: a", "t1": "Function: c"}


def test_each_prompt_is_sent_n_times_with_the_settings(server: Server) -> None:
    calls: list[tuple[int, int]] = []
    answers = generate_answers(
        tasks_of(PROMPTS),
        "openai",
        AnswerSettings(n=3, temperature=0.7, max_tokens=64),
        model="m",
        base_url=server.base_url,
        concurrency=4,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert answers.schema == pl.Schema(ANSWER_SCHEMA)
    assert answers.select("id", "sample").rows() == [
        (task_id, k) for task_id in ("t0", "t1", "t2") for k in range(3)
    ]
    assert len(server.seen) == 9
    for task_id, prompt in PROMPTS.items():
        bodies = server.asked(prompt)
        assert [b["messages"] for b in bodies] == [[{"role": "user", "content": prompt}]] * 3
        assert sorted(b["seed"] for b in bodies) == [0, 1, 2]
        assert {(b["model"], b["temperature"], b["max_tokens"]) for b in bodies} == {("m", 0.7, 64)}
        rows = answers.filter(pl.col("id") == task_id).sort("sample")
        assert rows["completion"].to_list() == [
            f"def f(): return {prompt!r}  # seed {k}" for k in range(3)
        ]
    assert answers["failed"].null_count() == 9 and not answers["truncated"].any()
    assert set(answers["prompt_tokens"]) == {11} and answers["completion_tokens"].min() > 0
    assert calls == [(done, 9) for done in range(1, 10)]


def test_greedy_by_default_and_no_tasks_no_requests(server: Server) -> None:
    answers = generate_answers(
        tasks_of({"only": "Function: x"}),
        "openai",
        AnswerSettings(),
        model="m",
        base_url=server.base_url,
    )
    text = "def f(): return 'Function: x'  # seed 0"
    assert answers.rows() == [("only", 0, text, False, None, 11, len(text.split()))]
    [body] = server.seen
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.0, 2048, 0)
    empty = generate_answers(
        tasks_of({}), "openai", AnswerSettings(), model="m", base_url=server.base_url
    )
    assert empty.height == 0 and empty.schema == pl.Schema(ANSWER_SCHEMA)
    assert len(server.seen) == 1


def test_the_served_model_is_asked_when_none_is_given(server: Server) -> None:
    # The scripted server has no GET /models: the error says so and how to avoid it.
    with pytest.raises(C2CError, match=f"cannot ask {server.base_url} for its model"):
        generate_answers(tasks_of(PROMPTS), "openai", AnswerSettings(), base_url=server.base_url)
    assert server.seen == []


def test_truncated_and_failed_answers_are_recorded_per_sample(server: Server) -> None:
    flaky: list[str] = []

    def answer(body: dict) -> Reply:
        prompt = body["messages"][-1]["content"]
        if prompt == "cut":
            return completion("def f(x):\n    return [x,", finish="length")
        if prompt == "busy":
            return 503, {"error": "overloaded"}  # every attempt: the driver gives up
        if prompt == "refused":
            return 400, {"error": "prompt too long"}  # not retried
        if prompt == "flaky" and not flaky:
            flaky.append(prompt)
            return 502, {"error": "bad gateway"}  # once, then answered
        if prompt == "babble":
            return 200, {"choices": []}
        return echo(body)

    server.answer = answer
    prompts = {"a": "ok", "b": "cut", "c": "busy", "d": "refused", "e": "flaky", "f": "babble"}
    answers = generate_answers(
        tasks_of(prompts),
        "openai",
        AnswerSettings(max_tokens=32),
        model="m",
        base_url=server.base_url,
    )
    by_id = {row["id"]: row for row in answers.iter_rows(named=True)}
    assert by_id["a"]["failed"] is None and by_id["a"]["completion"].endswith("# seed 0")
    cut = by_id["b"]
    assert cut["truncated"] and cut["failed"] is None
    assert cut["completion"] == "def f(x):\n    return [x," and cut["completion_tokens"] == 4
    assert by_id["c"]["failed"].startswith("http: gave up after 5 attempts: HTTP 503")
    assert len(server.asked("busy")) == 5
    assert by_id["d"]["failed"].startswith("http: 400") and len(server.asked("refused")) == 1
    assert by_id["e"]["failed"] is None and len(server.asked("flaky")) == 2
    assert by_id["f"]["failed"].startswith("http: malformed answer")
    for failed in ("c", "d", "f"):
        row = by_id[failed]
        assert (row["completion"], row["truncated"], row["prompt_tokens"]) == ("", False, None)


def test_a_dead_server_is_one_error_naming_it() -> None:
    dead = "http://127.0.0.1:9/v1"
    with pytest.raises(
        C2CError, match=rf"no answer from the model server at {re.escape(dead)}: .*ConnectError"
    ):
        generate_answers(tasks_of(PROMPTS), "openai", AnswerSettings(), model="m", base_url=dead)


def test_a_server_failing_its_first_request_stops_the_evaluation(server: Server) -> None:
    server.answer = lambda body: (503, {"error": "loading model"})
    with pytest.raises(C2CError, match=r"no answer from the model server at .*HTTP 503"):
        generate_answers(
            tasks_of(PROMPTS), "openai", AnswerSettings(), model="m", base_url=server.base_url
        )
    assert len(server.seen) == 5  # the first task's retries, nothing more


def test_a_server_answering_garbage_is_one_error(server: Server) -> None:
    server.answer = lambda body: (200, "<html>Welcome to nginx!</html>")
    with pytest.raises(
        C2CError, match="answered none of 3 request\\(s\\): http: malformed answer <html>"
    ):
        generate_answers(
            tasks_of(PROMPTS), "openai", AnswerSettings(), model="m", base_url=server.base_url
        )


def test_wrong_settings_and_tasks_are_errors() -> None:
    with pytest.raises(C2CError, match="n = 0 is out of range"):
        AnswerSettings(n=0)
    with pytest.raises(C2CError, match="max_tokens = 0 is out of range"):
        AnswerSettings(max_tokens=0)
    with pytest.raises(C2CError, match=r"temperature = -0\.5 is out of range"):
        AnswerSettings(temperature=-0.5)
    with pytest.raises(C2CError, match="n = 4 samples at temperature = 0"):
        AnswerSettings(n=4)
    settings = AnswerSettings()
    with pytest.raises(C2CError, match="generator = 'opnai' is not one of openai, vllm"):
        generate_answers(tasks_of(PROMPTS), "opnai", settings, model="m")
    with pytest.raises(C2CError, match="tasks: missing column\\(s\\) prompt"):
        generate_answers(pl.DataFrame({"id": ["a"]}), "openai", settings, model="m")
    twice = pl.DataFrame({"id": ["a", "b", "a"], "prompt": ["x", "y", "z"]})
    with pytest.raises(C2CError, match="duplicate task id 'a'"):
        generate_answers(twice, "openai", settings, model="m")
    blank = pl.DataFrame({"id": ["a"], "prompt": [" "]})
    with pytest.raises(C2CError, match="task 'a' has no prompt"):
        generate_answers(blank, "openai", settings, model="m")


# ------------------------------------------------------------------ vLLM, with a stand-in module


def stand_in_vllm(fail: str | None = None) -> types.ModuleType:
    """A `vllm` module with the two names the driver uses; LLM.chat answers each prompt with
    its sampling settings and records its calls."""
    module = types.ModuleType("vllm")
    module.calls = []  # type: ignore[attr-defined]

    class SamplingParams:
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

    class LLM:
        def __init__(self, model: str, **engine_args: Any) -> None:
            self.model = model

        def chat(self, messages: list, sampling_params: list, use_tqdm: bool) -> list:
            module.calls.append((self.model, messages, [p.kwargs for p in sampling_params]))
            if fail:
                raise ValueError(fail)
            return [
                RequestOutput(
                    [0] * len(chat[-1]["content"]),
                    [Completion(f"seed {p.kwargs['seed']}", [1, 2], "length" if i else "stop")],
                )
                for i, (chat, p) in enumerate(zip(messages, sampling_params, strict=True))
            ]

    module.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    module.LLM = LLM  # type: ignore[attr-defined]
    return module


def test_vllm_answers_in_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    vllm = stand_in_vllm()
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    calls: list[tuple[int, int]] = []
    settings = AnswerSettings(n=2, temperature=0.8, max_tokens=99)
    answers = generate_answers(
        tasks_of({"x": "abc", "w": "de"}),
        "vllm",
        settings,
        model="org/coder",
        progress=lambda done, total: calls.append((done, total)),
    )
    [(model, messages, params)] = vllm.calls
    assert model == "org/coder"
    assert messages == [[{"role": "user", "content": p}] for p in ("de", "de", "abc", "abc")]
    assert params == [{"temperature": 0.8, "max_tokens": 99, "seed": k} for k in (0, 1, 0, 1)]
    assert answers.rows() == [
        ("w", 0, "seed 0", False, None, 2, 2),
        ("w", 1, "seed 1", True, None, 2, 2),
        ("x", 0, "seed 0", True, None, 3, 2),
        ("x", 1, "seed 1", True, None, 3, 2),
    ]
    assert calls[-1] == (4, 4)


def test_vllm_mistakes_are_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = tasks_of({"x": "abc"})
    with pytest.raises(C2CError, match="--generator vllm needs --model"):
        generate_answers(tasks, "vllm", AnswerSettings())
    monkeypatch.setitem(sys.modules, "vllm", None)  # not installed
    with pytest.raises(C2CError, match="pip install 'case2code\\[vllm\\]'"):
        generate_answers(tasks, "vllm", AnswerSettings(), model="org/coder")
    monkeypatch.setitem(sys.modules, "vllm", stand_in_vllm(fail="prompt longer than 4096"))
    with pytest.raises(C2CError, match="vLLM \\(org/coder\\) failed on the batch: prompt longer"):
        generate_answers(tasks, "vllm", AnswerSettings(), model="org/coder")


# ------------------------------------------------------------------ the real small model


# Three short tasks of the paper's published benchmark sample (short prompts, short answers).
REAL_TASKS = ("isYearLeap", "makeOdd", "halving_sum")


def test_real_llm_answers_official_tasks(llm_server) -> None:
    tasks = load_tasks(OFFICIAL_SAMPLE).filter(pl.col("func_name").is_in(REAL_TASKS))
    assert tasks.height == 3
    calls: list[tuple[int, int]] = []
    answers = generate_answers(
        tasks,
        "openai",
        AnswerSettings(max_tokens=256),
        model=llm_server.model,
        base_url=llm_server.base_url,
        concurrency=1,  # the server answers one request at a time
        progress=lambda done, total: calls.append((done, total)),
    )
    assert answers["id"].to_list() == sorted(tasks["id"])
    assert answers["sample"].to_list() == [0, 0, 0]
    assert answers["failed"].null_count() == 3
    assert all(text.strip() for text in answers["completion"])
    assert answers["prompt_tokens"].min() > 20  # the whole prompt was read
    assert answers["completion_tokens"].min() > 0 and answers["completion_tokens"].max() <= 256
    assert calls[-1] == (3, 3)


def test_real_llm_evaluated_end_to_end(llm_server, tmp_path: Path) -> None:
    """SmolLM2 answers three official tasks through `c2c eval`'s API, graded in the sandbox:
    the files are written and every answer has a known status (its score may well be 0)."""
    records = [
        line
        for line in OFFICIAL_SAMPLE.read_text().splitlines()
        if json.loads(line)["func_name"] in REAL_TASKS
    ]
    data = tmp_path / "three.jsonl"
    data.write_text("\n".join(records) + "\n")
    out = tmp_path / "out"
    stages: set[str] = set()
    result = evaluate(
        data,
        generator="openai",
        model=llm_server.model,
        base_url=llm_server.base_url,
        max_tokens=256,
        concurrency=1,
        workers=1,
        output=out,
        progress=lambda stage, done, total: stages.add(stage),
    )
    samples = result.samples
    assert samples.height == 3 and samples["failed"].null_count() == 3
    assert set(samples["status"]) <= set(SAMPLE_STATUSES)
    assert samples["completion_tokens"].min() > 0 and samples["prompt_tokens"].min() > 20
    assert all(text.strip() for text in samples["completion"])
    assert {"answers", "grading"} <= stages
    summary = json.loads((out / "results.json").read_text())
    assert 0.0 <= summary["pass@1"] <= 1.0
    assert summary["settings"]["generator"] == "openai"
    assert summary["settings"]["max_tokens"] == 256
    task_rows = [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]
    assert sorted(row["id"] for row in task_rows) == sorted(samples["id"])
    assert len((out / "samples.jsonl").read_text().splitlines()) == 3
    assert (out / "report.md").read_text().strip()
    kept = pl.read_parquet(out / "answers.parquet")  # a rerun grades these, not asks again
    assert kept.select("id", "completion").sort("id").rows() == (
        samples.select("id", "completion").sort("id").rows()
    )
