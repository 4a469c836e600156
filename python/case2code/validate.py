"""Range checks for the settings dataclasses, one wording for all of them.

Each settings dataclass checks its own fields in `__post_init__`, so a value is refused the same
way from a CLI flag, a TOML file or Python; `run_config` adds the file and section to the
message. The messages name the key as the dataclass (and the TOML file) spells it.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable

from case2code.errors import C2CError


def at_least(low: float, **values: float | None) -> None:
    """Every given value (None: not set, skipped) is >= `low`."""
    for key, value in values.items():
        if value is not None and value < low:
            raise C2CError(f"{key} = {value!r} is out of range: it must be at least {low}")


def between(low: float, high: float, **values: float | None) -> None:
    """Every given value (None: not set, skipped) lies in [low, high]."""
    for key, value in values.items():
        if value is not None and not low <= value <= high:
            raise C2CError(
                f"{key} = {value!r} is out of range: it must be between {low} and {high}"
            )


def one_of(key: str, value: object, choices: Collection[str]) -> None:
    if value not in choices:
        raise C2CError(
            f"{key} = {value!r} is not one of {', '.join(choices)}{did_you_mean(value, choices)}"
        )


def known_names(key: str, names: Iterable[str], valid: Collection[str], noun: str = "name") -> None:
    """Every name in `names` (rule names, formats) is one of `valid`."""
    for name in names:
        if name not in valid:
            raise C2CError(
                f'{key}: unknown {noun} "{name}"{did_you_mean(name, valid)} '
                f"(known: {', '.join(sorted(valid))})"
            )


def did_you_mean(word: object, valid: Iterable[str]) -> str:
    """' (did you mean X?)' for the nearest valid word, or '' when none is near."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
