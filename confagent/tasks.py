"""``cancel_and_wait``, ``wait_or_cancel``: end asyncio tasks within a bound, so that stopping
never waits forever.

Every stop path (a store member's, its peer transport's, the agent's) ends its
tasks with these functions rather than ``gather``: a task that does not end once
cancelled (one that caught the ``CancelledError``, or whose cleanup waits on a
peer that does not answer) would otherwise hold the process past SIGTERM.

Rules:
1. ``cancel_and_wait`` cancels each task still running, then waits for them at
   most ``timeout_s``. ``wait_or_cancel`` only waits, for tasks that end by
   themselves once their connection is closed (asyncio's connection handlers,
   whose cancellation asyncio reports as an error).
2. A task still running after ``timeout_s`` is cancelled (once more) and
   returned by name, for the caller to report; nothing waits for it any longer.
3. What the tasks that ended raised is consumed (they were being stopped),
   so asyncio does not report it as never retrieved.

Why a cancelled task may not end: on Python 3.11 ``asyncio.wait_for`` returns
the awaited result (or raises its error) instead of the cancellation when both
arrive in the same loop iteration (python/cpython#86296), so a loop around it
carries on. Use ``asyncio.timeout`` instead of ``wait_for``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

__all__ = ["TASK_STOP_S", "cancel_and_wait", "wait_or_cancel"]

TASK_STOP_S = 2.0
"""How long a stop waits for cancelled tasks: they end within a few loop iterations, so this
is room for a loaded host, not a wait anyone should see."""


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], timeout_s: float = TASK_STOP_S) -> list[str]:
    """Cancel ``tasks`` and wait for them to end, for at most ``timeout_s`` (module rules).

    Returns:
        The names of the tasks still running after ``timeout_s`` (cancelled again), sorted.
    """
    running = [task for task in tasks if not task.done()]
    for task in running:
        task.cancel()
    return await wait_or_cancel(running, timeout_s)


async def wait_or_cancel(tasks: Iterable[asyncio.Task[Any]], timeout_s: float = TASK_STOP_S) -> list[str]:
    """Wait for ``tasks`` to end, for at most ``timeout_s``, then cancel the ones still running
    (module rules).

    Returns:
        The names of the tasks still running after ``timeout_s`` (cancelled), sorted.
    """
    running = [task for task in tasks if not task.done()]
    if running:
        _done, pending = await asyncio.wait(running, timeout=timeout_s)
    else:
        pending = set()
    for task in pending:
        task.cancel()
    for task in running:
        if task.done() and not task.cancelled():
            task.exception()  # rule 3: retrieved
    return sorted(task.get_name() for task in pending)
