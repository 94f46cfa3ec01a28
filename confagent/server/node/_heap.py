"""HeapFreezer: keeps the cyclic garbage collector's full collections short while a member runs.

A member's state is hundreds of thousands of long-lived objects (every retained
version is a ``KeyValue``), and CPython's full collection walks all of them while
every request waits: 100-300 ms each, every few seconds under load, growing with
the history (``etcdctl check perf --load l``'s slowest requests). Almost none of
them is ever garbage: versions are freed by reference counting when compaction
drops them, without the collector.

Rules:
1. When a full collection ends, what survived it is frozen (``gc.freeze``): it has
   just been found reachable, so no garbage is frozen then, and the next full
   collections walk only what came after.
2. Frozen objects are still freed by reference counting; only a reference cycle
   that becomes garbage while frozen waits. Every ``thaw_every`` full collections,
   the collection starts by thawing everything (``gc.unfreeze``), so such cycles
   are collected then, in one full-length pause instead of every time.
3. The collector's own schedule is left alone (when a collection runs, its
   generations and thresholds): this only decides what a full collection walks.
4. Process-wide, as the collector is: installed while a member runs
   (``install``/``uninstall``, idempotent), and everything is thawed at uninstall.
"""

from __future__ import annotations

import gc
from typing import Any

__all__ = ["THAW_EVERY", "HeapFreezer"]

THAW_EVERY = 16
"""Full collections between two that walk every object (rule 2)."""

_OLDEST = 2


class HeapFreezer:
    """Freezes the survivors of each full collection (rules in the module doc)."""

    def __init__(self, thaw_every: int = THAW_EVERY) -> None:
        assert thaw_every >= 1, "a full collection walks everything at least every thaw_every"
        self._thaw_every = thaw_every
        self._full_collections = 0

    def install(self) -> None:
        if self._on_collection not in gc.callbacks:
            gc.callbacks.append(self._on_collection)

    def uninstall(self) -> None:
        if self._on_collection in gc.callbacks:
            gc.callbacks.remove(self._on_collection)
            gc.unfreeze()

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != _OLDEST:
            return
        if phase == "start":
            self._full_collections += 1
            if self._full_collections % self._thaw_every == 0:
                gc.unfreeze()
        else:
            gc.freeze()
