"""Leases on a store member: the leader keeps their deadlines, and any member answers lease calls.

Rules (the node's rule 4):
1. Lease deadlines live in the leader's ``Lessor`` only. A member that becomes
   leader gives every lease its full TTL (``follow``); one that stops leading
   drops the deadlines. A grant applied sets a deadline on the leader, or on a
   lone voter; a revoke applied drops it.
2. An expiry is a ``LeaseRevokeRequest`` proposed through the log
   (``expire_forever``), never a local deletion; at most ``max_expiries_per_round``
   leases are revoked per round.
3. Keep-alive and time-to-live are answered by the leader: a follower forwards
   them over the peer transport (``LeaseForwarder``, ``confagent.server.peers``).
   A leader elected a moment ago may not have applied a lease granted in an
   earlier term yet: before calling a lease unknown, it waits until its state
   is current.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable

from confagent.errors import LeaseNotFound, StoreError
from confagent.kv import Applied, KvStore, LeaseRevokeRequest, Lessor, Request
from confagent.server.membership import Leadership
from confagent.server.peers import ForwardConfig, LeaseAnswer, LeaseForwarder, LeaseOp, LeaseQuery, SendFrames

__all__ = ["Leases"]

_MAX_INT64 = (1 << 63) - 1

Propose = Callable[[Request], Awaitable[Applied]]
Barrier = Callable[[], Awaitable[None]]


class Leases:
    """The lease deadlines this member keeps while it leads, and its lease calls (module doc)."""

    def __init__(self, member_id: int, kv: KvStore, leadership: Leadership, send: SendFrames, *,
                 propose: Propose, barrier: Barrier, rng: random.Random, request_timeout_s: float,
                 max_expiries_per_round: int) -> None:
        self.lessor = Lessor()
        self._kv = kv
        self._propose = propose
        self._barrier = barrier
        self._rng = rng
        self._max_expiries_per_round = max_expiries_per_round
        self._leading = False
        """Whether this member kept the deadlines after the driver's last round (rule 1)."""
        self._calls = LeaseForwarder(
            member_id, send, lambda: leadership.leader_id, self._answer_locally,
            ForwardConfig(request_timeout_s=request_timeout_s),
            first_request_id=rng.getrandbits(32), leader_changed=leadership.changed)

    # -- from the driver --------------------------------------------------------------
    def follow(self, leading: bool) -> None:
        """Whether this member leads after the driver's round: keep the deadlines only then (rule 1)."""
        if leading and not self._leading:
            self.lessor.promote(time.monotonic(), {i: self._granted_ttl(i) for i in self._kv.lease_ids()})
        elif not leading and self._leading:
            self.lessor.demote()
        self._leading = leading

    def granted(self, lease_id: int, *, lone_voter: bool) -> None:
        """A grant was applied: the leader (or a lone voter) starts its deadline."""
        if self._leading or lone_voter:
            self.lessor.grant(lease_id, self._granted_ttl(lease_id), time.monotonic())

    def revoked(self, lease_id: int) -> None:
        self.lessor.revoke(lease_id)

    def receive(self, frame: LeaseQuery | LeaseAnswer) -> None:
        """A lease call's query or answer from a peer."""
        self._calls.receive(frame)

    # -- calls ------------------------------------------------------------------------
    def new_lease_id(self) -> int:
        """A fresh, positive int64 lease ID not in use (the leader picks it before proposing)."""
        while True:
            lease_id = self._rng.randrange(1, _MAX_INT64)
            if self._kv.lease(lease_id) is None:
                return lease_id

    async def keep_alive(self, lease_id: int) -> int:
        """Renew a lease on the leader; its granted TTL, or 0 when unknown or expired (``StoreNode``)."""
        return await self._calls.call(LeaseOp.KEEP_ALIVE, lease_id)

    async def time_to_live(self, lease_id: int) -> int:
        """Whole seconds left on a lease, as the leader counts them; -1 when unknown (``StoreNode``)."""
        remaining = await self._calls.call(LeaseOp.TIME_TO_LIVE, lease_id)
        if remaining >= 0 and self._kv.lease(lease_id) is None:
            await self._barrier()  # a follower behind its leader catches up first
        return remaining

    async def close(self) -> list[str]:
        """End the calls under way; the names of tasks that did not stop (``confagent.tasks``)."""
        return await self._calls.close()

    async def _answer_locally(self, op: LeaseOp, lease_id: int) -> int | None:
        """This member's answer to a lease call while it keeps the deadlines (it leads), else None
        (rule 3)."""
        if not self._leading:
            return None
        if self._kv.lease(lease_id) is None:
            await self._barrier()
            if not self._leading:
                return None
        known = self._kv.lease(lease_id) is not None
        now = time.monotonic()
        if op is LeaseOp.TIME_TO_LIVE:
            return max(0, self.lessor.remaining(lease_id, now)) if known else -1
        try:
            return self.lessor.renew(lease_id, now) if known else 0
        except LeaseNotFound:
            return 0  # past its deadline, its revoke not applied yet: etcd answers TTL 0 too

    # -- expiry -----------------------------------------------------------------------
    async def expire_forever(self) -> None:
        """Propose the revoke of every lease past its deadline, round after round (rule 2)."""
        while True:
            now = time.monotonic()
            expired = self.lessor.expired(now, self._max_expiries_per_round)
            if expired:
                await asyncio.gather(*(self._revoke_expired(i) for i in expired))
                continue
            deadline = self.lessor.next_deadline()
            delay = 0.5 if deadline is None else min(0.5, max(0.01, deadline - now))
            await asyncio.sleep(delay)

    async def _revoke_expired(self, lease_id: int) -> None:
        # Already revoked by a client, or refused under load: the next round retries.
        with contextlib.suppress(StoreError):
            await self._propose(LeaseRevokeRequest(id=lease_id))

    def _granted_ttl(self, lease_id: int) -> int:
        info = self._kv.lease(lease_id)
        return info.ttl if info is not None else 0
