"""The assemble stage: functions and their execute results in, Case2Code samples out.

Per function, the usable cases are the `ok` ones (output: the repr) and, unless `keep_errors` is
off, the `error` ones (output: `<class 'X'>: msg`), less those whose output is too long or shows a
memory address. Never usable: `unstable` cases (the output changed when the sandbox ran the case
again under another hash seed, clock, address layout and case order, so no model could infer it)
and `repr_error` ones (the function returned but its value's repr() raised); both are counted.
A function is dropped, with its reason counted in the report, when all its returning cases are
unstable, when too few cases are left, when all are errors, when all outputs are equal, or when
every output only repeats one of its call's arguments. An exception while assembling one
function or rendering one sample (a template part, an odd value) drops only that function or
sample, counted under `assemble_error: <type>` or `render_error: <type>`.

Of the rest, k cases are shown (distinct outputs first) and m held out, and the sample is
rendered by `case2code.render` with a reveal mode and turn style chosen at random. Everything is
seeded per function, so a function's samples do not depend on the others.

Held-out cases are inferable (`held_out_choice = "inferable"`, the default) when the results
carry coverage (`Limits.coverage`): every branch arm a held-out case takes is taken by some shown
case, so its output follows from behaviour the prompt showed. The held-out cases are picked
first, the most diverse (new outputs, then new arm sets) of those k shown cases can cover; then
the shown ones: a cover of the held-out arms, the most new arms, the diverse order. When fewer
than m cases can be inferable, fewer are held out, never one that is not. When none can be, the
sample is left out (`held_out_not_inferable`, the function dropped with that reason when all its
samples are): a sample whose shown cases are all it has cannot be checked beyond them, and an
answer that merely tabulates them would pass. Results without coverage, and
`held_out_choice = "random"` (the paper's choice), keep the plain diverse order. The figures
count how each function's cases were chosen (`held_out_choice`); each sample's `coverage` gives
the line and branch coverage of its shown cases and of all its usable cases.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from case2code.coverage import covered
from case2code.errors import C2CError
from case2code.executors.local import PARTITION_FUNCTIONS, LocalExecutor
from case2code.inputs.literals import render_value, values
from case2code.render import (
    Case,
    Function,
    Parts,
    RenderOptions,
    Reveal,
    default_parts,
    load_parts,
    render,
)
from case2code.steps.base import Partition, Process, Schema, Stats, Step, by_count, sum_counters
from case2code.tables import require_columns
from case2code.validate import at_least, between, known_names, one_of

CASE_TYPE = pl.List(pl.Struct({"input": pl.Utf8, "output": pl.Utf8, "is_error": pl.Boolean}))
MESSAGE_TYPE = pl.List(pl.Struct({"role": pl.Utf8, "content": pl.Utf8}))
# Line and branch coverage (fractions) of a sample's shown cases and of all its usable cases,
# and whether its held-out cases take only arms its shown ones took; null when untraced.
COVERAGE_TYPE = pl.Struct(
    {
        "shown_line_coverage": pl.Float64,
        "shown_branch_coverage": pl.Float64,
        "line_coverage": pl.Float64,
        "branch_coverage": pl.Float64,
        "held_out_inferable": pl.Boolean,
    }
)
SAMPLE_SCHEMA: dict[str, pl.DataType] = {
    "sample_id": pl.Utf8(),
    "function_id": pl.Utf8(),
    "name": pl.Utf8(),
    "template_id": pl.Utf8(),
    "prompt": pl.Utf8(),
    "completion": pl.Utf8(),
    "messages": MESSAGE_TYPE,
    "shown": CASE_TYPE,
    "held_out": CASE_TYPE,
    "source": pl.Utf8(),
    "coverage": COVERAGE_TYPE,
}
REVEALS: tuple[Reveal, ...] = ("signature", "name", "hidden")
HELD_OUT_CHOICES = ("inferable", "random")
MIN_SHOWN = 3  # the paper shows 3 cases at least
MEMORY_ADDRESS = " at 0x"
# Sandbox statuses of cases that are never shown or held out, each counted in the report.
UNSTABLE = "unstable"  # the output changed under a rerun with other seeds, clock and order
REPR_ERROR = "repr_error"  # the function returned, but repr() of its value raised
# Drop reasons, in the order they are checked.
TOO_FEW_CASES = "too_few_cases"
ALL_ERRORS = "all_errors"
CONSTANT_OUTPUT = "constant_output"
ECHOES_INPUT = "echoes_input"
NO_RESULTS = "no_results"
# One line each for the run report and the dataset card.
UNSTABLE_EXPLANATION = (
    "Their output changed when the sandbox ran them again with another hash seed, clock, "
    "address layout and case order, so no model could infer it: none is shown or held out."
)
REPR_ERROR_EXPLANATION = (
    "The function returned, but repr() of its value raised: never shown or held out."
)
REQUIRED_COLUMNS = {
    "functions": ("function_id", "name", "source", "signature"),
    "results": ("function_id", "case", "input", "status", "value_repr", "error_type", "error"),
}
HELD_OUT_NOT_INFERABLE = "held_out_not_inferable"  # held_out_choice = "inferable": none can be
ASSEMBLE_ERROR = "assemble_error"  # an exception while choosing one function's cases
RENDER_ERROR = "render_error"  # an exception while rendering one sample
# How a function's held-out cases were chosen, counted per function with samples.
INFERABLE = "inferable"  # every held-out case inferable, as many as asked
INFERABLE_FEWER = "inferable_fewer"  # fewer held out than asked: too few were inferable
UNTRACED = "untraced"  # no coverage in the results: the diverse order alone
RANDOM = "random"  # held_out_choice = "random"


@dataclass(frozen=True)
class AssembleConfig:
    """How cases are chosen and samples rendered.

    - `seed`: every random choice derives from it and the function id.
    - `keep_errors`: show exceptions as cases, written `<class 'X'>: msg` as in the paper.
    - `max_output_chars`: longer outputs are dropped as cases.
    - `min_cases`: a function with fewer usable cases is dropped.
    - `shown`: cases shown in the prompt; None picks 3 to all but the held-out ones at random.
    - `held_out`: cases kept back for checking an answer (fewer when the function has few cases,
      so that 3 can still be shown).
    - `held_out_choice`: "inferable" holds out only cases whose branch arms the shown ones took
      (fewer when not enough are, no sample when none is; needs traced results), "random" the
      paper's choice.
    - `samples_per_function`: samples per function, each with its own cases and template.
    - `reveal_shares`: relative weights of showing the signature, the name only, or neither.
    - `multi_turn_share`: the share of samples written as a multi-turn chat.
    - `parts_dir`: a directory of user template parts added to the built-in ones.
    """

    seed: int = 0
    keep_errors: bool = True
    max_output_chars: int = 200
    min_cases: int = 4
    shown: int | None = None
    held_out: int = 2
    held_out_choice: str = "inferable"
    samples_per_function: int = 1
    reveal_shares: Mapping[str, float] = field(
        default_factory=lambda: {"signature": 1.0, "name": 1.0, "hidden": 1.0}
    )
    multi_turn_share: float = 0.5
    parts_dir: str | None = None

    def __post_init__(self) -> None:
        known_names("reveal_shares", self.reveal_shares, REVEALS, noun="reveal")
        at_least(0, **{f"reveal_shares.{k}": v for k, v in self.reveal_shares.items()})
        if sum(self.reveal_shares.values()) <= 0:
            raise C2CError(f"reveal_shares: weights of {', '.join(REVEALS)}, not all zero")
        at_least(1, max_output_chars=self.max_output_chars, shown=self.shown)
        at_least(1, samples_per_function=self.samples_per_function)
        at_least(0, min_cases=self.min_cases, held_out=self.held_out)
        between(0.0, 1.0, multi_turn_share=self.multi_turn_share)
        one_of("held_out_choice", self.held_out_choice, HELD_OUT_CHOICES)


@dataclass(frozen=True)
class AssembleResult:
    samples: pl.DataFrame
    report: dict[str, Any]


@dataclass(frozen=True)
class Trace:
    """The lines and branch arms one case's call ran (sandbox coverage)."""

    lines: frozenset[int]
    arms: frozenset[int]


