"""Lessor: the leader's lease deadlines, on a clock the caller passes in.

Deadlines are not replicated: only the leader keeps them, and when one
passes it proposes a ``LeaseRevokeRequest`` through the log. ``now`` is float
seconds from the caller's monotonic clock.

Rules (etcd 3.4's ``lessor``):
1. A grant or renewal sets the deadline to ``now + ttl``. A lease already
   past its deadline cannot be renewed: it is waiting for its revoke.
2. ``expired`` hands out each overdue lease once, then again every
   ``retry_interval_s`` until it is revoked (etcd's expiredLeaseRetryInterval),
   so a lost revoke proposal is retried without flooding the log.
3. A new leader ``promote``s: every lease gets a full TTL from now.
4. Memory is bounded: stale heap entries are dropped when they outnumber the
   leases.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from confagent.errors import LeaseNotFound

__all__ = ["Lessor"]

_HEAP_SLACK = 64


class Lessor:
    """Deadlines per lease ID, and a heap of when to look at each next."""

    def __init__(self, *, retry_interval_s: float = 3.0) -> None:
        self.retry_interval_s = retry_interval_s
        self._ttls: dict[int, int] = {}
        self._deadlines: dict[int, float] = {}
        self._checks: dict[int, float] = {}  # when to report the lease (again) if not renewed
        self._heap: list[tuple[float, int]] = []

    def grant(self, lease_id: int, ttl: int, now: float) -> None:
        self._ttls[lease_id] = ttl
        self._schedule(lease_id, now + ttl)

    def renew(self, lease_id: int, now: float) -> int:
        """Extend a lease by its granted TTL from ``now``; the granted TTL.

        Raises:
            LeaseNotFound: unknown, or already expired and waiting for its revoke.
        """
        ttl = self._ttls.get(lease_id)
        if ttl is None or self._deadlines[lease_id] <= now:
            raise LeaseNotFound()
        self._schedule(lease_id, now + ttl)
        return ttl

    def remaining(self, lease_id: int, now: float) -> int:
        """Whole seconds left, truncated as etcd's timetolive reports them; -1 if unknown."""
        deadline = self._deadlines.get(lease_id)
        return -1 if deadline is None else int(deadline - now)

    def revoke(self, lease_id: int) -> None:
        """Forget a lease (revoked, or expired and revoked); unknown IDs are ignored."""
        self._ttls.pop(lease_id, None)
        self._deadlines.pop(lease_id, None)
        self._checks.pop(lease_id, None)

    def expired(self, now: float, limit: int) -> list[int]:
        """Up to ``limit`` leases past their deadline, oldest first, each reported once
        per ``retry_interval_s`` until revoked."""
        found: list[int] = []
        heap = self._heap
        while heap and len(found) < limit and heap[0][0] <= now:
            check, lease_id = heapq.heappop(heap)
            if self._checks.get(lease_id) != check:
                continue  # renewed, revoked or rescheduled since
            found.append(lease_id)
            self._checks[lease_id] = retry = now + self.retry_interval_s
            heapq.heappush(heap, (retry, lease_id))
        return found

    def promote(self, now: float, ttls: Mapping[int, int]) -> None:
        """Become the leader of these leases (ID -> granted TTL): each gets ``now + ttl``."""
        self.demote()
        for lease_id, ttl in ttls.items():
            self.grant(lease_id, ttl, now)

    def demote(self) -> None:
        """Stop keeping deadlines (no longer the leader)."""
        self._ttls.clear()
        self._deadlines.clear()
        self._checks.clear()
        self._heap.clear()

    def next_deadline(self) -> float | None:
        """When ``expired`` may next have something to report; None with no leases."""
        heap = self._heap
        while heap and self._checks.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _schedule(self, lease_id: int, deadline: float) -> None:
        self._deadlines[lease_id] = deadline
        self._checks[lease_id] = deadline
        heapq.heappush(self._heap, (deadline, lease_id))
        if len(self._heap) > 2 * len(self._checks) + _HEAP_SLACK:
            self._heap = [(check, i) for i, check in self._checks.items()]
            heapq.heapify(self._heap)
