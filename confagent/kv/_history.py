"""The change log: every retained change, in revision and sub-revision order.

Rules:
1. An entry is the very ``KeyValue`` object the key index holds: a version for
   a put, a tombstone (``version`` 0) for a delete. Nothing is copied.
2. The changes of one revision are contiguous; their order is the order of
   the operations in the write that made them (etcd's sub-revisions).
3. Compaction at C drops the changes before C, and the changes at C that the
   key index no longer holds (a delete at C, an overwritten version at C),
   as etcd's backend does. What remains is exactly what a watch from C sees.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from operator import attrgetter

from confagent.kv._messages import KeyValue

__all__ = ["ChangeLog"]

_mod_revision = attrgetter("mod_revision")


class ChangeLog:
    """Changes since the last compaction, shared with the key index."""

    __slots__ = ("_changes",)

    def __init__(self) -> None:
        self._changes: list[KeyValue] = []

    def extend(self, changes: Iterable[KeyValue]) -> None:
        """Append the changes of one revision, in sub-revision order."""
        self._changes.extend(changes)

    def since(self, revision: int) -> Iterator[tuple[int, list[KeyValue]]]:
        """(revision, changes) for every revision >= ``revision``, oldest first.

        The iterator reads the live log: consume it before the next change or
        compaction.
        """
        changes = self._changes
        position = bisect_left(changes, revision, key=_mod_revision)
        end = len(changes)
        while position < end:
            current = changes[position].mod_revision
            batch = [changes[position]]
            position += 1
            while position < end and changes[position].mod_revision == current:
                batch.append(changes[position])
                position += 1
            yield current, batch

    def through(self, revision: int) -> Iterator[KeyValue]:
        """Every change with a revision <= ``revision``, oldest first."""
        changes = self._changes
        end = bisect_left(changes, revision + 1, key=_mod_revision)
        return iter(changes[:end])

    def compact(self, revision: int, retained: Callable[[KeyValue], bool]) -> None:
        """Drop what compaction at ``revision`` removes; ``retained`` says whether
        the key index still holds a change made at ``revision``."""
        changes = self._changes
        start = bisect_left(changes, revision, key=_mod_revision)
        end = bisect_left(changes, revision + 1, key=_mod_revision)
        kept = [kv for kv in changes[start:end] if retained(kv)]
        changes[:end] = kept

    def __iter__(self) -> Iterator[KeyValue]:
        return iter(self._changes)

    def __len__(self) -> int:
        return len(self._changes)
