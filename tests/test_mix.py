"""`c2c mix` on a real export (hand-written functions extracted, run in the sandbox, assembled,
exported) and real chat files: the mixture's counts and ratio, token budgets, seeded
determinism, loading with Hugging Face `datasets`, the card, and one-line errors."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import datasets
import hand_functions
import polars as pl
import pytest
from case2code import C2CError
from case2code.assemble import AssembleConfig, assemble
from case2code.cli import app
from case2code.export import export
from case2code.mix import MixConfig, allocate, mix
from hand_functions import run_hand_functions
from typer.testing import CliRunner

SOURCE, INPUTS = hand_functions.SOURCE, hand_functions.INPUTS
PER_FUNCTION = 8
OURS = 3 * PER_FUNCTION  # rows in our dataset
CHAT_ROWS = 30  # chat.jsonl: `messages`
PLAIN_ROWS = 26  # plain.parquet: prompt / completion
OTHERS = CHAT_ROWS + PLAIN_ROWS


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Case2Code export folder."""
    functions, results = run_hand_functions(SOURCE, INPUTS)
    samples = assemble(
        functions, results, AssembleConfig(seed=1, samples_per_function=PER_FUNCTION)
    ).samples
    assert samples.height == OURS
    out = tmp_path_factory.mktemp("ours") / "dataset"
    export(samples, out)
    return out


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def chat_record(i: int) -> dict[str, object]:
    return {
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": f"Question {i}: what is {i} + {i}?", "name": "u"},
            {"role": "assistant", "content": f"It is {2 * i}." + " Indeed." * (i % 5)},
        ],
        "id": i,  # other keys are dropped
    }


