"""`c2c mix`: an SFT mixture of a Case2Code dataset with the user's own chat data.

The other data are JSONL or Parquet files (or folders of them) whose rows have `messages` (a list
of {role, content}, the assistant's answer last) or `prompt` and `completion` strings. Each row
gets the export's chat and plain columns (from `messages`, the plain prompt is the messages
before the answer, one per paragraph, unless the row has its own), a `sample_id` naming its file
and row, null structured fields, and `mix_source` naming its source (`case2code` for ours).

How much of our data goes in is set by a ratio (the share of case2code rows; every other row is
kept) or a token budget for the case2code part, tokens estimated as the characters of every
message's content / CHARS_PER_TOKEN, rounded up per row. Rows are sampled without replacement;
when the dataset is too small, the other rows are sampled down to keep the ratio (or, with
`repeat`, case2code rows are repeated; a budget out of reach is met only with `repeat`), and a
note says so. Every random choice is seeded. The result is written by the export's
`write_shards` in the mixture's shuffled order, with a card recording the sources, rows and
estimated tokens per source, ratio and seed.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from case2code.assemble import MESSAGE_TYPE
from case2code.atomic import write_text
from case2code.errors import C2CError
from case2code.export import (
    FORMATS,
    LEADING_COLUMNS,
    SHARD_NAME,
    SHARD_ROWS,
    card,
    check_export,
    stats_table,
    write_shards,
)
from case2code.outputs import check_outputs
from case2code.tables import read_table, require_columns

OURS = "case2code"  # the mix_source of our rows
SOURCE_COLUMN = "mix_source"
CHARS_PER_TOKEN = 4  # the usual rough figure for English text and code with BPE tokenizers
JSONL_SUFFIXES = (".jsonl", ".ndjson")
DATA_SUFFIXES = (*JSONL_SUFFIXES, ".parquet")
ANSWER_ROLE = "assistant"
PRETTY_NAME = "Case2Code SFT mixture"


@dataclass(frozen=True)
class MixConfig:
    """How much of the Case2Code dataset goes into the mixture: exactly one of

    - `ratio`: the share of case2code rows in the mixture, in (0, 1); every other row is kept;
    - `tokens`: a budget of estimated tokens for the case2code part; every other row is kept;

    with `seed` for every random choice and `repeat`: repeat case2code rows when the dataset is
    too small (otherwise other rows are sampled down for a ratio, and a budget stays unmet)."""

    ratio: float | None = None
    tokens: int | None = None
    seed: int = 0
    repeat: bool = False

    def __post_init__(self) -> None:
        if (self.ratio is None) == (self.tokens is None):
            raise C2CError("mix: give exactly one of ratio (a share of rows) or tokens (a budget)")
        if self.ratio is not None and not 0 < self.ratio < 1:
            raise C2CError(
                f"ratio = {self.ratio!r} is out of range: the share of case2code rows must be "
                "between 0 and 1, both excluded"
            )
        if self.tokens is not None and self.tokens < 1:
            raise C2CError(f"tokens = {self.tokens!r} is out of range: it must be at least 1")


@dataclass(frozen=True)
class MixPart:
    """One source's share of the mixture."""

    name: str
    path: str
    available: int  # rows in the source
    used: int  # rows in the mixture (repeats counted)
    tokens: int  # estimated tokens of the used rows


@dataclass(frozen=True)
class MixSummary:
    out_dir: Path
    rows: int
    shards: int
    files: tuple[Path, ...]
    card: Path
    parts: tuple[MixPart, ...]  # ours first
    ratio: float  # the share of case2code rows achieved
    notes: tuple[str, ...]  # what was done when the request could not be met as asked


# ---------------------------------------------------------------- reading the inputs


def read_ours(path: str | Path) -> pl.DataFrame:
    """Every row of a Case2Code dataset folder (`c2c assemble -o`, or a `c2c run` folder)."""
    path = Path(path)
    frames = [read_table(shard, f"dataset {path}") for shard in _our_shards(path)]
    table = pl.concat(frames, how="diagonal_relaxed")
    require_columns(table, LEADING_COLUMNS, f"dataset {path}")
    if SOURCE_COLUMN in table.columns:
        raise C2CError(
            f"dataset {path} is a mixture (written by c2c mix): give the case2code dataset"
        )
    return table


