"""Waits and modes as configuration files write them (durations: tests/settings/test_duration.py)."""

from __future__ import annotations

import pytest

from confagent.resource import Wait, format_mode, parse_mode, parse_wait


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
