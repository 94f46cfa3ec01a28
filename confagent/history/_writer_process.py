"""``WriterProcess``: the agent's end of the history's writer process (``_writer``) — start it, hand it passes
without ever waiting, read its reports, end it.

Rules:
1. ``start`` runs ``python -m confagent.history._writer`` with the agent's
   interpreter and environment, its standard input and output two pipes of
   ours, non-blocking at our end; the passes' pipe holds ``PIPE_BYTES``
   (``F_SETPIPE_SZ``, where allowed: a quarter second of passes at any rate
   the agent applies). Right after the process is made, before it imports
   anything, it is set to idle priority: ``SCHED_IDLE`` where the system
   has it (Linux), else nice 19. A task of normal priority waking on a core
   takes it from a ``SCHED_IDLE`` task at once (no wake-up granularity),
   and gets the core back against it about 340 times as often (CFS weights
   1024 against 3; nice 19 is 15): an apply never waits for the writer's
   SQLite work, nor for its start-up. On a host kept busy by others the
   writer may fall behind; passes are then dropped, with a warning, as with
   any writer that is behind.
2. ``send`` never blocks. A frame the pipe takes only in part leaves its
   rest in ``unsent``, written before anything else (``write_unsent``, when
   the pipe is writable again); until then ``send`` takes no new frame
   (False), nor when the pipe is full: the writer is behind.
3. ``reports`` reads what the writer reported (``_writer.Report``) without
   blocking; ``ended`` says its output ended: the writer exited or died.
4. A writer that is gone raises ``StorageError`` from ``send`` (a broken
   pipe); ``exit_code`` says how it ended, once it did.
5. ``close`` ends the passes' pipe (the writer stores what it has and
   exits), takes its last reports, and waits for it, ``timeout_s`` at most,
   then kills it. ``abandon`` lets go of one that is gone: it closes its
   pipes and waits for nothing; ``end`` waits for it and kills it as
   ``close`` does.
6. Nothing here blocks an event loop: ``watch_exit`` tells a loop when the
   process exited, the process reaped by then. Its output ending (or its
   input breaking) comes before its exit, by as long as the process takes
   to finish (a loaded host, a writer stuck in its last system call): a
   pidfd (``os.pidfd_open``, Linux 5.3+) the loop reads, readable once the
   process exited, then ``waitpid`` with ``WNOHANG``; where there is no
   pidfd, the same ``waitpid`` every ``EXIT_POLL_S`` on the loop.
7. One thread at a time: the recorder calls it from the event loop that
   watches its pipes, or from the one thread using it when none does.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from confagent.errors import StorageError
from confagent.history._db import Bounds
from confagent.history._writer import Report, parse_reports

__all__ = ["EXIT_POLL_S", "PIPE_BYTES", "WRITER_COMMAND", "WriterProcess"]

PIPE_BYTES = 1 << 20
"""The passes' pipe's size (rule 1): Linux's default limit for an unprivileged process."""
EXIT_POLL_S = 0.05
"""How often a loop without pidfds looks whether a writer that is gone has exited (rule 6)."""
WRITER_COMMAND = (sys.executable, "-m", "confagent.history._writer")
"""The writer's program (rule 1); then its arguments: the path, ``max_age_s``, ``max_records``."""
_READ_BYTES = 1 << 16


