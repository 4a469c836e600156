"""`c2c run` settings: one dataclass for the whole pipeline, read from an optional TOML file.

Every section maps onto the settings of one stage (`[extract]` is `ExtractConfig`, `[dedup]`
is `DedupConfig`, `[inputs]` is `InputsConfig` plus the generator, `[execute]` is the sandbox's
`Limits`, `[assemble]` is `AssembleConfig`), so a key means exactly what the stage's docs say.
Unknown sections and keys, and values of the wrong type, are errors naming the file and key:
a typo must not silently run a different pipeline. `docs/run.toml` lists every key.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from case2code.assemble import AssembleConfig
from case2code.dedup import DedupConfig
from case2code.errors import C2CError
from case2code.extract import ExtractConfig
from case2code.inputs.llm import LLMSettings
from case2code.inputs.stage import InputsConfig
from case2code.sandbox import Limits

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


@dataclass(frozen=True)
class RunConfig:
    """The whole pipeline. The defaults are the embedded default run: this interpreter's
    standard library, the built-in input generator, decontamination against HumanEval."""

    out: Path = Path("c2c-run")
    corpus: tuple[str, ...] = ()  # empty: the standard library
    seed: int = 0
    max_functions: int = 0  # after dedup, a seeded sample of this many; 0 keeps all
    shard_functions: int = 256  # functions per resumable shard (inputs, execute)
    workers: int = 0  # sandbox worker processes; 0: one per core
    against: tuple[str, ...] = ("humaneval",)  # benchmarks to decontaminate against
    eval_share: float = 0.02  # functions held out for the evaluation split
    eval_max: int = 500
    formats: tuple[str, ...] = ("parquet", "jsonl")
    shard_rows: int = 50_000
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    inputs: InputsConfig = field(default_factory=InputsConfig)
    limits: Limits = field(default_factory=Limits)
    assemble: AssembleConfig = field(default_factory=AssembleConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.eval_share < 1:
            raise C2CError(f"eval_share must be in [0, 1), not {self.eval_share}")
        if self.shard_functions < 1 or self.max_functions < 0 or self.eval_max < 0:
            raise C2CError("shard_functions must be >= 1; max_functions, eval_max >= 0")


# TOML section -> (RunConfig field, the keys of that section that belong to a nested field).
_RUN_KEYS = {
    "out",
    "seed",
    "max_functions",
    "shard_functions",
    "workers",
    "eval_share",
    "eval_max",
}
_SECTIONS = ("run", "corpus", "extract", "dedup", "inputs", "execute", "assemble", "export")
_EXPORT_KEYS = {"formats", "shard_rows"}
_GENERATOR_KEYS = {"generator", "model", "base_url", "concurrency"}
_LLM_KEYS = {f.name for f in dataclasses.fields(LLMSettings)}


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
        return isinstance(value, list)
    if origin in (dict, collections.abc.Mapping):
        return isinstance(value, dict)
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
    names = {f.name for f in dataclasses.fields(cls)}
    changes = {}
    for key, value in values.items():
        if key not in names:
            raise C2CError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(names))})")
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


def from_mapping(data: Mapping[str, Any], where: str = "config") -> RunConfig:
    """A RunConfig from parsed TOML."""
    unknown = set(data) - set(_SECTIONS)
    if unknown:
        raise C2CError(
            f"{where}: unknown section(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(_SECTIONS)})"
        )
    for name, section in data.items():
        if not isinstance(section, dict):
            raise C2CError(f"{where}: [{name}] must be a table")
    run = dict(data.get("run", {}))
    extra_run = set(run) - _RUN_KEYS
    if extra_run:
        raise C2CError(f"{where}: [run] unknown key(s) {', '.join(sorted(extra_run))}")
    top: dict[str, Any] = dict(run)

    corpus = dict(data.get("corpus", {}))
    corpus_keys, extract_keys = _split(corpus, {"paths"})
    if "paths" in corpus_keys:
        top["corpus"] = corpus_keys["paths"]
    extract_section = {**extract_keys, **data.get("extract", {})}

    dedup_section, dedup_rest = _split(data.get("dedup", {}), {"against"})
    top.update(dedup_section)

    inputs = dict(data.get("inputs", {}))
    generator_section, inputs = _split(inputs, _GENERATOR_KEYS)
    llm_section, inputs = _split(inputs, _LLM_KEYS - {"seed"})
    export_section, export_rest = _split(data.get("export", {}), _EXPORT_KEYS)
    if export_rest:
        raise C2CError(f"{where}: [export] unknown key(s) {', '.join(sorted(export_rest))}")
    top.update(export_section)

    seed = run.get("seed", 0)
    config = build(RunConfig, top, f"{where} [run]/[export]")
    generator_values = {
        ("name" if k == "generator" else k): v for k, v in generator_section.items()
    }
    generator = build(GeneratorConfig, generator_values, f"{where} [inputs]")
    generator = dataclasses.replace(
        generator, llm=build(LLMSettings, llm_section, f"{where} [inputs]")
    )
    return dataclasses.replace(
        config,
        extract=build(ExtractConfig, extract_section, f"{where} [extract]"),
        dedup=build(DedupConfig, dedup_rest, f"{where} [dedup]"),
        generator=generator,
        inputs=build(InputsConfig, {"seed": seed, **inputs}, f"{where} [inputs]"),
        limits=build(Limits, data.get("execute", {}), f"{where} [execute]"),
        assemble=build(
            AssembleConfig, {"seed": seed, **data.get("assemble", {})}, f"{where} [assemble]"
        ),
    )


def load_config(path: str | Path) -> RunConfig:
    """Read a `c2c run` TOML file; relative corpus paths and `out` are taken from its folder."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise C2CError(f"{path}: cannot read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise C2CError(f"{path}: not valid TOML: {error}") from None
    config = from_mapping(data, str(path))
    base = path.parent
    return dataclasses.replace(
        config,
        out=base / config.out,
        corpus=tuple(str(base / p) for p in config.corpus),
    )
