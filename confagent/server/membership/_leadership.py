"""The leadership as one member sees it: who leads and whether it is this member
(``Leadership``, with waits on its changes), and a log line each time it changes (``LeadershipLog``):
an election it starts, a new leader, no leader any more.

etcd's Raft logs the same moments ("became candidate at term N", "elected
leader X at term N", "lost leader X at term N"); an operator reading one
member's log (or the log of an agent that is a member) sees when and why
writes paused.

Rules:
1. ``observe`` is called by the driver after each round, with what the Raft
   core says now; only a change is logged, so a quiet cluster logs nothing.
2. "election started" (info): this member became a candidate for ``term``
   (a pre-vote alone, which a cut-off member repeats, is not logged).
3. "leader changed" (info): a leader is known for ``term`` that was not the one
   known before (``previous``, None when none was); ``leader`` may be this member.
4. "leader lost" (warning): no leader is known any more; ``previous`` led.
   Member IDs are in hex, as etcd and ``member list`` print them.
5. Whoever waits for a leader, or for the leadership to change, waits on
   ``Leadership`` (``wait_until``, ``wait_for_leader``): it is woken by the
   driver's ``observe`` when the leader or this member's role changed, never
   by looking again after a pause. Its values are those of the driver's last
   round, consistent with each other (the lease deadlines follow the same
   round: ``StoreNode._follow_leadership``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from confagent.errors import NoLeader
from confagent.raft import Role

__all__ = ["Leadership", "LeadershipLog"]


class Leadership:
    """Who leads, as this member's driver last observed it, and waits on its changes (rule 5)."""

    def __init__(self, member_id: int, log: structlog.typing.FilteringBoundLogger | None = None) -> None:
        self.member_id = member_id
        self.leader_id = 0
        """The member this one believes leads; 0 when it knows none."""
        self.role = Role.FOLLOWER
        self._log = LeadershipLog(member_id, log)
        self._changed = asyncio.Event()

    @property
    def is_leader(self) -> bool:
        return self.role is Role.LEADER

    def observe(self, role: Role, term: int, leader_id: int) -> None:
        """What the Raft core says after a driver round: log it (rules 2-4), wake the waiters when
        the leader or whether this member leads changed."""
        self._log.observe(role, term, leader_id)
        changed = leader_id != self.leader_id or (role is Role.LEADER) != self.is_leader
        self.role, self.leader_id = role, leader_id
        if changed:
            self._changed.set()
            self._changed = asyncio.Event()

    async def changed(self) -> None:
        """Return at the next change of the leader, or of whether this member leads."""
        await self._changed.wait()

    async def wait_until(self, condition: Callable[[Leadership], bool]) -> None:
        """Return once ``condition(self)`` holds, looking again at each change; unbounded (callers
        bound it with ``asyncio.timeout``)."""
        while not condition(self):
            await self.changed()

    async def wait_for_leader(self, timeout_s: float, *, other_than: int = 0) -> int:
        """The leader's ID once one is known (one other than ``other_than`` if given).

        Raises:
            NoLeader: none within ``timeout_s``.
        """
        try:
            async with asyncio.timeout(timeout_s):
                await self.wait_until(lambda leadership: leadership.leader_id not in (0, other_than))
        except TimeoutError:
            raise NoLeader() from None
        return self.leader_id


class LeadershipLog:
    """What one member last saw of the leadership, and the lines its changes deserve (module rules)."""

    def __init__(self, member_id: int, log: structlog.typing.FilteringBoundLogger | None = None) -> None:
        self.member_id = member_id
        self._log = log or structlog.get_logger("confagent.store")
        self._leader = 0
        self._candidate_term = 0

    def observe(self, role: Role, term: int, leader_id: int) -> None:
        """Log what changed since the last call (rules 2-4)."""
        if role is Role.CANDIDATE and term != self._candidate_term:
            self._candidate_term = term
            self._log.info("election started", member=_hex(self.member_id), term=term)
        if leader_id == self._leader:
            return
        previous, self._leader = self._leader, leader_id
        if leader_id:
            self._log.info("leader changed", term=term, leader=_hex(leader_id),
                           previous=_hex(previous) if previous else None, member=_hex(self.member_id))
        else:
            self._log.warning("leader lost", term=term, previous=_hex(previous), member=_hex(self.member_id))


def _hex(member_id: int) -> str:
    return f"{member_id:x}"
