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
