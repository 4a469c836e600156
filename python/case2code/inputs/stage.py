"""The inputs stage: functions table in, inputs table out, every kept input run in the sandbox.

Per block of functions, rounds alternate between writing candidates and running them:
- the generator proposes (the built-in one every round; an LLM in round 0, and again with the
  errors shown for functions still short of `min_valid`, up to `reprompts` times);
- with `mutate`, inputs that ran are mutated (type-aware) to grow the set;
- every candidate runs in the sandbox, under tighter limits than the execute stage (an input that
  needs seconds of compute makes a poor training case);
- a function is asked no more once `patience` rounds in a row brought it no new valid input, or
  once `max_limit_hits` of its candidates ran into the per-case limits (each of those costs as
  much as hundreds of calls that return): most of the sandbox's time went to such functions.
Then up to `n_inputs` per function are kept: inputs that returned, distinct outputs first, plus
a few that raise (the paper keeps exceptions as cases). Blocks are shards: a crashed run resumes.

With `guided` (the default), coverage steers it as in a fuzzer (`case2code.inputs.guide`): every
candidate's call is traced; a function with arms no input reached yet stays in the rounds once it
has its inputs, until a round brings no new arm (`patience` rounds while it is short of inputs:
no new arm and no new valid input); mutation starts
more often from inputs that reached a new arm; LLMs are re-prompted with the source lines not
reached; the kept inputs are picked greedily by new arms, then new outputs. Each kept input
carries the lines and arms its validation ran, and the report the kept inputs' branch coverage.

One function never stops the run: an exception while writing, mutating or keeping its inputs
(a generator that raises for it, a prompt template, an odd constant) costs that function only.
It is asked no more, and counted under a reason such as `generator_error: UnicodeEncodeError`
in the report's `function_errors`. A `C2CError` (a mistake in the run's settings) still stops it.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from case2code.coverage import TENTHS, covered, mean_of, tenth
from case2code.errors import C2CError
from case2code.executors.local import PARTITION_FUNCTIONS, LocalExecutor
from case2code.inputs import guide
from case2code.inputs.literals import values
from case2code.inputs.mutate import mutate
from case2code.inputs.spec import (
    GENERATOR_ERROR,
    Candidate,
    FunctionSpec,
    InputGenerator,
    Proposal,
    Request,
    Tried,
    Usage,
    error_reason,
    generator_error,
)
from case2code.inputs.values import Sampler
from case2code.sandbox import CaseResult, Limits, Sandbox
from case2code.steps.base import Partition, Process, Schema, Stats, Step, busy_seconds
from case2code.tables import require_columns
from case2code.validate import at_least, between

# Validation runs many throwaway candidates: a twentieth of the execute stage's budget each. It
# only asks whether a call returns; the execute stage checks outputs for stability. At a tenth,
# the 0.5% of candidates that ran out of it took half the sandbox's CPU time on the standard
# library; the costliest valid call there took 0.19 of it, the first call of a function that
# imports the email package 0.07 (issue 17).
VALIDATION_LIMITS = Limits(fuel_per_case=100_000_000, wall_ms_per_case=2_000, check_stability=False)
# Outcomes of a candidate stopped by a per-case limit: it ran up to the whole budget.
LIMIT_STATUSES = frozenset({"timeout", "memory", "output_limit"})
# One value of each type an input can hold (inputs are literals): a function that only ever
# fails reading an attribute none of them has wants an object no input can give it.
LITERAL_VALUES: tuple[object, ...] = (
    0,
    0.0,
    0j,
    "",
    b"",
    True,
    None,
    [],
    (),
    {},
    set(),
    frozenset(),
)
MISSING_ATTRIBUTE = re.compile(r"<class 'AttributeError'>: '\w+' object has no attribute '(\w+)'")

INPUT_SCHEMA: dict[str, pl.DataType] = {
    "function_id": pl.Utf8(),
    "input_id": pl.Int64(),
    "input": pl.Utf8(),
    "status": pl.Utf8(),  # in validation: ok (returned) or error (raised; kept as a case)
    "origin": pl.Utf8(),  # builtin, doctest, default, mutation, or the LLM driver
    "round": pl.Int64(),
    "generator": pl.Utf8(),
    "model": pl.Utf8(),
    # What its validation ran (null when it was not traced), and the function's totals.
    "lines": pl.List(pl.UInt32()),
    "arms": pl.List(pl.UInt32()),
    "lines_total": pl.UInt32(),
    "arms_total": pl.UInt32(),
}
# Guided, a function with all its inputs stops at the first round that brings no new arm: on the
# standard library a second such round cost 13% more CPU for 0.002 more mean branch coverage.
ARM_PATIENCE = 1

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class InputsConfig:
    n_inputs: int = 10  # inputs kept per function
    min_valid: int = 5  # the report's k; LLMs are re-prompted below it
    rounds: int = 4  # generation rounds, the first included
    reprompts: int = 1  # extra LLM prompts for functions short of min_valid
    mutate: bool | None = None  # None: on for the built-in generator, off for LLMs
    mutations_per_wanted: int = 2
    # A function is asked no more after this many rounds in a row without a new valid input
    # (0: never). At 2, one round with broadened guesses follows a round with none valid. Not
    # 0 also gives up a function whose inputs all failed reading an attribute no literal has.
    patience: int = 2
    # ... or once this many of its candidates ran into the per-case limits (0: never).
    max_limit_hits: int = 20
    error_share: float = 0.2  # at most this share of kept inputs may raise
    # Coverage-guided (see the module's docstring); off: rounds, mutation and the kept inputs
    # as before issue 17 (valid inputs and distinct outputs only).
    guided: bool = True
    seed: int = 0
    limits: Limits = VALIDATION_LIMITS
    workers: int | None = None

    def __post_init__(self) -> None:
        at_least(1, n_inputs=self.n_inputs, rounds=self.rounds)
        at_least(
            0,
            min_valid=self.min_valid,
            reprompts=self.reprompts,
            mutations_per_wanted=self.mutations_per_wanted,
            patience=self.patience,
            max_limit_hits=self.max_limit_hits,
            workers=self.workers,
        )
        between(0.0, 1.0, error_share=self.error_share)
        if self.min_valid > self.n_inputs:
            raise C2CError(
                f"min_valid = {self.min_valid} can never be reached: only n_inputs = "
                f"{self.n_inputs} inputs are kept per function"
            )

    def mutating(self, generator: InputGenerator) -> bool:
        return self.mutate if self.mutate is not None else generator.name == "builtin"


@dataclass
class Tally:
    """Counters of one block; summed over blocks for the run's report."""

    functions: int = 0
    candidates: int = 0
    kept: int = 0
    kept_ok: int = 0
    functions_with_min_valid: int = 0
    distinct_outputs: int = 0
    usage: Usage = field(default_factory=Usage)
    statuses: Counter[str] = field(default_factory=Counter)
    origins: Counter[str] = field(default_factory=Counter)
    rejections: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    # Functions an exception cost, by reason (`generator_error: KeyError`, ...).
    errors: Counter[str] = field(default_factory=Counter)
    # Functions asked no more before the last round, by reason (see `_give_up`).
    stopped: Counter[str] = field(default_factory=Counter)
    # Branch coverage of the kept inputs, over functions with a kept input and a branch.
    branch_coverage: float = 0.0  # the sum
    functions_with_branches: int = 0
    coverage_bins: Counter[str] = field(default_factory=Counter)  # coverage.TENTHS
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        # Not `asdict`: it rebuilds a Counter from (key, count) pairs, counting the pairs.
        data = {k: dict(v) if isinstance(v, Counter) else v for k, v in vars(self).items()}
        return {**data, "usage": asdict(self.usage)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tally:
        tally = cls(**{k: v for k, v in data.items() if k != "usage"})
        tally.usage = Usage(**data.get("usage", {}))
        counters = ("statuses", "origins", "rejections", "failures", "errors", "stopped")
        for name in (*counters, "coverage_bins"):
            setattr(tally, name, Counter(data.get(name, {})))
        return tally

    def add(self, other: Tally) -> None:
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(mine, Usage):
                mine.add(value)
            elif isinstance(mine, Counter):
                mine.update(value)
            else:
                setattr(self, name, mine + value)


@dataclass
class InputsResult:
    inputs: pl.DataFrame | None  # None when written to a file (not read back)
    tally: Tally
    config: InputsConfig

    def report(self) -> dict[str, Any]:
        return report(self.tally, self.config)


def specs_of(functions: pl.DataFrame) -> list[FunctionSpec]:
    require_columns(functions, ("function_id", "name", "source"), "functions")
    unique = functions.unique("function_id", keep="first", maintain_order=True)
    return [FunctionSpec.from_row(row) for row in unique.iter_rows(named=True)]


def generate_block(
    specs: Sequence[FunctionSpec],
    generator: InputGenerator,
    config: InputsConfig,
    sandbox: Sandbox,
) -> tuple[pl.DataFrame, Tally]:
    """Run every round for these functions; the kept inputs and the block's counters."""
    rounds = Rounds(specs, generator, config, sandbox)
    while (requests := rounds.ask()) is not None:
        rounds.answer(_propose(generator, requests))
    return rounds.keep()


class Rounds:
    """The rounds of one block of functions without the generator's I/O: `ask()` starts a
    round and gives its requests (None once the block is done), `answer(...)` takes their
    proposals, adds mutations, runs the candidates in the sandbox and gives up on hopeless
    functions; `keep()` the kept inputs. `generate_block` asks the generator in between; the
    Ray executor answers every block's requests of a round in one LLM pass
    (executors/ray_llm.py): the same rules, the same kept inputs."""

    def __init__(
        self,
        specs: Sequence[FunctionSpec],
        generator: InputGenerator,
        config: InputsConfig,
        sandbox: Sandbox,
    ) -> None:
        self.started, self.opened = time.perf_counter(), time.time()
        self.specs, self.generator, self.config, self.sandbox = specs, generator, config, sandbox
        self.tally = Tally(functions=len(specs))
        self.history: dict[str, list[Tried]] = {s.function_id: [] for s in specs}
        self.made: dict[str, dict[str, tuple[str, int]]] = {s.function_id: {} for s in specs}
        self.totals: dict[str, tuple[int, int]] = {}  # (lines, arms) per function, once traced
        self.mutating = config.mutating(generator)
        self.is_model = generator.name != "builtin"
        self.broken: set[str] = set()  # functions an exception cost: asked and mutated no more
        self.given_up: set[str] = set()  # functions more rounds would not help (`_give_up`)
        self.barren: Counter[str] = Counter()  # rounds in a row that brought nothing new
        self.round = -1
        self.done = False
        self.wanted: dict[str, int] = {}  # inputs asked of each pending function this round
        self.before: dict[str, tuple[int, int]] = {}  # (valid inputs, arms) before the round
        self.pending: list[FunctionSpec] = []

    def ask(self) -> list[Request] | None:
        """The next round's requests (maybe none: mutations only); None when no round is
        left or no function is pending."""
        config, history = self.config, self.history
        self.round += 1
        if self.done or self.round >= config.rounds:
            return None
        self.before = {
            fid: (_ok_count(tried), self._reached(fid)) for fid, tried in history.items()
        }
        self.pending = [
            s
            for s in self.specs
            if s.function_id not in self.given_up and self._wanting(s.function_id)
        ]
        if not self.pending:
            return None
        # A function with its inputs but arms to reach is asked for half as many again.
        self.wanted = {
            s.function_id: max(config.n_inputs - self.before[s.function_id][0], 0)
            or max(config.n_inputs // 2, 1)
            for s in self.pending
        }
        asking = [
            s
            for s in self.pending
            if s.function_id not in self.broken
            and (
                not self.is_model
                or self.round == 0
                or (
                    self.round <= config.reprompts
                    and (
                        self.before[s.function_id][0] < config.min_valid
                        or self._open(s.function_id)
                    )
                )
            )
        ]
        return [
            Request(
                s,
                self.wanted[s.function_id],
                self.round,
                tuple(history[s.function_id]),
                config.seed,
                self._unreached(s),
            )
            for s in asking
        ]

    def answer(self, answered: Sequence[tuple[Request, Proposal]]) -> None:
        """The round's proposals (one per request of `ask`): validate, then give up."""
        config, round_, tally = self.config, self.round, self.tally
        batch: dict[str, list[Candidate]] = {s.function_id: [] for s in self.pending}
        for request, proposal in answered:
            _record_proposal(proposal, tally)
            if proposal.failure and proposal.failure.startswith(GENERATOR_ERROR):
                self.broken.add(request.spec.function_id)
            batch[request.spec.function_id] += proposal.candidates
        if self.mutating and round_ > 0:
            for spec in self.pending:
                if spec.function_id in self.broken:
                    continue
                count = config.mutations_per_wanted * self.wanted[spec.function_id]
                try:
                    batch[spec.function_id] += _mutations(spec, self.history, config, round_, count)
                except Exception as error:  # one function's odd value must not stop the run
                    _lose(spec, "mutation_error", error, self.broken, tally)
        _validate(
            self.pending, batch, self.history, self.made, self.totals, round_, self.sandbox, tally
        )
        if round_ < config.rounds - 1:
            asked = [s for s in self.pending if s.function_id not in self.broken]
            progress = {
                s.function_id: self._progressed(s.function_id)
                for s in asked
                if self._wanting(s.function_id)
            }
            _give_up(asked, self.history, progress, self.barren, config, self.given_up, tally)
        if self.is_model and not self.mutating and round_ >= config.reprompts:
            self.done = True

    def keep(self) -> tuple[pl.DataFrame, Tally]:
        frame = _keep(
            self.specs,
            self.history,
            self.made,
            self.totals,
            self.generator,
            self.config,
            self.tally,
        )
        self.tally.seconds = time.perf_counter() - self.started
        return frame, self.tally

    def _reached(self, function_id: str) -> int:
        """How many of its arms the function's inputs ran."""
        return len(guide.arms_of(self.history[function_id])) if self.config.guided else 0

    def _open(self, function_id: str) -> bool:
        """Whether guidance keeps the function in the rounds: it has arms no input reached."""
        arms_total = self.totals.get(function_id, (0, 0))[1]
        return self.config.guided and self._reached(function_id) < arms_total

    def _wanting(self, function_id: str) -> bool:
        """Short of valid inputs, or (guided) of arms."""
        short = _ok_count(self.history[function_id]) < self.config.n_inputs
        return short or self._open(function_id)

    def _progressed(self, function_id: str) -> bool:
        """Whether the round brought the function a valid input it was short of, or a new arm
        once it has one (no input is kept for a function none returns for)."""
        ok_before, arms_before = self.before[function_id]
        ok = _ok_count(self.history[function_id])
        new_arm = ok > 0 and self._reached(function_id) > arms_before
        return min(ok, self.config.n_inputs) > ok_before or new_arm

    def _unreached(self, spec: FunctionSpec) -> tuple[int, ...]:
        """For an LLM's re-prompt (guided): the source lines no input ran yet."""
        if not (self.is_model and self.config.guided and self.round > 0):
            return ()
        return guide.unreached(spec.source, self.history[spec.function_id])


def _propose(generator: InputGenerator, requests: list[Request]) -> list[tuple[Request, Proposal]]:
    """Each request with its proposal. When the generator raises for a batch, the batch is
    halved until the requests it raises for are alone; each of those gets a failed proposal
    (`generator_error: <exception type>`), so one function costs only itself."""
    if not requests:
        return []
    try:
        proposals = generator.propose(requests)
    except C2CError:
        raise
    except Exception as error:
        if len(requests) == 1:
            return [
                (
                    requests[0],
                    Proposal(requests[0].spec.function_id, failure=generator_error(error)),
                )
            ]
        middle = len(requests) // 2
        return _propose(generator, requests[:middle]) + _propose(generator, requests[middle:])
    if len(proposals) != len(requests):
        raise C2CError(
            f"generator {generator.name} returned {len(proposals)} proposals "
            f"for {len(requests)} requests"
        )
    return list(zip(requests, proposals, strict=True))


def _record_proposal(proposal: Proposal, tally: Tally) -> None:
    tally.usage.add(proposal.usage)
    tally.rejections.update(_reason_kind(r) for r in proposal.rejected)
    if proposal.failure and proposal.failure.startswith(GENERATOR_ERROR):
        tally.errors[error_reason(proposal.failure)] += 1
    elif proposal.failure:
        tally.failures[proposal.failure.split(":")[0]] += 1


def _lose(spec: FunctionSpec, what: str, error: Exception, broken: set[str], tally: Tally) -> None:
    """Count an exception that costs `spec` its further inputs, under `what: <type>`."""
    if isinstance(error, C2CError):
        raise error
    broken.add(spec.function_id)
    tally.errors[f"{what}: {type(error).__name__}"] += 1


def _reason_kind(reason: str) -> str:
    """A rejection reason without its specifics, for counting."""
    return reason.split("`")[0].split("'")[0].strip()[:60]


def _mutations(
    spec: FunctionSpec,
    history: dict[str, list[Tried]],
    config: InputsConfig,
    round_: int,
    count: int,
) -> list[Candidate]:
    """Up to `count` new inputs mutated from those that returned. Guided, inputs that reached
    a new arm (raising ones too) are parents `guide.ENERGY` times as often."""
    tried = history[spec.function_id]
    fresh = guide.novel(tried) if config.guided else set()
    chosen = [t for t in tried if t.status == "ok" or t.input in fresh]
    parsed = [(values(t.input), guide.ENERGY if t.input in fresh else 1) for t in chosen]
    parents = [(p, weight) for p, weight in parsed if p is not None]
    if not parents:
        return []
    sampler = Sampler(random.Random(f"{config.seed}:{spec.function_id}:mutate:{round_}"))
    rng, weights = sampler.rng, [weight for _, weight in parents]
    seen = {t.input for t in tried}
    out: list[Candidate] = []
    for _ in range(count * 4):
        if len(out) >= count:
            break
        if config.guided:
            [(parent, _)] = rng.choices(parents, weights)
        else:  # as before guidance, for the same inputs
            parent = rng.choice(parents)[0]
        child = mutate(parent, sampler)
        try:
            text = child.render()
        except TypeError:
            continue
        if text not in seen:
            seen.add(text)
            out.append(Candidate(text, "mutation"))
    return out


def _validate(
    pending: Sequence[FunctionSpec],
    batch: dict[str, list[Candidate]],
    history: dict[str, list[Tried]],
    made: dict[str, dict[str, tuple[str, int]]],
    totals: dict[str, tuple[int, int]],
    round_: int,
    sandbox: Sandbox,
    tally: Tally,
) -> None:
    """Run the round's new candidates; append each with its verdict and coverage to the
    history; note each function's (lines, arms) totals once a call of it was traced."""
    calls = []
    for spec in pending:
        known = made[spec.function_id]
        fresh = []
        for candidate in batch[spec.function_id]:
            if not _sendable(candidate.input):
                tally.errors["input_error: UnicodeEncodeError"] += 1
                continue
            if candidate.input not in known:
                known[candidate.input] = (candidate.origin, round_)
                fresh.append(candidate.input)
        if fresh:
            calls.append((spec, fresh))
    if not calls:
        return
    results = sandbox.run([(spec.source, spec.name, inputs) for spec, inputs in calls])
    for (spec, inputs), cases in zip(calls, results, strict=True):
        for text, case in zip(inputs, cases, strict=True):
            tally.candidates += 1
            tally.statuses[case.status] += 1
            history[spec.function_id].append(
                Tried(text, case.status, case.error, case.value_repr, *_traced(case))
            )
            if case.arms_total is not None:
                totals[spec.function_id] = (case.lines_total or 0, case.arms_total)


def _traced(case: CaseResult) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    """A case's lines and arms as tuples (None when it was not traced)."""
    lines, arms = case.lines, case.arms
    return (None if lines is None else tuple(lines), None if arms is None else tuple(arms))


def _give_up(
    asked: Sequence[FunctionSpec],
    history: dict[str, list[Tried]],
    progress: Mapping[str, bool],
    barren: Counter[str],
    config: InputsConfig,
    given_up: set[str],
    tally: Tally,
) -> None:
    """After a round, of the functions still wanting inputs (or, guided, arms; those in
    `progress`): stop asking for those that `patience` rounds in a row brought nothing new
    (`progress`: a valid input they were short of, or a new arm), whose candidates ran into
    the per-case limits `max_limit_hits` times, or (with `patience`) that no input has run for
    and that every input failed reading an attribute no literal has. Counted in the tally's
    `stopped`."""
    for spec in asked:
        fid, tried = spec.function_id, history[spec.function_id]
        if fid not in progress:
            continue
        ok = _ok_count(tried)
        barren[fid] = 0 if progress[fid] else barren[fid] + 1
        limit_hits = sum(t.status in LIMIT_STATUSES for t in tried)
        full = ok >= config.n_inputs
        if config.patience and barren[fid] >= (ARM_PATIENCE if full else config.patience):
            reason = "no_new_arm" if full else "no_new_valid_input"
        elif config.max_limit_hits and limit_hits >= config.max_limit_hits:
            reason = "limit_hits"
        elif config.patience and tried and not ok and all(map(_wants_an_object, tried)):
            reason = "wants_an_object"
        else:
            continue
        given_up.add(fid)
        tally.stopped[reason] += 1


def _wants_an_object(tried: Tried) -> bool:
    """Whether the input raised reading an attribute that no literal value has."""
    found = MISSING_ATTRIBUTE.match(tried.error or "") if tried.status == "error" else None
    return found is not None and not any(hasattr(v, found[1]) for v in LITERAL_VALUES)


def _sendable(text: str) -> bool:
    """Whether the text can go to the sandbox (as UTF-8: a lone surrogate cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _ok_count(tried: Sequence[Tried]) -> int:
    return sum(t.status == "ok" for t in tried)


def _keep(
    specs: Sequence[FunctionSpec],
    history: dict[str, list[Tried]],
    made: dict[str, dict[str, tuple[str, int]]],
    totals: Mapping[str, tuple[int, int]],
    generator: InputGenerator,
    config: InputsConfig,
    tally: Tally,
) -> pl.DataFrame:
    columns: dict[str, list[Any]] = {name: [] for name in INPUT_SCHEMA}
    max_errors = int(config.error_share * config.n_inputs)
    for spec in specs:
        try:
            chosen = select(history[spec.function_id], config.n_inputs, max_errors, config.guided)
        except Exception as error:  # one function's odd value must not stop the run
            _lose(spec, "selection_error", error, set(), tally)
            continue
        ok = [t for t in chosen if t.status == "ok"]
        tally.kept += len(chosen)
        tally.kept_ok += len(ok)
        tally.functions_with_min_valid += len(ok) >= config.min_valid
        tally.distinct_outputs += len({t.output for t in ok})
        lines_total, arms_total = totals.get(spec.function_id, (None, None))
        _count_coverage(chosen, arms_total, tally)
        for index, tried in enumerate(chosen):
            origin, round_ = made[spec.function_id][tried.input]
            tally.origins[origin] += 1
            row = (spec.function_id, index, tried.input, tried.status, origin, round_,
                   generator.name, generator.model, tried.lines, tried.arms, lines_total,
                   arms_total)  # fmt: skip
            for column, value in zip(columns.values(), row, strict=True):
                column.append(value)
    # Column by column: polars reads a list of row dicts with list values ten times slower.
    return pl.DataFrame([pl.Series(k, v, dtype=INPUT_SCHEMA[k]) for k, v in columns.items()])


def _count_coverage(chosen: Sequence[Tried], arms_total: int | None, tally: Tally) -> None:
    """Add the kept inputs' branch coverage to the tally (a function with a kept input and a
    branch: as `coverage.summary` counts it)."""
    share = covered([t.arms or () for t in chosen], arms_total) if chosen else None
    if share is None:
        return
    tally.branch_coverage += share
    tally.functions_with_branches += 1
    tally.coverage_bins[tenth(share)] += 1


def select(tried: Sequence[Tried], n: int, max_errors: int, guided: bool = False) -> list[Tried]:
    """Up to `n` inputs; guided, by coverage (`guide.select_covering`). Else ones that
    returned, each new output first; then repeats of outputs; then up to `max_errors` that
    raised, each a different error (and only beside a return)."""
    if guided:
        return guide.select_covering(tried, n, max_errors)
    returned = [t for t in tried if t.status == "ok"]
    seen_outputs: set[str | None] = set()
    fresh, repeats = [], []
    for t in returned:
        (repeats if t.output in seen_outputs else fresh).append(t)
        seen_outputs.add(t.output)
    chosen = (fresh + repeats)[:n]
    if chosen and max_errors > 0:
        seen_errors: set[str | None] = set()
        errors = []
        for t in tried:
            if t.status == "error" and t.error not in seen_errors:
                seen_errors.add(t.error)
                errors.append(t)
        taken = errors[: min(max_errors, n)]
        chosen = chosen[: n - len(taken)] + taken
    order = {t.input: i for i, t in enumerate(tried)}
    return sorted(chosen[:n], key=lambda t: order[t.input])


class InputsStep(Step):
    """Inputs for the functions of a partition: every round of `generate_block`."""

    name = "inputs"
    reads = ("functions",)

    def __init__(
        self,
        generator: InputGenerator,
        config: InputsConfig | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        """`sandbox`: one already open (kept open); by default each worker opens its own."""
        self.generator = generator
        self.config = config or InputsConfig()
        self.sandbox = sandbox
        # Two partitions at once only with a generator that says it is safe from two threads.
        self.concurrent = bool(getattr(generator, "thread_safe", False))

    def check(self, schemas: Mapping[str, Schema]) -> None:
        functions = pl.DataFrame(schema=dict(schemas["functions"]))
        require_columns(functions, ("function_id", "name", "source"), "functions")

    def schema(self, schemas: Mapping[str, Schema]) -> Schema:
        return INPUT_SCHEMA

    def settings(self) -> Mapping[str, Any]:
        return {
            "inputs": asdict(replace(self.config, workers=None)),  # workers change nothing
            "generator": generator_identity(self.generator),
        }

    @contextmanager
    def worker(self) -> Iterator[Process]:
        with self.open_sandbox() as sandbox:
            yield partial(self._process, sandbox)

    @contextmanager
    def open_sandbox(self) -> Iterator[Sandbox]:
        """The step's sandbox if it was given one (kept open), else a new one, closed at exit."""
        if self.sandbox is not None:
            yield self.sandbox
            return
        with Sandbox(self.config.limits, self.config.workers) as sandbox:
            yield sandbox

    def _process(self, sandbox: Sandbox, partition: Partition) -> tuple[pl.DataFrame, Stats]:
        rounds = self.start(sandbox, partition)
        while (requests := rounds.ask()) is not None:
            rounds.answer(_propose(self.generator, requests))
        return self.finish(rounds)

    def start(self, sandbox: Sandbox, partition: Partition) -> Rounds:
        """The rounds of a partition's functions, none run yet."""
        return Rounds(specs_of(partition["functions"]), self.generator, self.config, sandbox)

    def finish(self, rounds: Rounds) -> tuple[pl.DataFrame, Stats]:
        """A partition's kept inputs and counters once its rounds are done."""
        frame, tally = rounds.keep()
        return frame, {"tally": tally.to_json(), "interval": [rounds.opened, time.time()]}

    def llm_pass(self) -> Callable[[list[dict[str, Any]]], list[Any]] | None:
        """The generator's Ray Data LLM pass (`ray_pass`: prompt rows in, replies out), when
        it has one: the Ray executor then runs the rounds as phases (executors/ray_llm.py)."""
        return getattr(self.generator, "ray_pass", None)

    def merge_stats(self, stats: Sequence[Stats]) -> Stats:
        return report(tally_of(stats), self.config)


def generator_identity(generator: InputGenerator) -> Mapping[str, Any]:
    """The generator's own `identity()`; name and model for one that has none."""
    identity = getattr(generator, "identity", None)
    if identity is None:
        return {"name": generator.name, "model": generator.model}
    return identity()


def tally_of(stats: Sequence[Stats]) -> Tally:
    """The partitions' counters summed; `seconds` is the time any partition was being worked
    on (partitions run side by side, and across runs resumed after a crash)."""
    tally = Tally()
    for one in stats:
        tally.add(Tally.from_json(one["tally"]))
    tally.seconds = busy_seconds(one["interval"] for one in stats)
    return tally


def generate_inputs(
    functions: pl.DataFrame,
    generator: InputGenerator,
    config: InputsConfig | None = None,
    sandbox: Sandbox | None = None,
    block_functions: int = PARTITION_FUNCTIONS,
    progress: Progress | None = None,
) -> InputsResult:
    """Inputs for every function, in memory, sorted by function id."""
    step = InputsStep(generator, config, sandbox)
    run = LocalExecutor(block_functions, progress=progress).run(step, {"functions": functions})
    assert run.table is not None
    return InputsResult(run.table, tally_of(run.partition_stats), step.config)


def generate_inputs_to_parquet(
    functions_path: str | Path,
    output: str | Path,
    generator: InputGenerator,
    config: InputsConfig | None = None,
    shard_functions: int = PARTITION_FUNCTIONS,
    progress: Progress | None = None,
) -> InputsResult:
    """Inputs into `output`, resumably (shards in `<output>.parts/`), with a JSON report
    beside it (`<output>.report.json`)."""
    step = InputsStep(generator, config)
    executor = LocalExecutor(shard_functions, progress=progress)
    tables = {"functions": functions_path}
    run = executor.run(step, tables, output, report=report_path(output))
    return InputsResult(None, tally_of(run.partition_stats), step.config)


def report_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".report.json")


