"""`c2c run` settings files: every key maps onto a stage's settings, and a typo is an error that
names the file, the section and the key instead of silently running another pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from case2code import C2CError
from case2code.run_config import RunConfig, load_config
from case2code.sandbox import Limits


def _load(tmp_path: Path, text: str) -> RunConfig:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return load_config(path)


def test_sections_reach_their_stages(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """
[run]
seed = 5
max_functions = 100
[corpus]
paths = ["src", "rows.jsonl"]
text_column = "text"
[extract]
min_lines = 1
rules = { size = false }
[dedup]
against = ["humaneval", "mbpp.jsonl"]
threshold = 0.8
[inputs]
generator = "openai"
model = "m"
temperature = 0
n_inputs = 7
[inputs.limits]
wall_ms_per_case = 500
[execute]
fuel_per_case = 1000
[assemble]
held_out = 3
reveal_shares = { signature = 1, hidden = 0 }
[export]
formats = ["parquet"]
""",
    )
    assert config.corpus == (str(tmp_path / "src"), str(tmp_path / "rows.jsonl"))
    assert config.out == tmp_path / "c2c-run"
    assert config.extract.text_column == "text" and config.extract.min_lines == 1
    assert dict(config.extract.rules) == {"size": False}
    assert config.against == ("humaneval", str(tmp_path / "mbpp.jsonl"))
    assert config.dedup.threshold == 0.8
    assert (config.generator.name, config.generator.model) == ("openai", "m")
    assert config.generator.llm.temperature == 0.0
    assert config.inputs.n_inputs == 7 and config.inputs.seed == 5
    # A nested table changes only its own keys; the rest keep the validation defaults.
    assert config.inputs.limits.wall_ms_per_case == 500
    assert config.inputs.limits.fuel_per_case == RunConfig().inputs.limits.fuel_per_case
    assert config.limits == Limits(fuel_per_case=1000)
    assert config.assemble.held_out == 3 and config.assemble.seed == 5
    assert config.formats == ("parquet",) and config.max_functions == 100


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[extrct]\nmin_lines = 1\n", "unknown section"),
        ("[extract]\nmin_line = 1\n", r"\[extract\].*unknown key 'min_line'"),
        ("[extract]\nmin_lines = 'one'\n", r"\[extract\].*min_lines = 'one'"),
        ("[run]\nshard_functions = 0\n", "shard_functions"),
        ("[run]\neval_share = 1.5\n", "eval_share"),
        ("[execute]\nisolation = 'none'\n", "isolation"),
        ("[export]\nshards = 3\n", r"\[export\] unknown key"),
        ("[run]\nseed = 1\nseed = 2\n", "not valid TOML"),
        ("run = 3\n", r"\[run\] must be a table"),
    ],
)
def test_mistakes_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(C2CError, match=message) as raised:
        _load(tmp_path, text)
    assert "run.toml" in str(raised.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(C2CError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[assemble]\nmax_output_chars = -1\n",
            r"\[assemble\]: max_output_chars = -1 .*least 1",
        ),
        ("[assemble]\nheld_out = 50\n", r"\[assemble\] held_out = 50 with \[inputs\] n_inputs"),
        ("[assemble]\nmin_cases = 11\n", r"\[assemble\] min_cases = 11 exceeds \[inputs\]"),
        ("[assemble]\nmulti_turn_share = 1.5\n", r"\[assemble\]: multi_turn_share = 1.5"),
        ("[assemble]\nreveal_shares = { name = -1 }\n", r"reveal_shares.name = -1"),
        ("[assemble]\nreveal_shares = { nme = 1 }\n", r'reveal "nme" \(did you mean \'name\'\?\)'),
        ("[inputs]\nn_inputs = 0\n", r"\[inputs\]: n_inputs = 0 .*at least 1"),
        ("[inputs]\nmin_valid = 11\n", r"\[inputs\]: min_valid = 11 can never be reached"),
        ("[inputs]\nerror_share = -0.1\n", r"\[inputs\]: error_share = -0.1"),
        ("[inputs]\ntemperature = -1\n", r"\[inputs\]: temperature = -1"),
        ("[inputs]\ngenerator = 'vlm'\n", r"\[inputs\]: generator = 'vlm' .*did you mean 'vllm'"),
        ("[inputs.limits]\nwall_ms_per_case = 0\n", r"\[inputs\] limits: wall_ms_per_case = 0"),
        ("[execute]\nmemory_bytes = 1024\n", r"\[execute\]: memory_bytes = 1024"),
        (
            "[extract]\nmin_lines = 9\nmax_lines = 3\n",
            r"\[extract\]: max_lines = 3 is below min_lines = 9",
        ),
        ("[extract]\nrules = { sise = false }\n", r'rule "sise" \(did you mean \'size\'\?\)'),
        ("[dedup]\nthreshold = -0.5\n", r"\[dedup\]: threshold = -0.5"),
        ("[dedup]\nbands = 100\n", r"\[dedup\]: bands x rows \(100 x 6\) exceeds"),
        ("[run]\nworkers = -2\n", r"\[run\]: workers = -2"),
        ("[export]\nformats = ['csv']\n", r'\[export\]: formats: unknown format "csv"'),
        ("[export]\nshard_rows = 0\n", r"\[export\]: shard_rows = 0"),
        ("[corpus]\npaths = [3]\n", r"\[corpus\]: corpus = \[3\] is not"),
        ("[extract]\nmin_line = 1\n", r"unknown key 'min_line' \(did you mean 'min_lines'\?\)"),
        ("[inputs]\ntemprature = 1\n", r"\[inputs\] unknown key 'temprature' \(did you mean"),
        ("[asemble]\nseed = 1\n", r"unknown section \[asemble\] \(did you mean 'assemble'\?\)"),
    ],
)
def test_values_out_of_range_name_the_section_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(C2CError, match=message) as raised:
        _load(tmp_path, text)
    assert str(raised.value).startswith(str(tmp_path / "run.toml"))


def test_the_same_checks_guard_the_settings_in_python() -> None:
    """The ranges live in the settings dataclasses: CLI flags and Python get them too."""
    from case2code.assemble import AssembleConfig
    from case2code.inputs.stage import InputsConfig

    with pytest.raises(C2CError, match="max_output_chars = -1"):
        AssembleConfig(max_output_chars=-1)
    with pytest.raises(C2CError, match="n_inputs = 0"):
        InputsConfig(n_inputs=0)
    with pytest.raises(C2CError, match="held_out = 9 with"):
        RunConfig(assemble=AssembleConfig(held_out=9))


def test_relative_paths_are_taken_from_the_files_folder(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """
[run]
out = "../runs/one"
[corpus]
paths = ["src", "/abs/rows.jsonl"]
[dedup]
against = ["humaneval", "bench/mbpp.jsonl"]
[inputs]
templates = ["paper", "mine.txt"]
[assemble]
parts_dir = "parts"
""",
    )
    assert config.out == tmp_path.parent / "runs" / "one"
    assert config.corpus == (str(tmp_path / "src"), "/abs/rows.jsonl")
    assert config.against == ("humaneval", str(tmp_path / "bench" / "mbpp.jsonl"))
    assert config.generator.llm.templates == ("paper", str(tmp_path / "mine.txt"))
    assert config.assemble.parts_dir == str(tmp_path / "parts")
