"""The command line read as etcdctl's: Go's ``--switch=true|false``, and etcdctl-like commands' arguments
before, between and after their flags (``confagent.cli``'s module docstring)."""

from __future__ import annotations

import pytest

from confagent.cli import _parse


@pytest.mark.parametrize(("argv", "prefix", "args"), [
    (["role", "grant-permission", "app", "--prefix=true", "readwrite", "/a/"], True,
     ["app", "readwrite", "/a/"]),
    (["role", "grant-permission", "--prefix", "app", "readwrite", "/a/"], True, ["app", "readwrite", "/a/"]),
    (["role", "grant-permission", "app", "readwrite", "--prefix=FALSE", "/a/"], False,
     ["app", "readwrite", "/a/"]),
    (["role", "revoke-permission", "app", "--prefix=T", "/a/"], True, ["app", "/a/"]),
])
def test_switches_take_go_booleans_and_arguments_mix_with_flags(argv: list[str], prefix: bool,
                                                                 args: list[str]) -> None:
    parsed = _parse(argv)
    assert (parsed.prefix, parsed.args) == (prefix, args)


def test_get_takes_a_go_boolean_switch_too() -> None:
    assert _parse(["get", "/a", "--prefix=true"]).prefix is True
    assert _parse(["get", "/a", "--prefix=0"]).prefix is False


@pytest.mark.parametrize("argv", [["role", "get", "app", "--bogus"], ["get", "/a", "/b", "/c"],
                                  ["role", "add", "--prefix=maybe", "x"]])
def test_what_is_neither_is_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parse(argv)
    assert exited.value.code == 2
    assert "confagent: error: " in capsys.readouterr().err


def test_only_the_command_s_own_switches_are_rewritten() -> None:
    """``txn`` has an ``--interactive`` switch; ``user add``'s is a Go boolean taking its value."""
    assert _parse(["user", "add", "bob", "--interactive=false"]).interactive is False
    assert _parse(["txn", "--interactive=true"]).interactive is True
