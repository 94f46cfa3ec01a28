"""``confagent lock`` and ``confagent elect`` against etcdctl's: the same commands run by etcdctl against
etcd, by confagent against etcd, and by confagent against a confagent store; outputs, errors and exit
codes compared (lease IDs in keys masked). Long-running commands write to files the test reads until
what it waits for is there; signals end them.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import uuid
from pathlib import Path

import pytest

from confagent.testing import Processes, b64, confagent_argv, post, until
from tests.cli.support import Held, Tool


@pytest.fixture
def name() -> str:
    return f"test-lock-{uuid.uuid4().hex[:8]}"


def _masked(text: str, name: str) -> str:
    return re.sub(re.escape(name) + r"/[0-9a-f]+", f"{name}/LEASE", text)


def _count(url: str, prefix: str) -> int:
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    answer = post(url, "/v3/kv/range", {"key": b64(prefix), "range_end": b64(end), "count_only": True})
    return int(answer.json().get("count", 0))


def test_lock_runs_a_command_holding_the_lock(tool: Tool, processes: Processes, name: str) -> None:
    code, out, err = tool.run(processes, "lock", name, "--", "sh", "-c",
                          'echo "$ETCD_LOCK_KEY"; echo "$ETCD_LOCK_REV" >&2; exit 3')
    assert (code, _masked(out, name), err) == (1, f"{name}/LEASE\n", "Error: exit status 3\n")
    assert tool.run(processes, "lock", name, "true") == (0, "", "")
    assert tool.run(processes, "lock", name, "--", "sh", "-c", "kill -TERM $$") == (
        1, "", "Error: signal: terminated\n")
    assert tool.run(processes, "lock", name, "no-such-command") == (
        1, "", 'Error: exec: "no-such-command": executable file not found in $PATH\n')
    assert _count(tool.url, name + "/") == 0
    assert tool.run(processes, "lock") == (
        128, "", "Error: lock takes a lock name argument and an optional command to execute\n")


@pytest.mark.parametrize("output", [[], ["-w", "json"]])
def test_lock_holds_until_interrupted(tool: Tool, processes: Processes, tmp_path: Path, name: str,
                                      output: list[str]) -> None:
    holder = Held(tool, processes, tmp_path, *output, "lock", name)
    until(lambda: len(holder.lines()) >= (1 if output else 2), "the holder to print its key")
    waiter = Held(tool, processes, tmp_path, "lock", name, "--", "sh", "-c", 'echo "$ETCD_LOCK_KEY"')
    until(lambda: _count(tool.url, name + "/") == 2, "the waiter's key queued")
    code, out, err = holder.stop()
    assert (code, err) == (0, "")
    if output:
        assert '"kvs":[{"key":' in out and '"count":1}' in out
    else:
        assert _masked(out, name) == f"{name}/LEASE\n\n"
    assert waiter.process.wait(30) == 0
    assert _masked(waiter.out.read_text(), name) == f"{name}/LEASE\n"
    assert _count(tool.url, name + "/") == 0


def test_an_interrupted_wait_leaves_nothing_queued(tool: Tool, processes: Processes, tmp_path: Path,
                                                   name: str) -> None:
    holder = Held(tool, processes, tmp_path, "lock", name)
    until(lambda: len(holder.lines()) >= 2, "the holder to print its key")
    waiter = Held(tool, processes, tmp_path, "lock", name, "true")
    until(lambda: _count(tool.url, name + "/") == 2, "the waiter's key queued")
    assert waiter.stop(signal.SIGTERM) == (1, "", "Error: context canceled\n")
    until(lambda: _count(tool.url, name + "/") == 1, "the waiter's key to go")
    assert holder.stop(signal.SIGTERM)[0] == 0


def test_elect_campaigns_observes_and_resigns(tool: Tool, processes: Processes, tmp_path: Path,
                                              name: str) -> None:
    observer = Held(tool, processes, tmp_path, "elect", "-l", name)
    first = Held(tool, processes, tmp_path, "elect", name, "one")
    until(lambda: len(first.lines()) >= 2, "the first candidate to lead")
    second = Held(tool, processes, tmp_path, "elect", name, "two")
    until(lambda: _count(tool.url, name + "/") == 2, "the second candidate queued")
    assert first.stop() == (0, first.out.read_text(), "")
    assert _masked(first.out.read_text(), name) == f"{name}/LEASE\none\n"
    until(lambda: len(second.lines()) >= 2, "the second candidate to lead")
    until(lambda: len(observer.lines()) >= 4, "the observer to see both")
    assert second.stop()[0] == 0
    assert _masked(observer.out.read_text(), name) == f"{name}/LEASE\none\n{name}/LEASE\ntwo\n"
    assert observer.stop()[0] == 0
    assert _count(tool.url, name + "/") == 0


@pytest.mark.parametrize(("args", "message"), [
    (["elect"], "elect takes one election name argument and an optional proposal argument"),
    (["elect", "x"], "no proposal argument but -l not set"),
    (["elect", "-l", "x", "y"], "proposal given but -l is set"),
])
def test_elect_usage_errors(tool: Tool, processes: Processes, args: list[str], message: str) -> None:
    assert tool.run(processes, *args) == (128, "", f"Error: {message}\n")


def test_fenced_writes_need_the_lock(processes: Processes, confagent_server: str, name: str) -> None:
    env = {**os.environ, "CONFAGENT_ENDPOINTS": confagent_server}
    alone = processes.confagent("put", "--fenced", name + "-k", "v", env=env)
    assert (alone.returncode, alone.stderr) == (1, "Error: no lock to fence with: ETCD_LOCK_KEY and "
                                                   "ETCD_LOCK_REV are not set (run under confagent lock "
                                                   "NAME COMMAND)\n")
    put = shlex.join(confagent_argv("put", "--fenced", "-w", "json", name + "-k", "v"))
    held = processes.confagent("lock", name, "--", "sh", "-c", put, env=env)
    assert held.returncode == 0, held.stderr
    assert '"header":' in held.stdout