@dataclass(frozen=True)
class _Usable:
    """A function's usable cases, with the ones dropped counted by reason."""

    cases: list[Case]
    dropped: Counter[str]
    statuses: Counter[str]  # every case's sandbox status
    traces: list[Trace] | None = None  # one per case; None unless every case was traced
    totals: tuple[int, int] = (0, 0)  # the function's lines and arms in all

    @property
    def all_unstable(self) -> bool:
        """Every case that returned was unstable (and at least one did)."""
        return self.statuses[UNSTABLE] > 0 and self.statuses["ok"] == 0


def _output(row: Mapping[str, Any], keep_errors: bool) -> str | None:
    """The paper's output text of a result row (see `CaseResult.paper_output`), or None."""
    if row["status"] == "ok":
        return row["value_repr"]
    if keep_errors and row["status"] == "error" and row["error_type"] is not None:
        return row["error"]
    return None


def _trace(row: Mapping[str, Any]) -> Trace | None:
    """A result row's coverage (absent from results of a run without tracing), or None."""
    lines, arms = row.get("lines"), row.get("arms")
    if lines is None or arms is None:
        return None
    return Trace(frozenset(lines), frozenset(arms))


def usable_cases(rows: Sequence[Mapping[str, Any]], config: AssembleConfig) -> _Usable:
    """The cases worth showing, in case order, with their coverage when every one has it."""
    cases: list[Case] = []
    traces: list[Trace | None] = []
    totals = (0, 0)
    dropped: Counter[str] = Counter()
    statuses: Counter[str] = Counter(row["status"] for row in rows)
    for row in sorted(rows, key=lambda r: r["case"]):
        output = _output(row, config.keep_errors)
        if output is None:
            dropped[f"status_{row['status']}"] += 1
        elif len(output) > config.max_output_chars:
            dropped["long_output"] += 1
        elif MEMORY_ADDRESS in output:
            dropped["memory_address"] += 1
        else:
            cases.append(Case(row["input"], output, is_error=row["status"] != "ok"))
            traces.append(_trace(row))
            totals = max(totals, (row.get("lines_total") or 0, row.get("arms_total") or 0))
    traced = [trace for trace in traces if trace is not None]
    if len(traced) < len(traces):
        return _Usable(cases, dropped, statuses)
    return _Usable(cases, dropped, statuses, traced, totals)


