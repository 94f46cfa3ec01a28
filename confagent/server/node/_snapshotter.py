"""Snapshotter: a member's snapshots every ``snapshot_entries`` applied, taken beside its driver.

A snapshot used to stop the member: its payload was encoded on the event loop
(every retained version) and the driver waited for the file's write and fsync,
so every request in flight waited too, longer as the history grew (0.24 s at
20,000 versions, 0.5 s at 40,000: ``etcdctl check perf``'s slowest requests).

Rules:
1. The driver captures the state in one step of the event loop, at its applied
   index, by reference (``KvStore.snapshot_state``, a copy of the member table);
   nothing is encoded then.
2. The job encodes the capture and writes its file in a worker thread
   (``SnapshotFiles.save``), then writes its WAL marker and releases segments
   through the WAL writer, in that writer's order; the driver goes on persisting,
   sending and applying meanwhile.
3. One job at a time. The core's log is compacted to a finished job's snapshot in
   the driver's task (one task owns the core), when it calls ``collect`` or ``settle``.
   A snapshot the driver makes itself (a membership change applied, a leader's
   snapshot installed) first waits for the job in flight (``settle``), so files are
   written one at a time and markers never go back.
4. A job that fails (a StorageError) wakes the driver, and its error is raised in the
   driver's task by ``collect`` or ``settle``: the member fails as when the driver's
   own save fails. A member stopping lets the job in flight finish, within the bound
   every stop has (``close``).
5. A member stopping healthy takes a last snapshot (``take_at_stop``) when at least
   ``STOP_SNAPSHOT_ENTRIES`` entries were applied since the last one, within
   ``TASK_STOP_S``: the next start, and a one-shot reading the directory
   (``_data_dir_reader``), replay no more than a few entries (restoring 100,000 keys
   from a snapshot costs half of applying them again from the log). A failure or a
   timeout is logged: the log still holds every entry. A member killed leaves its log
   to replay, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from confagent.errors import StorageError
from confagent.raft import SnapshotMeta
from confagent.server.storage import SnapshotFiles, WalWriter
from confagent.tasks import TASK_STOP_S, wait_or_cancel

__all__ = ["STOP_SNAPSHOT_ENTRIES", "Snapshotter"]

log = structlog.get_logger("confagent.store")

STOP_SNAPSHOT_ENTRIES = 100
"""A stopping member takes a snapshot when this many entries were applied since the last (rule 5): a
few entries replay in no time, and a store stopped and started again in tests writes no file for them."""

Encode = Callable[[], bytes]
"""Makes a captured snapshot's payload; called in the worker thread."""


class Snapshotter:
    """Writes a member's snapshots and trims its log after them (rules in the module doc)."""

    def __init__(self, files: SnapshotFiles, writer: WalWriter, *, every_entries: int, index: int,
                 compact: Callable[[SnapshotMeta], None], wake: Callable[[], None]) -> None:
        """``compact`` trims the core's log (called from the driver's task); ``wake`` wakes the
        driver once a job ended."""
        self._files = files
        self._writer = writer
        self._every_entries = every_entries
        self.index = index
        """The index of the newest snapshot taken, in flight or installed."""
        self._compact = compact
        self._wake = wake
        self._job: asyncio.Task[None] | None = None
        self._finished: SnapshotMeta | None = None

    def due(self, applied: int) -> bool:
        """Whether a snapshot should start now: none in flight and enough entries applied since."""
        return self._job is None and applied - self.index >= self._every_entries

    def start(self, meta: SnapshotMeta, encode: Encode) -> None:
        """Write the snapshot captured at ``meta`` in the background (rule 2)."""
        assert self._job is None, "one snapshot at a time"
        self.index = meta.index
        self._job = asyncio.create_task(self._write(meta, encode), name="snapshot")

    async def take(self, meta: SnapshotMeta, encode: Encode) -> None:
        """Write the snapshot captured at ``meta``; return once it is durable and the log
        compacted to it (rule 3). From the driver's task."""
        await self.settle()
        self.start(meta, encode)
        await self.settle()

    async def take_at_stop(self, applied: int, capture: Callable[[], tuple[SnapshotMeta, Encode]]) -> None:
        """Rule 5: ``capture()``'s snapshot, when ``applied`` is ``STOP_SNAPSHOT_ENTRIES`` past the last."""
        if applied - self.index < STOP_SNAPSHOT_ENTRIES:
            return
        try:
            async with asyncio.timeout(TASK_STOP_S):  # bounded as every part of a stop; then ``close``'s
                await self.take(*capture())
        except (StorageError, TimeoutError) as error:  # the log still holds every entry: nothing is lost
            log.warning("no snapshot at stop", error=str(error) or "took too long")

    async def settle(self) -> None:
        """Wait for the job in flight, if any; then ``collect``. From the driver's task.

        Raises:
            StorageError: the job failed.
        """
        if self._job is not None:
            await asyncio.shield(self._job)  # a driver stopped meanwhile leaves it to ``close``
        self.collect()

    def collect(self) -> None:
        """Compact the log to the snapshot a job finished since the last call, if any; from the
        driver's task.

        Raises:
            StorageError: the job failed (rule 4).
        """
        if self._job is not None and self._job.done():
            job, self._job = self._job, None
            job.result()
        finished, self._finished = self._finished, None
        if finished is not None:
            self._compact(finished)

    def installed(self, meta: SnapshotMeta) -> None:
        """A leader's snapshot was saved (after ``settle``): count entries from it."""
        assert self._job is None, "settle before installing"
        self.index = meta.index

    async def close(self) -> list[str]:
        """Let the job in flight finish, for at most ``TASK_STOP_S``, then cancel it (its file may
        still be written, with no marker: as after a crash); the names of tasks that did not end.
        Before the WAL writer closes."""
        return await wait_or_cancel([self._job] if self._job is not None else [])

    async def _write(self, meta: SnapshotMeta, encode: Encode) -> None:
        try:
            oldest_kept = await asyncio.to_thread(self._save, meta, encode)
            # The marker tells recovery where the log starts once older segments are gone.
            await self._writer.save(None, (), sync=True, snapshot=meta)
            # Only up to the oldest snapshot file: a broken newer one falls back to it
            # (``storage._recovery``).
            await self._writer.release_to(oldest_kept)
            self._finished = meta
        finally:
            self._wake()

    def _save(self, meta: SnapshotMeta, encode: Encode) -> int:
        return self._files.save(meta, encode())
