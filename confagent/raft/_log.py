"""The Raft log as the core sees it: a stable prefix, an unstable tail, and the commit and apply marks.

Rules:
1. ``stable`` entries are on disk (the driver said so by ``stable_to``); ``unstable``
   entries were handed out in a ``Ready`` or are waiting to be.
2. ``committed`` never decreases; ``applied <= committed`` always.
3. Entries at or below ``offset`` (the snapshot index) are gone; their term is
   remembered only for ``offset`` itself, so log matching still works there.
"""

from __future__ import annotations

from collections.abc import Sequence

from confagent.raft._types import Entry, SnapshotMeta

__all__ = ["RaftLog"]


class RaftLog:
    """An in-memory view of the log since the last snapshot (pure; no I/O)."""

    def __init__(self, snapshot: SnapshotMeta | None, entries: Sequence[Entry], committed: int) -> None:
        self.offset = snapshot.index if snapshot else 0
        self.offset_term = snapshot.term if snapshot else 0
        self._entries: list[Entry] = list(entries)
        self.stable_index = self.last_index
        self.committed = max(committed, self.offset)
        self.applied = self.offset
        assert all(e.index == self.offset + 1 + i for i, e in enumerate(self._entries)), "gap in log"

    @property
    def last_index(self) -> int:
        return self._entries[-1].index if self._entries else self.offset

    @property
    def last_term(self) -> int:
        return self._entries[-1].term if self._entries else self.offset_term

    def term_at(self, index: int) -> int | None:
        """The term of the entry at ``index``; None when compacted away or not yet written."""
        if index == self.offset:
            return self.offset_term
        if index < self.offset or index > self.last_index:
            return None
        return self._entries[index - self.offset - 1].term

    def append(self, entries: Sequence[Entry]) -> None:
        """Append, replacing any conflicting suffix (entries must start at or below last_index + 1)."""
        if not entries:
            return
        first = entries[0].index
        assert self.committed < first <= self.last_index + 1, "append would rewrite committed log"
        del self._entries[first - self.offset - 1:]
        self._entries.extend(entries)
        self.stable_index = min(self.stable_index, first - 1)

    def unstable(self) -> tuple[Entry, ...]:
        return tuple(self._entries[self.stable_index - self.offset:])

    def stable_to(self, index: int) -> None:
        self.stable_index = max(self.stable_index, min(index, self.last_index))

    def commit_to(self, index: int) -> bool:
        if index <= self.committed:
            return False
        assert index <= self.last_index, "commit beyond the log"
        self.committed = index
        return True

    def to_apply(self) -> tuple[Entry, ...]:
        """Committed entries not yet applied."""
        return tuple(self._entries[self.applied - self.offset:self.committed - self.offset])

    def applied_to(self, index: int) -> None:
        assert self.applied <= index <= self.committed, "apply beyond commit"
        self.applied = index

    def slice(self, low: int, high: int) -> tuple[Entry, ...]:
        """Entries with low <= index < high (all present: the caller checked ``low > offset``)."""
        return tuple(self._entries[low - self.offset - 1:high - self.offset - 1])

    def compact(self, meta: SnapshotMeta) -> None:
        """Forget entries covered by a snapshot taken at ``meta.index`` (already applied)."""
        assert meta.index <= self.applied, "compacting unapplied entries"
        if meta.index <= self.offset:
            return
        del self._entries[:meta.index - self.offset]
        self.offset, self.offset_term = meta.index, meta.term