class WriterProcess:
    """One writer process (module rules)."""

    def __init__(self, process: subprocess.Popen[bytes], passes_fd: int, reports_fd: int) -> None:
        self._process = process
        self.passes_fd = passes_fd
        self.reports_fd = reports_fd
        self.unsent = b""
        self.ended = False
        self._partial = b""
        self._exit_watch: Callable[[], None] | None = None
        """Stops the loop watching for the process's exit (rule 6)."""

    @staticmethod
    def start(path: Path, bounds: Bounds) -> WriterProcess:
        """A new writer of ``path`` (rule 1); ``StorageError`` when it cannot be started."""
        passes_in, passes_fd = os.pipe2(os.O_CLOEXEC)
        reports_fd, reports_out = os.pipe2(os.O_CLOEXEC)
        with suppress(OSError):
            fcntl.fcntl(passes_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        argv = [*WRITER_COMMAND, str(path), repr(bounds.max_age_s), str(bounds.max_records)]
        try:
            process = subprocess.Popen(argv, stdin=passes_in, stdout=reports_out)
        except OSError as error:
            os.close(passes_fd)
            os.close(reports_fd)
            raise StorageError(f"history {path}: cannot start its writer: {error}") from error
        finally:
            os.close(passes_in)
            os.close(reports_out)
        _lower_priority(process.pid)
        os.set_blocking(passes_fd, False)
        os.set_blocking(reports_fd, False)
        return WriterProcess(process, passes_fd, reports_fd)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def exit_code(self) -> int | None:
        """How it ended (negative: the signal that ended it); None while it runs."""
        return self._process.poll()

    def send(self, data: bytes) -> bool:
        """Hand ``data`` to the writer (rule 2); False when it is behind."""
        if self.unsent and not self.write_unsent():
            return False
        try:
            written = os.write(self.passes_fd, data)
        except BlockingIOError:
            return False
        except BrokenPipeError as error:
            raise StorageError("the history's writer process is gone") from error
        self.unsent = data[written:]
        return True

    def write_unsent(self) -> bool:
        """Write what the pipe did not take yet; whether all of it is written now."""
        try:
            written = os.write(self.passes_fd, self.unsent)
        except BlockingIOError:
            return False
        except BrokenPipeError as error:
            raise StorageError("the history's writer process is gone") from error
        self.unsent = self.unsent[written:]
        return not self.unsent

    def reports(self) -> list[Report]:
        """What the writer reported since the last call (rule 3), without blocking."""
        reports: list[Report] = []
        while not self.ended:
            try:
                data = os.read(self.reports_fd, _READ_BYTES)
            except BlockingIOError:
                break
            self.ended = not data
            whole, self._partial = parse_reports(self._partial + data)
            reports += whole
        return reports

    def close(self, timeout_s: float) -> list[Report]:
        """Rule 5: the writer's last reports."""
        deadline_s = time.monotonic() + timeout_s
        with suppress(StorageError):
            while self.unsent and _wait(self.passes_fd, deadline_s, write=True):
                self.write_unsent()
        os.close(self.passes_fd)
        reports = []
        while not self.ended and _wait(self.reports_fd, deadline_s, write=False):
            reports += self.reports()
        self.end(deadline_s)
        os.close(self.reports_fd)
        return reports

    def abandon(self) -> None:
        """Let go of a writer that is gone (rule 5): its pipes closed, its exit not waited for (rule 6)."""
        os.close(self.passes_fd)
        os.close(self.reports_fd)

    def end(self, deadline_s: float) -> int:
        """Wait for the process to exit until ``deadline_s`` (``time.monotonic``), then kill it (rule 5); how
        it ended. Blocks: not on an event loop."""
        self.unwatch_exit()
        try:
            return self._process.wait(max(deadline_s - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            self._process.kill()
            return self._process.wait()

    def watch_exit(self, loop: asyncio.AbstractEventLoop, exited: Callable[[int], None]) -> None:
        """Call ``exited(exit_code)`` on ``loop`` once the process exited and is reaped, never blocking
        ``loop`` (rule 6); from ``loop``'s thread, once."""
        assert self._exit_watch is None, "the writer's exit is watched already"
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # no pidfd here (not Linux, or older than 5.3)
            self._poll_exit(loop, exited)
            return

        def on_pidfd() -> None:
            self.unwatch_exit()
            exit_code = self.exit_code
            if exit_code is None:  # not for a pidfd that is readable; should it be, look again later
                self._poll_exit(loop, exited)
            else:
                exited(exit_code)

        def stop() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)

        loop.add_reader(pidfd, on_pidfd)
        self._exit_watch = stop

    def unwatch_exit(self) -> None:
        """Stop ``watch_exit`` (from its loop's thread); nothing when there is none."""
        stop, self._exit_watch = self._exit_watch, None
        if stop is not None:
            stop()

    def _poll_exit(self, loop: asyncio.AbstractEventLoop, exited: Callable[[int], None]) -> None:
        """Rule 6 without a pidfd: ``waitpid`` with ``WNOHANG`` (``Popen.poll``) every ``EXIT_POLL_S``."""
        exit_code = self.exit_code
        if exit_code is not None:
            self._exit_watch = None
            exited(exit_code)
            return
        handle = loop.call_later(EXIT_POLL_S, self._poll_exit, loop, exited)
        self._exit_watch = handle.cancel


def _lower_priority(pid: int) -> None:
    """Rule 1."""
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, 19)


def _wait(fd: int, deadline_s: float, *, write: bool) -> bool:
    """Wait until ``fd`` is ready, at most until ``deadline_s``; whether it is."""
    remaining_s = deadline_s - time.monotonic()
    if remaining_s <= 0:
        return False
    readable, writable, _ = select.select([] if write else [fd], [fd] if write else [], [], remaining_s)
    return bool(writable if write else readable)
