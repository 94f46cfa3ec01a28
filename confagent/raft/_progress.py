"""The leader's view of one follower: how far its log matches, and how fast to send to it.

Rules (the flow control of etcd's ``tracker.Progress``):

1. ``PROBE``: the leader does not know where the follower's log ends. It sends
   one append, then pauses until an answer (or a heartbeat response) arrives.
2. ``REPLICATE``: the follower is known to match up to ``match``; the leader
   streams appends optimistically (``next`` runs ahead of ``match``), at most
   ``max_inflight`` unacknowledged appends at a time (pipelining).
3. ``SNAPSHOT``: the follower needs a snapshot; nothing else is sent until the
   snapshot is reported done or failed, or the follower's answer shows it caught up.

``match < next`` always: ``next`` is the first index the leader will send.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

__all__ = ["Inflights", "Progress", "ProgressState"]


class ProgressState(Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Inflights:
    """The last indexes of appends sent but not acknowledged, oldest first, bounded.

    The bound may change (a learner promoted): lowered below what is in flight, the
    next append waits until answers bring the count under it.
    """

    __slots__ = ("_capacity", "_last_indexes")

    def __init__(self, capacity: int) -> None:
        self._last_indexes: deque[int] = deque()
        self.capacity = capacity

    @property
    def capacity(self) -> int:
        return self._capacity

    @capacity.setter
    def capacity(self, capacity: int) -> None:
        assert capacity > 0, "inflight capacity must be positive"
        self._capacity = capacity

    def add(self, last_index: int) -> None:
        assert not self.full(), "sending past the inflight limit"
        self._last_indexes.append(last_index)

    def free_to(self, index: int) -> None:
        """Forget appends whose last entry is at or below ``index`` (they were acknowledged)."""
        while self._last_indexes and self._last_indexes[0] <= index:
            self._last_indexes.popleft()

    def free_first(self) -> None:
        """Forget the oldest append (a heartbeat answered: the follower is alive, let one more go)."""
        if self._last_indexes:
            self._last_indexes.popleft()

    def full(self) -> bool:
        return len(self._last_indexes) >= self._capacity

    def reset(self) -> None:
        self._last_indexes.clear()

    def __len__(self) -> int:
        return len(self._last_indexes)


class Progress:
    """Replication state of one member (voter or learner), kept by the leader."""

    __slots__ = ("inflights", "is_learner", "match", "next", "pending_snapshot", "probe_sent",
                 "recent_active", "state")

    def __init__(self, next_index: int, max_inflight: int, *, is_learner: bool = False) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.pending_snapshot = 0
        self.probe_sent = False
        self.recent_active = False
        self.is_learner = is_learner
        self.inflights = Inflights(max_inflight)

    def __repr__(self) -> str:
        return (f"Progress({self.state.value}, match={self.match}, next={self.next}, "
                f"inflight={len(self.inflights)}, learner={self.is_learner})")

    # -- state changes ------------------------------------------------------------
    def reset(self, match: int, next_index: int) -> None:
        """Start over in ``PROBE`` (a new term: nothing sent before counts)."""
        self.match, self.next = match, next_index
        self.recent_active = False
        self._reset(ProgressState.PROBE)

    def become_probe(self) -> None:
        """Find the follower's log end again, one append at a time."""
        if self.state is ProgressState.SNAPSHOT:
            self.next = max(self.match + 1, self.pending_snapshot + 1)
        else:
            self.next = self.match + 1
        self._reset(ProgressState.PROBE)

    def become_replicate(self) -> None:
        self.next = self.match + 1
        self._reset(ProgressState.REPLICATE)

    def become_snapshot(self, snapshot_index: int) -> None:
        self._reset(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def _reset(self, state: ProgressState) -> None:
        self.state = state
        self.pending_snapshot = 0
        self.probe_sent = False
        self.inflights.reset()

    # -- events -------------------------------------------------------------------
    def is_paused(self) -> bool:
        """Whether the leader must hold back appends to this follower for now."""
        if self.state is ProgressState.PROBE:
            return self.probe_sent
        if self.state is ProgressState.REPLICATE:
            return self.inflights.full()
        return True

    def sent_entries(self, count: int, last_index: int) -> None:
        """Record an append of ``count`` entries ending at ``last_index`` (its prev index when empty)."""
        if self.state is ProgressState.REPLICATE:
            if count:
                self.next = last_index + 1
                self.inflights.add(last_index)
        elif self.state is ProgressState.PROBE:
            self.probe_sent = True

    def acknowledged(self, index: int) -> bool:
        """The follower's log matches up to ``index``; whether that is news."""
        if index <= self.match:
            self.next = max(self.next, index + 1)
            return False
        self.match = index
        self.next = max(self.next, index + 1)
        self.probe_sent = False
        return True

    def rejected(self, rejected_index: int, match_hint: int) -> bool:
        """The follower has no entry matching at ``rejected_index``; move ``next`` back.

        ``match_hint`` is the highest index at which the follower's log may still
        match (from its reject hint). Returns False when the rejection is stale
        (an answer to an append sent before ``next`` moved).
        """
        if self.state is ProgressState.REPLICATE:
            if rejected_index <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected_index:
            return False
        self.next = max(min(rejected_index, match_hint + 1), self.match + 1)
        self.probe_sent = False
        return True
