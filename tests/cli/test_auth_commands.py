"""``confagent user|role|auth`` and ``--user``/``--password`` against etcdctl 3.4, on one server with auth on.

Each step runs through etcdctl and through ours against the same server
(``own_server``: auth is the whole server's state), each on names of its own
(``u-e`` for etcdctl, ``u-o`` for ours, masked back to ``u-T`` before
comparing), so that a step's change is made once by each tool and both see
the same state at every step. Exit code, stdout and the ``Error:`` lines of
stderr are compared byte for byte.
"""

from __future__ import annotations

import os
import re
import select
import time
import uuid
from collections.abc import Sequence

import pytest

from confagent.testing import Processes
from tests.cli.support import Tool, error_lines

pytestmark = [pytest.mark.etcd]  # etcdctl answers first in every test

ROOT_PASSWORD = f"root-{uuid.uuid4().hex[:8]}"
AS_ROOT = ("--user", f"root:{ROOT_PASSWORD}")
_OWN_NAME = re.compile(r"\b([a-z])-[eo]\b")


def run(tool: Tool, processes: Processes, args: Sequence[str], stdin: bytes = b"") -> tuple[int, str, str]:
    """``args`` through ``tool`` (``{t}`` naming its own things), names masked: exit code, stdout, errors."""
    own = [arg.replace("{t}", "e" if tool.name == "etcdctl" else "o") for arg in args]
    done = processes.run(tool.argv(*own), input=stdin, env=tool.env)
    stdout = _OWN_NAME.sub(r"\1-T", done.stdout.decode(errors="replace"))
    return done.returncode, stdout, _OWN_NAME.sub(r"\1-T", error_lines(done.stderr.decode()))


def both(url: str, processes: Processes, args: Sequence[str], stdin: bytes = b"") -> tuple[int, str, str]:
    """etcdctl's answer to ``args``, once ours has given the same."""
    theirs = run(Tool("etcdctl", url), processes, args, stdin)
    ours = run(Tool("ours", url), processes, args, stdin)
    assert ours == theirs, args
    return theirs


def enable_auth(url: str, processes: Processes) -> None:
    """root with the root role, then auth on (through etcdctl)."""
    etcdctl = Tool("etcdctl", url)
    assert run(etcdctl, processes, ["user", "add", f"root:{ROOT_PASSWORD}"])[0] == 0
    assert run(etcdctl, processes, ["auth", "enable"]) == (0, "Authentication Enabled\n", "")


