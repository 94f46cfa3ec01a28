"""A backend's change stream pulled on a task of its own into a bounded buffer.

The cache needs to wait for "the next change, or the verification deadline,
whichever comes first" and to look at the next change without taking it. An
async iterator cannot be abandoned mid-``await`` and resumed, so a task pulls
it; when the buffer holds ``limit`` changes the task stops pulling (the
backend's stream backs up, nothing is dropped). The stream's end or error is
kept and handed over after the changes before it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from contextlib import aclosing

from confagent.backends._base import Backend, Change

__all__ = ["ChangeFeed"]


class ChangeFeed:
    """``backend.changes(prefixes, after)``, buffered (module docstring). Call ``close``."""

    def __init__(self, backend: Backend, prefixes: Sequence[str], after: int, limit: int) -> None:
        self._buffer: deque[Change] = deque()
        self._limit = limit
        self._arrived = asyncio.Event()
        self._taken = asyncio.Event()
        self.ended = False
        self.failure: Exception | None = None
        self._task = asyncio.create_task(self._pull(backend, prefixes, after),
                                         name=f"{backend.name} changes after {after}")

    async def _pull(self, backend: Backend, prefixes: Sequence[str], after: int) -> None:
        try:
            async with aclosing(backend.changes(prefixes, after)) as changes:
                async for change in changes:
                    while len(self._buffer) >= self._limit:
                        self._taken.clear()
                        await self._taken.wait()
                    self._buffer.append(change)
                    self._arrived.set()
        except Exception as error:  # handed to the consumer, who raises it (never swallowed)
            self.failure = error
        finally:
            self.ended = True
            self._arrived.set()

    def peek(self) -> Change | None:
        """The next change without taking it; None when none is buffered."""
        return self._buffer[0] if self._buffer else None

    def take(self) -> Change:
        change = self._buffer.popleft()
        self._taken.set()
        return change

    def check(self) -> bool:
        """False when the stream ended normally and everything was taken; raises its error.

        Raises:
            Exception: the stream's error, once every change before it was taken.
        """
        if self._buffer or not self.ended:
            return True
        if self.failure is not None:
            raise self.failure
        return False

    async def wait(self, timeout_s: float | None) -> bool:
        """Wait until a change is buffered or the stream ended; False on timeout."""
        if self._buffer or self.ended:
            return True
        self._arrived.clear()
        try:
            async with asyncio.timeout(timeout_s):
                await self._arrived.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop pulling; the backend's iterator is closed."""
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