def argument_texts(input_text: str) -> set[str]:
    """The literal text of each argument of a call's argument list, read without running it."""
    arguments = values(input_text)
    if arguments is None:
        return set()
    texts = set()
    for value in (*arguments.args, *(v for _, v in arguments.kwargs)):
        try:
            texts.add(render_value(value))
        except TypeError:
            continue
    return texts


def drop_reason(cases: Sequence[Case], config: AssembleConfig) -> str | None:
    """Why a function's usable cases make no sample, or None when they do."""
    if len(cases) < max(config.min_cases, 1):
        return TOO_FEW_CASES
    if all(case.is_error for case in cases):
        return ALL_ERRORS
    if len({case.output for case in cases}) == 1:
        return CONSTANT_OUTPUT
    if all(not c.is_error and c.output in argument_texts(c.input) for c in cases):
        return ECHOES_INPUT
    return None


def _diverse_order(cases: Sequence[Case], rng: random.Random) -> list[int]:
    """The cases' indices shuffled, the first case of each distinct output ahead of the
    repeats."""
    shuffled = list(range(len(cases)))
    rng.shuffle(shuffled)
    seen: set[str] = set()
    first, repeats = [], []
    for i in shuffled:
        (repeats if cases[i].output in seen else first).append(i)
        seen.add(cases[i].output)
    return first + repeats


_Arms = Sequence[frozenset[int]]  # each case's branch arms, by case index


def held_out_count(n: int, config: AssembleConfig) -> int:
    """How many of n usable cases are asked to be held out (3 are shown when they can be)."""
    return min(config.held_out, max(n - MIN_SHOWN, 1 if n > 1 else 0))


def _cover(pool: Sequence[int], arms: _Arms, k: int, wanted: frozenset[int]) -> list[int]:
    """Up to k cases of `pool` taking the `wanted` arms, picked greedily by the wanted arms
    each adds (ties: the earlier in `pool`), until none adds one."""
    chosen: list[int] = []
    left = set(wanted)
    while left and len(chosen) < k:
        best = max(pool, key=lambda i: len(arms[i] & left))  # the first of the best
        if not arms[best] & left:
            break
        chosen.append(best)
        left -= arms[best]
    return chosen


def _arms_of(chosen: Iterable[int], arms: _Arms) -> frozenset[int]:
    return frozenset().union(*(arms[i] for i in chosen))


