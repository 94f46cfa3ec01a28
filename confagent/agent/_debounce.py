"""``Debouncer``: when each resource with pending changes is due to render (quiescence, as consul-template).

Rules:
1. A resource marked with a ``Wait(min_s, max_s)`` is due ``min_s`` after
   the last mark, but no later than ``max_s`` after the first mark of the
   burst: a steady stream of changes still renders every ``max_s``.
2. Without a wait (None), or with ``mark_now``, it is due at once.
3. ``take_due`` hands out the due resources and forgets them; a mark after
   that starts a new burst.
4. Time is a parameter (monotonic seconds); nothing here sleeps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confagent.resource import Wait

__all__ = ["Debouncer"]


@dataclass(slots=True)
class _Burst:
    first_s: float
    last_s: float
    wait: Wait | None

    @property
    def due_s(self) -> float:
        if self.wait is None:
            return self.first_s
        return min(self.last_s + self.wait.min_s, self.first_s + self.wait.max_s)


class Debouncer:
    """Pending bursts of changes, by resource name (module rules)."""

    __slots__ = ("_bursts",)

    def __init__(self) -> None:
        self._bursts: dict[str, _Burst] = {}

    def __len__(self) -> int:
        return len(self._bursts)

    def __contains__(self, name: object) -> bool:
        return name in self._bursts

    def mark(self, name: str, now_s: float, wait: Wait | None) -> None:
        """A change reached ``name`` at ``now_s``."""
        burst = self._bursts.get(name)
        if burst is None:
            self._bursts[name] = _Burst(now_s, now_s, wait)
        else:
            burst.last_s = now_s
            burst.wait = wait

    def mark_now(self, names: Iterable[str], now_s: float) -> None:
        """Make ``names`` due at once (a first load, a resync, an interval tick)."""
        for name in names:
            burst = self._bursts.get(name)
            first_s = now_s if burst is None else min(burst.first_s, now_s)
            self._bursts[name] = _Burst(first_s, now_s, None)

    def next_due_s(self) -> float | None:
        """When the earliest pending resource is due; None when nothing is pending."""
        return min((burst.due_s for burst in self._bursts.values()), default=None)

    def take_due(self, now_s: float) -> list[str]:
        """The resources due at ``now_s``, in name order; they are no longer pending."""
        due = sorted(name for name, burst in self._bursts.items() if burst.due_s <= now_s)
        for name in due:
            del self._bursts[name]
        return due

    def forget(self, names: Iterable[str]) -> None:
        """Drop pending bursts of resources that no longer exist."""
        for name in names:
            self._bursts.pop(name, None)
