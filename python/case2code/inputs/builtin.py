"""The built-in input generator: no model, type-aware, deterministic for a seed.

Round 0 tries the docstring's doctest calls, the call with defaults only, and values drawn from
the kinds `analyze` guessed for each parameter. Later rounds read the sandbox's verdicts in the
request history: a kind that made calls succeed gains weight for its parameter, one that kept
failing loses it, so a wrong guess is corrected by execution (mutating the inputs that ran is
the pipeline's job, for every generator: see `case2code.inputs.mutate`).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import lru_cache
from itertools import accumulate
from typing import Any

from case2code.inputs.analyze import FunctionHints, analyze
from case2code.inputs.literals import render_arguments, values
from case2code.inputs.spec import Candidate, FunctionSpec, Param, Proposal, Request, Tried
from case2code.inputs.values import BROAD, KINDS, Sampler, kind_of
from case2code.inputs.wanted import type_name, wanted, wanted_range

# Candidates per round for each input wanted: most first guesses fail, execution sorts them.
CANDIDATES_PER_WANTED = 3
MIN_CANDIDATES = 24
# A function none of whose inputs returned yet is asked twice as many: a candidate costs the
# sandbox about a fortieth of what a round costs a function (its fresh instance), and the
# inputs stage gives such a function up after a round or two (`InputsConfig.patience`).
STUCK_BUDGET_FACTOR = 2
# Weight every kind keeps, so a function nothing is known about is still explored.
EXPLORE = 0.15
# Weight added to each kind not yet tried for a parameter while no input has returned: the
# next round then covers the vocabulary (a function wanting bytes where its body suggests str
# is found in one round, not three).
UNTRIED = 2.0
OPTIONAL_PARAM_RATE = 0.3
# Share of the draw that the kinds a parameter's errors asked for (`wanted`) take together.
WANTED_SHARE = 0.5
# Keywords passed to a `**kwargs` parameter: how often, and the names tried when its body names
# none (`kwargs['name']`). Without them a function of `**kwargs` alone had one input, `()`.
KEYWORDS_RATE = 0.25
KEYWORD_NAMES = ("key", "value", "name", "flag", "x")

Stats = dict[tuple[str, str], list[int]]  # (param, kind) -> [ok, tried]
Chooser = tuple[list[str], list[float]]  # kinds, cumulative weights
Evidence = dict[str, Counter[str]]  # param -> kinds its failed calls' errors asked for
Ranges = dict[str, tuple[int, int]]  # param -> the range its int values were told to be in


class BuiltinGenerator:
    name = "builtin"
    model: str | None = None
    # Class attributes so a test can switch off the steering by errors and the keywords.
    wanted_share = WANTED_SHARE
    keywords_rate = KEYWORDS_RATE

    thread_safe = True  # the inputs stage may ask for two partitions at once

    def __init__(self) -> None:
        self._hints: dict[str, FunctionHints] = {}

    def identity(self) -> dict[str, Any]:
        return {"name": self.name}

    def propose(self, requests: Sequence[Request]) -> list[Proposal]:
        return [self.propose_one(request) for request in requests]

    def propose_one(self, request: Request) -> Proposal:
        spec = request.spec
        hints = self._hints.get(spec.function_id)
        if hints is None:
            hints = self._hints[spec.function_id] = analyze(spec)
        rng = random.Random(f"{request.seed}:{spec.function_id}:{request.round}")
        sampler = Sampler(rng, hints.constants)
        seen = {tried.input for tried in request.history}
        proposal = Proposal(spec.function_id)

        def offer(text: str | None, origin: str) -> None:
            if text is not None and text not in seen:
                seen.add(text)
                proposal.candidates.append(Candidate(text, origin))

        if request.round == 0:
            for example in hints.examples:
                offer(example, "doctest")
            if any(p.default is not None for p in spec.params):
                offer(self._fill(spec, hints, sampler, {}, {}, with_optional=False), "default")
        stats, evidence, ranges = _stats(spec, request.history)
        if not self.wanted_share:
            evidence, ranges = {}, {}
        stuck = request.round > 0 and not any(t.status == "ok" for t in request.history)
        untried = UNTRIED if stuck else 0.0
        weights = {
            p.name: _chooser(
                _steered(
                    _weights(p, hints, stats, broaden=stuck, untried=untried),
                    evidence.get(p.name),
                    self.wanted_share,
                )
            )
            for p in _fillable(spec)
        }
        budget = max(MIN_CANDIDATES, CANDIDATES_PER_WANTED * request.want)
        if stuck:
            budget *= STUCK_BUDGET_FACTOR
        attempts = 0
        while len(proposal.candidates) < budget and attempts < budget * 4:
            attempts += 1
            offer(self._fill(spec, hints, sampler, weights, ranges), "builtin")
        return proposal

    def _fill(
        self,
        spec: FunctionSpec,
        hints: FunctionHints,
        sampler: Sampler,
        weights: dict[str, Chooser],
        ranges: Ranges,
        with_optional: bool = True,
    ) -> str | None:
        rng = sampler.rng
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        skipped_positional = False
        for param in spec.params:
            if param.kind == "var_keyword":
                if rng.random() < self.keywords_rate:
                    for key in _keywords(param, spec, hints, rng):
                        kwargs[key] = _draw(param, _choose(BROAD_CHOOSER, rng), hints, sampler)
                continue
            if param.kind == "var_positional":
                if not skipped_positional and (not args or rng.random() < 0.3):
                    kind = _choose(weights.get(param.name) or BROAD_CHOOSER, rng)
                    args += [_draw(param, kind, hints, sampler) for _ in range(rng.randint(1, 3))]
                continue
            if not param.required and not (with_optional and rng.random() < OPTIONAL_PARAM_RATE):
                skipped_positional = skipped_positional or param.positional
                continue
            kind = _choose(weights.get(param.name) or BROAD_CHOOSER, rng)
            value = _draw(param, kind, hints, sampler, ranges.get(param.name))
            if param.positional and not skipped_positional and param.required:
                args.append(value)
            else:
                kwargs[param.name] = value
                skipped_positional = skipped_positional or param.positional
        try:
            return render_arguments(args, kwargs)
        except TypeError:
            return None


def _fillable(spec: FunctionSpec) -> list[Param]:
    return [p for p in spec.params if p.kind != "var_keyword"]


def _draw(
    param: Param,
    kind: str,
    hints: FunctionHints,
    sampler: Sampler,
    span: tuple[int, int] | None = None,
) -> Any:
    """A value of `kind`, sometimes one the body compares this parameter with, or for an int
    one in the range its errors named (`span`)."""
    if span and kind == "int" and sampler.rng.random() < 0.5:
        return sampler.rng.randint(*span)
    known = _known(hints, param.name, kind)
    if known and sampler.rng.random() < 0.35:
        return sampler.rng.choice(known)
    return sampler.sample(kind)


def _known(hints: FunctionHints, name: str, kind: str) -> list[Any]:
    """The constants the body compares parameter `name` with that are of `kind` (memoised:
    every value drawn asks)."""
    memo, key = hints.constants_of_kind, (name, kind)
    if key not in memo:
        memo[key] = [v for v in hints.per_param_constants.get(name, ()) if kind_of(v) == kind]
    return memo[key]


def _chooser(weights: dict[str, float]) -> Chooser:
    """The kinds and their cumulative weights, summed once for every draw of a round."""
    return list(weights), list(accumulate(weights.values()))


def _choose(chooser: Chooser, rng: random.Random) -> str:
    kinds, cumulative = chooser
    return rng.choices(kinds, cum_weights=cumulative)[0]


def _weights(
    param: Param, hints: FunctionHints, stats: Stats, broaden: bool, untried: float
) -> dict[str, float]:
    """Prior from the text's evidence, reweighted by how each kind fared in the sandbox;
    `untried` is added to each kind not tried yet."""
    prior = dict(hints.weights.get(param.name) or {})
    if not prior or broaden:
        for kind, weight in BROAD.items():
            prior[kind] = prior.get(kind, 0.0) + weight
    out = {}
    for kind in KINDS:
        weight = prior.get(kind, 0.0) + EXPLORE
        ok, tried = stats.get((param.name, kind), (0, 0))
        if tried:
            # Laplace-smoothed success rate: a kind that ran gains up to 8x, one that
            # failed every time keeps a small share in case another argument was to blame.
            weight *= 0.25 + 8 * (ok + 0.1) / (tried + 1)
        else:
            weight += untried
        out[kind] = weight
    return out


def _keywords(
    param: Param, spec: FunctionSpec, hints: FunctionHints, rng: random.Random
) -> list[str]:
    """One or two keyword names for a `**kwargs` parameter: keys its body reads, else plain
    names; never another parameter's."""
    named = [
        key
        for key in hints.per_param_constants.get(param.name, ())
        if isinstance(key, str) and key.isidentifier()
    ]
    taken = {p.name for p in spec.params}
    names = [n for n in dict.fromkeys(named or KEYWORD_NAMES) if n not in taken]
    return rng.sample(names, min(len(names), rng.randint(1, 2)))