def _inferable_choice(
    arms: _Arms, cases: Sequence[Case], order: list[int], k: int, held: int
) -> tuple[list[int], list[int]]:
    """Held-out cases first, tried in this order: those the plain choice would not show, a
    new output, then a new arm set ahead, the diverse order last; each is kept if k other
    cases can take every arm of the held-out ones. Then the shown cases: those k, then the
    most new arms, then the diverse order. Where every case takes the same arms, the plain
    choice shows the same cases."""
    plain_shown = set(order[:k])
    candidates = order[k:] + order[:k]
    held_out: list[int] = []
    while candidates and len(held_out) < held:
        outputs = {cases[i].output for i in held_out}
        arm_sets = {arms[i] for i in held_out}
        i = min(  # the first of the most diverse
            candidates,
            key=lambda c: (c in plain_shown, cases[c].output in outputs, arms[c] in arm_sets),
        )
        candidates.remove(i)
        trial = [*held_out, i]
        pool = [c for c in order if c not in trial]
        wanted = _arms_of(trial, arms)
        if _arms_of(_cover(pool, arms, k, wanted), arms) >= wanted:
            held_out = trial
    pool = [c for c in order if c not in held_out]
    shown = _cover(pool, arms, k, _arms_of(held_out, arms))
    rest = [c for c in pool if c not in shown]
    shown += _cover(rest, arms, k - len(shown), _arms_of(rest, arms) - _arms_of(shown, arms))
    shown += [c for c in pool if c not in shown][: k - len(shown)]
    return shown, held_out


def choose_cases(
    cases: Sequence[Case],
    config: AssembleConfig,
    rng: random.Random,
    arms: _Arms | None = None,
) -> tuple[list[int], list[int]]:
    """Indices of the shown and held-out cases, disjoint, each in case order. With `arms` (each
    case's branch arms) every held-out case is inferable from the shown ones; without, the
    first k of the diverse order are shown and the next ones held out."""
    n = len(cases)
    held = held_out_count(n, config)
    available = n - held
    if config.shown is None:
        k = rng.randint(min(MIN_SHOWN, available), available)
    else:
        k = min(config.shown, available)
    order = _diverse_order(cases, rng)
    if arms is None:
        shown, held_out = order[:k], order[k : k + held]
    else:
        shown, held_out = _inferable_choice(arms, cases, order, k, held)
    return sorted(shown), sorted(held_out)


def select_cases(
    cases: Sequence[Case],
    config: AssembleConfig,
    rng: random.Random,
    arms: _Arms | None = None,
) -> tuple[list[Case], list[Case]]:
    """Shown and held-out cases (see `choose_cases`), disjoint, each in case order."""
    shown, held_out = choose_cases(cases, config, rng, arms)
    return [cases[i] for i in shown], [cases[i] for i in held_out]


def sample_coverage(
    usable: _Usable, shown: Sequence[int], held_out: Sequence[int]
) -> dict[str, Any] | None:
    """A sample's `coverage` (COVERAGE_TYPE), or None when its cases were not traced."""
    if usable.traces is None:
        return None
    traces, (lines, arms) = usable.traces, usable.totals
    seen = [traces[i] for i in shown]
    taken = _arms_of(shown, [t.arms for t in traces])
    return {
        "shown_line_coverage": covered([t.lines for t in seen], lines),
        "shown_branch_coverage": covered([t.arms for t in seen], arms),
        "line_coverage": covered([t.lines for t in traces], lines),
        "branch_coverage": covered([t.arms for t in traces], arms),
        "held_out_inferable": all(traces[i].arms <= taken for i in held_out),
    }


def _render_options(config: AssembleConfig, rng: random.Random) -> RenderOptions:
    weights = [config.reveal_shares.get(mode, 0.0) for mode in REVEALS]
    reveal = rng.choices(REVEALS, weights=weights)[0]
    multi = rng.random() < config.multi_turn_share
    return RenderOptions(reveal=reveal, turns="multi" if multi else "single")


def _case_records(cases: Sequence[Case]) -> list[dict[str, Any]]:
    return [{"input": c.input, "output": c.output, "is_error": c.is_error} for c in cases]


def _error_reason(what: str, error: Exception) -> str:
    return f"{what}: {type(error).__name__}"


def _arms(usable: _Usable, config: AssembleConfig) -> list[frozenset[int]] | None:
    """Each case's arms when the held-out cases are to be inferable and can be."""
    if config.held_out_choice == RANDOM or usable.traces is None:
        return None
    return [trace.arms for trace in usable.traces]