def report(tally: Tally, config: InputsConfig) -> dict[str, Any]:
    """The run's figures: coverage, validity, diversity, tokens and throughput."""
    functions = max(tally.functions, 1)
    seconds = max(tally.seconds, 1e-9)
    return {
        "functions": tally.functions,
        f"functions_with_{config.min_valid}_valid": tally.functions_with_min_valid,
        "share_with_min_valid": tally.functions_with_min_valid / functions,
        "min_valid": config.min_valid,
        "candidates": tally.candidates,
        "valid_rate": tally.statuses["ok"] / max(tally.candidates, 1),
        "candidate_statuses": dict(tally.statuses.most_common()),
        "inputs_kept": tally.kept,
        "inputs_kept_returning": tally.kept_ok,
        "mean_distinct_outputs": tally.distinct_outputs / functions,
        "origins": dict(tally.origins.most_common()),
        "tokens_in": tally.usage.prompt_tokens,
        "tokens_out": tally.usage.completion_tokens,
        "requests": tally.usage.requests,
        "failed_requests": tally.usage.failed_requests,
        "truncated_answers": tally.usage.truncated,
        "answer_failures": dict(tally.failures.most_common()),
        "function_errors": dict(tally.errors.most_common()),
        "functions_stopped_early": dict(tally.stopped.most_common()),
        "guided": config.guided,
        # Branch coverage of each function's kept inputs (functions with a branch), and how
        # many functions fall in each tenth (a histogram's bars; 1.0 in the last).
        "mean_branch_coverage": (
            mean_of(tally.branch_coverage, tally.functions_with_branches)
            if tally.functions_with_branches
            else None
        ),
        "functions_with_branches": tally.functions_with_branches,
        "branch_coverage_bins": {b: tally.coverage_bins[b] for b in TENTHS},
        "parse_rejections": dict(tally.rejections.most_common(10)),
        "seconds": tally.seconds,
        "inputs_per_s": tally.kept / seconds,
        "candidates_per_s": tally.candidates / seconds,
        "functions_per_s": tally.functions / seconds,
    }
