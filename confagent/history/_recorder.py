"""``HistoryRecorder``: the agent's render history, written on a thread of its own, read as values or a feed.

Rules:
1. ``submit(outcomes, view)``, called by the event loop after a pass,
   builds the pass's records and their rows (``records_of``, ``stored_row``:
   tens of microseconds a record) and appends the rows to the writer's
   ``_Mailbox``, bounded at ``MAX_PENDING`` passes; a full one drops the
   pass, with a warning. Nothing here raises into the agent, and nothing
   blocks it. The writer thread takes what was submitted within
   ``BATCH_S`` of the first pass it waits for (sleeping through that
   window, so the submits in it wake no thread) and writes it in one
   transaction and one statement (``HistoryDb.add_rows``): one wake-up and
   one commit for a burst of applies. Why the records are built on the
   loop and not on the writer (measured, bench/README.md, issue 15): a
   thread building them took and gave back the GIL around every record,
   and a put whose pass met a burst of records waited for it at each of
   its own hand-overs (0.4-0.5 ms at its median); and passes kept until
   the writer took them kept their objects alive into older generations of
   the garbage collector (three times the young collections, sixteen
   middle ones per 8,000 puts). What waits for the writer now is a tuple of
   text and bytes per record.
2. The writer opens the database when it starts; a database that cannot be
   opened or written (a full disk, a read-only file or directory, a lock
   held longer than ``BUSY_TIMEOUT_S``) is logged (``history not
   recorded``, once per distinct cause in a row) and the records of that
   pass are lost; the next pass tries again (opening it again if needed).
3. ``records`` and ``record`` answer queries (``confagent.history``
   ``read_records``/``read_record`` on a thread, so the event loop never
   waits on the file); ``subscribe`` gives a queue that receives every
   record stored from then on, with its id, until ``unsubscribe``: the
   live feed. With no subscriber the writer hands nothing to the loop.
4. ``close`` lets the writer finish what was submitted, at most
   ``CLOSE_TIMEOUT_S``, then closes the database.
5. ``record_now`` records one pass at once, on the caller's thread, for a
   one-shot run (``[history] one_shot``): no previous render is known, so
   every key read is listed; a failure is logged as rule 2 says.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Generic, TypeVar

import structlog

from confagent.errors import StorageError
from confagent.history._build import Applied, ResourceMemory, records_of
from confagent.history._db import DEFAULT_LIMIT, HistoryDb, Row, read_record, read_records, stored_row
from confagent.history._record import Bounds, HistoryRecord
from confagent.render import KeyView
from confagent.settings import HistoryConfig

__all__ = ["BATCH_S", "CLOSE_TIMEOUT_S", "FEED_SIZE", "MAX_PENDING", "HistoryRecorder", "record_now"]

MAX_PENDING = 1000
"""Passes waiting for the writer; past this a pass is not recorded (rule 1)."""
BATCH_S = 0.25
"""How long the writer gathers passes before writing their records together (rule 1)."""
FEED_SIZE = 1000
"""Records a subscriber may leave unread; past this it misses the newest."""
CLOSE_TIMEOUT_S = 5.0

_Built = tuple[list[Row], list[HistoryRecord] | None]
"""A pass's rows, and its records when someone followed the feed as it was submitted (rule 1)."""
_STOP = None
_Item = TypeVar("_Item")


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
        self._pending: _Mailbox[_Built | None] = _Mailbox(MAX_PENDING)
        self._memory = ResourceMemory()
        self._subscribers: set[asyncio.Queue[HistoryRecord]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_problem: str | None = None
        self._dropped = 0
        self.recorded = 0
        """Records stored since start (for tests and metrics)."""
        self._stopping = threading.Event()
        """Set by ``close``: the writer's batch window ends at once."""
        self._thread = threading.Thread(target=self._write_all, name="confagent-history", daemon=True)
        self._thread.start()

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
        if records and not self._pending.put(
                ([stored_row(record) for record in records], records if self._subscribers else None)):
            self._dropped += 1
            self._log.warning("history not recorded", cause="the writer is behind", dropped=self._dropped)

    def close(self) -> None:
        """Rule 4."""
        self._stopping.set()
        self._pending.put(_STOP, bounded=False)
        self._thread.join(CLOSE_TIMEOUT_S)

    def flush(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Wait until everything submitted so far is written (or failed); False on timeout."""
        done = threading.Event()
        deadline_s = time.monotonic() + timeout_s
        while self._pending.unfinished and time.monotonic() < deadline_s:
            done.wait(0.01)
        return not self._pending.unfinished

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
        self._loop = asyncio.get_running_loop()
        feed: asyncio.Queue[HistoryRecord] = asyncio.Queue(FEED_SIZE)
        self._subscribers.add(feed)
        return feed

    def unsubscribe(self, feed: asyncio.Queue[HistoryRecord]) -> None:
        self._subscribers.discard(feed)

    def _publish(self, records: list[HistoryRecord]) -> None:
        for feed in list(self._subscribers):
            for record in records:
                if not feed.full():
                    feed.put_nowait(record)

    def _write_all(self) -> None:
        database: HistoryDb | None = None
        try:
            while True:
                batch = self._pending.take_all(BATCH_S, self._stopping)
                stopping = _STOP in batch
                passes = [item for item in batch if item is not _STOP]
                try:
                    if passes:
                        database = self._write(database, passes)
                finally:
                    self._pending.done(len(batch))
                if stopping:
                    return
        finally:
            if database is not None:
                database.close()

    def _write(self, database: HistoryDb | None, batch: list[_Built]) -> HistoryDb | None:
        rows = [row for built_rows, _ in batch for row in built_rows]
        time_s = rows[-1][0]
        try:
            if database is None:
                database = HistoryDb(self.path, self._bounds)
                database.prune(time_s)
            first_id = database.add_rows(rows, time_s)
        except StorageError as error:
            self._problem(str(error), len(rows))
            if database is not None:
                database.close()
            return None
        self._last_problem = None
        self.recorded += len(rows)
        loop = self._loop
        if self._subscribers and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._publish, list(_numbered(batch, first_id)))
        return database

    def _problem(self, cause: str, lost: int) -> None:
        """Rule 2: logged once per distinct cause in a row."""
        if cause != self._last_problem:
            self._log.error("history not recorded", path=str(self.path), cause=cause, records=lost)
        self._last_problem = cause


class _Mailbox(Generic[_Item]):
    """Items from one producer thread (the event loop) to one consumer (the writer), rule 1: ``put`` is a
    ``deque`` append, atomic under the GIL, with no lock the writer could hold while the loop waits for it;
    the writer is woken (``Event.set``) only when an item lands in an empty box, once per burst.

    One producer is what makes the wake-up exact: ``put`` appends, then wakes the writer if the box holds
    one item; the writer sleeps only after it found the box empty, so the first item after that sees a
    length of one at its check unless the writer already took it.
    """

    def __init__(self, limit: int) -> None:
        self._items: deque[_Item] = deque()
        self._limit = limit
        self._nonempty = threading.Event()
        self._put = 0
        self._done = 0

    def put(self, item: _Item, *, bounded: bool = True) -> bool:
        """Append ``item``; False (nothing appended) when ``bounded`` and ``limit`` items wait already."""
        items = self._items
        if bounded and len(items) >= self._limit:
            return False
        items.append(item)
        self._put += 1
        if len(items) == 1:
            self._nonempty.set()
        return True

    def take_all(self, window_s: float, stopping: threading.Event) -> list[_Item]:
        """Wait for an item, then ``window_s`` more (cut short by ``stopping``), and take every item."""
        self._nonempty.wait()
        self._nonempty.clear()
        stopping.wait(window_s)
        taken = []
        with suppress(IndexError):
            while True:
                taken.append(self._items.popleft())
        return taken

    def done(self, count: int) -> None:
        """``count`` taken items are finished (``unfinished`` counts the others)."""
        self._done += count

    @property
    def unfinished(self) -> int:
        """Items put and not yet finished."""
        return self._put - self._done


def _numbered(batch: list[_Built], first_id: int) -> Iterator[HistoryRecord]:
    """The records of ``batch`` that were kept for the feed, with the ids their rows were stored under."""
    row_id = first_id
    for rows, records in batch:
        if records is not None:
            yield from (replace(record, id=row_id + index) for index, record in enumerate(records))
        row_id += len(rows)


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