USERS = [
    ["user", "add", "u-{t}:pw"], ["user", "add", "u-{t}:pw"], ["user", "add", "n-{t}", "--no-password"],
    ["user", "add", "p-{t}", "--new-user-password", "secret"], ["user", "add", ":x"], ["user", "add"],
    ["user", "add", "a", "b"], ["user", "list"], ["user", "list", "-w", "json"],
    ["user", "list", "-w", "table"], ["user", "list", "x"], ["user", "get", "n-{t}"],
    ["user", "get", "n-{t}", "-w", "json"], ["user", "get", "nobody"], ["user", "get"],
]
ROLES = [
    ["role", "add", "r-{t}"], ["role", "add", "r-{t}"], ["role", "add"],
    ["role", "grant-permission", "r-{t}", "read", "/k/a"],
    ["role", "grant-permission", "r-{t}", "write", "/k/b", "/k/c"],
    ["role", "grant-permission", "r-{t}", "readwrite", "/k/p/", "--prefix"],
    ["role", "grant-permission", "r-{t}", "READ", "/k/m", "--from-key"],
    ["role", "grant-permission", "r-{t}", "read", "", "--prefix"],
    ["role", "grant-permission", "r-{t}", "--prefix=true", "readwrite", "/k/q/"],
    ["role", "grant-permission", "r-{t}", "read", "--from-key", "/k/n", "--prefix=false"],
    ["role", "grant-permission", "r-{t}", "write", ""],
    ["role", "grant-permission", "r-{t}", "admin", "/a"],
    ["role", "grant-permission", "r-{t}", "read", "/a", "--prefix", "--from-key"],
    ["role", "grant-permission", "r-{t}", "read", "", "--prefix", "--from-key"],
    ["role", "grant-permission", "r-{t}", "read", "/a", "/b", "--prefix"],
    ["role", "grant-permission", "r-{t}", "read", "/a", "/b", "--from-key"],
    ["role", "grant-permission", "r-{t}", "read"], ["role", "grant-permission", "nobody", "read", "/a"],
    ["role", "get", "r-{t}"], ["role", "get", "r-{t}", "-w", "json"], ["role", "get", "r-{t}", "-w", "table"],
    ["role", "get", "nobody"], ["role", "list"], ["role", "list", "-w", "json"], ["role", "list", "x"],
]
GRANTS = [
    ["user", "grant-role", "u-{t}", "r-{t}"], ["user", "grant-role", "u-{t}", "r-{t}"],
    ["user", "grant-role", "u-{t}", "nobody"], ["user", "grant-role", "nobody", "r-{t}"],
    ["user", "grant-role", "u-{t}"], ["user", "get", "u-{t}"], ["user", "get", "u-{t}", "-w", "json"],
    ["user", "get", "u-{t}", "--detail"], ["user", "get", "u-{t}", "--detail", "-w", "json"],
    ["user", "get", "u-{t}", "--detail", "-w", "table"], ["user", "get", "n-{t}", "--detail=true"],
    ["user", "revoke-role", "u-{t}", "r-{t}"], ["user", "revoke-role", "u-{t}", "r-{t}"],
    ["user", "revoke-role", "u-{t}"],
]
REVOKES = [
    ["role", "revoke-permission", "r-{t}", "/k/a"], ["role", "revoke-permission", "r-{t}", "/k/a"],
    ["role", "revoke-permission", "r-{t}", "/k/b", "/k/c", "-w", "json"],
    ["role", "revoke-permission", "r-{t}", "/k/p/", "--prefix"],
    ["role", "revoke-permission", "r-{t}", "/k/m", "--from-key"],
    ["role", "revoke-permission", "r-{t}", "", "--prefix"], ["role", "revoke-permission", "r-{t}", ""],
    ["role", "revoke-permission", "r-{t}", "--prefix=true", "/k/q/"],
    ["role", "revoke-permission", "r-{t}", "/k/n", "--from-key=1"],
    ["role", "revoke-permission", "r-{t}", "/a", "/b", "--prefix"], ["role", "revoke-permission", "r-{t}"],
    ["role", "get", "r-{t}"], ["role", "delete", "r-{t}"], ["role", "delete", "r-{t}"], ["role", "delete"],
    ["user", "delete", "u-{t}"], ["user", "delete", "u-{t}", "-w", "json"], ["user", "delete"],
    ["user", "list"],
]


def test_user_and_role_commands_answer_as_etcdctl(own_etcd: str, processes: Processes) -> None:
    """On etcd alone: the commands' edges are the CLI's (a store's answers to the same calls are
    compared with etcd's in tests/e2e/test_grpc_differential_auth.py and test_etcdctl_auth.py)."""
    enable_auth(own_etcd, processes)
    for args in [*USERS, *ROLES, *GRANTS, *REVOKES]:
        both(own_etcd, processes, [*AS_ROOT, *args])


def test_new_passwords_from_stdin_and_the_flag_sign_in(own_server: str, processes: Processes) -> None:
    enable_auth(own_server, processes)
    both(own_server, processes, [*AS_ROOT, "user", "add", "s-{t}", "--interactive=false"], b"first more\n")
    both(own_server, processes, ["--user", "s-{t}:first", "user", "get", "s-{t}"])
    both(own_server, processes, [*AS_ROOT, "user", "passwd", "s-{t}", "--interactive=false"], b"second\n")
    assert both(own_server, processes, ["--user", "s-{t}:first", "user", "get", "s-{t}"])[0] == 2
    both(own_server, processes, ["--user", "s-{t}", "--password", "second", "user", "get", "s-{t}"])
    both(own_server, processes, [*AS_ROOT, "user", "passwd", "--interactive=false"])


