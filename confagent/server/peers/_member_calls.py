"""Membership changes asked of any member: the leader proposes them, a follower forwards them to it.

Only the leader proposes a Raft membership change (``MemberChanges``). As
etcd's followers hand member add, remove and promote to their leader, a member
that does not lead forwards the call over the peer transport (a
``LeaderCalls`` of the member kind, ``_leader_calls``: peer TLS as for Raft's
own messages). The answer is the leader's: the members once the change
applied, or the ``StoreError`` the leader gave, raised here as it would be
there (rebuilt from its gRPC code and message, as a client rebuilds it).

Rules:
1. A change is asked once of each leader: its attempt lasts the whole call
   (``FORWARD_TIMEOUT_S``), as asking again could apply it twice. A member
   that does not lead answers ``retry``, and the asker asks the leader of that
   moment.
2. A leader asked to remove itself hands leadership to another voter first,
   waits until someone else leads (bounded by the request timeout, else
   ``NoLeader``), and the call goes on to the new leader, as etcd's leader does.
3. Updates are not forwarded: they are normal entries that any member proposes
   (``MemberChanges.update``); neither are lists: each member answers from its table.
"""

from __future__ import annotations

from dataclasses import dataclass

from confagent.errors import StoreError, store_error_from
from confagent.server.membership import Leadership, Member, MemberChanges
from confagent.server.peers._leader_calls import CallKind, ForwardConfig, LeaderCalls, SendFrames
from confagent.server.peers._peer_codec import MemberAnswer, MemberCall, MemberOp, MemberQuery

__all__ = ["FORWARD_TIMEOUT_S", "MemberCallKind", "MemberCalls", "MemberOutcome"]

FORWARD_TIMEOUT_S = 10.0
"""A membership change forwarded to the leader waits this long for its answer (the leader's own
wait for the change to apply is the request timeout, shorter)."""


@dataclass(frozen=True, slots=True)
class MemberOutcome:
    """Every member once the change applied, as the leader's table has them; the one added."""

    members: tuple[Member, ...]
    added: Member | None = None


class MemberCallKind(CallKind[MemberCall, MemberOutcome, MemberQuery, MemberAnswer]):
    """Member changes in frames: the leader's refusal travels back as its gRPC code and message."""

    carries_errors = True

    def query(self, to: int, frm: int, request_id: int, call: MemberCall) -> MemberQuery:
        return MemberQuery(to, frm, request_id, call)

    def call_of(self, query: MemberQuery) -> MemberCall:
        return query.call

    def answer(self, query: MemberQuery, frm: int,
               outcome: MemberOutcome | StoreError | None) -> MemberAnswer:
        to, request_id = query.frm, query.request_id
        if outcome is None:
            return MemberAnswer(to, frm, request_id, retry=True)
        if isinstance(outcome, StoreError):
            return MemberAnswer(to, frm, request_id, error_code=outcome.code, error_message=outcome.message)
        added_id = outcome.added.id if outcome.added is not None else 0
        return MemberAnswer(to, frm, request_id, outcome.members, added_id)

    def outcome(self, answer: MemberAnswer) -> MemberOutcome | StoreError | None:
        if answer.retry:
            return None
        if answer.error_code:
            return store_error_from(answer.error_code, answer.error_message)
        added = next((m for m in answer.members if m.id == answer.added_id), None)
        return MemberOutcome(answer.members, added)


class MemberCalls:
    """Member add, remove and promote on one member, through the leader wherever it is (module rules)."""

    def __init__(self, changes: MemberChanges, leadership: Leadership, send: SendFrames, *,
                 request_timeout_s: float, first_request_id: int = 1) -> None:
        self._changes = changes
        self._leadership = leadership
        self._request_timeout_s = request_timeout_s
        config = ForwardConfig(request_timeout_s=FORWARD_TIMEOUT_S, attempt_timeout_s=FORWARD_TIMEOUT_S)
        self._calls = LeaderCalls(MemberCallKind(), changes.member_id, send, lambda: leadership.leader_id,
                                  self._answer_locally, config, first_request_id=first_request_id,
                                  leader_changed=leadership.changed)

    async def add(self, peer_urls: tuple[str, ...], *, is_learner: bool) -> tuple[Member, tuple[Member, ...]]:
        """The member added and every member (module doc).

        Raises:
            StoreError: etcd's refusal (``MembershipError``), or no leader answered in time.
        """
        outcome = await self._calls.call(MemberCall(MemberOp.ADD, peer_urls=peer_urls, is_learner=is_learner))
        assert outcome.added is not None, "the leader names the member it added"
        return outcome.added, outcome.members

    async def remove(self, member_id: int) -> tuple[Member, ...]:
        """Every member once ``member_id`` is removed. Raises as ``add``."""
        return (await self._calls.call(MemberCall(MemberOp.REMOVE, member_id))).members

    async def promote(self, member_id: int) -> tuple[Member, ...]:
        """Every member once the learner ``member_id`` is a voter. Raises as ``add``."""
        return (await self._calls.call(MemberCall(MemberOp.PROMOTE, member_id))).members

    def receive(self, frame: MemberQuery | MemberAnswer) -> None:
        """A member frame from a peer: resolve the waiting call, or answer the query."""
        if isinstance(frame, MemberAnswer):
            self._calls.receive_answer(frame)
        else:
            self._calls.receive_query(frame)

    async def close(self) -> list[str]:
        """Stop answering; cancel the calls still waiting. The answering tasks that did not end, by name."""
        return await self._calls.close()

    async def _answer_locally(self, call: MemberCall) -> MemberOutcome | None:
        """The change made here while this member leads (after a hand-over, rule 2: None), else None."""
        if not self._leadership.is_leader:
            return None
        changes = self._changes
        match call.op:
            case MemberOp.ADD:
                added = await changes.add(call.peer_urls, is_learner=call.is_learner)
                return MemberOutcome(changes.table.members(), added)
            case MemberOp.REMOVE if call.member_id == changes.member_id and changes.voter_count > 1:
                changes.hand_over()
                await self._leadership.wait_for_leader(self._request_timeout_s, other_than=changes.member_id)
                return None
            case MemberOp.REMOVE:
                await changes.remove(call.member_id)
            case MemberOp.PROMOTE:
                await changes.promote(call.member_id)
        return MemberOutcome(changes.table.members())
