"""One ``/v3/watch`` stream: its watchers, a bounded outbox, and catch-up of watchers that fell behind.

A stream is a ``WatchOwner`` in the node's one watch fan-out (``WatchRegistry``,
``confagent.server.node``), as the agent's in-process watches are.

Rules:
1. A stream numbers its own watches from 0, as etcd does: a create naming
   watch 0 gets the next number no watch of the stream holds, counting on from
   the last one given (a cancelled watch's number is not given again); the
   hub's watcher ids are private. A create whose range is empty (a key at or
   past its range end, neither empty nor "\\0") or naming a watch the stream
   holds is refused, as etcd's ``watchStream.Watch`` refuses it: the empty range
   first, a refusal using no number.
2. The outbox is bounded. When it is full, a delivery is not queued: the watcher
   is marked unsynced in the hub and later caught up from history, so a slow
   reader never silently loses events and never grows memory without bound.
3. A watcher whose next revision was compacted away is canceled with
   ``compact_revision``, the stream stays open.
4. A create the caller may not make (``guard.admit``: auth's read permission on its
   range) is refused before anything else, its reason the gRPC error etcd writes
   there (``rpc error: code = PermissionDenied desc = etcdserver: permission denied``).
5. A watch stays its creator's: once the auth state's revision (``guard.revision``)
   moved since a watch was last asked about, the stream asks again whether its
   user may still read its range (a permission revoked, a role or the user
   deleted): whenever it looks for something to send (woken after the change by
   ``WatchRegistry.wake_all``; before any catch-up), and before a live delivery.
   When not, the watch is canceled with rule 4's permission-denied reason, and
   nothing more is sent on it. etcd 3.4 asks only at create and goes on
   delivering (README, known differences). A watch created while auth was off
   is asked nothing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from confagent.errors import StoreError
from confagent.kv import (
    Event,
    WatchCancelRequest,
    WatchCreateRequest,
    Watcher,
    WatchProgressRequest,
    WatchRequest,
    WatchResponse,
)
from confagent.server.node import WatchRegistry

__all__ = ["Outgoing", "WatchGuard", "WatchStream"]

_DUPLICATE_ID = "mvcc: duplicate watch ID provided on the WatchStream"
_EMPTY_RANGE = "mvcc: watcher range is empty"

_CODE_NAMES = {3: "InvalidArgument", 7: "PermissionDenied", 9: "FailedPrecondition", 16: "Unauthenticated"}
"""grpc-go's names of the codes an auth refusal has (rule 4)."""
_NO_LONGER_PERMITTED = "rpc error: code = PermissionDenied desc = etcdserver: permission denied"
"""Rule 5's cancel reason: rule 4's for a refused permission."""

Still = Callable[[], bool]
"""Whether a watch's user may still read its range, asked of the auth state now (rule 5)."""


class WatchGuard(Protocol):
    """Who may watch what: the one seam between a stream and auth (rules 4 and 5)."""

    def admit(self, request: WatchCreateRequest) -> Still | None:
        """Raises the calling task's refusal of ``request``; else how to ask again later for the
        same user (None: auth is off, nobody was asked)."""
        ...

    def revision(self) -> int:
        """The auth state's revision now: a watch is asked again only after it moved."""
        ...


class _Unguarded:
    def admit(self, request: WatchCreateRequest) -> Still | None:
        return None

    def revision(self) -> int:
        return 0


