"""Scalar values of configuration files: durations, quiescence windows, file modes.

Rules:
1. A duration is a number of seconds (``30``, ``0.5``) or Go's duration syntax
   with the units ``ms``, ``s``, ``m``, ``h`` (``"500ms"``, ``"1m30s"``), as
   consul-template writes ``wait`` and ``timeout``.
2. A wait is ``"min:max"`` or ``"min"`` (then ``max`` is four times ``min``,
   consul-template's rule); ``min <= max``.
3. A mode is a string of octal digits with a leading ``0`` or ``0o``
   (``"0644"``, ``"0o2750"``). confd also accepts decimal and hex strings
   (``"420"``, ``"0x1a4"``) through Go's ``ParseUint(mode, 0, 32)``; those are
   refused with a hint, since ``"644"`` meant as octal is silently mode 01204 there.

Each parser raises ``ValueError`` with a message that completes "KEY: ...".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["MAX_MODE", "Wait", "format_mode", "parse_duration", "parse_mode", "parse_wait"]

MAX_MODE = 0o7777
"""Permission bits, set-id bits and the sticky bit: all a mode may hold."""

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_MODE = re.compile(r"0o?([0-7]{1,4})")


@dataclass(frozen=True, slots=True)
class Wait:
    """A quiescence window: render once no change came for ``min_s``, at the latest ``max_s``
    after the first change of a burst."""

    min_s: float
    max_s: float

    def __post_init__(self) -> None:
        assert 0 <= self.min_s <= self.max_s, f"wait needs 0 <= min <= max, got {self}"


def parse_duration(value: object) -> float:
    """Seconds from a number or a duration string (rule 1); never negative."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"must be a duration like \"30s\" or a number of seconds, not {_shown(value)}")
    if not isinstance(value, str) or _is_number(value):
        seconds = float(value)
    else:
        seconds = _parse_duration_string(value)
    if not 0 <= seconds < math.inf:
        raise ValueError(f"must be a finite duration of at least 0 s, not {_shown(value)}")
    return seconds


def parse_wait(value: object) -> Wait:
    """A ``Wait`` from ``"min:max"`` or ``"min"`` (rule 2)."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string like \"2s:10s\" (min:max), not {_shown(value)}")
    low, sep, high = value.partition(":")
    min_s = parse_duration(low.strip())
    max_s = parse_duration(high.strip()) if sep else 4 * min_s
    if max_s < min_s:
        raise ValueError(f"{value!r}: min ({low.strip()}) is more than max ({high.strip()})")
    return Wait(min_s, max_s)


def parse_mode(value: object) -> int:
    """Permission bits from an octal string with a leading ``0`` (rule 3)."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string of octal digits like \"0644\", not {_shown(value)} "
                         "(TOML integers are decimal)")
    match = _MODE.fullmatch(value.strip())
    if match is None:
        message = f"{value!r} is not an octal mode like \"0644\""
        if re.fullmatch(r"[1-7][0-7]{2,3}", value):
            message += f'; write "0{value}" (confd reads "{value}" as a decimal number)'
        raise ValueError(message)
    return int(match.group(1), 8)


def format_mode(mode: int) -> str:
    """``0644``-style text for permission bits."""
    return f"0{mode:03o}"


def _parse_duration_string(text: str) -> float:
    position, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"{text!r} is not a duration like \"500ms\", \"30s\" or \"1m30s\"")
    return seconds


def _is_number(text: str) -> bool:
    return re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", text) is not None


def _shown(value: object) -> str:
    return f"{type(value).__name__} {value!r}"
