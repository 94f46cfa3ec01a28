"""Durations, waits and modes as configuration files write them."""

from __future__ import annotations

import pytest

from confagent.resource import Wait, format_mode, parse_duration, parse_mode, parse_wait


@pytest.mark.parametrize(("value", "seconds"), [
    (30, 30.0), (0.5, 0.5), ("30", 30.0), ("0.25", 0.25), ("500ms", 0.5), ("30s", 30.0), ("2m", 120.0),
    ("1h", 3600.0), ("1m30s", 90.0), ("1.5s", 1.5), ("0s", 0.0), ("1h2m3s4ms", 3723.004),
])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "s", "5 s", "5x", "1m-2s", "-1s", -3, True, [1], "inf", float("nan")])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(("value", "wait"), [
    ("2s:10s", Wait(2.0, 10.0)), ("5s", Wait(5.0, 20.0)), ("0:1s", Wait(0.0, 1.0)),
    ("100ms:100ms", Wait(0.1, 0.1)),
])
def test_waits(value: str, wait: Wait) -> None:
    assert parse_wait(value) == wait


@pytest.mark.parametrize("value", ["10s:2s", "a:b", ":", 5])
def test_bad_waits(value: object) -> None:
    with pytest.raises(ValueError):
        parse_wait(value)


@pytest.mark.parametrize(("value", "mode"), [
    ("0644", 0o644), ("0600", 0o600), ("04755", 0o4755), ("0o640", 0o640), ("0000", 0),
])
def test_modes(value: str, mode: int) -> None:
    assert parse_mode(value) == mode
    assert parse_mode(format_mode(mode)) == mode


def test_decimal_looking_mode_gets_the_hint() -> None:
    with pytest.raises(ValueError, match='write "0644"'):
        parse_mode("644")
