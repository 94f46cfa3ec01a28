"""Durations: Go's ``time.ParseDuration`` grammar, checked against Go's own table
(``src/time/time_test.go``: ``parseDurationTests`` and ``parseDurationErrorTests``), and
the rule every duration setting and flag follows (a number of seconds too, never negative)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confagent.settings import go_duration_ns, go_duration_text, parse_duration

NS, US, MS, S, MIN, H = 1, 1_000, 1_000_000, 1_000_000_000, 60_000_000_000, 3_600_000_000_000

GO_DURATIONS = [
    # simple
    ("0", 0), ("5s", 5 * S), ("30s", 30 * S), ("1478s", 1478 * S),
    # sign
    ("-5s", -5 * S), ("+5s", 5 * S), ("-0", 0), ("+0", 0),
    # decimal
    ("5.0s", 5 * S), ("5.6s", 5 * S + 600 * MS), ("5.s", 5 * S), (".5s", 500 * MS), ("1.0s", 1 * S),
    ("1.00s", 1 * S), ("1.004s", 1 * S + 4 * MS), ("1.0040s", 1 * S + 4 * MS),
    ("100.00100s", 100 * S + 1 * MS),
    # different units
    ("10ns", 10 * NS), ("11us", 11 * US), ("12\u00b5s", 12 * US), ("12\u03bcs", 12 * US), ("13ms", 13 * MS),
    ("14s", 14 * S), ("15m", 15 * MIN), ("16h", 16 * H),
    # composite durations
    ("3h30m", 3 * H + 30 * MIN), ("10.5s4m", 4 * MIN + 10 * S + 500 * MS),
    ("-2m3.4s", -(2 * MIN + 3 * S + 400 * MS)),
    ("1h2m3s4ms5us6ns", 1 * H + 2 * MIN + 3 * S + 4 * MS + 5 * US + 6 * NS),
    ("39h9m14.425s", 39 * H + 9 * MIN + 14 * S + 425 * MS),
    # large value
    ("52763797000ns", 52763797000 * NS),
    # more than 9 digits after decimal point, see https://golang.org/issue/6617
    ("0.3333333333333333333h", 20 * MIN),
    # 9007199254740993 = 1<<53+1 cannot be stored precisely in a float64
    ("9007199254740993ns", (1 << 53) + 1),
    # largest duration that can be represented by int64 in nanoseconds
    ("9223372036854775807ns", (1 << 63) - 1), ("9223372036854775.807us", (1 << 63) - 1),
    ("9223372036s854ms775us807ns", (1 << 63) - 1),
    ("-9223372036854775808ns", -(1 << 63)), ("-9223372036854775.808us", -(1 << 63)),
    ("-9223372036s854ms775us808ns", -(1 << 63)),
    # largest negative round trip value, see https://golang.org/issue/48629
    ("-2562047h47m16.854775808s", -(1 << 63)),
    # huge string; issue 15011.
    ("0.100000000000000000000h", 6 * MIN),
    # This value tests the first overflow check in leadingFraction.
    ("0.830103483285477580700h", 49 * MIN + 48 * S + 372539827 * NS),
    # the package documentation's examples
    ("10h", 10 * H), ("1h10m10s", 4210 * S), ("1\u00b5s", 1000 * NS), ("1us", 1000 * NS), ("300ms", 300 * MS),
    ("-1.5h", -(90 * MIN)), ("2h45m", 2 * H + 45 * MIN),
]

GO_ERRORS = [
    "", "3", "-", "s", ".", "-.", ".s", "+.s", "1d", "\x85\x85", "\xffff", "hello \xffff world", "\ufffd",
    "\ufffd hello \ufffd world",
    # overflow
    "9223372036854775810ns", "9223372036854775808ns", "-9223372036854775809ns", "9223372036854776us",
    "3000000h", "9223372036854775.808us", "9223372036854ms775us808ns",
]


@pytest.mark.parametrize(("text", "nanoseconds"), GO_DURATIONS, ids=[t for t, _ in GO_DURATIONS])
def test_go_durations(text: str, nanoseconds: int) -> None:
    assert go_duration_ns(text) == nanoseconds


@pytest.mark.parametrize("text", GO_ERRORS)
def test_what_go_refuses_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        go_duration_ns(text)


def test_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="unknown unit 'd'"):
        go_duration_ns("1d")
    with pytest.raises(ValueError, match="a number without a unit"):
        go_duration_ns("1h30")


@pytest.mark.parametrize(("value", "seconds"), [
    (30, 30.0), (0.5, 0.5), ("30", 30.0), ("0.25", 0.25), ("500ms", 0.5), ("30s", 30.0), ("2m", 120.0),
    ("1h", 3600.0), ("1m30s", 90.0), ("1.5s", 1.5), ("0s", 0.0), ("1h2m3s4ms", 3723.004),
    ("500us", 0.0005), ("500\u00b5s", 0.0005), ("10ns", 1e-8), ("+2s", 2.0), ("-0", 0.0),
])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "s", "5 s", "5x", "1m-2s", "-1s", -3, True, [1], "inf", float("nan")])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(("seconds", "text"), [  # Go's time.Duration.String, as its documentation shows it
    (0, "0s"), (1e-9, "1ns"), (1.1e-6, "1.1µs"), (2.2e-3, "2.2ms"), (0.5, "500ms"), (1.5, "1.5s"),
    (90, "1m30s"), (600, "10m0s"), (3600, "1h0m0s"), (2_592_000, "720h0m0s"),
    (4530.918273645, "1h15m30.918273645s"), (-90, "-1m30s"),
])
def test_durations_written_as_go_writes_them(seconds: float, text: str) -> None:
    assert go_duration_text(seconds) == text


@given(st.integers(min_value=0, max_value=10**15))
def test_written_durations_read_back(nanoseconds: int) -> None:
    assert go_duration_ns(go_duration_text(nanoseconds / 1e9)) == round(nanoseconds / 1e9 * 1e9)
