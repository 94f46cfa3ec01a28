"""``MetadService``: the metadata kept in memory by one watch, long-poll waits, and writes seen when answered.

Rules:
1. One ``PrefixCache`` over the data, mapping and rule prefixes feeds one
   ``MetadState`` per revision; every read is served from the current state,
   synchronously (no await between reading the state and rendering it).
2. On each new state, the ``WaitRegistry`` names the waiting requests whose
   answer changed (``_waits.py``); their futures are resolved at once, with
   no coalescing delay (the store delivers a revision's changes together).
3. A write is answered only once the state has reached the write's revision
   (metad answers before, so a read right after may miss it), bounded by
   ``visible_timeout_s``: past it the write still stands and is answered.
   A write that changes no value (the same values again) is answered at
   once: the state already shows it, and the cache reports no change.
4. Problems of the cache (the store unreachable, history compacted) are
   handed to ``on_trouble`` for the caller to log; the cache recovers alone,
   and says so once (``CacheRecovered``, handed over too) when a store that
   failed answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confagent.backends import Backend, CacheConfig, CacheRecovered, CacheTrouble, CacheUpdate, PrefixCache
from confagent.metad._paths import Layout
from confagent.metad._state import MetadState
from confagent.metad._store import StoreWriter
from confagent.metad._waits import ChangeLog, Interest, WaitRegistry
from confagent.metad._writes import WritePlan

__all__ = ["MetadService", "ServiceLimits"]


@dataclass(frozen=True, slots=True)
class ServiceLimits:
    """The service's bounds.

    Attributes:
        wait_max_s: the longest a long-poll request waits before it is answered unchanged.
        visible_timeout_s: the longest a write waits to be seen in the state (rule 3).
        waiting_max: waiting requests held at once; one more is answered at once.
    """

    wait_max_s: float = 300.0
    visible_timeout_s: float = 5.0
    waiting_max: int = 100_000


class MetadService:
    """The metadata of one layout over one store (module rules)."""

    def __init__(self, layout: Layout, backend: Backend, writer: StoreWriter,
                 limits: ServiceLimits | None = None, *, cache_config: CacheConfig | None = None,
                 on_trouble: Callable[[CacheTrouble | CacheRecovered], None] | None = None) -> None:
        self.layout = layout
        self.limits = limits or ServiceLimits()
        self.state = MetadState(layout)
        self.loaded = asyncio.Event()
        self.trouble: CacheTrouble | None = None
        self._writer = writer
        self._cache = PrefixCache(backend, layout.watched_prefixes, cache_config)
        self._on_trouble = on_trouble
        self._waits: WaitRegistry[asyncio.Future[None]] = WaitRegistry()
        self._log = ChangeLog(0)
        self._progress = asyncio.Condition()

    @property
    def waiting(self) -> int:
        """Requests waiting for a change now."""
        return len(self._waits)

    async def run(self) -> None:
        """Follow the store until the backend is closed (rules 1-2, 4)."""
        async with contextlib.aclosing(self._cache.events()) as events:
            async for event in events:
                if isinstance(event, CacheTrouble | CacheRecovered):
                    self.trouble = event if isinstance(event, CacheTrouble) else None
                    if self._on_trouble is not None:
                        self._on_trouble(event)
                    continue
                self.trouble = None
                await self._advance(event)

    async def _advance(self, update: CacheUpdate) -> None:
        old = self.state
        if update.resynced:
            new = MetadState(self.layout, update.view)
        else:
            new = old.updated(update.view, update.changed)
        self.state = new
        if not self.loaded.is_set():
            self._log = ChangeLog(new.revision)
            self.loaded.set()
        else:
            self._log.record(new.revision, update.changed)
        for future in self._waits.woken(old, new, update.changed):
            if not future.done():
                future.set_result(None)
        async with self._progress:
            self._progress.notify_all()

    def release_waiters(self) -> None:
        """Answer every waiting request now (the service is stopping)."""
        for future in self._waits.drain():
            if not future.done():
                future.set_result(None)

    async def wait_change(self, interest: Interest, prev_version: int, timeout_s: float,
                          disconnected: asyncio.Future[Any]) -> bool:
        """Wait until what ``interest`` reads changes; False when the client left first.

        Answers at once when ``prev_version`` (not 0) is stale (``ChangeLog.stale``) or
        the registry is full; otherwise after a change, after ``timeout_s``, or when
        ``disconnected`` (the caller's task watching the connection) completes.
        """
        if prev_version and self._log.stale(interest, self.state, prev_version):
            return True
        if len(self._waits) >= self.limits.waiting_max:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waits.add(interest, future)
        try:
            await asyncio.wait((future, disconnected), timeout=min(timeout_s, self.limits.wait_max_s),
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waits.discard(interest, future)
        return not disconnected.done()

    async def write(self, plan: WritePlan) -> int:
        """Apply ``plan``'s txns in order; the last revision, once the state shows it (rule 3).

        Raises:
            StoreError, ClientError: the store refused a txn or did not answer (earlier
                txns of a split plan stay applied).
        """
        revision = 0
        repeated = plan.changes_nothing(self.state.view)  # the cache reports no change for those
        for txn in plan.txns:
            revision = max(revision, await self._writer.apply(txn))
        if revision and not repeated:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.limits.visible_timeout_s), self._progress:
                    await self._progress.wait_for(lambda: self.state.revision >= revision)
        return revision
