"""Linearizable reads in batches: every read that arrives before a ReadIndex request is issued
shares it; reads that arrive later wait for the next one (joining an earlier request would let
them miss a write acknowledged before they arrived).

The driver takes the open batch (``take``), asks Raft for its read index, and reports the
answer (``confirmed`` or ``failed``); readers then wait until that index is applied
(``AppliedWaiters``, told by the driver what it ``reached``). ``LinearizableReads`` is both,
as a member's reads use them (``wait``).

A batch's context is unique across members (a random per-process prefix, then a counter):
the leader keeps every member's pending reads by context alone, and a context that
collided with another member's would be dropped there, its readers left to time out.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
from collections.abc import Callable
from typing import Any

from confagent.errors import Unavailable

__all__ = ["AppliedWaiters", "LinearizableReads", "ReadBarrier"]


class ReadBarrier:
    """The open batch of reads, and the batches whose ReadIndex is in flight."""

    def __init__(self) -> None:
        self._open: asyncio.Future[int] | None = None
        self._in_flight: dict[bytes, asyncio.Future[int]] = {}
        self._context_prefix = os.urandom(8)
        self._contexts = itertools.count(1)

    def join(self) -> asyncio.Future[int]:
        """The future read index of the batch open now (a new one if none is)."""
        if self._open is None:
            self._open = asyncio.get_running_loop().create_future()
        return self._open

    def take(self) -> bytes | None:
        """Close the open batch and return its context for a ReadIndex request; None if no batch."""
        if self._open is None:
            return None
        context = self._context_prefix + next(self._contexts).to_bytes(8, "big")
        self._in_flight[context] = self._open
        self._open = None
        return context

    def confirmed(self, context: bytes, index: int) -> None:
        future = self._in_flight.pop(context, None)
        if future is not None and not future.done():
            future.set_result(index)

    def failed(self, context: bytes, error: BaseException) -> None:
        future = self._in_flight.pop(context, None)
        if future is not None and not future.done():
            future.set_exception(error)

    def cancel_all(self, error: BaseException | None = None) -> None:
        """Cancel every read waiting, or fail it with ``error``."""
        for future in [*self._in_flight.values(), *([self._open] if self._open else [])]:
            _end(future, error)
        self._in_flight.clear()
        self._open = None


class AppliedWaiters:
    """Futures waiting for the state machine to reach an index."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def wait(self, index: int, applied: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if index <= applied:
            future.set_result(None)
        else:
            heapq.heappush(self._heap, (index, next(self._order), future))
        return future

    def reached(self, applied: int) -> None:
        while self._heap and self._heap[0][0] <= applied:
            _, _, future = heapq.heappop(self._heap)
            if not future.done():
                future.set_result(None)

    def cancel_all(self, error: BaseException | None = None) -> None:
        """Cancel every wait, or fail it with ``error``."""
        for _, _, future in self._heap:
            _end(future, error)
        self._heap.clear()


class LinearizableReads:
    """A member's linearizable reads: the batches of its ReadIndex rounds, then the waits for
    their index to be applied. The driver reads and feeds ``batches`` and ``applied``."""

    def __init__(self, wake: Callable[[], None], timeout_s: float) -> None:
        self.batches = ReadBarrier()
        self.applied = AppliedWaiters()
        self._wake = wake
        self._timeout_s = timeout_s

    async def wait(self, applied_index: Callable[[], int]) -> None:
        """Return once this member applied the read index of a batch opened now or before.

        Raises:
            Unavailable: no leader confirmed the read within ``timeout_s``.
        """
        try:
            async with asyncio.timeout(self._timeout_s):
                batch = self.batches.join()
                self._wake()
                index = await asyncio.shield(batch)
                await self.applied.wait(index, applied_index())
        except TimeoutError:
            raise Unavailable() from None

    def cancel_all(self, error: BaseException | None = None) -> None:
        """Cancel every read waiting, or fail it with ``error``."""
        self.batches.cancel_all(error)
        self.applied.cancel_all(error)


def _end(future: asyncio.Future[Any], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.cancel()
    else:
        future.set_exception(error)