@pytest.fixture(scope="module")
def others(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("others")
    chat = write_jsonl(folder / "chat.jsonl", [chat_record(i) for i in range(CHAT_ROWS)])
    plain = folder / "plain.parquet"
    pl.DataFrame(
        {
            "prompt": [f"Write the word {i} backwards." for i in range(PLAIN_ROWS)],
            "completion": [str(i)[::-1] for i in range(PLAIN_ROWS)],
            "score": list(range(PLAIN_ROWS)),
        }
    ).write_parquet(plain)
    return chat, plain


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep `datasets` off the network and its cache in tmp."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))


def rows_of(out: Path) -> pl.DataFrame:
    """The mixture's Parquet shards in file order, checked against its JSONL shards."""
    parquet = pl.read_parquet(sorted((out / "data").glob("*.parquet")))
    jsonl = pl.concat(
        pl.read_ndjson(p, schema=parquet.schema) for p in sorted((out / "data").glob("*.jsonl"))
    )
    assert parquet.equals(jsonl)
    return parquet


def ours_ids(dataset: Path) -> list[str]:
    return pl.read_parquet(dataset / "data" / "*.parquet")["sample_id"].to_list()


def files_of(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def estimate(messages: list[dict[str, str]]) -> int:
    return math.ceil(sum(len(m["content"]) for m in messages) / 4)


def test_ratio_mixture(dataset: Path, others: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "mix"
    summary = mix(dataset, others, out, MixConfig(ratio=0.25, seed=5))
    wanted = round(0.25 * OTHERS / 0.75)  # 18.67: 19 case2code rows beside every other row
    rows = rows_of(out)
    assert summary.rows == rows.height == wanted + OTHERS
    assert Counter(rows["mix_source"]) == {
        "case2code": wanted,
        "chat.jsonl": CHAT_ROWS,
        "plain.parquet": PLAIN_ROWS,
    }
    assert summary.ratio == pytest.approx(wanted / (wanted + OTHERS)) and not summary.notes
    # Ours: distinct rows of the dataset (no replacement), with their structured fields.
    mine = rows.filter(pl.col("mix_source") == "case2code")
    assert mine["sample_id"].n_unique() == wanted
    assert set(mine["sample_id"]) <= set(ours_ids(dataset))
    assert mine["shown"].list.len().min() >= 3 and mine["function_id"].null_count() == 0
    # Theirs: every row once, normalised, structured fields null, ids naming file and row.
    theirs = rows.filter(pl.col("mix_source") != "case2code")
    assert sorted(theirs["sample_id"]) == sorted(
        [f"chat.jsonl:{i + 1}" for i in range(CHAT_ROWS)]
        + [f"plain.parquet:{i + 1}" for i in range(PLAIN_ROWS)]
    )
    for column in ("function_id", "name", "source", "template_id", "shown", "held_out"):
        assert theirs[column].null_count() == theirs.height, column
    first_chat = theirs.filter(pl.col("sample_id") == "chat.jsonl:4").row(0, named=True)
    assert first_chat["messages"] == [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Question 3: what is 3 + 3?"},
        {"role": "assistant", "content": "It is 6. Indeed. Indeed. Indeed."},
    ]
    assert first_chat["prompt"] == "You are helpful.\n\nQuestion 3: what is 3 + 3?"
    assert first_chat["completion"] == "It is 6. Indeed. Indeed. Indeed."
    plain = theirs.filter(pl.col("sample_id") == "plain.parquet:13").row(0, named=True)
    assert plain["messages"] == [
        {"role": "user", "content": "Write the word 12 backwards."},
        {"role": "assistant", "content": "21"},
    ]
    assert (plain["prompt"], plain["completion"]) == ("Write the word 12 backwards.", "21")
    assert "score" not in rows.columns
    assert rows.columns[:11] == [
        "messages",
        "prompt",
        "completion",
        "sample_id",
        "function_id",
        "name",
        "source",
        "template_id",
        "shown",
        "held_out",
        "mix_source",
    ]
    # Shuffled: the sources are interleaved, not one block after another.
    runs = rows["mix_source"].ne(rows["mix_source"].shift(1)).sum()
    assert runs > 10


def test_card_records_the_mixture(dataset: Path, others: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "mix"
    summary = mix(dataset, others, out, MixConfig(ratio=0.25, seed=5))
    rows = rows_of(out)
    card = (out / "README.md").read_text()
    digest = summary.files[0].name.rsplit("-", 1)[1].split(".")[0]
    assert "pretty_name: Case2Code SFT mixture\n" in card
    assert f"    path: data/train-*-{digest}.parquet\n" in card
    tokens = {
        source: sum(estimate(m) for m in group["messages"].to_list())
        for (source,), group in rows.group_by("mix_source")
    }
    total = sum(tokens.values())
    used = Counter(rows["mix_source"])
    assert [(p.name, p.available, p.used, p.tokens) for p in summary.parts] == [
        ("case2code", OURS, used["case2code"], tokens["case2code"]),
        ("chat.jsonl", CHAT_ROWS, CHAT_ROWS, tokens["chat.jsonl"]),
        ("plain.parquet", PLAIN_ROWS, PLAIN_ROWS, tokens["plain.parquet"]),
    ]
    for part in summary.parts:
        share = f"{100 * part.used / rows.height:.1f}%"
        token_share = f"{100 * part.tokens / total:.1f}%"
        assert (
            f"| {part.name} | `{part.path}` | {part.available:,} | {part.used:,} | {share} "
            f"| {part.tokens:,} | {token_share} |"
        ) in card
    assert f"| **total** | | | {rows.height:,} | 100.0% | {total:,} | 100.0% |" in card
    assert f"- Requested: case2code share of rows 0.25; achieved {summary.ratio:.4f}" in card
    assert "- Seed: 5 " in card and "characters of every message's content / 4" in card
    assert f"- Samples: {used['case2code']}\n- Functions: 3\n" in card
    assert "| shown cases per sample |" in card and "COLING 2025" in card


def test_same_seed_same_files_other_seed_other_mixture(
    dataset: Path, others: tuple[Path, Path], tmp_path: Path
) -> None:
    config = MixConfig(ratio=0.25, seed=11)
    mix(dataset, others, tmp_path / "a", config)
    mix(dataset, others, tmp_path / "b", config)
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    mix(dataset, others, tmp_path / "c", MixConfig(ratio=0.25, seed=12))
    a, c = rows_of(tmp_path / "a"), rows_of(tmp_path / "c")
    assert a.height == c.height
    assert a["sample_id"].to_list() != c["sample_id"].to_list()
    picked = [set(f.filter(pl.col("mix_source") == "case2code")["sample_id"]) for f in (a, c)]
    assert picked[0] != picked[1]
    # A rerun into the same folder with another seed leaves only the new shards.
    mix(dataset, others, tmp_path / "a", MixConfig(ratio=0.25, seed=12))
    assert files_of(tmp_path / "a") == files_of(tmp_path / "c")


def test_too_few_case2code_rows_samples_the_others_down(
    dataset: Path, others: tuple[Path, Path], tmp_path: Path
) -> None:
    # 0.8 of the rows beside 56 others would be 224 case2code rows; there are 24.
    summary = mix(dataset, others, tmp_path, MixConfig(ratio=0.8, seed=2))
    rows = rows_of(tmp_path)
    room = round(OURS * 0.2 / 0.8)  # 6 other rows keep the ratio
    used = Counter(rows["mix_source"])
    assert used == {"case2code": OURS, "chat.jsonl": 3, "plain.parquet": 3}
    assert allocate(room, [CHAT_ROWS, PLAIN_ROWS]) == [3, 3]
    assert summary.ratio == 0.8 and rows["sample_id"].n_unique() == rows.height
    [note] = summary.notes
    assert "needs 224 case2code rows, but the dataset has 24" in note
    assert "6 of the other rows sampled without replacement" in note
    assert f"- Note: {note}" in (tmp_path / "README.md").read_text()


def test_repeat_keeps_every_other_row(
    dataset: Path, others: tuple[Path, Path], tmp_path: Path
) -> None:
    summary = mix(dataset, others, tmp_path, MixConfig(ratio=0.8, seed=2, repeat=True))
    rows = rows_of(tmp_path)
    mine = rows.filter(pl.col("mix_source") == "case2code")
    assert mine.height == 224 and rows.height == 224 + OTHERS
    assert set(Counter(mine["sample_id"]).values()) == {9, 10}  # 224 = 9 * 24 + 8
    assert set(mine["sample_id"]) == set(ours_ids(dataset))
    assert summary.ratio == 0.8
    assert "repeated (9 or 10 times), every other row kept" in summary.notes[0]


def test_token_budget(dataset: Path, others: tuple[Path, Path], tmp_path: Path) -> None:
    ours = pl.read_parquet(dataset / "data" / "*.parquet")
    all_tokens = sum(estimate(m) for m in ours["messages"].to_list())
    budget = all_tokens // 2
    summary = mix(dataset, others, tmp_path / "half", MixConfig(tokens=budget, seed=4))
    rows = rows_of(tmp_path / "half")
    mine = rows.filter(pl.col("mix_source") == "case2code")
    spent = sum(estimate(m) for m in mine["messages"].to_list())
    assert spent <= budget < all_tokens and mine["sample_id"].n_unique() == mine.height
    assert 0 < mine.height < OURS
    assert summary.parts[0].tokens == spent and not summary.notes
    assert rows.height - mine.height == OTHERS  # every other row
    assert "- Requested: a budget of " in (tmp_path / "half" / "README.md").read_text()
    # More than the dataset holds: all rows once, and a note; with repeat, up to the budget.
    summary = mix(dataset, others, tmp_path / "all", MixConfig(tokens=3 * all_tokens))
    assert summary.parts[0].used == OURS and summary.parts[0].tokens == all_tokens
    assert "all 24 rows were used once" in summary.notes[0]
    summary = mix(dataset, others, tmp_path / "rep", MixConfig(tokens=3 * all_tokens, repeat=True))
    assert 2 * all_tokens < summary.parts[0].tokens <= 3 * all_tokens
    assert summary.parts[0].used > 2 * OURS and "rows were repeated" in summary.notes[0]


def test_loads_with_datasets(
    dataset: Path, others: tuple[Path, Path], tmp_path: Path, offline: None
) -> None:
    out = tmp_path / "mix"
    summary = mix(dataset, others, out, MixConfig(ratio=0.5, seed=0), shard_rows=16)
    assert summary.shards == -(-summary.rows // 16) > 1
    loaded = datasets.load_dataset(str(out))
    assert list(loaded) == ["train"]
    train = loaded["train"]
    assert train.num_rows == summary.rows
    assert train["sample_id"] == rows_of(out)["sample_id"].to_list()  # the shuffled order
    assert Counter(train["mix_source"])["case2code"] == summary.parts[0].used
    for row in train.select(range(10)):
        assert row["messages"][-1] == {"role": "assistant", "content": row["completion"]}


def test_a_folder_of_files_and_a_run_folder(
    dataset: Path, others: tuple[Path, Path], tmp_path: Path
) -> None:
    """A folder source reads its files (Parquet only when it has both); a `c2c run` folder
    stands for its dataset/."""
    folder = tmp_path / "mine"
    (folder / "part").mkdir(parents=True)
    write_jsonl(folder / "part" / "a.jsonl", [chat_record(i) for i in range(4)])
    write_jsonl(folder / "b.ndjson", [{"prompt": "p", "completion": "c"}])
    (folder / ".hidden.jsonl").write_text("not json\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "dataset").symlink_to(dataset, target_is_directory=True)
    summary = mix(run, [folder], run / "mix", MixConfig(ratio=0.5))  # beside dataset/: fine
    rows = rows_of(run / "mix")
    theirs = rows.filter(pl.col("mix_source") == "mine")["sample_id"].to_list()
    assert sorted(theirs) == ["mine/b.ndjson:1", *(f"mine/part/a.jsonl:{i}" for i in range(1, 5))]
    assert summary.parts[0].used == 5
    # With Parquet beside the JSONL, as in an export, only the Parquet is read.
    pl.DataFrame({"prompt": ["q"], "completion": ["a"]}).write_parquet(folder / "c.parquet")
    summary = mix(run, [folder], tmp_path / "out", MixConfig(ratio=0.5))
    assert [p.used for p in summary.parts] == [1, 1]


def test_bad_chat_rows_name_file_and_line(dataset: Path, tmp_path: Path) -> None:
    good = chat_record(0)
    cases = {
        "no_columns.jsonl": ([good, {"text": "hello"}], "line 2: needs `messages`, or `prompt`"),
        "bad_json.jsonl": (None, "line 2: not JSON"),
        "not_object.jsonl": ([good, [1, 2]], "line 2: a JSON object is needed, not a list ([1"),
        "last_user.jsonl": (
            [{"messages": [{"role": "user", "content": "hi"}]}],
            "line 1: the last message must be a non-empty assistant answer to train on "
            "(it is 'user')",
        ),
        "number_content.jsonl": (
            [{"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "x"}]}],
            "line 1: messages[0].content must be text, not a number (5)",
        ),
        "list_content.jsonl": (
            [{"messages": [{"role": "assistant", "content": [{"type": "text", "text": "a"}]}]}],
            "line 1: messages[0].content must be text, not a list",
        ),
        "empty_answer.jsonl": (
            [{"prompt": "p", "completion": "  "}],
            "line 1: `completion` is empty",
        ),
        "null_prompt.jsonl": (
            [{"prompt": None, "completion": "c"}],
            "line 1: `prompt` must be text, not null",
        ),
    }
    for name, (records, reason) in cases.items():
        path = tmp_path / name
        if records is None:
            path.write_text(json.dumps(good) + "\n{oops\n")
        else:
            write_jsonl(path, records)
        with pytest.raises(C2CError) as error:
            mix(dataset, [path], tmp_path / "out", MixConfig(ratio=0.5))
        assert str(error.value).startswith(f"{path} {reason}"), (name, str(error.value))
    assert not (tmp_path / "out").exists()


def test_bad_files_and_settings(dataset: Path, others: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    no_column = tmp_path / "texts.parquet"
    pl.DataFrame({"text": ["a"]}).write_parquet(no_column)
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not really")
    csv = tmp_path / "data.csv"
    csv.write_text("prompt,completion\na,b\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    null_row = tmp_path / "null_row.parquet"
    pl.DataFrame({"prompt": ["a", None], "completion": ["b", "c"]}).write_parquet(null_row)
    bad_inputs = [
        (no_column, "needs a `messages` column, or `prompt` and `completion` (has text)"),
        (corrupt, "chat data: cannot read"),
        (csv, "not a JSONL (.jsonl, .ndjson) or Parquet (.parquet) file"),
        (empty, "no rows"),
        (null_row, "row 2: `prompt` must be text, not null"),
        (tmp_path / "nowhere.jsonl", "does not exist"),
    ]
    for path, reason in bad_inputs:
        with pytest.raises(C2CError) as error:
            mix(dataset, [path], out, MixConfig(ratio=0.5))
        assert str(path) in str(error.value) and reason in str(error.value), str(error.value)
    chat = others[0]
    (tmp_path / "not_a_dataset").mkdir()
    with pytest.raises(C2CError, match="no data/train-"):
        mix(tmp_path / "not_a_dataset", [chat], out, MixConfig(ratio=0.5))
    with pytest.raises(C2CError, match="is a file"):
        mix(chat, [chat], out, MixConfig(ratio=0.5))
    mix(dataset, [chat], out, MixConfig(ratio=0.5))
    with pytest.raises(C2CError, match="is a mixture"):
        mix(out, [chat], tmp_path / "again", MixConfig(ratio=0.5))
    # Outputs that are, hold or sit in an input.
    with pytest.raises(C2CError, match="is also an input"):
        mix(dataset, [chat], dataset, MixConfig(ratio=0.5))
    with pytest.raises(C2CError, match="inside the output folder"):
        mix(dataset, [out / "data"], out, MixConfig(ratio=0.5))
    with pytest.raises(C2CError, match="inside the input folder"):
        mix(dataset, [chat.parent], chat.parent / "mix", MixConfig(ratio=0.5))
    with pytest.raises(C2CError, match=re.escape(f"{chat} is a file; a folder is written there")):
        mix(dataset, [chat], chat, MixConfig(ratio=0.5))
    for settings, reason in (
        ({"ratio": 0.0}, "between 0 and 1, both excluded"),
        ({"ratio": 1.0}, "between 0 and 1, both excluded"),
        ({"ratio": -0.2}, "between 0 and 1, both excluded"),
        ({}, "exactly one of ratio"),
        ({"ratio": 0.3, "tokens": 100}, "exactly one of ratio"),
        ({"tokens": 0}, "tokens = 0 is out of range"),
    ):
        with pytest.raises(C2CError, match=reason):
            MixConfig(**settings)  # type: ignore[arg-type]
    with pytest.raises(C2CError, match="rounds to no case2code row"):
        mix(dataset, [chat], tmp_path / "tiny", MixConfig(ratio=0.001))
    with pytest.raises(C2CError, match="less than a case2code row"):
        mix(dataset, [chat], tmp_path / "tiny", MixConfig(tokens=1))
    with pytest.raises(C2CError, match="formats"):
        mix(dataset, [chat], tmp_path / "tiny", MixConfig(ratio=0.5), formats=("csv",))
    assert not (tmp_path / "tiny").exists()


def test_cli(dataset: Path, others: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "mix"
    args = ["mix", str(dataset), *map(str, others), "-o", str(out), "--ratio", "0.8"]
    done = CliRunner().invoke(app, [*args, "--seed", "3", "--formats", "parquet"])
    assert done.exit_code == 0, done.output
    text = " ".join(done.output.replace("│", " ").split())
    assert "case2code 24 of 24 rows" in text and "chat.jsonl 3 of 30 rows" in text
    assert "note: ratio 0.8 beside 56 other rows needs 224 case2code rows" in text
    assert "wrote 30 rows in 1 shard(s) to" in text
    assert not list(out.rglob("*.jsonl"))
    expected = mix(
        dataset, others, tmp_path / "api", MixConfig(ratio=0.8, seed=3), formats=("parquet",)
    )
    assert files_of(out) == files_of(tmp_path / "api") and expected.rows == 30
    for bad, reason in (
        (["--ratio", "1.5"], "error: ratio = 1.5 is out of range"),
        (["--ratio", "0.5", "--tokens", "9"], "error: mix: give exactly one of ratio"),
        (["--tokens", "9", "-o", str(others[0])], "error: output"),
    ):
        failed = CliRunner().invoke(app, ["mix", str(dataset), str(others[0]), *bad])
        assert failed.exit_code == 2, failed.output
        assert reason in failed.output and "Traceback" not in failed.output
        assert len(failed.output.strip().splitlines()) == 1
