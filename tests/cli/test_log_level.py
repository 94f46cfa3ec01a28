"""``--log-level``: every command that logs takes the same levels (confd's names too), with help
and its default shown (issue 10, item 6: ``store`` refused ``warning``, which ``run`` took)."""

from __future__ import annotations

import argparse
import re

import pytest

from confagent.agent import STOP_TIMEOUT_S
from confagent.cli import build_parser
from confagent.config import LOG_LEVELS

COMMANDS = ("store", "run", "render", "metad", "register")
_ARGS = {"register": ["/k", "v"]}
"""Positional arguments a command needs before its flags parse."""


def _command(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command: argparse.ArgumentParser = sub.choices[name]
    return command


def _parse(name: str, *flags: str) -> argparse.Namespace:
    return build_parser().parse_args([name, *_ARGS.get(name, []), *flags])


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_every_level_and_confds_names(command: str) -> None:
    for level in LOG_LEVELS:
        assert _parse(command, "--log-level", level).log_level == level
    spelled = {"WARNING": "warning", "warn": "warning", "trace": "debug", "fatal": "error", "panic": "error"}
    for name, level in spelled.items():
        assert _parse(command, "--log-level", name).log_level == level


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_another_level_naming_the_levels(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _parse(command, "--log-level", "loud")
    assert exited.value.code == 2
    assert "'loud' is not one of debug, info, warning or error" in capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_commands_help_names_the_levels_and_the_default(command: str) -> None:
    [action] = [a for a in _command(command)._actions if "--log-level" in a.option_strings]
    assert action.help is not None and "debug, info, warning or error" in action.help
    assert "(default: info)" in action.help
    default = _parse(command).log_level
    assert default == ("info" if command not in ("run", "render") else None)  # run: the file may set it


def test_run_help_states_the_stop_bound() -> None:
    description = _command("run").description or ""
    found = re.search(r"within (\d+) s more", description)
    assert found is not None and float(found.group(1)) == STOP_TIMEOUT_S, description
