"""The Raft log as the core sees it: a stable prefix, an unstable tail, and the commit and apply marks.

Rules:
1. ``stable`` entries are on disk (the driver said so through ``advance``);
   the ``unstable`` ones, and a ``pending_snapshot``, were handed out in a
   ``Ready`` or are waiting to be.
2. ``committed`` never decreases and never passes ``last_index``; ``applied <= committed``.
3. Entries at or below ``offset`` (the snapshot index) are gone; their term is
   remembered only for ``offset`` itself, so log matching still works there.
4. A committed entry is never overwritten (asserted: it would be a safety bug).
5. ``slice`` hands out the same tuple for the same range until the log changes
   (at most ``SLICES_KEPT`` ranges): followers at one position, most often the
   learners, are sent one tuple, which the peer transport encodes once.
"""

from __future__ import annotations

from collections.abc import Sequence

from confagent.raft._types import Entry, EntryType, Snapshot, SnapshotMeta

__all__ = ["SLICES_KEPT", "RaftLog"]

SLICES_KEPT = 16
"""Ranges ``slice`` remembers between two changes of the log (rule 5)."""


class RaftLog:
    """An in-memory view of the log since the last snapshot (pure; no I/O)."""

    def __init__(self, snapshot: SnapshotMeta | None, entries: Sequence[Entry], committed: int) -> None:
        self.offset = snapshot.index if snapshot else 0
        self.offset_term = snapshot.term if snapshot else 0
        self._entries: list[Entry] = list(entries)
        assert all(e.index == self.offset + 1 + i for i, e in enumerate(self._entries)), "gap in log"
        self.stable_index = self.last_index
        self.committed = max(committed, self.offset)
        assert self.committed <= self.last_index, "hard state commits past the log's end"
        self.applied = self.offset
        self.pending_snapshot: Snapshot | None = None
        self._slices: dict[tuple[int, int, int | None], tuple[Entry, ...]] = {}

    def __repr__(self) -> str:
        return (f"RaftLog(offset={self.offset}, last={self.last_index}, stable={self.stable_index}, "
                f"committed={self.committed}, applied={self.applied})")

    # -- reading ------------------------------------------------------------------
    @property
    def first_index(self) -> int:
        return self.offset + 1

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

    def matches(self, index: int, term: int) -> bool:
        return self.term_at(index) == term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Whether a log ending at (last_index, last_term) is at least as complete as this one (§5.4.1)."""
        return (last_term, last_index) >= (self.last_term, self.last_index)

    def slice(self, low: int, high: int, max_bytes: int | None = None) -> tuple[Entry, ...]:
        """Entries with low <= index < high; with ``max_bytes``, at least one and no more data than that.

        The same range gives the same tuple until the log changes (rule 5).
        """
        key = (low, high, max_bytes)
        kept = self._slices.get(key)
        if kept is not None:
            return kept
        assert self.offset < low <= high <= self.last_index + 1, f"slice [{low}, {high}) out of {self!r}"
        entries = self._entries[low - self.offset - 1:high - self.offset - 1]
        if max_bytes is not None:
            size = 0
            for count, entry in enumerate(entries):
                size += len(entry.data)
                if count and size > max_bytes:
                    entries = entries[:count]
                    break
        if len(self._slices) >= SLICES_KEPT:
            self._slices.clear()
        kept = self._slices[key] = tuple(entries)
        return kept

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The last (index, term) at or below ``index`` whose term is <= ``term``.

        That is where a log with ``term`` at ``index`` may match this one: the
        leader skips a whole term of mismatching entries at once (fast backtracking).
        A term of 0 means the position is compacted and unknown.
        """
        index = min(index, self.last_index)
        while index > self.offset:
            found = self._entries[index - self.offset - 1].term
            if found <= term:
                return index, found
            index -= 1
        return index, self.offset_term if index == self.offset else 0

    def has_conf_change_to_apply(self) -> bool:
        return any(e.type is EntryType.CONF_CHANGE for e in self.to_apply())

    # -- writing ------------------------------------------------------------------
    def append(self, entries: Sequence[Entry]) -> None:
        """Append, replacing any conflicting suffix (entries must start at or below last_index + 1)."""
        if not entries:
            return
        first = entries[0].index
        assert self.committed < first <= self.last_index + 1, "append would rewrite committed log"
        del self._entries[first - self.offset - 1:]
        self._entries.extend(entries)
        self._slices.clear()
        self.stable_index = min(self.stable_index, first - 1)

    def maybe_append(self, index: int, term: int, committed: int, entries: Sequence[Entry]) -> int | None:
        """A leader's append after (index, term): the new last matching index, or None on mismatch.

        Entries already present with the same term are kept (an old, duplicated
        or reordered append must not truncate newer entries); the first
        conflicting one and everything after it are replaced.
        """
        if not self.matches(index, term):
            return None
        last_new = index + len(entries)
        for position, entry in enumerate(entries):
            if not self.matches(entry.index, entry.term):
                assert entry.index > self.committed, "a leader's entry conflicts with a committed one"
                self.append(entries[position:])
                break
        self.commit_to(min(committed, last_new))
        return last_new

    def commit_to(self, index: int) -> bool:
        if index <= self.committed:
            return False
        assert index <= self.last_index, "commit beyond the log"
        self.committed = index
        return True

    def restore(self, snapshot: Snapshot) -> None:
        """Replace the whole log by a leader's snapshot (to be saved and applied through Ready)."""
        meta = snapshot.meta
        assert meta.index > self.committed, "restoring a snapshot behind the commit index"
        self._entries.clear()
        self._slices.clear()
        self.offset, self.offset_term = meta.index, meta.term
        self.committed = meta.index
        self.stable_index = meta.index
        self.pending_snapshot = snapshot

    # -- the driver's acknowledgements ----------------------------------------------
    def unstable(self) -> tuple[Entry, ...]:
        return tuple(self._entries[self.stable_index - self.offset:])

    def stable_to(self, index: int, term: int) -> None:
        """Entries up to (index, term) are on disk; ignored if the log changed there meanwhile."""
        if self.matches(index, term):
            self.stable_index = max(self.stable_index, index)

    def snapshot_applied(self, snapshot: Snapshot) -> None:
        """The driver saved and applied ``snapshot`` (from a Ready)."""
        if self.pending_snapshot is snapshot:
            self.pending_snapshot = None
        self.applied = max(self.applied, snapshot.meta.index)

    def to_apply(self) -> tuple[Entry, ...]:
        """Committed entries not yet applied (those after a pending snapshot, when there is one)."""
        start = max(self.applied, self.offset)
        return tuple(self._entries[start - self.offset:self.committed - self.offset])

    def applied_to(self, index: int) -> None:
        assert self.applied <= index <= self.committed, "apply beyond commit"
        self.applied = index

    def compact(self, meta: SnapshotMeta) -> None:
        """Forget entries covered by a snapshot taken at ``meta.index`` (already applied)."""
        assert meta.index <= self.applied, "compacting unapplied entries"
        if meta.index <= self.offset:
            return
        assert self.term_at(meta.index) == meta.term, "snapshot does not match the log"
        del self._entries[:meta.index - self.offset]
        self._slices.clear()
        self.offset, self.offset_term = meta.index, meta.term
        self.stable_index = max(self.stable_index, self.offset)
