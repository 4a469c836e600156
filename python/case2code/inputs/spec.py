"""What input generators are given and what they return.

A generator sees one `Request` per function still short of inputs: the function, how many
inputs are wanted, and everything tried so far with its outcome in the sandbox, so a later round
can fix what failed (re-prompt with the errors, or steer the built-in generator's type guesses).
Generators are stateless between calls; the history is the state, which keeps runs resumable
and deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from case2code.extract import Param


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the extraction table (`c2c extract`)."""

    function_id: str
    name: str
    source: str
    params: tuple[Param, ...] = ()
    signature: str = ""
    docstring: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> FunctionSpec:
        params = tuple(
            Param(p["name"], p["kind"], p.get("annotation"), p.get("default"))
            for p in row.get("params") or ()
        )
        return cls(
            function_id=row["function_id"],
            name=row["name"],
            source=row["source"],
            params=params,
            signature=row.get("signature") or "",
            docstring=row.get("docstring"),
        )

    @property
    def callable_params(self) -> tuple[Param, ...]:
        """The parameters a caller names one by one: all but `*args` and `**kwargs`."""
        return tuple(p for p in self.params if p.kind not in ("var_positional", "var_keyword"))


@dataclass(frozen=True)
class Tried:
    """An input already run in the sandbox, with its outcome."""

    input: str
    status: str
    error: str | None = None  # the paper's `<class 'X'>: msg` for an exception
    output: str | None = None  # the return value's repr when it ran
    # What the call ran (traced in the sandbox; None when no call was made or not traced):
    # line numbers of the standalone source, and branch arms (numbered per function).
    lines: tuple[int, ...] | None = None
    arms: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Request:
    spec: FunctionSpec
    want: int
    round: int = 0
    history: tuple[Tried, ...] = ()
    seed: int = 0
    # Guided LLM re-prompts: source lines no input has run yet, to ask for inputs reaching them.
    unreached: tuple[int, ...] = ()


@dataclass(frozen=True)
class Candidate:
    input: str  # canonical argument list, e.g. `(1, [2], key='x')`
    origin: str  # how it was made: builtin, doctest, default, mutation, or the LLM driver's name


@dataclass
class Usage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failed_requests: int = 0
    truncated: int = 0

    def add(self, other: Usage) -> None:
        self.requests += other.requests
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.failed_requests += other.failed_requests
        self.truncated += other.truncated


@dataclass
class Proposal:
    function_id: str
    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # why answer parts were dropped
    usage: Usage = field(default_factory=Usage)
    failure: str | None = None  # the whole answer failed: http error, truncated, unparseable


# A proposal's `failure` starts with this when the generator raised for its function.
GENERATOR_ERROR = "generator_error"


def generator_error(error: BaseException) -> str:
    """The failure text of a proposal whose making raised `error`: the reason it is counted
    under (`generator_error: UnicodeEncodeError`), then the message."""
    return f"{GENERATOR_ERROR}: {type(error).__name__}: {error}"[:300]


def error_reason(failure: str) -> str:
    """`generator_error: UnicodeEncodeError: ...` -> `generator_error: UnicodeEncodeError`."""
    return ":".join(failure.split(":")[:2])


class InputGenerator(Protocol):
    """Writes candidate inputs; the sandbox decides which are valid."""

    name: str
    model: str | None

    def identity(self) -> Mapping[str, Any]:
        """Everything about the generator that changes its answers (JSON-able): its name and
        model, and for LLMs the server, sampling settings and templates' texts. The inputs
        stage's fingerprint includes it, so changing any of these reruns the stage."""
        ...

    def propose(self, requests: Sequence[Request]) -> list[Proposal]:
        """One proposal per request, in order. Should not raise for one bad function: a failed
        request is a proposal with `failure` set. (If it raises anyway, the inputs stage finds
        the functions it raises for and counts them as `generator_error`; a `C2CError` is a
        mistake in the run's settings and stops the run.)"""
        ...