def _our_shards(path: Path) -> list[Path]:
    """The export's shards, Parquet when written (the JSONL shards hold the same rows)."""
    if not path.is_dir():
        state = "is a file" if path.exists() else "does not exist"
        raise C2CError(f"dataset {path} {state}: give the dataset folder c2c assemble writes")
    for folder in (path / "data", path / "dataset" / "data"):  # a run folder has dataset/
        shards = sorted(p for p in folder.glob("*") if SHARD_NAME.fullmatch(p.name))
        parquet = [p for p in shards if p.suffix == ".parquet"]
        if parquet or shards:
            return parquet or shards
    raise C2CError(
        f"dataset {path}: no data/train-*.parquet or .jsonl shards (written by c2c assemble, "
        "or by c2c run under dataset/)"
    )


def data_files(path: str | Path) -> list[Path]:
    """A JSONL or Parquet file, or those under a folder (Parquet only when it has any, since an
    export writes the same rows as both); hidden files and folders are skipped."""
    path = Path(path)
    if path.is_file():
        if path.suffix not in DATA_SUFFIXES:
            raise C2CError(f"{path}: not a JSONL (.jsonl, .ndjson) or Parquet (.parquet) file")
        return [path]
    if not path.is_dir():
        raise C2CError(f"{path} does not exist")
    found = sorted(
        p
        for p in path.rglob("*")
        if p.suffix in DATA_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    parquet = [p for p in found if p.suffix == ".parquet"]
    if not found:
        raise C2CError(f"{path}: no .jsonl, .ndjson or .parquet files in this folder")
    return parquet or found


def read_other(path: str | Path, name: str) -> pl.DataFrame:
    """A source of chat data as the export's chat and plain columns, `sample_id` naming each
    row's file and row ('NAME:ROW', or 'NAME/FILE:ROW' in a folder) and `mix_source` NAME."""
    path = Path(path)
    records: list[dict[str, Any]] = []
    for file in data_files(path):
        label = name if file == path else f"{name}/{file.relative_to(path).as_posix()}"
        for where, row, record in _records(file):
            records.append({**chat_row(record, where), "sample_id": f"{label}:{row}"})
    if not records:
        raise C2CError(f"{path}: no rows")
    frame = pl.DataFrame(
        records,
        schema={
            "messages": MESSAGE_TYPE,
            "prompt": pl.Utf8,
            "completion": pl.Utf8,
            "sample_id": pl.Utf8,
        },
    )
    return frame.with_columns(pl.lit(name).alias(SOURCE_COLUMN))


def _records(file: Path) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    """(where, row number from 1, record) for every row of a file."""
    if file.suffix in JSONL_SUFFIXES:
        yield from _jsonl_records(file)
        return
    table = read_table(file, "chat data")
    if "messages" not in table.columns and not {"prompt", "completion"} <= set(table.columns):
        raise C2CError(
            f"{file}: needs a `messages` column, or `prompt` and `completion` "
            f"(has {', '.join(table.columns) or 'no columns'})"
        )
    for row, record in enumerate(table.iter_rows(named=True), start=1):
        yield f"{file} row {row}", row, record


def _jsonl_records(file: Path) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    """Parsed line by line (not by polars, which turns a number or a list where text belongs
    into text without a word), so that a bad line is named; blank lines are skipped."""
    try:
        with file.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                where = f"{file} line {number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise C2CError(f"{where}: not JSON ({error.msg})") from None
                if not isinstance(record, dict):
                    raise C2CError(f"{where}: a JSON object is needed, not {_kind(record)}")
                yield where, number, record
    except UnicodeDecodeError:
        raise C2CError(f"{file}: not UTF-8 text") from None
    except OSError as error:
        raise C2CError(f"{file}: cannot read it: {error.strerror or error}") from None


def chat_row(record: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A record's `messages`, `prompt` and `completion`, checked; `where` names it in errors.
    With `messages`, a row's own prompt and completion texts are kept when it has both."""
    if record.get("messages") is not None:
        messages = _checked_messages(record["messages"], where)
        prompt, completion = record.get("prompt"), record.get("completion")
        if not (isinstance(prompt, str) and isinstance(completion, str)):
            prompt = "\n\n".join(m["content"] for m in messages[:-1])
            completion = messages[-1]["content"]
        return {"messages": messages, "prompt": prompt, "completion": completion}
    prompt, completion = record.get("prompt"), record.get("completion")
    if prompt is None and completion is None:
        keys = ", ".join(record) or "none"
        raise C2CError(f"{where}: needs `messages`, or `prompt` and `completion` (keys: {keys})")
    for key, value in (("prompt", prompt), ("completion", completion)):
        if not isinstance(value, str):
            raise C2CError(f"{where}: `{key}` must be text, not {_kind(value)}")
    if not completion.strip():
        raise C2CError(f"{where}: `completion` is empty")
    messages = [{"role": "user", "content": prompt}, {"role": ANSWER_ROLE, "content": completion}]
    return {"messages": messages, "prompt": prompt, "completion": completion}


def _checked_messages(messages: Any, where: str) -> list[dict[str, str]]:
    """role and content of each message (other keys dropped); the answer must come last."""
    if not isinstance(messages, list) or not messages:
        raise C2CError(f"{where}: `messages` must be a non-empty list, not {_kind(messages)}")
    checked = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise C2CError(f"{where}: messages[{index}] is {_kind(message)}, not an object")
        for key in ("role", "content"):
            if not isinstance(message.get(key), str):
                raise C2CError(
                    f"{where}: messages[{index}].{key} must be text, not {_kind(message.get(key))}"
                )
        checked.append({"role": message["role"], "content": message["content"]})
    last = checked[-1]
    if last["role"] != ANSWER_ROLE or not last["content"].strip():
        raise C2CError(
            f"{where}: the last message must be a non-empty {ANSWER_ROLE} answer to train on "
            f"(it is {last['role']!r}{'' if last['content'].strip() else ', empty'})"
        )
    return checked


def _kind(value: Any) -> str:
    """What a value is, in JSON's words, with the start of it."""
    if value is None:
        return "null"
    kinds = ((bool, "a boolean"), ((int, float), "a number"), (list, "a list"), (dict, "an object"))
    kind = next((name for types, name in kinds if isinstance(value, types)), "text")
    return f"{kind} ({json.dumps(value, default=str)[:40]})"


def source_names(paths: Sequence[Path]) -> list[str]:
    """Each source's file or folder name; the path as given where names repeat or clash
    with ours."""
    names = [p.name or str(p) for p in paths]
    return [
        str(p) if names.count(n) > 1 or n == OURS else n for p, n in zip(paths, names, strict=True)
    ]


# ---------------------------------------------------------------- choosing rows


def estimated_tokens(messages: pl.Series) -> pl.Series:
    """Per row: characters of every message's content / CHARS_PER_TOKEN, rounded up."""
    chars = messages.list.eval(pl.element().struct.field("content").str.len_chars()).list.sum()
    return (chars.cast(pl.Int64) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


@dataclass(frozen=True)
class Choice:
    """Row indices into our table and into each other source, and notes on what was done."""

    ours: list[int]
    others: list[list[int]]
    notes: list[str]


def _stream(seed: int, what: str) -> random.Random:
    """An independent seeded stream per decision, so one choice never shifts another."""
    return random.Random(f"{seed}:{what}")


def _half_up(x: float) -> int:
    return math.floor(x + 0.5)


def draw(available: int, wanted: int, rng: random.Random) -> list[int]:
    """`wanted` of range(available): without replacement when it can, else every row the same
    number of times and a sample of them once more."""
    copies, rest = divmod(wanted, available)
    return sorted([*range(available)] * copies + rng.sample(range(available), rest))


def allocate(total: int, sizes: Sequence[int]) -> list[int]:
    """`total` split over sources in proportion to their sizes (largest remainders)."""
    exact = [total * size / sum(sizes) for size in sizes]
    shares = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (shares[i] - exact[i], i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def choose_by_ratio(ours: int, others: Sequence[int], config: MixConfig) -> Choice:
    """Every other row and `ratio` of the result from ours, or as near as rows allow."""
    ratio = config.ratio
    assert ratio is not None
    total_other = sum(others)
    wanted = _half_up(ratio * total_other / (1 - ratio))
    if wanted == 0:
        raise C2CError(
            f"ratio {ratio} beside {total_other:,} other rows rounds to no case2code row"
        )
    keep_others = [list(range(n)) for n in others]
    rng = _stream(config.seed, OURS)
    if wanted <= ours:
        return Choice(draw(ours, wanted, rng), keep_others, [])
    short = (
        f"ratio {ratio} beside {total_other:,} other rows needs {wanted:,} case2code rows, "
        f"but the dataset has {ours:,}"
    )
    if config.repeat:
        copies = wanted // ours
        times = f"{copies} or {copies + 1}" if wanted % ours else f"{copies}"
        note = f"{short}: each case2code row was repeated ({times} times), every other row kept"
        return Choice(draw(ours, wanted, rng), keep_others, [note])
    room = min(_half_up(ours * (1 - ratio) / ratio), total_other)
    if room == 0:
        raise C2CError(f"ratio {ratio} with {ours:,} case2code rows leaves no room for other rows")
    shares = allocate(room, others)
    sampled = [
        draw(n, k, _stream(config.seed, f"other:{i}"))
        for i, (n, k) in enumerate(zip(others, shares, strict=True))
    ]
    note = (
        f"{short}: all {ours:,} were used and {room:,} of the other rows sampled without "
        "replacement, in proportion to each source's size (with --repeat, case2code rows are "
        "repeated instead and every other row kept)"
    )
    return Choice(list(range(ours)), sampled, [note])


def choose_by_tokens(tokens: Sequence[int], others: Sequence[int], config: MixConfig) -> Choice:
    """Every other row, and case2code rows in seeded random order while the estimated tokens
    stay within the budget (with `repeat`, a new order each pass over the dataset)."""
    budget = config.tokens
    assert budget is not None
    rng = _stream(config.seed, OURS)
    chosen: list[int] = []
    spent = 0
    while True:
        order = rng.sample(range(len(tokens)), len(tokens))
        for index in order:
            if spent + tokens[index] > budget:
                break
            chosen.append(index)
            spent += tokens[index]
        else:  # the whole dataset fitted
            if config.repeat and spent > 0:
                continue
        break
    if not chosen:
        raise C2CError(f"tokens {budget:,} is less than a case2code row ({tokens[order[0]]:,})")
    notes = []
    if len(chosen) == len(tokens) and spent < budget and not config.repeat:
        notes.append(
            f"the budget of {budget:,} tokens is more than the case2code dataset's "
            f"{spent:,} estimated tokens: all {len(tokens):,} rows were used once "
            "(--repeat repeats them up to the budget)"
        )
    elif len(chosen) > len(tokens):
        notes.append(
            f"the budget of {budget:,} tokens is more than the case2code dataset's "
            f"{sum(tokens):,} estimated tokens: rows were repeated ({len(chosen):,} in all)"
        )
    return Choice(sorted(chosen), [list(range(n)) for n in others], notes)


# ---------------------------------------------------------------- the mixture


def mix(
    dataset: str | Path,
    others: Sequence[str | Path],
    out_dir: str | Path,
    config: MixConfig,
    formats: Sequence[str] = FORMATS,
    shard_rows: int = SHARD_ROWS,
) -> MixSummary:
    """Write the mixture of `dataset` (ours) with `others` under `out_dir`, as an export."""
    formats = tuple(dict.fromkeys(formats))
    paths = [Path(p) for p in others]
    if not paths:
        raise C2CError("mix: give at least one other dataset to mix with")
    out = Path(out_dir)
    _check_paths(Path(dataset), paths, out)
    ours = read_ours(dataset)
    names = source_names(paths)
    frames = [read_other(path, name) for path, name in zip(paths, names, strict=True)]
    our_tokens = estimated_tokens(ours["messages"])
    sizes = [frame.height for frame in frames]
    if config.ratio is not None:
        choice = choose_by_ratio(ours.height, sizes, config)
    else:
        choice = choose_by_tokens(our_tokens.to_list(), sizes, config)
    chosen = [ours[choice.ours].with_columns(pl.lit(OURS).alias(SOURCE_COLUMN))]
    chosen += [frame[rows] for frame, rows in zip(frames, choice.others, strict=True)]
    table = shuffled(pl.concat(chosen, how="diagonal_relaxed"), config.seed)
    check_export(table, formats, shard_rows)
    used_ours = _sum(our_tokens, choice.ours)
    parts = [MixPart(OURS, str(dataset), ours.height, len(choice.ours), used_ours)]
    for name, path, frame, rows in zip(names, paths, frames, choice.others, strict=True):
        used_tokens = _sum(estimated_tokens(frame["messages"]), rows)
        parts.append(MixPart(name, str(path), frame.height, len(rows), used_tokens))
    achieved = len(choice.ours) / table.height
    digest, count, files = write_shards(table, out, formats, shard_rows)
    card_text = mixture_card(chosen[0], parts, config, achieved, choice.notes, formats, digest)
    card = write_text(card_text, out / "README.md")
    return MixSummary(
        out, table.height, count, tuple(files), card, tuple(parts), achieved, tuple(choice.notes)
    )


def _check_paths(dataset: Path, others: Sequence[Path], out: Path) -> None:
    """The output folder must be writable, must not hold an input (its shards are replaced)
    nor lie in a folder of other data (a rerun would read the mixture back in)."""
    inputs = [dataset, *others]
    check_outputs(folders=[out], inputs=inputs)
    for path in inputs:
        if path.resolve().is_relative_to(out.resolve()):
            raise C2CError(f"input {path} is inside the output folder {out}: it would be replaced")
    for path in others:
        if path.is_dir() and out.resolve().is_relative_to(path.resolve()):
            raise C2CError(
                f"output {out} is inside the input folder {path}: a rerun would read it as input"
            )


def _sum(tokens: pl.Series, rows: Sequence[int]) -> int:
    return int(tokens[list(rows)].sum()) if rows else 0


def shuffled(table: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The rows in a seeded random order, columns in the export's order with `mix_source` after
    the leading ones."""
    order = _stream(seed, "shuffle").sample(range(table.height), table.height)
    rest = [c for c in table.columns if c not in (*LEADING_COLUMNS, SOURCE_COLUMN)]
    return table[order].select(*LEADING_COLUMNS, SOURCE_COLUMN, *rest)


# ---------------------------------------------------------------- the card


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _parts_table(parts: Sequence[MixPart]) -> list[str]:
    rows, tokens = sum(p.used for p in parts), sum(p.tokens for p in parts)
    lines = [
        "| source | path | rows available | rows used | share of rows "
        "| estimated tokens | share of tokens |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for p in parts:
        lines.append(
            f"| {p.name} | `{p.path}` | {p.available:,} | {p.used:,} | {_share(p.used, rows)} "
            f"| {p.tokens:,} | {_share(p.tokens, tokens)} |"
        )
    lines.append(f"| **total** | | | {rows:,} | 100.0% | {tokens:,} | 100.0% |")
    return lines


def _request(config: MixConfig, achieved: float) -> str:
    if config.ratio is not None:
        return f"- Requested: case2code share of rows {config.ratio}; achieved {achieved:.4f}"
    return f"- Requested: a budget of {config.tokens:,} estimated tokens for the case2code part"


def mixture_card(
    ours: pl.DataFrame,
    parts: Sequence[MixPart],
    config: MixConfig,
    achieved: float,
    notes: Sequence[str],
    formats: Sequence[str],
    digest: str,
) -> str:
    """The mixture's README.md: the export's card, with the mixture and our part's statistics."""
    about = (
        "Execution-verified Case2Code samples mixed with other chat data for supervised "
        'fine-tuning. Case2Code: Shao et al., "Case2Code: Scalable Synthetic Data for Code '
        'Generation", COLING 2025.'
    )
    columns = (
        "Columns as in a Case2Code export (`messages`, `prompt`, `completion`, then the "
        f"structured fields) plus `{SOURCE_COLUMN}`, the source of the row. Rows of the other "
        "sources have null structured fields and a `sample_id` naming their file and row."
    )
    sections = [
        "## Mixture",
        "",
        *_parts_table(parts),
        "",
        _request(config, achieved),
        f"- Seed: {config.seed} (sampling and the shuffled row order)",
        f"- Repeat case2code rows when too few: {'yes' if config.repeat else 'no'}",
        f"- Estimated tokens: the characters of every message's content / {CHARS_PER_TOKEN}, "
        "rounded up per row (no tokenizer)",
        *(f"- Note: {note}" for note in notes),
        "",
        "## The case2code part",
        "",
        f"- Samples: {ours.height:,}",
        f"- Functions: {ours['function_id'].n_unique():,}",
        "",
        *stats_table(ours),
        "",
    ]
    rows = sum(p.used for p in parts)
    return card(PRETTY_NAME, rows, formats, digest, about, columns, sections)
