"""Linearizable reads without log writes (ReadIndex, Raft thesis §6.4).

Rules:
1. A read asked at the leader is stamped with the leader's commit index, then
   the leader sends a heartbeat carrying the read's context; once a quorum of
   voters answers that heartbeat, the leader knows it was still the leader when
   the read arrived, and the read may be served once ``applied >= index``.
2. A leader that has not yet committed an entry of its own term does not know
   the true commit index yet: it holds reads until it has.
3. A quorum's answer for one context also confirms every read queued before it.
4. Reads still pending when leadership is lost are dropped; callers retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PendingRead", "ReadOnly", "ReadState"]


@dataclass(frozen=True, slots=True)
class ReadState:
    """A confirmed read: serve ``context``'s read once the state machine has applied ``index``."""

    index: int
    context: bytes


@dataclass(slots=True)
class PendingRead:
    """A read waiting for a quorum's heartbeat answers; ``requester`` is who asked (maybe this node)."""

    index: int
    requester: int
    acks: set[int] = field(default_factory=set)


class ReadOnly:
    """Reads waiting for their leadership confirmation, in arrival order, bounded by the caller."""

    def __init__(self) -> None:
        self._pending: dict[bytes, PendingRead] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, context: bytes, index: int, requester: int) -> bool:
        """Queue a read; False when ``context`` is already waiting (the first one stands)."""
        if context in self._pending:
            return False
        self._pending[context] = PendingRead(index, requester)
        return True

    def ack(self, context: bytes, node_id: int) -> set[int] | None:
        """Record a heartbeat answer for ``context``; who has confirmed it so far, or None if unknown."""
        read = self._pending.get(context)
        if read is None:
            return None
        read.acks.add(node_id)
        return read.acks

    def release(self, context: bytes) -> list[tuple[bytes, PendingRead]]:
        """Take ``context`` and every read queued before it, oldest first."""
        if context not in self._pending:
            return []
        released: list[tuple[bytes, PendingRead]] = []
        for queued in list(self._pending):
            released.append((queued, self._pending.pop(queued)))
            if queued == context:
                break
        return released

    def last_context(self) -> bytes | None:
        """The newest waiting read's context (a heartbeat for it confirms them all)."""
        return next(reversed(self._pending), None)

    def clear(self) -> None:
        self._pending.clear()
