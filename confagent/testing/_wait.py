"""Bounded waits on an observable condition: the one way a test waits for something to happen.

Rules: a wait always has a deadline and a message saying what it waited for (and,
given a log file, that log's tail), so a timeout reads as a failed claim, never a
hang. The pause between polls only paces the loop; it is never the synchronisation.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["DEADLINE_S", "eventually", "until", "until_async"]

DEADLINE_S = 30.0
"""How long a wait lasts by default: far past anything that works on a loaded machine."""

PAUSE_S = 0.02
LOG_TAIL_CHARS = 3000

T = TypeVar("T")


def until(condition: Callable[[], bool], what: str, log: Path | None = None, *,
          deadline_s: float = DEADLINE_S, pause_s: float = PAUSE_S) -> None:
    """Poll ``condition`` until it holds.

    Raises:
        AssertionError: it did not hold within ``deadline_s``; the message names ``what``
            and shows the tail of ``log`` when one is given.
    """
    eventually(condition, bool, what, deadline_s=deadline_s, pause_s=pause_s, log=log)


def eventually(probe: Callable[[], T], done: Callable[[T], bool], what: str = "the condition", *,
               deadline_s: float = DEADLINE_S, pause_s: float = PAUSE_S, log: Path | None = None) -> T:
    """Call ``probe`` until ``done`` holds for its result; that result.

    Raises:
        AssertionError: not within ``deadline_s``; the message shows the last result.
    """
    deadline = time.monotonic() + deadline_s
    while True:
        result = probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(_timed_out(what, deadline_s, log, result))
        time.sleep(pause_s)


async def until_async(condition: Callable[[], bool | Awaitable[bool]], what: str, *,
                      deadline_s: float = DEADLINE_S, pause_s: float = PAUSE_S,
                      log: Path | None = None) -> None:
    """:func:`until` inside an event loop; ``condition`` may be a coroutine function."""
    deadline = time.monotonic() + deadline_s
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if time.monotonic() > deadline:
            raise AssertionError(_timed_out(what, deadline_s, log, held))
        await asyncio.sleep(pause_s)


def _timed_out(what: str, deadline_s: float, log: Path | None, last: object) -> str:
    message = f"timed out after {deadline_s}s waiting for {what}"
    if last not in (False, None):
        message += f"; last: {last!r}"
    if log is not None and log.exists():
        message += "\n" + log.read_text(errors="replace")[-LOG_TAIL_CHARS:]
    return message
