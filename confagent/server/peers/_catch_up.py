"""CatchUpSnapshot: the snapshot a leader sends followers behind its compacted log, got once and shared.

A follower whose next entry the leader's log no longer holds is sent a snapshot.
The Raft core asks for it (``RawNode``'s ``snapshot_source``) within a step of
the driver, on the event loop. Encoding the store there held every request for
as long as the encoding took (24-36 ms of CPU for the learner bench's store at
20,000 and 40,000 versions, 2.4 and 4.8 MiB; reading the newest file back: 2-5 ms),
and each lagging learner in turn got an encoding of its own.

Rules:
1. ``source`` neither reads nor encodes. It answers the snapshot at hand while
   the log still reaches back to it (its index at or past the compacted log's
   end, ``compacted()``); else None, which the leader takes as "not yet" and asks
   again at the follower's next heartbeat answer, and a job starts getting one
   unless one runs.
2. A job runs in a worker thread. While the log was compacted (to a saved
   snapshot: the newest file reaches back to the log's start) at most
   ``CATCH_UP_ENTRIES`` entries ago, it reads the newest saved snapshot
   (``read_saved``), which costs the interpreter little. Further behind, or when
   no file reads back usable (none yet, one deleted meanwhile), the state captured
   on the loop at the job's start (``capture``, by reference) is encoded there
   instead: a follower is then sent the state as it is, not an old file and
   thousands of entries after it (more bytes, and appends held for it meanwhile).
3. Every follower needing a snapshot while one is at hand is sent that one, the
   same bytes: one read or encoding per compaction, whatever the number of
   learners behind.
4. What is held is dropped ``HOLD_S`` after it was last handed out, or at the
   next ask once the log is compacted past it (the transport's write buffers hold
   the payload, one object for every follower sent it, until it is written:
   ``_peer_codec`` rule 2). So a leader holds one snapshot per job whose frames
   some follower has yet to read, not one per follower. A job that fails raises its
   error at the next ``source`` call, in the driver's task: the member fails, as
   when its own snapshot fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from confagent.errors import StorageError
from confagent.raft import Snapshot, SnapshotMeta

__all__ = ["CATCH_UP_ENTRIES", "HOLD_S", "CatchUpSnapshot"]

log = structlog.get_logger("confagent.peers")

HOLD_S = 10.0
"""How long a snapshot no follower asked for stays held (rule 4): learners joining or rejoining
together take turns for it, each turn a snapshot frame's sending and an answer."""

CATCH_UP_ENTRIES = 5_000
"""How far behind the applied state the newest saved snapshot may be and still be sent (rule 2); the
count etcd keeps in its log after a snapshot for slow followers (``SnapshotCatchUpEntries``)."""

Capture = Callable[[], tuple[SnapshotMeta, Callable[[], bytes]]]
"""The state now, by reference, and the function encoding it (called in the worker thread)."""
ReadSaved = Callable[[], tuple[SnapshotMeta, bytes] | None]
"""The newest saved snapshot that reads back whole (called in the worker thread).

Raises:
    StorageError: the files cannot be read.
"""


class CatchUpSnapshot:
    """The leader's ``snapshot_source`` (rules in the module doc). One task calls it: the driver's."""

    def __init__(self, read_saved: ReadSaved, capture: Capture, compacted: Callable[[], int], *,
                 catch_up_entries: int = CATCH_UP_ENTRIES) -> None:
        """``compacted()``: the index the core's log is compacted to (its ``offset``)."""
        self._catch_up_entries = catch_up_entries
        self._read_saved = read_saved
        self._capture = capture
        self._compacted = compacted
        self._held: Snapshot | None = None
        self._job: asyncio.Future[tuple[Snapshot, str]] | None = None
        self._failure: BaseException | None = None
        self._asked_at = 0.0
        self._release: asyncio.TimerHandle | None = None
        self.jobs = 0
        """Jobs started so far (reads or encodings of the store): for tests and metrics."""

    @property
    def getting(self) -> bool:
        """Whether a job is getting a snapshot now."""
        return self._job is not None

    def source(self) -> Snapshot | None:
        """The snapshot to send a follower now, or None while it is being got (rule 1).

        Raises:
            StorageError: the last job failed (rule 4).
        """
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        held = self._held
        if held is not None and held.meta.index >= self._compacted():
            self._asked_at = asyncio.get_running_loop().time()
            return held
        self._held = None
        if self._job is None:
            self._start()
        return None

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        compacted = self._compacted()
        meta, encode = self._capture()
        recent = meta.index - compacted <= self._catch_up_entries

        def get() -> tuple[Snapshot, str]:  # in the worker thread (rule 2)
            saved = None
            if recent:
                with contextlib.suppress(StorageError):
                    saved = self._read_saved()
            if saved is not None and saved[0].index >= compacted:
                return Snapshot(*saved), "read"
            return Snapshot(meta, encode()), "encoded"

        self.jobs += 1
        self._job = loop.run_in_executor(None, get)
        self._job.add_done_callback(self._done)

    def _done(self, job: asyncio.Future[tuple[Snapshot, str]]) -> None:
        self._job = None
        if job.cancelled():
            return
        failure = job.exception()
        if failure is not None:
            self._failure = failure
            return
        self._held, how = job.result()
        log.info("catch-up snapshot at hand", how=how, index=self._held.meta.index,
                 bytes=len(self._held.data))
        loop = asyncio.get_running_loop()
        self._asked_at = loop.time()
        if self._release is None:
            self._release = loop.call_later(HOLD_S, self._maybe_release)

    def _maybe_release(self) -> None:
        loop = asyncio.get_running_loop()
        left = self._asked_at + HOLD_S - loop.time()
        if left > 0 and self._held is not None:
            self._release = loop.call_later(left, self._maybe_release)
            return
        self._release = None
        self._held = None
