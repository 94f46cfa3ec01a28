"""The asyncio side of the write-ahead log: saves written on the event loop, a thread behind them.

A save made while nothing is outstanding is written and fsynced on the loop itself (rule 7):
the driver awaits each Ready's save before the next, so that is every save in its flow. The
thread (woken through a ``queue.SimpleQueue``, answering a batch with one
``call_soon_threadsafe``) takes what must not block the loop or must wait its turn: segment
releases, the close, and the saves made while one of those is outstanding. Why not the
thread for every save: its two hand-offs (the thread woken, then the loop, each with the
GIL changing hands) cost about 90 µs of a lone put's latency, as much as half the fsync,
and with 16 clients 9-18 % more of the member's CPU per put than writing on the loop
(bench/README.md, issue 12, session 8).

Rules:

1. Requests run in the order they were made.
2. Group commit: the thread takes every request queued by the time it looks, so saves
   queued while an fsync is in flight share the next one. A batch is synced when any of
   its saves asked for it, and no save's future completes before its batch is written
   (and synced, when asked). (The node batches too: the writes made during a save's
   fsync are the next Ready's entries, one save.)
3. The Wal is touched by one thread at a time: the writer thread while any request made
   is unanswered, the event loop (rule 7) when none is. Only the loop makes requests and
   counts their answers, so the writer cannot get work while the loop writes.
4. A failed write or fsync fails the saves of its batch and every later request (the Wal
   is poisoned, rule 6 of ``_wal``): a failed fsync is never retried. A save the Wal
   refuses before any I/O (an entry too large for a record) fails alone.
5. A hard state that needs no fsync (only its commit index moved: it is recovered from
   the log and the leader) can be deferred: it is written with the next save that has
   none of its own, or at ``close``, never waited for on its own.
6. Saves complete in the order they were made (their futures too): a save is never
   written on the loop while an earlier request's answer is still on its way.
7. A save made while the writer is idle (no request unanswered) is written and fsynced
   on the event loop at once, its future done when ``start_save`` returns: no put waits
   for a thread. The loop blocks for that fsync, as etcd's raft loop blocks for its own
   (``wal.Save`` in its raft goroutine); the requests arriving meanwhile wait in the
   sockets and join the next Ready. A batch of several entries once went to the thread,
   so that its fsync overlapped the loop's work on the next batch: at 16 clients that
   overlap was worth less than the hand-offs it cost (bench/README.md, issue 12, session 8).
8. A save started ``behind`` goes to the thread even when the writer is idle, so that the
   loop runs while it is written: a learner applies the committed entries it saves
   meanwhile, and its agent renders them (``_node`` rule 8).
9. Both threads that fsync the log, the loop that makes the writer (rule 7) and the
   writer thread, ask the kernel for short scheduling slices (``_sched``), so that each
   runs as soon as its fsync returns rather than after another task's slice on a busy
   machine: that wait, not the disk, made our fsyncs' tail longer than etcd's (issue 12).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from confagent.errors import StorageError
from confagent.raft._types import Entry, HardState, SnapshotMeta
from confagent.server.storage._sched import ask_short_slice
from confagent.server.storage._wal import Wal

__all__ = ["WalWriter"]


@dataclass(frozen=True, slots=True)
class _Save:
    hard_state: HardState | None
    entries: Sequence[Entry]
    snapshot: SnapshotMeta | None
    sync: bool
    future: asyncio.Future[None]


@dataclass(frozen=True, slots=True)
class _Release:
    index: int
    future: asyncio.Future[None]


@dataclass(frozen=True, slots=True)
class _Close:
    future: asyncio.Future[None]


_Request = _Save | _Release | _Close


class WalWriter:
    """Saves to a :class:`Wal` from asyncio, group-committed by one writer thread."""

    def __init__(self, wal: Wal) -> None:
        """Take ownership of ``wal`` and start the writer thread; call it on the event loop's thread
        (rule 9: that thread is given short slices)."""
        self.short_slices = ask_short_slice()
        """Whether the kernel took rule 9's hint for the calling thread."""
        self._wal = wal
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._closing = False
        self._deferred: HardState | None = None
        self._made = 0       # requests made (by the loop)
        self._answered = 0   # requests whose futures were completed (on the loop)
        self._thread = threading.Thread(target=self._serve, name="wal-writer", daemon=True)
        self._thread.start()

    async def save(self, hard_state: HardState | None, entries: Sequence[Entry], sync: bool,
                   *, snapshot: SnapshotMeta | None = None) -> None:
        """Write a snapshot marker (when given), ``entries`` and ``hard_state``, in that order.

        Returns once they are written, and fsynced when ``sync``; saves made while an
        fsync is in flight share the next one. Cancelling the wait does not undo the write.

        Raises:
            StorageError: the write or fsync failed (now or earlier), or the writer is closed.
        """
        await self.start_save(hard_state, entries, sync, snapshot=snapshot)

    def start_save(self, hard_state: HardState | None, entries: Sequence[Entry], sync: bool,
                   *, snapshot: SnapshotMeta | None = None, behind: bool = False) -> asyncio.Future[None]:
        """:meth:`save`, queued at once; await the future it returns (it completes as ``save``
        returns, or raises as it raises). The caller can work while the thread writes; with
        ``behind``, always on the thread (rule 8), else on the loop when the writer is idle (rule 7).

        Raises:
            StorageError: the writer is closed.
        """
        hard_state, self._deferred = hard_state or self._deferred, None
        save = partial(_Save, hard_state, entries, snapshot, sync)
        if self._made == self._answered and not self._closing and not behind:
            return self._save_here(save)
        return self._enqueue(save)

    def _save_here(self, make: Callable[[asyncio.Future[None]], _Save]) -> asyncio.Future[None]:
        """Rule 7: a save while the writer is idle: the loop writes it itself."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        save = make(future)
        error = _attempt(partial(self._buffer, save))
        if error is None:
            error = _attempt(self._wal.sync if save.sync else self._wal.flush)
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
        return future

    def defer_hard_state(self, hard_state: HardState) -> None:
        """Write ``hard_state``, whose commit index alone changed, with the next save (rule 5)."""
        self._deferred = hard_state

    async def release_to(self, index: int) -> None:
        """:meth:`Wal.release_to`, after every save made before it.

        Raises:
            StorageError: a segment could not be deleted, or the Wal failed earlier.
        """
        await self._submit(lambda future: _Release(index, future))

    async def close(self) -> None:
        """Finish the queued requests, sync and close the Wal, and stop the thread. Idempotent.

        Raises:
            StorageError: the final sync failed.
        """
        if self._closing:
            return
        deferred = self.start_save(None, (), sync=False) if self._deferred is not None else None
        closed = self._enqueue(_Close)
        try:
            if deferred is not None:
                await deferred  # a restart then resumes from this commit index
        finally:
            await closed
            self._thread.join()  # it returns right after completing the close future

    async def _submit(self, make: Callable[[asyncio.Future[None]], _Request]) -> None:
        await self._enqueue(make)

    def _enqueue(self, make: Callable[[asyncio.Future[None]], _Request]) -> asyncio.Future[None]:
        if self._closing:
            raise StorageError("wal: the writer is closed")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        request = make(future)
        if isinstance(request, _Close):
            self._closing = True
        self._made += 1
        self._requests.put(request)
        return future

    # -- the writer thread ----------------------------------------------------------

    def _serve(self) -> None:
        ask_short_slice()  # rule 9
        while True:
            batch = [self._requests.get()]
            while True:
                try:
                    batch.append(self._requests.get_nowait())
                except queue.Empty:
                    break
            if self._run_batch(batch):
                return

    def _run_batch(self, batch: list[_Request]) -> bool:
        """Run requests in order, merging runs of saves; True once the Wal is closed."""
        saves: list[_Save] = []
        for request in batch:
            if isinstance(request, _Save):
                saves.append(request)
                continue
            self._write(saves)
            saves = []
            if isinstance(request, _Release):
                self._settle([request.future], _attempt(partial(self._wal.release_to, request.index)))
            else:
                self._settle([request.future], _attempt(self._wal.close))
                return True
        self._write(saves)
        return False

    def _write(self, saves: list[_Save]) -> None:
        """Buffer each save (a refused one fails alone), then one write and at most one fsync."""
        buffered: list[_Save] = []
        for save in saves:
            error = _attempt(partial(self._buffer, save))
            if error is None:
                buffered.append(save)
            else:
                self._settle([save.future], error)
        if buffered:
            finish = self._wal.sync if any(save.sync for save in buffered) else self._wal.flush
            self._settle([save.future for save in buffered], _attempt(finish))

    def _buffer(self, save: _Save) -> None:
        if save.snapshot is not None:
            self._wal.mark_snapshot(save.snapshot)
        self._wal.append(save.hard_state, save.entries)

    def _settle(self, futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
        """Complete ``futures`` from the writer thread, with one wake-up of their event loop."""
        futures[0].get_loop().call_soon_threadsafe(self._complete, futures, error)

    def _complete(self, futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
        self._answered += len(futures)
        for future in futures:
            if future.done():  # the awaiting task was cancelled
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)


def _attempt(operation: Callable[[], None]) -> BaseException | None:
    """Run ``operation`` on the Wal; what it raised, to hand to the awaiting tasks."""
    try:
        operation()
    except Exception as error:  # forwarded to the caller's await, never swallowed
        return error
    return None

