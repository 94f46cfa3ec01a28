"""``watch_config``: reload the agent when its ``conf.d`` or ``templates`` directory changes.

Rules:
1. Both directories of the confdir are watched with ``watchfiles.awatch``
   (recursively: templates may include others from sub-directories); a
   burst of changes within ``DEBOUNCE_MS`` gives one reload.
2. A reload goes through the same path as SIGHUP (``on_change``), so a
   broken configuration keeps the running one.
3. A directory that does not exist yet is not watched (``conf.d`` must exist
   to start; ``templates`` may be created later: it is then picked up at the
   next SIGHUP or ``conf.d`` change). Returns when ``stop`` is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import watchfiles

__all__ = ["DEBOUNCE_MS", "watch_config"]

DEBOUNCE_MS = 200


async def watch_config(confdir: Path, on_change: Callable[[], None], stop: asyncio.Event) -> None:
    """Call ``on_change`` after each burst of changes under ``confdir/conf.d`` or ``confdir/templates``."""
    watched = [path for path in (confdir / "conf.d", confdir / "templates") if path.is_dir()]
    if not watched:
        await stop.wait()
        return
    async for _changes in watchfiles.awatch(*watched, debounce=DEBOUNCE_MS, step=50, stop_event=stop,
                                            recursive=True, ignore_permission_denied=True):
        on_change()
