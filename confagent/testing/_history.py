"""Histories of client operations, and a recorder that concurrent clients write them into.

An :class:`Operation` is one request as the client saw it: when it was sent
(``call_ns``), when its answer came back (``return_ns``), what was asked
(``input``) and what was answered (``output``). Times are monotonic
nanoseconds from one clock, so the real-time order of two operations is known
when one returned before the other was called.

Rules:
1. An operation whose outcome the client never learned (it timed out, its
   connection broke: an ambiguous write) has ``return_ns = math.inf`` and
   ``output = UNKNOWN``. It may have taken effect at any moment after its call,
   or never; a checker must allow both. The two always go together.
2. The recorder reads the clock when a call is made and when its answer
   arrives, so each recorded interval contains the real one. Operations still
   open when the history is read count as unknown: their clients may have died.
3. The recorder is safe to use from many threads and from many asyncio tasks:
   each method holds a lock for a few dict operations and never awaits.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final, Generic, TypeVar

__all__ = ["UNKNOWN", "CallToken", "HistoryRecorder", "Operation", "Unknown"]

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")


class Unknown(Enum):
    """The type of :data:`UNKNOWN`, the output of an operation whose outcome is not known."""

    OUTCOME = "unknown outcome"

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown.OUTCOME
"""The output of an operation whose client never learned the outcome (rule 1)."""


@dataclass(frozen=True, slots=True)
class Operation(Generic[InputT, OutputT]):
    """One client request, from its call to its return (``math.inf`` and ``UNKNOWN`` if never known)."""

    client: int
    call_ns: int
    return_ns: int | float
    input: InputT
    output: OutputT | Unknown

    def __post_init__(self) -> None:
        assert self.call_ns <= self.return_ns, f"an operation returns after its call: {self}"
        assert math.isinf(self.return_ns) == isinstance(self.output, Unknown), (
            f"an unknown outcome has return_ns = math.inf and output = UNKNOWN, and only it: {self}"
        )

    @property
    def outcome_known(self) -> bool:
        """Whether the client got an answer (rule 1)."""
        return not isinstance(self.output, Unknown)

    def __str__(self) -> str:
        answer = f" -> {self.output!r}" if self.outcome_known else " -> ? (outcome unknown)"
        return f"client {self.client}: {self.input}{answer}"


@dataclass(frozen=True, slots=True)
class CallToken:
    """Names one call made through a :class:`HistoryRecorder`; hand it back to ``ret`` or ``unknown``."""

    index: int


@dataclass(slots=True)
class _OpenCall(Generic[InputT]):
    client: int
    call_ns: int
    input: InputT


class HistoryRecorder(Generic[InputT, OutputT]):
    """Collects the operations of concurrent clients into a history (rules 2 and 3).

    Usage, in each client::

        token = recorder.call(client_id, Put("k", "v"))
        try:
            response = send(...)
        except AmbiguousWrite:
            recorder.unknown(token)
        else:
            recorder.ret(token, None)

    Args:
        clock_ns: the monotonic clock in nanoseconds, the same for every client.
    """

    def __init__(self, clock_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self._open: dict[int, _OpenCall[InputT]] = {}
        self._done: dict[int, Operation[InputT, OutputT]] = {}
        self._next_index = 0

    def call(self, client: int, input: InputT) -> CallToken:
        """Record that ``client`` sent ``input`` now; returns the token for its answer."""
        call_ns = self._clock_ns()
        with self._lock:
            token = CallToken(self._next_index)
            self._next_index += 1
            self._open[token.index] = _OpenCall(client, call_ns, input)
        return token

    def ret(self, token: CallToken, output: OutputT) -> None:
        """Record that the call named by ``token`` was answered with ``output`` now."""
        return_ns = self._clock_ns()
        self._close(token, return_ns, output)

    def unknown(self, token: CallToken) -> None:
        """Record that the call named by ``token`` will never be answered (rule 1)."""
        self._close(token, math.inf, UNKNOWN)

    def failed(self, token: CallToken) -> None:
        """Record that the call named by ``token`` certainly had no effect (a read that got no
        answer, or a definite refusal): it is left out of the history."""
        with self._lock:
            call = self._open.pop(token.index, None)
            assert call is not None, f"{token} was never made or is already closed"

    def history(self) -> list[Operation[InputT, OutputT]]:
        """Every operation so far in call order; the ones still open as unknown (rule 2)."""
        with self._lock:
            operations = dict(self._done)
            for index, call in self._open.items():
                operations[index] = Operation(call.client, call.call_ns, math.inf, call.input, UNKNOWN)
        return [operations[index] for index in sorted(operations)]

    def _close(self, token: CallToken, return_ns: int | float, output: OutputT | Unknown) -> None:
        with self._lock:
            call = self._open.pop(token.index, None)
            assert call is not None, f"{token} was never made or is already closed"
            self._done[token.index] = Operation(call.client, call.call_ns, return_ns, call.input, output)
