"""In-process watches of a store node, for the agent's embedded backend: the watch hub without HTTP.

``LocalWatchHub`` is to in-process watchers what a ``WatchStream`` is to a
``/v3/watch`` stream: a group of watches in the node's one watch fan-out
(``StoreNode.watches``, whose ``WatchHub`` decides which watcher sees which
change, for the gateway's streams and these alike), closed together.

Rules:
1. A ``LocalWatch`` yields ``(revision, events)``: every matching event of one
   revision together, revisions in increasing order, each exactly once.
2. Live deliveries wait in a bounded queue (``max_queued_revisions``). When it
   is full the watcher is marked unsynced and later read back from the
   store's history in bounded batches, so a slow reader never loses events
   and never grows memory without bound (the ``WatchStream`` rule).
3. A watch whose next revision was compacted away raises ``Compacted``.
4. ``close()`` ends the iteration; closing the hub closes every watch.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator

from confagent.errors import Compacted
from confagent.kv import Event, WatchCreateRequest, Watcher
from confagent.server.node._node import StoreNode
from confagent.server.node._watches import WatchRegistry

__all__ = ["LocalWatch", "LocalWatchHub"]

MAX_QUEUED_REVISIONS = 256
"""Revisions a LocalWatch holds for its reader before it falls back to history."""
CATCH_UP_EVENTS = 1000
"""Events read from history per catch-up batch (whole revisions; at least one)."""


class LocalWatchHub:
    """In-process watches of one node, in its watch fan-out; closing the hub closes them all."""

    def __init__(self, node: StoreNode) -> None:
        self.node = node
        self._registry: WatchRegistry = node.watches
        self._watches: dict[int, LocalWatch] = {}
        self._closed = False

    def watch(self, key: bytes, range_end: bytes = b"", *, start_revision: int = 0,
              max_queued_revisions: int = MAX_QUEUED_REVISIONS) -> LocalWatch:
        """A watch of ``[key, range_end)`` (etcd's meaning of ``range_end``) from ``start_revision``.

        ``start_revision`` 0 starts after the current revision.
        """
        assert not self._closed, "the local watch hub is closed"
        spec = WatchCreateRequest(key=key, range_end=range_end, start_revision=start_revision)
        watcher = self._registry.hub.create(spec)
        watch = LocalWatch(self, watcher, max_queued_revisions)
        self._watches[watcher.id] = watch
        self._registry.own(watcher, watch)
        return watch

    def close(self) -> None:
        """Close every watch of this hub."""
        self._closed = True
        for watch in list(self._watches.values()):
            watch.close()

    def catch_up(self, watcher: Watcher, max_events: int) -> tuple[list[Event], int]:
        """The next batch of history for ``watcher``, and the compaction revision if it needs one."""
        result = self._registry.hub.catch_up(watcher, max_events)
        return list(result.events), result.compact_revision

    def release(self, watcher: Watcher) -> None:
        self._watches.pop(watcher.id, None)
        self._registry.release(watcher)


class LocalWatch:
    """One in-process watch; iterate it for ``(revision, events)`` (module rules)."""

    def __init__(self, hub: LocalWatchHub, watcher: Watcher, max_queued_revisions: int) -> None:
        self._hub = hub
        self._watcher = watcher
        self._max_queued = max_queued_revisions
        self._queue: deque[tuple[int, tuple[Event, ...]]] = deque()
        self._ready = asyncio.Event()
        self._closed = False

    def offer(self, watcher: Watcher, events: tuple[Event, ...], revision: int) -> bool:
        """Queue a live delivery; False when the queue is full (the registry rewinds the watcher)."""
        if self._closed or len(self._queue) >= self._max_queued:
            return False
        self._queue.append((revision, events))
        self._ready.set()
        return True

    def wake(self) -> None:
        self._ready.set()

    def close(self) -> None:
        """End the iteration and forget the watcher."""
        if not self._closed:
            self._closed = True
            self._hub.release(self._watcher)
            self._ready.set()

    def __aiter__(self) -> LocalWatch:
        return self

    async def __anext__(self) -> tuple[int, tuple[Event, ...]]:
        """The next revision's events.

        Raises:
            Compacted: the next revision this watch needs was compacted.
            StopAsyncIteration: the watch (or its hub) was closed.
        """
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._closed:
                raise StopAsyncIteration
            if not self._watcher.synced:
                self._read_history()
                await asyncio.sleep(0)  # history can be long: let the node apply meanwhile
                continue
            self._ready.clear()
            await self._ready.wait()

    def _read_history(self) -> None:
        events, compact_revision = self._hub.catch_up(self._watcher, CATCH_UP_EVENTS)
        if compact_revision:
            self.close()
            raise Compacted(f"etcdserver: mvcc: required revision has been compacted "
                            f"(compacted at {compact_revision})")
        self._queue.extend(_by_revision(events))


def _by_revision(events: list[Event]) -> Iterator[tuple[int, tuple[Event, ...]]]:
    start = 0
    for position in range(1, len(events) + 1):
        if position == len(events) or events[position].kv.mod_revision != events[start].kv.mod_revision:
            yield events[start].kv.mod_revision, tuple(events[start:position])
            start = position
