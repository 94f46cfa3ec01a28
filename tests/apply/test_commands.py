"""run_command: /bin/sh -c, combined bounded output, a timeout that kills the whole process group."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from confagent.apply import CommandResult, run_command
from confagent.testing import until
from tests.apply.support import DEADLINE_S, process_gone, run

pytestmark = pytest.mark.usefixtures("subprocesses")  # every case runs a command


def test_success_with_interleaved_output() -> None:
    result = run(run_command("echo out; echo err >&2; echo 'end'", 5))
    assert (result.ok, result.exit_code, result.timed_out, result.truncated) == (True, 0, False, False)
    assert result.output == "out\nerr\nend\n"
    assert result.command == "echo out; echo err >&2; echo 'end'"


def test_failure_keeps_exit_code_and_last_line() -> None:
    result = run(run_command("echo 'nginx: [emerg] unknown directive'; echo 'test failed'; exit 3", 5))
    assert (result.ok, result.exit_code) == (False, 3)
    assert (result.describe(), result.last_line()) == ("exited 3", "test failed")


def test_killed_by_a_signal() -> None:
    result = run(run_command("kill -TERM $$", 5))
    assert (result.exit_code, result.describe()) == (-signal.SIGTERM, "was killed by signal 15")


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    result = run(run_command(f"echo started; sleep 30 & echo $! > {pid_file}; wait", 0.3))
    assert time.monotonic() - started < 5
    assert (result.timed_out, result.exit_code, result.ok, result.output) == (True, None, False, "started\n")
    assert result.describe().startswith("timed out after 0.3")
    until(lambda: process_gone(int(pid_file.read_text())), "the grandchild to be killed",
          deadline_s=DEADLINE_S)


def test_output_is_bounded_to_its_tail() -> None:
    command = "head -c 200000 /dev/zero | tr '\\0' a; echo; echo END"
    result = run(run_command(command, 5, max_output_bytes=1000))
    assert result.truncated
    assert len(result.output) == 1000
    assert result.output.endswith("a\nEND\n")


def test_a_background_child_holding_the_output_does_not_block(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    result = run(run_command(f"sleep 30 & echo $! > {pid_file}; echo done", 10))
    try:
        assert time.monotonic() - started < 5
        assert (result.ok, result.output) == (True, "done\n")
    finally:
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_cancelling_kills_the_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    async def cancel_midway() -> None:
        task = asyncio.create_task(run_command(f"sleep 30 & echo $! > {pid_file}; wait", 30))
        while not (pid_file.exists() and pid_file.read_text().strip()):
            await asyncio.sleep(0.01)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return
        raise AssertionError("the command was not cancelled")

    run(asyncio.wait_for(cancel_midway(), 10))
    until(lambda: process_gone(int(pid_file.read_text())), "the command to be killed", deadline_s=DEADLINE_S)


def test_a_shell_that_cannot_start_is_exit_127(tmp_path: Path) -> None:
    result = run(run_command("true", 5, cwd=str(tmp_path / "absent")))
    assert (result.exit_code, result.ok) == (127, False)
    assert "cannot start /bin/sh" in result.output


def test_undecodable_output_is_replaced() -> None:
    result: CommandResult = run(run_command("printf '\\377ok'", 5))
    assert result.output == "\ufffdok"
