"""``LeadershipLog``: one log line each time a member sees the leadership change: an election it
starts, a new leader, no leader any more.

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
"""

from __future__ import annotations

import structlog

from confagent.raft import Role

__all__ = ["LeadershipLog"]


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