def _steered(
    weights: dict[str, float], asked: Counter[str] | None, share: float
) -> dict[str, float]:
    """The weights with the kinds the parameter's errors asked for given `share` of the draw
    between them."""
    if not asked:
        return weights
    total = sum(weights.values())
    boost = total * share / (1 - share) / sum(asked.values())
    return {kind: weight + boost * asked[kind] for kind, weight in weights.items()}


def _stats(spec: FunctionSpec, history: Sequence[Tried]) -> tuple[Stats, Evidence, Ranges]:
    """How each (parameter, kind) fared; per parameter the kinds the errors of the calls that
    gave it a value of the wrong type asked for (`wanted`), and the range the errors of the
    calls that gave it an int out of range named (`wanted_range`)."""
    stats: Stats = defaultdict(lambda: [0, 0])
    evidence: Evidence = defaultdict(Counter)
    ranges: Ranges = {}
    positional = tuple(p.name for p in spec.params if p.positional)
    for tried in history:
        arguments = _arguments(positional, tried.input)
        for name, kind, *_ in arguments:
            if kind:
                entry = stats[(name, kind)]
                entry[0] += tried.status == "ok"
                entry[1] += 1
        if tried.status != "error":
            continue
        if asked := wanted(tried.error):
            got, kinds = asked
            for name, _, type_, _ in arguments:
                if type_ == got:
                    evidence[name].update(kinds)
        if span := wanted_range(tried.error):
            bad, low, high = span
            for name, _, type_, value in arguments:
                if type_ == "int" and value == bad:
                    ranges[name] = (low, high)
    return stats, evidence, ranges


@lru_cache(maxsize=1 << 16)
def _arguments(
    positional: tuple[str, ...], text: str
) -> tuple[tuple[str, str | None, str, Any], ...]:
    """(parameter, kind or None, type name, value) of each argument of an input. Cached: every
    round reads a function's whole history again, and parsing it was a tenth of the stage's
    host time."""
    arguments = values(text)
    if arguments is None:
        return ()
    named = dict(zip(positional, arguments.args, strict=False)) | dict(arguments.kwargs)
    return tuple((name, kind_of(value), type_name(value), value) for name, value in named.items())


# Drawn from for a parameter nothing is known about, and for `**kwargs` values.
BROAD_CHOOSER = _chooser(BROAD)
