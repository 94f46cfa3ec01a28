"""``HistoryRecorder``: the agent's render history, written by a process of its own, read as values or a feed.

Rules:
1. ``submit(outcomes, view)``, called by the event loop after a pass,
   builds the pass's records and their rows (``records_of``, ``stored_row``:
   tens of microseconds a record) and writes the rows to the writer
   process's pipe (``_writer``, ``_writer_process``): one ``write`` call,
   never waiting. A pass the writer cannot take (``MAX_PENDING`` passes not
   yet reported, or a full pipe) is dropped, with a warning. Nothing here
   raises into the agent, and nothing blocks it. Why a process
   (bench/README.md, issue 15): records built on the loop cost the put
   little, but a thread of the agent writing them to SQLite held the GIL
   and one of the two cores for about a millisecond each quarter second,
   and the puts that met it were the p99; the writer process shares no GIL
   with the agent and runs at idle priority.
2. The writer process starts with ``start`` (the daemon calls it when it
   opens the recorder), or else with the first pass, and opens the database
   as it starts, or else for its first batch. Its start-up (70-110 ms of
   CPU at idle priority, the database created with its schema) then
   overlaps the agent's own, not the first applies (bench/README.md, issue
   15: with the writer started at the first pass, its start-up ran during
   the puts that followed). A database that
   cannot be opened or written (a full disk, a read-only file or directory,
   a lock held longer than ``BUSY_TIMEOUT_S``) is reported back, logged
   (``history not recorded``, once per distinct cause in a row) and the
   records of that batch are lost; the next batch tries again (opening it
   again if needed). A writer process that ends (killed, crashed) is
   logged the same way with the passes it had not reported and its exit
   code, once it exited, and a new one is started for the first pass
   ``RESTART_DELAY_S`` after.
3. ``records`` and ``record`` answer queries (``confagent.history``
   ``read_records``/``read_record`` on a thread, so the event loop never
   waits on the file); ``subscribe`` gives a queue that receives every
   record stored from then on, with the id the writer reports for it,
   after it is committed (a reader of ``records`` finds it by then), until
   ``unsubscribe``: the live feed.
4. The writer's reports are read by the event loop the recorder was made
   on, or first subscribed from (``add_reader``: one callback per batch);
   with none, by ``flush`` and ``close``, which wait for them. One thread at
   a time touches the writer: that loop's, or the recorder's only user.
5. ``close`` lets the writer finish what was submitted, at most
   ``CLOSE_TIMEOUT_S``, then ends it, and any writer that is gone but has
   not exited yet; from the event loop, ``aclose``. No writer outlives the
   recorder, and none is left a zombie.
6. Nothing blocks the event loop, a writer's end included: its output
   ends (or its input breaks) before it exits, by as long as the kernel
   takes to finish it, and the loop learns its exit code when it comes
   (``WriterProcess.watch_exit``: a pidfd, or ``waitpid`` with ``WNOHANG``),
   never waiting for it. Without a loop, the caller's thread waits
   ``EXIT_WAIT_S`` at most.
7. ``record_now`` records one pass at once, on the caller's thread, for a
   one-shot run (``[history] one_shot``): no previous render is known, so
   every key read is listed; a failure is logged as rule 2 says.
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import structlog

from confagent.errors import StorageError
from confagent.history._build import Applied, ResourceMemory, records_of
from confagent.history._db import Bounds, HistoryDb, stored_row
from confagent.history._query import DEFAULT_LIMIT, read_record, read_records
from confagent.history._record import HistoryRecord
from confagent.history._writer import Report, frame
from confagent.history._writer_process import WriterProcess
from confagent.render import KeyView
from confagent.settings import HistoryConfig

__all__ = ["CLOSE_TIMEOUT_S", "EXIT_WAIT_S", "FEED_SIZE", "MAX_PENDING", "RESTART_DELAY_S", "HistoryRecorder",
           "record_now"]

MAX_PENDING = 1000
"""Passes sent and not yet reported by the writer; past this a pass is not recorded (rule 1)."""
FEED_SIZE = 1000
"""Records a subscriber may leave unread; past this it misses the newest."""
CLOSE_TIMEOUT_S = 5.0
RESTART_DELAY_S = 1.0
"""How long after a writer process ended a new one may start (rule 2): one start a second at most."""
EXIT_WAIT_S = 0.1
"""How long a thread without an event loop waits for a writer that is gone to exit, then kills it (rule 6)."""
_FLUSH_POLL_S = 0.01
_GONE = "the history's writer process is gone"

_Sent = tuple[int, list[HistoryRecord] | None]
"""A pass sent to the writer: its number of rows, and its records when someone followed the feed (rule 3)."""


class HistoryRecorder:
    """The render history of one agent (module rules)."""

    def __init__(self, config: HistoryConfig, path: Path, *, log: structlog.typing.FilteringBoundLogger,
                 wall_clock: Callable[[], float] = time.time, host: str | None = None) -> None:
        self.config = config
        self.path = path
        self._log = log
        self._wall_clock = wall_clock
        self._host = host or socket.gethostname()
        self._bounds = Bounds(config.max_age_s, config.max_records)
        self._memory = ResourceMemory()
        self._subscribers: set[asyncio.Queue[HistoryRecord]] = set()
        self._sent: deque[_Sent] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop reading the writer's reports (rule 4)."""
        self._last_problem: str | None = None
        self._dropped = 0
        self._writer: WriterProcess | None = None
        """Started by the first pass (rule 2)."""
        self._restart_at_s = 0.0
        self._down_cause = _GONE
        """Why there is no writer, until ``_restart_at_s`` (rule 2)."""
        self._exiting: dict[WriterProcess, Callable[[int], None]] = {}
        """Writers that are gone, their exit watched by the loop, and what to do with its code (rule 6)."""
        self.recorded = 0
        """Records stored since start (for tests and metrics)."""
        self._watch(_running_loop())

    @property
    def writer_pid(self) -> int | None:
        """The writer process's id; None while there is none (rule 2)."""
        return None if self._writer is None else self._writer.pid

    def start(self) -> None:
        """Start the writer process now, not with the first pass (rule 2); nothing when one runs. A writer
        that cannot be started is logged with the first pass, as rule 2 says."""
        if self._writer is None:
            self._start_writer()

    def submit(self, outcomes: Sequence[Applied], view: KeyView) -> None:
        """One pass's outcomes, all rendered from ``view`` (rule 1); call from the event loop only."""
        if not outcomes:
            return
        try:
            records = records_of(outcomes, view, self._memory, self.config, host=self._host,
                                 time_s=self._wall_clock())
        except Exception as error:  # a fault of the history's own must not fail a pass (rule 1)
            self._log.exception("history not recorded", cause=f"{type(error).__name__}: {error}")
            return
        if records and not self._send(records):
            self._dropped += 1
            self._log.warning("history not recorded", cause="the writer is behind", dropped=self._dropped)

    def _send(self, records: list[HistoryRecord]) -> bool:
        """Hand a pass's rows to the writer (rule 1); False when it is behind (a writer that is gone and
        cannot be started yet is logged as rule 2 says, and counts as taking the pass)."""
        writer = self._writer or self._start_writer()
        if writer is None:
            self._problem(self._down_cause, len(records))
            return True
        if len(self._sent) >= MAX_PENDING:
            return False
        try:
            taken = writer.send(frame([stored_row(record) for record in records]))
        except StorageError:
            self._writer_ended(writer, len(records))
            return True
        if taken:
            self._sent.append((len(records), records if self._subscribers else None))
            loop = self._watcher
            if writer.unsent and loop is not None:
                loop.add_writer(writer.passes_fd, self._on_writable)
        return taken

    async def aclose(self) -> None:
        """Rule 5, from the event loop."""
        self._watch(None)
        self._unwatch_exits()
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Rule 5: from the recorder's only user, or from the loop watching the writer (blocking it)."""
        if self._watcher is not None and self._watcher is _running_loop():
            self._watch(None)
            self._unwatch_exits()
        deadline_s = time.monotonic() + CLOSE_TIMEOUT_S
        writer, self._writer = self._writer, None
        if writer is not None:
            self._settle(writer.close(CLOSE_TIMEOUT_S))
            if self._sent:
                self._writer_ended(writer, 0, cause=f"the writer did not finish within {CLOSE_TIMEOUT_S} s")
        for exiting in list(self._exiting):
            self._exited(exiting, exiting.end(deadline_s))

    def flush(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Wait until everything submitted so far is stored (or lost); False on timeout. Not from the loop
        watching the writer, unless from that loop's own thread (which then reads the reports itself)."""
        deadline_s = time.monotonic() + timeout_s
        while self._sent and time.monotonic() < deadline_s:
            watcher = self._watcher
            if watcher is not None and watcher is not _running_loop():
                time.sleep(_FLUSH_POLL_S)  # that loop reads the reports (rule 4)
            else:
                self._read_reports(wait_s=_FLUSH_POLL_S)
        return not self._sent

    async def records(self, *, target: str | None = None, since_s: float | None = None,
                      limit: int = DEFAULT_LIMIT) -> list[HistoryRecord]:
        """The newest records (``read_records``), read on a thread (rule 3); none before the first."""
        if not self.path.exists():
            return []
        return await asyncio.to_thread(read_records, self.path, target=target, since_s=since_s, limit=limit)

    async def record(self, record_id: int) -> HistoryRecord | None:
        if not self.path.exists():
            return None
        return await asyncio.to_thread(read_record, self.path, record_id)

    def subscribe(self) -> asyncio.Queue[HistoryRecord]:
        """A queue of every record stored from now on (rule 3); call from the event loop."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._watch(loop)
        feed: asyncio.Queue[HistoryRecord] = asyncio.Queue(FEED_SIZE)
        self._subscribers.add(feed)
        return feed

    def unsubscribe(self, feed: asyncio.Queue[HistoryRecord]) -> None:
        self._subscribers.discard(feed)

    @property
    def _watcher(self) -> asyncio.AbstractEventLoop | None:
        """The loop reading the writer's reports (rule 4); None when there is none, or it was closed."""
        loop = self._loop
        return None if loop is None or loop.is_closed() else loop

    def _watch(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Have ``loop`` read the writer's reports (rule 4), instead of the one that did; None: no loop."""
        old, self._loop = self._watcher, loop
        writer = self._writer
        if writer is None:
            return
        if old is not None:
            old.remove_reader(writer.reports_fd)
            old.remove_writer(writer.passes_fd)
        if loop is not None:
            loop.add_reader(writer.reports_fd, self._read_reports)
            if writer.unsent:
                loop.add_writer(writer.passes_fd, self._on_writable)

    def _start_writer(self) -> WriterProcess | None:
        """A new writer process, unless one ended less than ``RESTART_DELAY_S`` ago (rule 2)."""
        if time.monotonic() < self._restart_at_s:
            return None
        try:
            self._writer = WriterProcess.start(self.path, self._bounds)
        except StorageError as error:
            self._restart_at_s = time.monotonic() + RESTART_DELAY_S
            self._down_cause = str(error)
            return None
        if self._watcher is not None:
            self._watcher.add_reader(self._writer.reports_fd, self._read_reports)
        return self._writer

    def _read_reports(self, wait_s: float = 0.0) -> None:
        """Settle what the writer reported (rule 4), waiting ``wait_s`` at most for a report."""
        writer = self._writer
        if writer is None:
            return
        if wait_s:
            _wait_readable(writer.reports_fd, wait_s)
        self._settle(writer.reports())
        if writer.ended:
            self._writer_ended(writer, 0)

    def _on_writable(self) -> None:
        writer, loop = self._writer, self._watcher
        if writer is None or loop is None:
            return
        try:
            if writer.write_unsent():
                loop.remove_writer(writer.passes_fd)
        except StorageError:
            self._writer_ended(writer, 0)

    def _settle(self, reports: list[Report]) -> None:
        for report in reports:
            passes = [self._sent.popleft() for _ in range(report.passes)]
            rows = sum(count for count, _ in passes)
            if report.first_id is None:
                self._problem(report.cause, rows)
                continue
            self._last_problem = None
            self.recorded += rows
            if self._subscribers:
                self._publish(list(_numbered(passes, report.first_id)))

    def _writer_ended(self, writer: WriterProcess, lost_now: int, cause: str = _GONE) -> None:
        """Rule 2: the passes it had not reported are lost, with ``lost_now`` records more."""
        loop = self._watcher
        if loop is not None:
            loop.remove_reader(writer.reports_fd)
            loop.remove_writer(writer.passes_fd)
        if self._writer is writer:
            writer.abandon()
            self._writer = None
            self._restart_at_s = time.monotonic() + RESTART_DELAY_S
            self._down_cause = cause
        lost = lost_now + sum(count for count, _ in self._sent)
        self._sent.clear()
        new = self._is_new_problem(cause)
        self._when_exited(writer, partial(self._log_exit, cause, lost) if new else _ignore)

    def _when_exited(self, writer: WriterProcess, exited: Callable[[int], None]) -> None:
        """Call ``exited(exit_code)`` once ``writer`` exited (rule 6): on the loop, when it does; without one,
        after ``EXIT_WAIT_S`` at most (then killed)."""
        exit_code, loop = writer.exit_code, self._watcher
        if exit_code is not None:
            exited(exit_code)
        elif loop is None:
            exited(writer.end(time.monotonic() + EXIT_WAIT_S))
        else:
            self._exiting[writer] = exited
            writer.watch_exit(loop, partial(self._exited, writer))

    def _exited(self, writer: WriterProcess, exit_code: int) -> None:
        self._exiting.pop(writer)(exit_code)

    def _unwatch_exits(self) -> None:
        """Stop the loop watching the exits of writers that are gone (``close`` ends them instead)."""
        for writer in self._exiting:
            writer.unwatch_exit()

    def _publish(self, records: list[HistoryRecord]) -> None:
        for feed in list(self._subscribers):
            for record in records:
                if not feed.full():
                    feed.put_nowait(record)

    def _problem(self, cause: str, lost: int) -> None:
        """Rule 2: logged once per distinct cause in a row."""
        if self._is_new_problem(cause):
            self._log.error("history not recorded", path=str(self.path), cause=cause, records=lost)

    def _log_exit(self, cause: str, lost: int, exit_code: int) -> None:
        """Rule 2 for a writer that ended, once it exited (rule 6)."""
        self._log.error("history not recorded", path=str(self.path), cause=cause, records=lost,
                        exit_code=exit_code)

    def _is_new_problem(self, cause: str) -> bool:
        """Whether ``cause`` is to be logged (rule 2: once in a row); it is the last one from now on."""
        new, self._last_problem = cause != self._last_problem, cause
        return new


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _ignore(_exit_code: int) -> None:
    """What to do with the exit code of a writer whose end was not logged (its cause was, just before)."""


def _wait_readable(fd: int, timeout_s: float) -> None:
    select.select([fd], [], [], timeout_s)


def _numbered(passes: list[_Sent], first_id: int) -> Iterator[HistoryRecord]:
    """The records of ``passes`` that were kept for the feed, with the ids their rows were stored under."""
    row_id = first_id
    for count, records in passes:
        if records is not None:
            yield from (replace(record, id=row_id + index) for index, record in enumerate(records))
        row_id += count


def record_now(config: HistoryConfig, path: Path, outcomes: Sequence[Applied], view: KeyView, *,
               log: structlog.typing.FilteringBoundLogger) -> int:
    """Rule 5: the records of one pass, written before returning; how many were written."""
    now_s = time.time()
    records = records_of(outcomes, view, ResourceMemory(), config, host=socket.gethostname(), time_s=now_s)
    if not records:
        return 0
    try:
        database = HistoryDb(path, Bounds(config.max_age_s, config.max_records))
        try:
            return len(database.add(records, now_s))
        finally:
            database.close()
    except StorageError as error:
        log.error("history not recorded", path=str(path), cause=str(error), records=len(records))
        return 0
