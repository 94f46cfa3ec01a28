"""Running ``check_cmd`` and ``reload_cmd``: ``/bin/sh -c``, a timeout, bounded output, nothing left running.

Rules:
1. A command runs as ``/bin/sh -c COMMAND`` in a new session (its own
   process group), stdin from ``/dev/null``, stdout and stderr together into
   an unlinked temporary file: a background child that keeps the output open
   cannot make the agent wait, and memory stays bounded.
2. ``timeout_s`` bounds the wait: past it the whole process group is killed
   (SIGKILL) and the result says ``timed_out``. Cancelling ``run_command``
   kills the group too, then re-raises.
3. The last ``max_output_bytes`` of output are kept (errors come last), with
   ``truncated`` set when more was written.
4. The result is returned, never logged or raised here: the caller decides
   what a failure means (``CheckFailed``, ``ReloadFailed``) and logs the output.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["MAX_OUTPUT_BYTES", "CommandResult", "run_command"]

MAX_OUTPUT_BYTES = 64 * 1024
"""How much of a command's output is kept."""
SHELL = "/bin/sh"
_NOT_STARTED = 127


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a command ended and what it printed."""

    command: str
    """The command as run (placeholders filled in)."""
    exit_code: int | None
    """The exit status; negative for a signal (``-9``); None when killed for the timeout."""
    output: str
    """stdout and stderr interleaved, decoded as UTF-8 with replacement; the tail when ``truncated``."""
    timed_out: bool
    truncated: bool
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        """How it ended, as a phrase: ``exited 1``, ``timed out after 5 s``."""
        if self.timed_out:
            return f"timed out after {self.duration_s:.3g} s (its process group was killed)"
        assert self.exit_code is not None
        if self.exit_code < 0:
            return f"was killed by signal {-self.exit_code}"
        return f"exited {self.exit_code}"

    def last_line(self, limit: int = 200) -> str:
        """The last non-empty output line, cut to ``limit`` characters (for one-line messages)."""
        lines = [line.strip() for line in self.output.splitlines() if line.strip()]
        return lines[-1][:limit] if lines else ""


async def run_command(command: str, timeout_s: float, *, max_output_bytes: int = MAX_OUTPUT_BYTES,
                      cwd: str | None = None) -> CommandResult:
    """Run ``command`` through ``/bin/sh -c`` (rules in the module doc).

    A shell that cannot be started gives exit code 127 (the shell's own code
    for a command not found) with the reason as output; nothing is raised
    but cancellation.
    """
    assert timeout_s > 0 and max_output_bytes > 0
    started = time.monotonic()
    with tempfile.TemporaryFile() as output:
        try:
            process = await asyncio.create_subprocess_exec(
                SHELL, "-c", command, stdin=asyncio.subprocess.DEVNULL, stdout=output,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True, cwd=cwd)
        except OSError as error:
            return CommandResult(command, _NOT_STARTED, f"cannot start {SHELL}: {error}", timed_out=False,
                                 truncated=False, duration_s=time.monotonic() - started)
        timed_out = await _wait_or_kill(process, timeout_s)
        text, truncated = _tail(output, max_output_bytes)
    return CommandResult(
        command=command, exit_code=None if timed_out else process.returncode, output=text,
        timed_out=timed_out, truncated=truncated, duration_s=time.monotonic() - started)


async def _wait_or_kill(process: asyncio.subprocess.Process, timeout_s: float) -> bool:
    """Wait for the shell to exit; True when it was killed for the timeout."""
    try:
        async with asyncio.timeout(timeout_s):
            await process.wait()
    except TimeoutError:
        _kill_group(process.pid)
        await process.wait()
        return True
    except BaseException:
        _kill_group(process.pid)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(process.wait())
        raise
    return False


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _tail(output: BinaryIO, max_bytes: int) -> tuple[str, bool]:
    size = output.seek(0, os.SEEK_END)
    output.seek(max(0, size - max_bytes))
    return output.read(max_bytes).decode(errors="replace"), size > max_bytes