def test_signing_in_as_etcdctl_does(own_server: str, processes: Processes) -> None:
    enable_auth(own_server, processes)
    for args in (["user", "add", "alice:pw"], ["role", "add", "app"],
                 ["role", "grant-permission", "app", "readwrite", "/app/", "--prefix"],
                 ["user", "grant-role", "alice", "app"]):
        assert run(Tool("etcdctl", own_server), processes, [*AS_ROOT, *args])[0] == 0
    for args in (["put", "/app/a", "1"], ["get", "/app/a"], ["put", "/other", "1"], ["user", "list"],
                 ["get", "/app/a", "-w", "json"]):
        both(own_server, processes, args)
        both(own_server, processes, ["--user", "alice:pw", *args])
        both(own_server, processes, ["--user", "alice", "--password", "pw", *args])
    for user in (["--user", "alice:wrong"], ["--user", "nobody:pw"], ["--user", ":pw"], ["--password", "pw"],
                 ["--user", "alice:pw", "--password", "pw"], ["--user", "alice:"]):
        both(own_server, processes, [*user, "get", "/app/a"])


def test_a_user_without_a_password_and_no_terminal_is_told_what_is_missing(
        own_server: str, processes: Processes) -> None:
    ours = Tool("ours", own_server)
    assert run(ours, processes, ["--user", "alice", "get", "/a"]) == (1, "", (
        "Error: --user alice: no password given and no terminal to ask for it on "
        "(give --user alice:PASSWORD or --password)\n"))
    assert run(ours, processes, ["user", "add", "bob"]) == (128, "", (
        "Error: no password given for bob and no terminal to ask for it on (give bob:PASSWORD, "
        "--new-user-password, or --interactive=false and stdin)\n"))
    assert run(ours, processes, ["user", "list"]) == (0, "", "")


def test_auth_enable_and_disable_answer_as_etcdctl(own_server: str, processes: Processes) -> None:
    etcdctl = Tool("etcdctl", own_server)
    both(own_server, processes, ["auth", "enable"])  # no root user
    both(own_server, processes, ["auth", "disable"])
    both(own_server, processes, ["auth", "enable", "x"])
    assert run(etcdctl, processes, ["user", "add", f"root:{ROOT_PASSWORD}"])[0] == 0
    for tool in (etcdctl, Tool("ours", own_server)):  # each adds the root role, grants it, enables
        assert run(tool, processes, ["auth", "enable"]) == (0, "Authentication Enabled\n", "")
        assert run(etcdctl, processes, ["role", "get", "root", *AS_ROOT])[0] == 0
        assert run(etcdctl, processes, ["auth", "disable", *AS_ROOT])[0] == 0
        assert run(etcdctl, processes, ["role", "delete", "root"])[0] == 0
    assert run(etcdctl, processes, ["auth", "enable"])[0] == 0
    both(own_server, processes, [*AS_ROOT, "auth", "enable", "-w", "json"])
    both(own_server, processes, ["auth", "disable"])
    both(own_server, processes, [*AS_ROOT, "user", "revoke-role", "root", "root"])
    both(own_server, processes, [*AS_ROOT, "user", "delete", "root"])
    both(own_server, processes, [*AS_ROOT, "auth", "disable", "-w", "table"])


@pytest.mark.parametrize("args", [["user", "list"], ["role", "list"], ["user", "get", "nobody"]])
def test_commands_answer_as_etcdctl_with_auth_off(own_server: str, processes: Processes,
                                                  args: list[str]) -> None:
    both(own_server, processes, args)
    both(own_server, processes, [*args, "--user", "alice:pw"])


def _on_a_terminal(processes: Processes, url: str, args: Sequence[str], answers: Sequence[str]
                   ) -> tuple[int, bytes]:
    """``confagent args`` with a pseudo-terminal for stdin and stdout (in a session of its own, so
    that it cannot reach the terminal the tests run from), each answer typed once its prompt (a line
    asking for a password) shows, within 30 s: exit code, what it showed."""
    controller, terminal = os.openpty()
    os.set_blocking(controller, False)
    tool = Tool("ours", url)
    try:
        process = processes.popen(tool.argv(*args), stdin=terminal, stdout=terminal, stderr=terminal,
                                  env=tool.env, start_new_session=True)
        shown, deadline = b"", time.monotonic() + 30
        for asked, answer in enumerate(answers):  # typed after its prompt: asking drops earlier input
            while shown.lower().count(b"password") <= asked:
                assert process.poll() is None and time.monotonic() < deadline, (asked, shown)
                shown += _read(controller)
            os.write(controller, answer.encode() + b"\n")
        code = process.wait(30)
    finally:
        os.close(terminal)
    while chunk := _read(controller, 0.0):
        shown += chunk
    os.close(controller)
    return code, shown


