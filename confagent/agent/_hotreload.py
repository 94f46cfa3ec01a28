"""``watch_config``: reload the agent when its ``conf.d`` or ``templates`` directory changes.

Rules:
1. The confdir is watched with ``watchfiles.awatch``, recursively
   (templates may include others from sub-directories), and only changes
   under ``conf.d`` or ``templates`` count, the directories themselves
   included: a ``templates`` directory created after the start is seen like
   any other change. A burst of changes within ``DEBOUNCE_MS`` gives one
   reload.
2. A reload goes through the same path as SIGHUP (``on_change``), so a
   broken configuration keeps the running one.
3. Returns when ``stop`` is set.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import watchfiles

__all__ = ["DEBOUNCE_MS", "WATCHED", "config_changes", "watch_config"]

DEBOUNCE_MS = 200


WATCHED = ("conf.d", "templates")
"""The confdir's entries whose changes reload the agent."""


def config_changes(confdir: Path) -> Callable[[watchfiles.Change, str], bool]:
    """A ``watch_filter`` keeping the changes under ``confdir``'s ``conf.d`` and ``templates`` (rule 1)."""
    tops = tuple(str(confdir / name) for name in WATCHED)

    def counts(_change: watchfiles.Change, path: str) -> bool:
        return any(path == top or path.startswith(top + os.sep) for top in tops)

    return counts


async def watch_config(confdir: Path, on_change: Callable[[], None], stop: asyncio.Event) -> None:
    """Call ``on_change`` after each burst of changes under ``confdir/conf.d`` or ``confdir/templates``."""
    changes = watchfiles.awatch(confdir, watch_filter=config_changes(confdir), debounce=DEBOUNCE_MS, step=50,
                                stop_event=stop, recursive=True, ignore_permission_denied=True)
    async for _batch in changes:
        on_change()
