"""Long-poll decisions: which waiting requests a change wakes, and whether ``prev_version`` is stale (pure).

Rules:
1. A waiting request is an ``Interest``: a host, a view (``root`` or
   ``self``) and a path. Waiters with equal interests are decided once.
2. A change wakes an interest only when what that host sees there differs
   between the old and the new state: a change elsewhere, one the host's
   rules hide, or one that leaves the answer equal wakes nobody. A cheap
   test on the changed keys (``touches``) comes first; the two answers are
   compared only when it passes.
3. ``ChangeLog`` remembers which keys the last ``history_max`` revisions
   changed. ``prev_version=N`` is answered at once when a key the request
   could see changed after ``N`` (judged by ``touches`` against the current
   state: at worst one answer that did not change), or when ``N`` is outside
   the remembered history (older, or a revision this state has not reached).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from confagent.metad._state import MetadState
from confagent.metad._tree import Node

__all__ = ["HISTORY_MAX", "ChangeLog", "Interest", "WaitRegistry", "touches"]

T = TypeVar("T")

HISTORY_MAX = 1024
"""Revisions whose changed keys are kept for ``prev_version``."""
KEYS_PER_REVISION_MAX = 4096
"""A revision changing more keys is remembered as "everything changed"."""


@dataclass(frozen=True, slots=True)
class Interest:
    """What one waiting request reads: ``kind`` is ``root`` (``/{path}``) or ``self`` (``/self/{path}``)."""

    ip: str
    kind: Literal["root", "self"]
    path: str

    def read(self, state: MetadState) -> Node | None:
        """The answer this request gets from ``state`` (None: 404)."""
        if self.kind == "self":
            return state.self_view(self.ip, self.path)
        return state.root_view(self.ip, self.path)


def touches(interest: Interest, state: MetadState, keys: Iterable[str]) -> bool:
    """True when one of ``keys`` may change what ``interest`` reads in ``state`` (rule 2's cheap test)."""
    layout = state.layout
    ip = interest.ip
    scope: tuple[str, ...] | None = None
    access = state.access(ip)
    for key in keys:
        host = layout.host_of(key)
        if host is not None:
            if host[1] == ip:
                return True
            continue
        path = layout.data_path(key)
        if path is None or access is None:
            continue
        if scope is None:
            scope = state.scope(ip, interest.kind, interest.path)
            if interest.kind == "root" and interest.path == "/":
                scope = ("/",)
        if _within_any(path, scope) and access.can_read(path):
            return True
    return False


def _within_any(path: str, roots: tuple[str, ...]) -> bool:
    return any(root in ("/", path) or path.startswith(root + "/") for root in roots)


class WaitRegistry(Generic[T]):
    """Waiting requests, grouped by interest; ``T`` is the caller's handle of one request."""

    def __init__(self) -> None:
        self._waiting: dict[Interest, set[T]] = {}

    def __len__(self) -> int:
        return sum(len(handles) for handles in self._waiting.values())

    def add(self, interest: Interest, handle: T) -> None:
        self._waiting.setdefault(interest, set()).add(handle)

    def discard(self, interest: Interest, handle: T) -> None:
        handles = self._waiting.get(interest)
        if handles is not None:
            handles.discard(handle)
            if not handles:
                del self._waiting[interest]

    def drain(self) -> Iterator[T]:
        """Remove and yield every handle (the service is stopping: answer them all)."""
        waiting, self._waiting = self._waiting, {}
        for handles in waiting.values():
            yield from handles

    def woken(self, old: MetadState, new: MetadState, changed: frozenset[str]) -> Iterator[T]:
        """Remove and yield the handles of every request the change from ``old`` to ``new`` wakes."""
        for interest in [i for i in self._waiting if _wakes(i, old, new, changed)]:
            yield from self._waiting.pop(interest)


def _wakes(interest: Interest, old: MetadState, new: MetadState, changed: frozenset[str]) -> bool:
    if not (touches(interest, new, changed) or touches(interest, old, changed)):
        return False
    return interest.read(old) != interest.read(new)


@dataclass(frozen=True, slots=True)
class _Entry:
    revision: int
    after: int
    keys: frozenset[str] | None  # None: too many to remember, treat as "everything"


class ChangeLog:
    """The keys each recent revision changed (rule 3), from revision ``current`` (the first state's) on."""

    def __init__(self, current: int, history_max: int = HISTORY_MAX) -> None:
        self.current = current
        self._entries: deque[_Entry] = deque(maxlen=history_max)

    def record(self, revision: int, changed: frozenset[str]) -> None:
        """The state moved from ``current`` to ``revision`` changing ``changed``."""
        assert revision >= self.current, (revision, self.current)
        keys = changed if len(changed) <= KEYS_PER_REVISION_MAX else None
        self._entries.append(_Entry(revision, self.current, keys))
        self.current = revision

    def stale(self, interest: Interest, state: MetadState, prev_version: int) -> bool:
        """True when a request that last saw ``prev_version`` should be answered at once (rule 3)."""
        if prev_version == self.current:
            return False
        oldest = self._entries[0].after if self._entries else self.current
        if not oldest <= prev_version <= self.current:
            return True
        for entry in reversed(self._entries):
            if entry.revision <= prev_version:
                break
            if entry.keys is None or touches(interest, state, entry.keys):
                return True
        return False
