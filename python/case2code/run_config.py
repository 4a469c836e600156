"""`c2c run` settings: one dataclass for the whole pipeline, read from an optional TOML file.

Each section is the settings of one stage (`[extract]` is `ExtractConfig`, `[dedup]`
`DedupConfig`, `[inputs]` `InputsConfig` plus the generator, `[execute]` the sandbox's `Limits`,
`[assemble]` `AssembleConfig`), so a key means what the stage's docs say. An unknown section or
key (the nearest valid one suggested), a value of the wrong type or out of range is an error
naming the file, section and key: a typo must not silently run another pipeline. The settings
dataclasses check their own ranges (so CLI flags get the same checks), `RunConfig` the relations
between sections. Relative paths in a file are taken from its folder. `docs/run.toml` lists every
key.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import os
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from case2code.assemble import MIN_SHOWN, AssembleConfig
from case2code.benchmarks import NAMED as NAMED_BENCHMARKS
from case2code.dedup import DedupConfig
from case2code.errors import C2CError
from case2code.executors import EXECUTORS
from case2code.executors.local import PARTITION_FUNCTIONS
from case2code.export import FORMATS, SHARD_ROWS
from case2code.extract import ExtractConfig
from case2code.inputs.drivers import GENERATORS
from case2code.inputs.llm import LLMSettings
from case2code.inputs.stage import InputsConfig
from case2code.sandbox import Limits
from case2code.validate import at_least, between, did_you_mean, known_names, one_of

# The pipeline's stages, in order (`until` names one).
STAGES = ("extract", "dedup", "inputs", "execute", "assemble", "export")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the package depends on tomli there
    import tomli as tomllib


@dataclass(frozen=True)
class GeneratorConfig:
    """Which input generator runs, and how LLM generators are asked."""

    name: str = "builtin"  # builtin, openai or vllm
    model: str | None = None
    base_url: str = "http://127.0.0.1:8000/v1"
    concurrency: int = 8
    llm: LLMSettings = field(default_factory=LLMSettings)

    def __post_init__(self) -> None:
        one_of("generator", self.name, GENERATORS)
        at_least(1, concurrency=self.concurrency, max_tokens=self.llm.max_tokens)
        at_least(0.0, temperature=self.llm.temperature)
        between(0.0, 1.0, top_p=self.llm.top_p)


@dataclass(frozen=True)
class RunConfig:
    """The whole pipeline. The defaults are the embedded default run: this interpreter's
    standard library, the built-in input generator, decontamination against HumanEval."""

    out: Path = Path("c2c-run")
    corpus: tuple[str, ...] = ()  # empty: the standard library
    seed: int = 0
    max_functions: int = 0  # after dedup, a seeded sample of this many; 0 keeps all
    shard_functions: int = PARTITION_FUNCTIONS  # functions per partition, a resume shard each
    workers: int = 0  # sandbox worker processes; 0: one per core
    executor: str = "local"  # local, or ray: each partition of a step on a Ray actor
    ray_address: str | None = None  # the Ray cluster to join; None: a Ray on this machine
    against: tuple[str, ...] = ("humaneval",)  # benchmarks to decontaminate against
    eval_share: float = 0.02  # functions held out for the evaluation split
    eval_max: int = 500
    formats: tuple[str, ...] = ("parquet", "jsonl")
    shard_rows: int = SHARD_ROWS
    until: str = STAGES[-1]  # the last stage to run; run.json and the report need all of them
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    inputs: InputsConfig = field(default_factory=InputsConfig)
    limits: Limits = field(default_factory=Limits)
    assemble: AssembleConfig = field(default_factory=AssembleConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.eval_share < 1:
            raise C2CError(f"eval_share = {self.eval_share} is out of range: it must be in [0, 1)")
        at_least(1, shard_functions=self.shard_functions, shard_rows=self.shard_rows)
        at_least(0, max_functions=self.max_functions, eval_max=self.eval_max, workers=self.workers)
        if not self.formats:
            raise C2CError(f"formats: name at least one of {', '.join(FORMATS)}")
        known_names("formats", self.formats, FORMATS, noun="format")
        one_of("until", self.until, STAGES)
        self._check_executor()
        self._check_cases_fit()

    def _check_executor(self) -> None:
        one_of("executor", self.executor, EXECUTORS)
        if self.ray_address is not None and self.executor != "ray":
            raise C2CError(
                f"ray_address = {self.ray_address!r} is set but executor = {self.executor!r}: "
                'set executor = "ray" to run on that cluster'
            )

    def _check_cases_fit(self) -> None:
        """The assemble settings ask for no more cases than a function gets inputs: otherwise
        every function would be dropped and the run would end with no samples."""
        n_inputs, assemble = self.inputs.n_inputs, self.assemble
        if assemble.min_cases > n_inputs:
            raise C2CError(
                f"[assemble] min_cases = {assemble.min_cases} exceeds [inputs] n_inputs = "
                f"{n_inputs}: no function could ever have enough cases"
            )
        if assemble.held_out + MIN_SHOWN > n_inputs:
            raise C2CError(
                f"[assemble] held_out = {assemble.held_out} with [inputs] n_inputs = {n_inputs} "
                f"leaves fewer than {MIN_SHOWN} cases to show (held_out must be at most "
                f"{max(n_inputs - MIN_SHOWN, 0)})"
            )


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


# [run] takes every RunConfig field that no other section sets.
_EXPORT_KEYS = {"formats", "shard_rows"}
_STAGE_SETTINGS = {"extract", "dedup", "generator", "inputs", "limits", "assemble"}
_RUN_KEYS = _fields(RunConfig) - {"corpus", "against"} - _EXPORT_KEYS - _STAGE_SETTINGS
_GENERATOR_KEYS = {"generator", "model", "base_url", "concurrency"}
_LLM_KEYS = _fields(LLMSettings)
# Fields of a stage's dataclass that the run sets once for every stage: `[run]` is their only
# key (a second one would be silently overwritten, or disagree with the others).
RUN_WIDE = {"inputs": ("seed", "workers"), "assemble": ("seed",)}
# `c2c run` options, each the TOML key it sets (the option's value replaces the file's).
RUN_OPTIONS = {
    "out": ("run", "out"),
    "corpus": ("corpus", "paths"),
    "max_functions": ("run", "max_functions"),
    "generator": ("inputs", "generator"),
    "model": ("inputs", "model"),
    "base_url": ("inputs", "base_url"),
    "workers": ("run", "workers"),
    "until": ("run", "until"),
    "executor": ("run", "executor"),
    "ray_address": ("run", "ray_address"),
}


def _type_ok(value: Any, hint: Any) -> bool:
    """Whether a TOML value fits a field's type hint (ints pass for floats)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arm) for arm in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin in (tuple, list, collections.abc.Sequence) or hint in (tuple, list):
        item = typing.get_args(hint)[:1]
        return isinstance(value, list) and all(_type_ok(v, item[0]) for v in value if item)
    if origin in (dict, collections.abc.Mapping):
        item = typing.get_args(hint)[1:2]
        return isinstance(value, dict) and all(_type_ok(v, item[0]) for v in value.values() if item)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is Path:
        return isinstance(value, str)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _coerce(value: Any, hint: Any) -> Any:
    if isinstance(value, list) and typing.get_origin(hint) is not list:
        return tuple(value)
    if hint is Path or (isinstance(value, str) and Path in typing.get_args(hint)):
        return Path(value)
    if hint is float and isinstance(value, int):
        return float(value)
    return value