def _read(controller: int, timeout_s: float = 1.0) -> bytes:
    """What the terminal shows next (b"" when nothing within ``timeout_s``, or once it is gone)."""
    if not select.select([controller], [], [], timeout_s)[0]:
        return b""
    try:
        return os.read(controller, 4096)
    except OSError:  # nothing more (BlockingIOError), or the terminal is closed (EIO)
        return b""


def test_passwords_are_asked_for_on_a_terminal(own_server: str, processes: Processes) -> None:
    enable_auth(own_server, processes)
    code, shown = _on_a_terminal(processes, own_server, ["--user", "root", "user", "add", "bob"],
                                 [ROOT_PASSWORD, "bob-pw", "bob-pw"])
    assert (code, shown.endswith(b"User bob created\r\n")) == (0, True), shown
    code, shown = _on_a_terminal(processes, own_server, ["--user", "bob", "user", "get", "bob"], ["bob-pw"])
    assert (code, shown.endswith(b"User: bob\r\nRoles:\r\n")) == (0, True), shown
    code, shown = _on_a_terminal(processes, own_server, [*AS_ROOT, "user", "passwd", "bob"], ["a", "b"])
    assert (code, shown.endswith(b"Error: given passwords are different\r\n")) == (128, True), shown


def test_the_user_and_password_from_the_environment(own_server: str, processes: Processes) -> None:
    """``$CONFAGENT_USER`` and ``$CONFAGENT_PASSWORD`` as etcdctl takes ``$ETCDCTL_USER`` and
    ``$ETCDCTL_PASSWORD`` (each as its flag when that is not given); a flag given wins (as over
    ``$CONFAGENT_ENDPOINTS``; etcdctl refuses a variable and its flag together)."""
    enable_auth(own_server, processes)
    answers = []
    for tool, prefix in ((Tool("etcdctl", own_server), "ETCDCTL"), (Tool("ours", own_server), "CONFAGENT")):
        for env in ({"USER": "root", "PASSWORD": ROOT_PASSWORD}, {"USER": f"root:{ROOT_PASSWORD}"},
                    {"USER": "root", "PASSWORD": "wrong"}):
            done = processes.run(tool.argv("user", "list"),
                                 env={**tool.env, **{f"{prefix}_{k}": v for k, v in env.items()}})
            answers.append((done.returncode, done.stdout, error_lines(done.stderr.decode())))
    assert answers[:3] == answers[3:]
    assert [code for code, _, _ in answers[:3]] == [0, 0, 2]
    ours = Tool("ours", own_server)
    done = processes.run(ours.argv("--user", f"root:{ROOT_PASSWORD}", "user", "list"),
                         env={**ours.env, "CONFAGENT_USER": "nobody"})
    assert (done.returncode, done.stdout) == (0, b"root\n"), done.stderr


def test_auth_status_is_etcd_35s_call_which_confagent_serves(own_confagent: str, own_etcd: str,
                                                             processes: Processes) -> None:
    ours, etcdctl = Tool("ours", own_confagent), Tool("etcdctl", own_confagent)
    disabled = (0, "Authentication Status: false\nAuthRevision: 1\n", "")
    assert run(ours, processes, ["auth", "status"]) == disabled
    for args in (["user", "add", f"root:{ROOT_PASSWORD}"], ["user", "grant-role", "root", "root"],
                 ["auth", "enable"]):
        assert run(etcdctl, processes, args)[0] == 0, args
    enabled = (0, "Authentication Status: true\nAuthRevision: 3\n", "")
    assert run(ours, processes, ["auth", "status"]) == enabled  # anybody may ask
    assert run(ours, processes, [*AS_ROOT, "auth", "status"]) == enabled
    code, out, err = run(Tool("ours", own_etcd), processes, ["auth", "status"])
    assert (code, out) == (1, "") and "404" in err, err  # etcd 3.4 has no such call
