"""Every flag that takes a duration reads it one way: Go's ``time.ParseDuration`` grammar, or seconds."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from confagent.cli import build_parser
from confagent.cli._common import duration_s


def _actions(parser: argparse.ArgumentParser) -> Iterator[tuple[argparse.ArgumentParser, argparse.Action]]:
    for action in parser._actions:
        yield parser, action
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _actions(sub)


def test_every_duration_flag_takes_gos_grammar() -> None:
    durations = [(p.prog, a.option_strings[0], a.type) for p, a in _actions(build_parser())
                 if a.metavar == "DURATION"]
    wrong = [(prog, flag) for prog, flag, parse in durations
             if parse is None or parse("500us") != pytest.approx(0.0005)]
    assert len(durations) >= 8 and not wrong, wrong
    assert any(parse is duration_s for _, _, parse in durations)


@pytest.mark.parametrize(("argv", "dest"), [
    (["store", "--experimental-watch-progress-notify-interval", "{}"],
     "experimental_watch_progress_notify_interval"),
    (["run", "--store-experimental-watch-progress-notify-interval", "{}"],
     "store_experimental_watch_progress_notify_interval"),
    (["run", "--interval", "{}"], "interval"),
    (["kv", "get", "k", "--dial-timeout", "{}"], "dial_timeout"),
    (["status", "--timeout", "{}"], "timeout"),
])
@pytest.mark.parametrize(("text", "seconds"), [("500us", 0.0005), ("500µs", 0.0005), ("1h2m3.5s", 3723.5),
                                               ("250ms", 0.25), ("30", 30.0), ("0", 0.0)])
def test_duration_flags_take_gos_grammar(argv: list[str], dest: str, text: str, seconds: float) -> None:
    args = build_parser().parse_args([part.format(text) for part in argv])
    assert getattr(args, dest) == pytest.approx(seconds)


def test_a_bad_duration_is_refused_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["kv", "get", "k", "--dial-timeout", "1d"])
    assert "unknown unit 'd'" in capsys.readouterr().err