def build(cls: type, values: Mapping[str, Any], where: str, base: Any = None) -> Any:
    """`cls` from `values`, on top of `base` (default: the class defaults); every key is
    checked against the fields and their types."""
    base = base if base is not None else cls()
    hints = typing.get_type_hints(cls)
    names = _fields(cls)
    changes = {}
    for key, value in values.items():
        if key not in names:
            raise C2CError(
                f"{where}: unknown key {key!r}{did_you_mean(key, names)} "
                f"(known: {', '.join(sorted(names))})"
            )
        if dataclasses.is_dataclass(hints[key]) and isinstance(value, dict):
            changes[key] = build(hints[key], value, f"{where} {key}", getattr(base, key))
            continue
        if not _type_ok(value, hints[key]):
            raise C2CError(f"{where}: {key} = {value!r} is not a {hints[key]}")
        changes[key] = _coerce(value, hints[key])
    try:
        return dataclasses.replace(base, **changes)
    except (TypeError, ValueError, C2CError) as error:
        raise C2CError(f"{where}: {error}") from None


def _split(section: Mapping[str, Any], keys: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    picked = {k: v for k, v in section.items() if k in keys}
    rest = {k: v for k, v in section.items() if k not in keys}
    return picked, rest


def _stage_fields(section: str, cls: type) -> set[str]:
    return _fields(cls) - set(RUN_WIDE.get(section, ()))


def _section_keys() -> dict[str, set[str]]:
    """The keys each section takes (`[corpus]` also the extract keys), in the order errors list."""
    return {
        "run": _RUN_KEYS,
        "corpus": {"paths"} | _fields(ExtractConfig),
        "extract": _fields(ExtractConfig),
        "dedup": {"against"} | _fields(DedupConfig),
        "inputs": _GENERATOR_KEYS | _LLM_KEYS | _stage_fields("inputs", InputsConfig),
        "execute": _fields(Limits),
        "assemble": _stage_fields("assemble", AssembleConfig),
        "export": _EXPORT_KEYS,
    }


def _check_names(data: Mapping[str, Any], where: str) -> None:
    """Every section and key is a known one; a typo names the nearest valid one."""
    keys = _section_keys()
    for name, section in data.items():
        if name not in keys:
            raise C2CError(
                f"{where}: unknown section [{name}]{did_you_mean(name, keys)} "
                f"(known: {', '.join(keys)})"
            )
        if not isinstance(section, dict):
            raise C2CError(f"{where}: [{name}] must be a table")
        for key in section:
            if key in RUN_WIDE.get(name, ()):
                raise C2CError(
                    f"{where}: [{name}] {key}: set once for the whole run, as [run] {key}"
                )
            if key not in keys[name]:
                raise C2CError(
                    f"{where}: [{name}] unknown key {key!r}{did_you_mean(key, keys[name])} "
                    f"(known: {', '.join(sorted(keys[name]))})"
                )


def from_mapping(data: Mapping[str, Any], where: str = "config") -> RunConfig:
    """A RunConfig from parsed TOML."""
    _check_names(data, where)
    run = dict(data.get("run", {}))
    corpus_keys, extract_keys = _split(data.get("corpus", {}), {"paths"})
    extract_section = {**extract_keys, **data.get("extract", {})}
    against, dedup_rest = _split(data.get("dedup", {}), {"against"})
    inputs = dict(data.get("inputs", {}))
    generator_section, inputs = _split(inputs, _GENERATOR_KEYS)
    llm_section, inputs = _split(inputs, _LLM_KEYS)

    # The run-wide keys, section by section, so that an error names the section of its key.
    config = build(RunConfig, run, f"{where} [run]")
    config = build(RunConfig, {"corpus": corpus_keys.get("paths", [])}, f"{where} [corpus]", config)
    config = build(RunConfig, against, f"{where} [dedup]", config)
    config = build(RunConfig, data.get("export", {}), f"{where} [export]", config)
    seed = config.seed
    generator_values = {
        ("name" if k == "generator" else k): v for k, v in generator_section.items()
    }
    llm = build(LLMSettings, llm_section, f"{where} [inputs]")
    generator = build(GeneratorConfig, {**generator_values, "llm": llm}, f"{where} [inputs]")
    stages = {
        "extract": build(ExtractConfig, extract_section, f"{where} [extract]"),
        "dedup": build(DedupConfig, dedup_rest, f"{where} [dedup]"),
        "generator": generator,
        "inputs": build(InputsConfig, {"seed": seed, **inputs}, f"{where} [inputs]"),
        "limits": build(Limits, data.get("execute", {}), f"{where} [execute]"),
        "assemble": build(
            AssembleConfig, {"seed": seed, **data.get("assemble", {})}, f"{where} [assemble]"
        ),
    }
    try:
        return dataclasses.replace(config, **stages)
    except C2CError as error:  # a relation between sections; the message names both keys
        raise C2CError(f"{where}: {error}") from None


def load_config(
    path: str | Path | None = None, options: Mapping[str, Any] | None = None
) -> RunConfig:
    """A `c2c run` TOML file (None: the defaults), then the `c2c run` options given (by their
    names in `RUN_OPTIONS`, each replacing its TOML key; None: not given). Relative paths in
    the file are taken from its folder, the options' from the current one."""
    data = _read_toml(Path(path)) if path is not None else {}
    where = str(path) if path is not None else "defaults"
    config = from_mapping(data, where)
    given = {name: value for name, value in (options or {}).items() if value is not None}
    if given:
        merged = {section: dict(values) for section, values in data.items()}
        for name, value in given.items():
            section, key = RUN_OPTIONS[name]
            merged.setdefault(section, {})[key] = _option_value(name, value, path is not None)
        config = from_mapping(merged, f"{where} with the options {', '.join(given)}")
    return _paths_from(Path(path).parent, config) if path is not None else config


def _option_value(name: str, value: Any, absolute: bool) -> Any:
    """An option as its TOML value; its paths made absolute when a file's relative paths
    would otherwise be taken from the file's folder."""
    path = os.path.abspath if absolute else str
    if name == "corpus":
        return [path(p) for p in value]
    return path(value) if name == "out" else value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise C2CError(f"{path}: cannot read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise C2CError(f"{path}: not valid TOML: {error}") from None


def _paths_from(folder: Path, config: RunConfig) -> RunConfig:
    """The file's relative paths taken from `folder`, made absolute (so that the run's
    fingerprints are the same whichever folder `c2c run` is started from)."""

    def absolute(path: str | os.PathLike[str]) -> str:
        return os.path.abspath(folder / path)

    templates = tuple(
        absolute(t) if t.endswith(".txt") or (folder / t).exists() else t
        for t in config.generator.llm.templates
    )
    llm = dataclasses.replace(config.generator.llm, templates=templates)
    parts_dir = config.assemble.parts_dir
    return dataclasses.replace(
        config,
        out=Path(absolute(config.out)),
        corpus=tuple(absolute(p) for p in config.corpus),
        against=tuple(a if a.lower() in NAMED_BENCHMARKS else absolute(a) for a in config.against),
        generator=dataclasses.replace(config.generator, llm=llm),
        assemble=dataclasses.replace(
            config.assemble, parts_dir=absolute(parts_dir) if parts_dir else None
        ),
    )
