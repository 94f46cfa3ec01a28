"""Where a call's outcome goes: an :class:`Answer` calls its receiver at once, in the step that decided it.

A write is decided when its entry is applied, in the driver's apply step.
A caller that awaits a future is woken a loop turn later, after the driver
has finished its Ready; a caller that gives an ``Answer`` is told right
there (the gRPC front writes a put's answer to its socket from the apply
step: no task woken, no coroutine chain resumed).

Rules:
1. An answer is given once: a result or an error, whichever comes first;
   later ones are dropped (``done``).
2. ``after(shape)`` makes the answer of an earlier step: its result is shaped
   (a write's ``Applied`` into the response and its header, then into the
   protocol's bytes) before it is given here; an exception raised by
   ``shape`` is given as the error, so that a bug in a later layer never
   raises into the step that decided the outcome (the driver).
3. ``cancel`` (the member stops) gives nothing: as a task cancelled while it
   awaited, the call is not answered.
4. An awaiting caller uses ``settling(future)``: the same path, ending in the
   future (``answered``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Answer", "Outcome", "answered"]

T = TypeVar("T")
U = TypeVar("U")
R = TypeVar("R")


class Outcome(Protocol):
    """What ``Proposals`` answers a write through: an :class:`Answer`, or an ``asyncio.Future``."""

    def done(self) -> bool: ...

    def set_result(self, result: Any, /) -> None: ...

    def set_exception(self, exception: BaseException, /) -> None: ...

    def cancel(self, msg: Any | None = None) -> bool: ...


class Answer(Generic[T]):
    """One outcome, given to ``on_result`` or ``on_error`` at once (module rules)."""

    __slots__ = ("_done", "_on_error", "_on_result")

    def __init__(self, on_result: Callable[[T], None], on_error: Callable[[BaseException], None]) -> None:
        self._on_result = on_result
        self._on_error = on_error
        self._done = False

    @classmethod
    def settling(cls, future: asyncio.Future[T]) -> Answer[T]:
        """An answer that settles ``future``, unless it is done already (cancelled: rule 4)."""
        def on_result(result: T) -> None:
            if not future.done():
                future.set_result(result)

        def on_error(error: BaseException) -> None:
            if not future.done():
                future.set_exception(error)
        return cls(on_result, on_error)

    def done(self) -> bool:
        return self._done

    def set_result(self, result: T, /) -> None:
        if not self._done:
            self._done = True
            self._on_result(result)

    def set_exception(self, exception: BaseException, /) -> None:
        if not self._done:
            self._done = True
            self._on_error(exception)

    def cancel(self, msg: Any | None = None) -> bool:
        """The member stops: nothing is given (rule 3)."""
        self._done = True
        return True

    def after(self, shape: Callable[[U], T]) -> Answer[U]:
        """The answer of the step before this one: its result ``shape``d, then given here (rule 2)."""
        def on_result(result: U) -> None:
            try:
                shaped = shape(result)
            except Exception as error:  # given as the call's error: the front maps it (rule 2)
                self.set_exception(error)
                return
            self.set_result(shaped)
        return Answer(on_result, self.set_exception)


async def answered(start: Callable[[R, Answer[T]], Awaitable[None]], request: R) -> T:
    """What ``start`` answers ``request``, awaited (rule 4): the JSON gateway's way to a write's outcome.

    Raises:
        BaseException: what ``start`` raises, or the error given to the answer.
    """
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    await start(request, Answer.settling(future))
    return await future
