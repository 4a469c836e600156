"""One source of truth per setting: docs/run.toml lists every key `c2c run` takes with the
default of the dataclass field it sets; every `c2c run` option is a TOML key (and sets it the
same way); the single-stage commands' options default to the same fields; the partition size
is one constant."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import tomllib
import typer
from case2code.assemble import AssembleConfig
from case2code.cli import app
from case2code.dedup import DedupConfig
from case2code.errors import C2CError
from case2code.executors import PARTITION_FUNCTIONS
from case2code.extract import ExtractConfig
from case2code.inputs.llm import LLMSettings
from case2code.inputs.stage import InputsConfig
from case2code.run_config import (
    RUN_OPTIONS,
    RUN_WIDE,
    GeneratorConfig,
    RunConfig,
    _section_keys,
    from_mapping,
    load_config,
)
from case2code.sandbox import Limits
from faults import c2c, error_line

DOCS = Path(__file__).parent.parent / "docs" / "run.toml"
# A key written `# key = value`: its default is None, which TOML cannot write.
COMMENTED_KEY = re.compile(r"^# (\w+) *=", re.MULTILINE)


def _sections_of_docs() -> dict[str, set[str]]:
    """Each section's keys in docs/run.toml, the commented ones included."""
    keys: dict[str, set[str]] = {}
    section = ""
    for line in DOCS.read_text().splitlines():
        if header := re.match(r"^\[([\w.]+)\]", line):
            section = header.group(1)
        elif key := re.match(r"^(\w+) *=", line) or COMMENTED_KEY.match(line):
            keys.setdefault(section, set()).add(key.group(1))
    return keys


def _commands() -> dict[str, Any]:
    """The click commands typer builds, by name (typer may bring its own click)."""
    return dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_docs_values_are_the_defaults() -> None:
    """Parsed as a run's file, docs/run.toml is the default run, key for key."""
    documented = from_mapping(tomllib.loads(DOCS.read_text()), str(DOCS))
    assert documented == RunConfig()
    assert RunConfig().shard_functions == PARTITION_FUNCTIONS


def test_docs_list_every_key_and_no_other() -> None:
    documented = _sections_of_docs()
    known = _section_keys()
    # [corpus] also takes the extract keys; the docs write each one once, in either section.
    extract_keys = known.pop("extract") | known.pop("corpus")
    assert documented.pop("extract") | documented.pop("corpus") == extract_keys
    nested = documented.pop("inputs.limits")
    assert nested <= {f.name for f in dataclasses.fields(Limits)}
    for section, keys in known.items():
        expected = keys - {"limits"} if section == "inputs" else keys
        assert documented.pop(section) == expected, section
    assert not documented


def test_commented_keys_default_to_none() -> None:
    """A key the docs can only show commented out is one whose default is None."""
    text = DOCS.read_text()
    fields: dict[str, Any] = {}
    for cls in (RunConfig, ExtractConfig, DedupConfig, InputsConfig, LLMSettings, AssembleConfig):
        fields |= {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}
    fields["model"] = GeneratorConfig().model
    commented = COMMENTED_KEY.findall(text)
    assert commented, "the docs show the keys without a TOML default"
    for key in commented:
        assert fields[key] is None, key


def test_every_run_option_is_a_toml_key_and_sets_it() -> None:
    """The options of `c2c run` are exactly RUN_OPTIONS; each defaults to "not given" (the
    default lives in RunConfig) and sets its TOML key to what the key would be."""
    params = {p.name: p for p in _commands()["run"].params if p.name != "config_file"}
    assert set(params) == set(RUN_OPTIONS)
    known = _section_keys()
    samples = {
        "out": "elsewhere",
        "corpus": ["a", "b"],
        "max_functions": 7,
        "generator": "openai",
        "model": "m",
        "base_url": "http://host:1/v1",
        "workers": 3,
        "until": "dedup",
        "executor": "ray",
        "ray_address": "auto",
    }
    # An address is refused without the Ray executor: it is given with it.
    companions = {"ray_address": {"executor": "ray"}}
    for name, (section, key) in RUN_OPTIONS.items():
        assert key in known[section], name
        assert params[name].default is None, name
        also = companions.get(name, {})
        by_option = load_config(None, {name: samples[name], **also})
        by_key = from_mapping({section: {key: samples[name], **also}})
        assert by_option == by_key != RunConfig(), name


def test_run_options_override_the_file(tmp_path: Path) -> None:
    (tmp_path / "run.toml").write_text('[run]\nworkers = 1\nuntil = "inputs"\n')
    config = load_config(tmp_path / "run.toml", {"workers": 4, "until": None, "out": "x"})
    assert (config.workers, config.until) == (4, "inputs")
    assert config.out == Path("x").absolute(), "an option's path is the current folder's"


@pytest.mark.parametrize(("section", "key"), [(s, k) for s, ks in RUN_WIDE.items() for k in ks])
def test_run_wide_keys_are_refused_in_a_stage_section(section: str, key: str) -> None:
    with pytest.raises(C2CError, match=rf"\[{section}\] {key}: .* as \[run\] {key}"):
        from_mapping({section: {key: 2}}, "my.toml")


def test_inputs_workers_is_one_line_error(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("[inputs]\nworkers = 2\n")
    error_line(c2c("run", config), f"{config}: [inputs] workers", "[run] workers")


STAGE_SETTINGS = {
    "extract": (ExtractConfig,),
    "dedup": (DedupConfig,),
    "inputs": (InputsConfig, LLMSettings, GeneratorConfig),
    "exec": (Limits,),
    "assemble": (AssembleConfig,),
}


@pytest.mark.parametrize("command", sorted(STAGE_SETTINGS))
def test_stage_command_defaults_are_the_dataclass_defaults(command: str) -> None:
    """An option named like a settings field defaults to that field's default."""
    defaults: dict[str, Any] = {}
    for cls in STAGE_SETTINGS[command]:
        defaults |= {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}
    defaults["generator"] = GeneratorConfig().name
    matched = 0
    for param in _commands()[command].params:
        if param.name in defaults and param.default is not None:
            matched += 1
            assert param.default == defaults[param.name], f"c2c {command} --{param.name}"
    assert matched >= 3


@pytest.mark.parametrize("command", ["exec", "inputs"])
def test_shard_option_is_the_partition_size(command: str) -> None:
    params = {p.name: p for p in _commands()[command].params}
    assert params["shard_functions"].default == PARTITION_FUNCTIONS


def test_executor_keys_are_checked() -> None:
    ray = from_mapping({"run": {"executor": "ray", "ray_address": "auto"}})
    assert (ray.executor, ray.ray_address) == ("ray", "auto")
    unknown = r"my.toml \[run\]: executor = 'rey' is not one of local, ray \(did you mean 'ray'"
    with pytest.raises(C2CError, match=unknown):
        from_mapping({"run": {"executor": "rey"}}, "my.toml")
    with pytest.raises(C2CError, match=r"ray_address = 'auto' is set but executor = 'local'"):
        from_mapping({"run": {"ray_address": "auto"}}, "my.toml")
    # vLLM on Ray: the inputs' rounds as passes of Ray Data's LLM processor (tests/test_ray_llm.py)
    vllm = from_mapping({"run": {"executor": "ray"}, "inputs": {"generator": "vllm", "model": "m"}})
    assert (vllm.executor, vllm.generator.name) == ("ray", "vllm")
