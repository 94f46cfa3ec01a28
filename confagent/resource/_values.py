"""Scalar values of resource files: quiescence windows, file modes.

Rules:
1. A duration (``timeout``, either end of a ``wait``) is what
   ``confagent.settings.parse_duration`` reads: a number of seconds (``30``,
   ``0.5``) or Go's duration syntax (``"500ms"``, ``"1m30s"``), as
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

import re
from dataclasses import dataclass

from confagent.settings import parse_duration

__all__ = ["MAX_MODE", "Wait", "format_mode", "parse_mode", "parse_wait"]

MAX_MODE = 0o7777
"""Permission bits, set-id bits and the sticky bit: all a mode may hold."""

_MODE = re.compile(r"0o?([0-7]{1,4})")


@dataclass(frozen=True, slots=True)
class Wait:
    """A quiescence window: render once no change came for ``min_s``, at the latest ``max_s``
    after the first change of a burst."""

    min_s: float
    max_s: float

    def __post_init__(self) -> None:
        assert 0 <= self.min_s <= self.max_s, f"wait needs 0 <= min <= max, got {self}"


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


def _shown(value: object) -> str:
    return f"{type(value).__name__} {value!r}"
