"""Placeholders in check_cmd and reload_cmd: both spellings, shell quoting, other braces untouched."""

from __future__ import annotations

import subprocess

import pytest

from confagent.resource import fill_command


@pytest.mark.parametrize(("command", "filled"), [
    ("nginx -t -c {{.src}}", "nginx -t -c /etc/.a.stage"),
    ("nginx -t -c {{ src }}", "nginx -t -c /etc/.a.stage"),
    ("nginx -t -c {{ .src }}", "nginx -t -c /etc/.a.stage"),
    ("cmp {{.src}} {{.dest}}", "cmp /etc/.a.stage /etc/a.conf"),
    ("touch {{dst}}", "touch /etc/a.conf"),
    ("docker inspect -f '{{.State.Running}}' x", "docker inspect -f '{{.State.Running}}' x"),
])
def test_fill(command: str, filled: str) -> None:
    assert fill_command(command, {"src": "/etc/.a.stage", "dest": "/etc/a.conf"}) == filled


def test_placeholder_without_value_is_left() -> None:
    assert fill_command("x {{.src}} {{.dest}}", {"dest": "/d"}) == "x {{.src}} /d"


@pytest.mark.usefixtures("subprocesses")  # /bin/sh reads the command
@pytest.mark.parametrize("path", ["/tmp/with space/a b.conf", "/tmp/it's.conf", "/tmp/$(rm -rf x)`y`.conf"])
def test_values_are_shell_quoted(path: str) -> None:
    command = fill_command("printf %s {{.dest}}", {"dest": path})
    assert subprocess.run(["/bin/sh", "-c", command], capture_output=True, check=True).stdout.decode() == path