def held_out_choice(usable: _Usable, config: AssembleConfig, samples: Sequence[Mapping]) -> str:
    """How a function's held-out cases were chosen (INFERABLE, INFERABLE_FEWER, ...)."""
    if config.held_out_choice == RANDOM:
        return RANDOM
    if usable.traces is None:
        return UNTRACED
    wanted = held_out_count(len(usable.cases), config)
    return INFERABLE_FEWER if any(len(s["held_out"]) < wanted for s in samples) else INFERABLE


def _samples_for(
    function: Mapping[str, Any],
    usable: _Usable,
    config: AssembleConfig,
    parts: Parts,
    extra: Sequence[str],
    failed: Counter[str],
) -> list[dict[str, Any]]:
    """The function's samples; one whose rendering raises, or that could hold out no case
    inferable from its shown ones, is left out, counted in `failed`. Each sample draws from
    its own seeded stream, so a failed one changes no other sample."""
    function_id = function["function_id"]
    target = Function(function["name"], function["source"], function["signature"] or "")
    cases, arms = usable.cases, _arms(usable, config)
    wanted = held_out_count(len(cases), config)
    records = []
    for i in range(config.samples_per_function):
        rng = random.Random(f"{config.seed}:{function_id}:{i}")
        shown_at, held_at = choose_cases(cases, config, rng, arms)
        if wanted and not held_at:
            failed[HELD_OUT_NOT_INFERABLE] += 1
            continue
        shown, held_out = [cases[j] for j in shown_at], [cases[j] for j in held_at]
        try:
            sample = render(target, shown, rng, _render_options(config, rng), parts)
        except C2CError:
            raise  # a bad part file is the run's mistake, not this sample's
        except Exception as error:
            failed[_error_reason(RENDER_ERROR, error)] += 1
            continue
        records.append(
            {
                "sample_id": f"{function_id}-{i}",
                "function_id": function_id,
                "name": function["name"],
                **sample.as_record(),
                "shown": _case_records(shown),
                "held_out": _case_records(held_out),
                "source": function["source"],
                "coverage": sample_coverage(usable, shown_at, held_at),
                **{column: function[column] for column in extra},
            }
        )
    return records


def _extra_columns(columns: Iterable[str]) -> list[str]:
    """Provenance columns carried over to the samples: origin and licence fields."""
    return [c for c in columns if c.startswith("origin") or "licen" in c.lower()]


def _partition_stats(
    functions_in: int,
    dropped: Counter[str],
    cases_dropped: Counter[str],
    cases_kept: int,
    records: Sequence[Mapping[str, Any]],
    samples_failed: Counter[str],
    statuses: Counter[str],
    choices: Counter[str],
) -> dict[str, Any]:
    """One partition's counters, summed over partitions by `AssembleStep.merge_stats`."""
    return {
        "functions_in": functions_in,
        "functions_with_samples": len({r["function_id"] for r in records}),
        "samples": len(records),
        "dropped": dict(dropped),
        "cases_kept": cases_kept,
        "cases_dropped": dict(cases_dropped),
        "statuses": dict(statuses),
        "samples_failed": dict(samples_failed),
        "templates": dict(Counter(r["template_id"] for r in records)),
        "held_out_choice": dict(choices),
    }


def _report(total: Mapping[str, Any]) -> dict[str, Any]:
    """The stage's figures from its summed counters."""
    templates: Mapping[str, int] = total.get("templates", {})
    formats: Counter[str] = Counter()
    for template_id, count in templates.items():
        for token in str(template_id).split("-"):
            if token.startswith("f:"):
                formats[token[2:]] += count
    statuses = total.get("statuses", {})
    return {
        "functions_in": total.get("functions_in", 0),
        "functions_with_samples": total.get("functions_with_samples", 0),
        "samples": total.get("samples", 0),
        "dropped": by_count(total.get("dropped", {})),
        "cases_kept": total.get("cases_kept", 0),
        "cases_dropped": by_count(total.get("cases_dropped", {})),
        "unstable_cases": statuses.get(UNSTABLE, 0),
        "repr_error_cases": statuses.get(REPR_ERROR, 0),
        "samples_failed": by_count(total.get("samples_failed", {})),
        "held_out_choice": by_count(total.get("held_out_choice", {})),
        "template_mix": by_count(templates, 10),
        "case_format_mix": by_count(formats, 10),
    }


