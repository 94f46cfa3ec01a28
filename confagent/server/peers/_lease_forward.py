"""Lease calls on any member: a follower forwards keep-alive and time-to-live to the leader.

Lease deadlines live on the leader only (``Lessor``), so, as etcd forwards
LeaseRenew and LeaseTimeToLive from a follower to its leader, a member that
does not lead sends the call over the peer transport as a ``LeaseQuery`` and
waits for the matching ``LeaseAnswer``: a ``LeaderCalls`` of the lease kind,
with its rules (``_leader_calls``). A lease call may be asked again (an
unanswered attempt is retried after ``attempt_timeout_s``); a query the leader
cannot answer (a read barrier that timed out) is answered ``retry``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from confagent.errors import StoreError
from confagent.server.peers._leader_calls import (
    CallKind,
    ForwardConfig,
    LeaderCalls,
    LeaderChanged,
    LeaderOf,
    SendFrames,
)
from confagent.server.peers._peer_codec import LeaseAnswer, LeaseOp, LeaseQuery

__all__ = ["ForwardConfig", "LeaseForwarder", "LocalAnswer"]

LocalAnswer = Callable[[LeaseOp, int], Awaitable[int | None]]
"""``answer_locally(op, lease_id)``: this member's answer when it leads, else None.
May raise ``StoreError`` (a read barrier that timed out)."""
LeaseCall = tuple[LeaseOp, int]


class _LeaseKind(CallKind[LeaseCall, int, LeaseQuery, LeaseAnswer]):
    def query(self, to: int, frm: int, request_id: int, call: LeaseCall) -> LeaseQuery:
        op, lease_id = call
        return LeaseQuery(to, frm, request_id, op, lease_id)

    def call_of(self, query: LeaseQuery) -> LeaseCall:
        return query.op, query.lease_id

    def answer(self, query: LeaseQuery, frm: int, outcome: int | StoreError | None) -> LeaseAnswer:
        ttl = outcome if isinstance(outcome, int) else None
        return LeaseAnswer(query.frm, frm, query.request_id, ttl or 0, retry=ttl is None)

    def outcome(self, answer: LeaseAnswer) -> int | None:
        return None if answer.retry else answer.ttl


class LeaseForwarder:
    """Both ends of forwarded lease calls: the asking follower's and the answering leader's."""

    def __init__(self, member_id: int, send: SendFrames, leader_of: LeaderOf,
                 answer_locally: LocalAnswer, config: ForwardConfig | None = None,
                 first_request_id: int = 1, *, leader_changed: LeaderChanged | None = None) -> None:
        async def answer(call: LeaseCall) -> int | None:
            return await answer_locally(*call)

        self._calls = LeaderCalls(_LeaseKind(), member_id, send, leader_of, answer, config,
                                  first_request_id=first_request_id, leader_changed=leader_changed)

    async def call(self, op: LeaseOp, lease_id: int) -> int:
        """The leader's answer to ``op`` on ``lease_id`` (see ``LeaseOp``), wherever it leads.

        Raises:
            NoLeader: no leader was known when the request timeout passed.
            Unavailable: the leader did not answer within the request timeout.
            ResourceExhausted: too many calls are under way already.
            StoreError: this member's own answer failed (it leads).
        """
        return await self._calls.call((op, lease_id))

    def receive(self, frame: LeaseQuery | LeaseAnswer) -> None:
        """A lease frame from a peer: resolve the waiting call, or answer the query."""
        if isinstance(frame, LeaseAnswer):
            self._calls.receive_answer(frame)
        else:
            self._calls.receive_query(frame)

    async def close(self) -> list[str]:
        """Stop answering; cancel the calls still waiting. The answering tasks that did not end, by name."""
        return await self._calls.close()
