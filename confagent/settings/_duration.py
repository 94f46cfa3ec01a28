"""Durations: Go's ``time.ParseDuration`` grammar, and the rule every duration setting follows.

Rules:
1. ``go_duration_ns`` reads Go's grammar exactly as Go does, to the nanosecond:
   an optional sign, then one or more decimal numbers (an optional fraction,
   ``1.5``, ``.5``, ``5.``) each with a unit (``ns``, ``us``, ``µs``, ``μs``,
   ``ms``, ``s``, ``m``, ``h``), combined as in ``1h2m3.5s``; ``0`` alone
   needs no unit. Fractions are scaled in float64 and truncated, and results
   beyond an int64 of nanoseconds are refused, as in Go.
2. ``parse_duration`` is what every flag and field taking a duration accepts:
   Go's grammar, or a plain number of seconds (``30``, ``0.5``, as TOML or
   as text: confd's ``interval`` and consul-template's ``wait`` take them);
   the result is finite and at least 0 s.
3. ``go_duration_text`` writes seconds as Go's ``Duration.String`` does
   (``10m0s``, ``1.5s``, ``500ms``, ``720h0m0s``): how etcd's help shows a
   duration's default, and text ``parse_duration`` reads back.

Each parser raises ``ValueError`` with a message that completes "KEY: ...".
"""

from __future__ import annotations

import math
import re

__all__ = ["go_duration_ns", "go_duration_text", "parse_duration"]

_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
            "m": 60_000_000_000, "h": 3_600_000_000_000}
"""Go's ``unitMap``: ``µs`` is U+00B5 (micro sign), ``μs`` U+03BC (Greek mu)."""
_LIMIT = 1 << 63
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_DIGITS = re.compile(r"[0-9]*")


def parse_duration(value: object) -> float:
    """Seconds from a number or a duration string (rule 2).

    Raises:
        ValueError: not a number or Go duration, negative, or not finite.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"must be a duration like \"30s\" or a number of seconds, not {_shown(value)}")
    if isinstance(value, str) and _NUMBER.fullmatch(value) is None:
        seconds = go_duration_ns(value) / 1e9
    else:
        seconds = float(value)
    if not 0 <= seconds < math.inf:
        raise ValueError(f"must be a finite duration of at least 0 s, not {_shown(value)}")
    return seconds


def go_duration_text(seconds: float) -> str:
    """``seconds`` as Go's ``Duration.String`` writes it, to the nanosecond (rule 3)."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000_000_000:  # below a second: the largest unit under it, with a fraction
        size, unit = next((size, unit) for size, unit in ((1_000_000, "ms"), (1_000, "µs"), (1, "ns"))
                          if ns >= size)
        return f"{sign}{_decimal(ns, size)}{unit}"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = f"{_decimal(rest, 1_000_000_000)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _decimal(amount: int, unit: int) -> str:
    """``amount / unit`` exactly, its fraction's trailing zeros dropped (Go's ``fmtFrac``)."""
    whole, fraction = divmod(amount, unit)
    digits = str(fraction).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def go_duration_ns(text: str) -> int:
    """Nanoseconds in ``text``, read as Go's ``time.ParseDuration`` reads it (rule 1).

    Raises:
        ValueError: not Go's grammar, an unknown unit, or beyond an int64 of nanoseconds.
    """
    rest, negative = text, False
    if rest[:1] in ("-", "+"):
        rest, negative = rest[1:], rest[0] == "-"
    if rest == "0":
        return 0
    if not rest:
        raise _invalid(text)
    total = 0
    while rest:
        amount, rest = _leading_amount(rest, text)
        total += amount
        if total > _LIMIT:
            raise _invalid(text, "beyond the largest duration")
    if negative:
        return -total
    if total > _LIMIT - 1:
        raise _invalid(text, "beyond the largest duration")
    return total


def _leading_amount(rest: str, text: str) -> tuple[int, str]:
    """The nanoseconds of the number and unit ``rest`` starts with (Go's loop body), and what follows."""
    integer = _DIGITS.match(rest).group()  # type: ignore[union-attr]  # matches ""
    rest = rest[len(integer):]
    fraction = ""
    if rest.startswith("."):
        fraction = _DIGITS.match(rest, 1).group()  # type: ignore[union-attr]
        rest = rest[1 + len(fraction):]
    if not integer and not fraction:
        raise _invalid(text)
    unit = re.match(r"[^0-9.]*", rest).group()  # type: ignore[union-attr]
    rest = rest[len(unit):]
    if not unit:
        raise _invalid(text, "a number without a unit")
    if unit not in _UNIT_NS:
        raise _invalid(text, f"unknown unit {unit!r}")
    whole = int(integer or "0")
    unit_ns = _UNIT_NS[unit]
    if whole > _LIMIT // unit_ns:
        raise _invalid(text, "beyond the largest duration")
    amount = whole * unit_ns
    digits, scale = _fraction(fraction)
    if digits:
        amount += int(float(digits) * (float(unit_ns) / scale))
        if amount > _LIMIT:
            raise _invalid(text, "beyond the largest duration")
    return amount, rest


def _fraction(digits: str) -> tuple[int, float]:
    """Go's ``leadingFraction``: the digits as an integer and its scale, digits past int64's range dropped."""
    value, scale = 0, 1.0
    for digit in digits:
        if value > (_LIMIT - 1) // 10:
            break
        bigger = value * 10 + int(digit)
        if bigger > _LIMIT:
            break
        value, scale = bigger, scale * 10
    return value, scale


def _invalid(text: str, why: str = "") -> ValueError:
    detail = f" ({why})" if why else ""
    return ValueError(f"{text!r} is not a duration like \"500ms\", \"30s\" or \"1m30s\"{detail}")


def _shown(value: object) -> str:
    return f"{type(value).__name__} {value!r}"