def assemble_partition(
    functions: pl.DataFrame,
    results: pl.DataFrame,
    config: AssembleConfig,
    parts: Parts,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Samples for these functions from their results (every result of each of them), with
    the counters of what was dropped and why."""
    extra = _extra_columns(functions.columns)
    by_function: dict[str, list[dict[str, Any]]] = {}
    for row in results.iter_rows(named=True):
        by_function.setdefault(row["function_id"], []).append(row)

    unique = functions.unique("function_id", keep="first", maintain_order=True)
    dropped: Counter[str] = Counter()
    cases_dropped: Counter[str] = Counter()
    samples_failed: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    choices: Counter[str] = Counter()
    cases_kept = 0
    records: list[dict[str, Any]] = []
    for function in unique.iter_rows(named=True):
        rows = by_function.get(function["function_id"])
        if not rows:
            dropped[NO_RESULTS] += 1
            continue
        try:
            usable = usable_cases(rows, config)
            reason = UNSTABLE if usable.all_unstable else drop_reason(usable.cases, config)
        except Exception as error:  # one function's odd value must not stop the stage
            dropped[_error_reason(ASSEMBLE_ERROR, error)] += 1
            continue
        statuses.update(usable.statuses)
        cases_dropped.update(usable.dropped)
        if reason is not None:
            dropped[reason] += 1
            continue
        failed: Counter[str] = Counter()
        made = _samples_for(function, usable, config, parts, extra, failed)
        samples_failed.update(failed)
        if not made and failed:
            dropped[failed.most_common(1)[0][0]] += 1
            continue
        cases_kept += len(usable.cases)
        if made:
            choices[held_out_choice(usable, config, made)] += 1
        records.extend(made)

    schema = SAMPLE_SCHEMA | {column: functions.schema[column] for column in extra}
    samples = pl.DataFrame(records, schema=schema)
    stats = _partition_stats(
        unique.height,
        dropped,
        cases_dropped,
        cases_kept,
        records,
        samples_failed,
        statuses,
        choices,
    )
    return samples, stats


class AssembleStep(Step):
    """Samples for the functions of a partition from their execution results."""

    name = "assemble"
    reads = ("functions", "results")

    def __init__(self, config: AssembleConfig | None = None, parts: Parts | None = None) -> None:
        """`parts`: template parts already loaded (default: the built-in ones plus
        `config.parts_dir`)."""
        self.config = config or AssembleConfig()
        if parts is None:
            parts = load_parts(self.config.parts_dir) if self.config.parts_dir else default_parts()
        self.parts = parts

    def check(self, schemas: Mapping[str, Schema]) -> None:
        for what, columns in REQUIRED_COLUMNS.items():
            require_columns(pl.DataFrame(schema=dict(schemas[what])), columns, what)

    def schema(self, schemas: Mapping[str, Schema]) -> Schema:
        functions = schemas["functions"]
        return SAMPLE_SCHEMA | {c: functions[c] for c in _extra_columns(functions)}

    def settings(self) -> Mapping[str, Any]:
        # The parts' texts, not the folder's name: an edited part file changes the samples.
        return {"assemble": asdict(self.config), "parts": asdict(self.parts)}

    @contextmanager
    def worker(self) -> Iterator[Process]:
        yield self._process

    def _process(self, partition: Partition) -> tuple[pl.DataFrame, Stats]:
        return assemble_partition(
            partition["functions"], partition["results"], self.config, self.parts
        )

    def merge_stats(self, stats: Sequence[Stats]) -> Stats:
        return _report(sum_counters(stats))


def assemble(
    functions: pl.DataFrame,
    results: pl.DataFrame,
    config: AssembleConfig | None = None,
    parts: Parts | None = None,
) -> AssembleResult:
    """Samples for every function whose results make a good Case2Code task, sorted by
    function id. `parts`: template parts already loaded (default: the built-in ones plus
    `config.parts_dir`)."""
    run = LocalExecutor().run(
        AssembleStep(config, parts), {"functions": functions, "results": results}
    )
    assert run.table is not None
    return AssembleResult(run.table, run.stats)


def assemble_to_parquet(
    functions_path: str | Path,
    results_path: str | Path,
    output: str | Path,
    config: AssembleConfig | None = None,
    parts: Parts | None = None,
    shard_functions: int = PARTITION_FUNCTIONS,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Samples into `output`, resumably and in bounded memory (shards in `<output>.parts/`);
    returns the stage's figures."""
    executor = LocalExecutor(shard_functions, progress=progress)
    tables = {"functions": functions_path, "results": results_path}
    return executor.run(AssembleStep(config, parts), tables, output).stats