@dataclass(slots=True)
class _Permit:
    still: Still
    revision: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A response to send, and the revision its header names (0: the current one, no revision
    for a compaction cancel)."""

    response: WatchResponse
    header_revision: int | None


class WatchStream:
    """The watchers of one client stream and what is waiting to be sent to it."""

    def __init__(self, registry: WatchRegistry, current_revision: Callable[[], int],
                 max_queued: int = 256, catch_up_events: int = 1000, guard: WatchGuard | None = None) -> None:
        self._registry = registry
        self._guard = guard or _Unguarded()
        self._permits: dict[int, _Permit] = {}  # hub watcher id -> how to ask again (rule 5)
        self._swept = self._guard.revision()  # the auth revision every watch was last asked at
        self._current_revision = current_revision
        self._max_queued = max_queued
        self._catch_up_events = catch_up_events
        self._watchers: dict[int, Watcher] = {}
        self._local_ids: dict[int, int] = {}  # hub watcher id -> stream watch id
        self._next_id = 0
        self._outbox: deque[Outgoing] = deque()
        self._ready = asyncio.Event()
        self._progress_wanted = False

    # -- requests from the client ---------------------------------------------------
    def handle(self, request: WatchRequest) -> None:
        if isinstance(request, WatchCreateRequest):
            self._create(request)
        elif isinstance(request, WatchCancelRequest):
            self._cancel(request.watch_id)
        elif isinstance(request, WatchProgressRequest):
            if self._lagging():
                self._progress_wanted = True  # answered once every watcher has caught up
            else:
                self._push(WatchResponse(watch_id=-1), 0)

    def _create(self, request: WatchCreateRequest) -> None:
        try:
            still = self._guard.admit(request)
        except StoreError as refusal:
            code = _CODE_NAMES.get(refusal.code, "Unknown")
            self._refuse(f"rpc error: code = {code} desc = {refusal.message}")
            return
        if request.range_end not in (b"", b"\0") and (request.key or b"\0") >= request.range_end:
            self._refuse(_EMPTY_RANGE)
            return
        watch_id = request.watch_id
        if watch_id == 0:  # etcd's AutoWatchID: the next free number, never one given before
            while self._next_id in self._watchers:
                self._next_id += 1
            watch_id = self._next_id
            self._next_id += 1
        elif watch_id in self._watchers:
            self._refuse(_DUPLICATE_ID)
            return
        watcher = self._registry.hub.create(request)
        self._registry.own(watcher, self)
        self._watchers[watch_id] = watcher
        self._local_ids[watcher.id] = watch_id
        if still is not None:
            self._permits[watcher.id] = _Permit(still, self._guard.revision())
        self._push(WatchResponse(watch_id=watch_id, created=True), 0)

    def _refuse(self, reason: str) -> None:
        self._push(WatchResponse(watch_id=-1, created=True, canceled=True, cancel_reason=reason), 0)

    def _cancel(self, watch_id: int) -> None:
        watcher = self._watchers.pop(watch_id, None)
        if watcher is None:
            return  # etcd sends no reply for an unknown id
        self._local_ids.pop(watcher.id, None)
        self._permits.pop(watcher.id, None)
        self._registry.release(watcher)
        self._push(WatchResponse(watch_id=watch_id, canceled=True), 0)

    def wants_fragments(self, watch_id: int) -> bool:
        """Whether the watch ``watch_id`` was created with ``fragment`` (its large responses go in pieces)."""
        watcher = self._watchers.get(watch_id)
        return watcher is not None and watcher.spec.fragment

    def close(self) -> None:
        """Cancel every watcher of this stream (the client went away)."""
        for watcher in self._watchers.values():
            self._registry.release(watcher)
        self._watchers.clear()
        self._local_ids.clear()
        self._permits.clear()

    # -- deliveries -------------------------------------------------------------------
    def offer(self, watcher: Watcher, events: tuple[Event, ...], revision: int) -> bool:
        """Queue live events; False when the outbox is full (the caller marks the watcher unsynced).
        A watch no longer permitted takes them, canceled instead (rule 5)."""
        if not self._permitted(watcher):
            return True
        if len(self._outbox) >= self._max_queued:
            return False
        self._push_events(watcher, events, revision)
        return True

    def progress(self) -> None:
        """Queue a progress notification for every synced watcher that asked for them."""
        unsynced = {w.id for w in self._registry.hub.unsynced()}
        for watch_id, watcher in self._watchers.items():
            if watcher.spec.progress_notify and watcher.id not in unsynced:
                self._push(WatchResponse(watch_id=watch_id), 0)

    def wake(self) -> None:
        self._ready.set()

    async def next_batch(self) -> list[Outgoing]:
        """Wait for something to send: queued responses, or catch-up of lagging watchers."""
        while True:
            self._sweep()
            self._catch_up()
            if self._outbox:
                batch = list(self._outbox)
                self._outbox.clear()
                return batch
            self._ready.clear()
            await self._ready.wait()

    def _lagging(self) -> list[Watcher]:
        return [w for w in self._registry.hub.unsynced() if w.id in self._local_ids]

    def _catch_up(self) -> None:
        lagging = self._lagging()
        for watcher in lagging:
            if len(self._outbox) >= self._max_queued:
                return
            result = self._registry.hub.catch_up(watcher, self._catch_up_events)
            watch_id = self._local_ids[watcher.id]
            if result.compact_revision:
                self._drop(watch_id, watcher)
                self._push(WatchResponse(watch_id=watch_id, canceled=True,
                                         compact_revision=result.compact_revision), None)
            elif result.events:
                self._push_events(watcher, tuple(result.events), 0)
        if self._progress_wanted and not lagging:
            self._progress_wanted = False
            self._push(WatchResponse(watch_id=-1), 0)

    def _push_events(self, watcher: Watcher, events: tuple[Event, ...], revision: int) -> None:
        # A front that fragments (gRPC's) cuts the response when it encodes it; etcd's gateway
        # delivers a fragmented response joined again. Catch-up batches are bounded by
        # ``catch_up_events``.
        self._push(WatchResponse(watch_id=self._local_ids[watcher.id], events=events), revision)

    def _sweep(self) -> None:
        """Rule 5 for every watch, once per auth revision."""
        revision = self._guard.revision()
        if revision != self._swept:
            self._swept = revision
            for watcher in list(self._watchers.values()):
                self._permitted(watcher)

    def _permitted(self, watcher: Watcher) -> bool:
        """Rule 5: whether ``watcher`` may go on; if not, it is canceled saying so."""
        permit = self._permits.get(watcher.id)
        if permit is None or permit.revision == (revision := self._guard.revision()):
            return True
        if permit.still():
            permit.revision = revision
            return True
        watch_id = self._local_ids[watcher.id]
        self._drop(watch_id, watcher)
        self._push(WatchResponse(watch_id=watch_id, canceled=True, cancel_reason=_NO_LONGER_PERMITTED), 0)
        return False

    def _drop(self, watch_id: int, watcher: Watcher) -> None:
        self._watchers.pop(watch_id, None)
        self._local_ids.pop(watcher.id, None)
        self._permits.pop(watcher.id, None)
        self._registry.release(watcher)

    def _push(self, response: WatchResponse, header_revision: int | None) -> None:
        self._outbox.append(Outgoing(response, header_revision))
        self._ready.set()
