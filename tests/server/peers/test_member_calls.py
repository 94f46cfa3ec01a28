"""Forwarded member changes: a follower gets the leader's members and the leader's refusals, asks a
change once per leader, and a call waiting for a leader is woken by the leadership's change, not by
looking again. Members are linked by an in-process wire; the answers go through the peer codec."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from confagent.errors import MemberNotFound, NoLeader, PeerURLExists, Unavailable
from confagent.raft import Role
from confagent.server.membership import Leadership, Member
from confagent.server.peers import ForwardConfig, MemberAnswer, MemberQuery, PeerFrame
from confagent.server.peers._leader_calls import LeaderCalls
from confagent.server.peers._member_calls import MemberCallKind, MemberOutcome
from confagent.server.peers._peer_codec import FRAME_HEADER, MemberCall, MemberOp, decode_frame, encode_frame

FAST = ForwardConfig(request_timeout_s=0.5, attempt_timeout_s=0.5, retry_pause_s=0.01)
VOTERS = (Member(2, ("http://127.0.0.1:2",), "m2"), Member(3, ("http://127.0.0.1:3",), "m3"))
Calls = LeaderCalls[MemberCall, MemberOutcome, MemberQuery, MemberAnswer]


class Wire:
    """Delivers frames (encoded and decoded) on the next loop turn, except to cut-off members."""

    def __init__(self) -> None:
        self.calls: dict[int, Calls] = {}
        self.cut: set[int] = set()
        self.sent: list[PeerFrame] = []

    def send(self, frames: Iterable[PeerFrame]) -> None:
        for frame in frames:
            self.sent.append(frame)
            if frame.to in self.cut or frame.frm in self.cut:
                continue
            received = decode_frame(encode_frame(frame)[FRAME_HEADER.size:])
            target = self.calls[frame.to]
            if isinstance(received, MemberAnswer):
                asyncio.get_running_loop().call_soon(target.receive_answer, received)
            elif isinstance(received, MemberQuery):
                asyncio.get_running_loop().call_soon(target.receive_query, received)

    def add(self, member_id: int, leadership: Leadership, config: ForwardConfig = FAST) -> Calls:
        async def answer(call: MemberCall) -> MemberOutcome | None:
            if not leadership.is_leader:
                return None
            if call.op is MemberOp.REMOVE:
                raise MemberNotFound()
            if call.peer_urls == VOTERS[0].peer_urls:
                raise PeerURLExists()
            added = Member(9, call.peer_urls, is_learner=call.is_learner)
            return MemberOutcome((*VOTERS, added), added)

        self.calls[member_id] = LeaderCalls(MemberCallKind(), member_id, self.send,
                                            lambda: leadership.leader_id, answer, config,
                                            leader_changed=leadership.changed)
        return self.calls[member_id]


def _leadership(member_id: int, leader: int) -> Leadership:
    leadership = Leadership(member_id)
    leadership.observe(Role.LEADER if leader == member_id else Role.FOLLOWER, 2, leader)
    return leadership


def test_a_follower_gets_the_leaders_members_and_its_refusals() -> None:
    async def scenario() -> None:
        wire = Wire()
        follower = wire.add(3, _leadership(3, 2))
        wire.add(2, _leadership(2, 2))
        outcome = await follower.call(MemberCall(MemberOp.ADD, peer_urls=("http://127.0.0.1:9",),
                                                 is_learner=True))
        assert outcome.added == Member(9, ("http://127.0.0.1:9",), is_learner=True)
        assert outcome.members == (*VOTERS, outcome.added)
        with pytest.raises(MemberNotFound, match="etcdserver: member not found") as not_found:
            await follower.call(MemberCall(MemberOp.REMOVE, 123))
        assert not_found.value.code == MemberNotFound.code
        with pytest.raises(PeerURLExists):
            await follower.call(MemberCall(MemberOp.ADD, peer_urls=VOTERS[0].peer_urls))
    asyncio.run(scenario())


def test_a_change_is_asked_once_of_a_leader_that_does_not_answer() -> None:
    async def scenario() -> None:
        wire = Wire()
        follower = wire.add(3, _leadership(3, 2))
        wire.add(2, _leadership(2, 2))
        wire.cut.add(2)
        with pytest.raises(Unavailable, match="etcdserver: request timed out") as raised:
            await follower.call(MemberCall(MemberOp.PROMOTE, 9))
        assert not isinstance(raised.value, NoLeader)
        assert [type(f) for f in wire.sent] == [MemberQuery]
    asyncio.run(scenario())


def test_a_member_that_does_not_lead_says_retry_and_the_call_follows_the_new_leader() -> None:
    async def scenario() -> None:
        wire = Wire()
        leadership = _leadership(3, 2)
        follower = wire.add(3, leadership)
        wire.add(2, _leadership(2, 1))        # believed to lead, but does not: answers retry
        wire.add(1, _leadership(1, 1))
        call = asyncio.create_task(follower.call(MemberCall(MemberOp.ADD, peer_urls=("http://127.0.0.1:9",))))
        while not any(isinstance(f, MemberAnswer) and f.retry for f in wire.sent):
            await asyncio.sleep(0)
        leadership.observe(Role.FOLLOWER, 3, 1)
        assert (await call).added is not None
        assert [f.to for f in wire.sent if isinstance(f, MemberQuery)][-1] == 1
    asyncio.run(scenario())


def test_a_call_waiting_for_a_leader_is_woken_by_the_election() -> None:
    async def scenario() -> None:
        wire = Wire()
        leadership = _leadership(3, 0)
        slow_retries = ForwardConfig(request_timeout_s=5, attempt_timeout_s=5, retry_pause_s=60)
        follower = wire.add(3, leadership, slow_retries)
        wire.add(2, _leadership(2, 2))
        call = asyncio.create_task(follower.call(MemberCall(MemberOp.REMOVE, 123)))
        for _ in range(5):
            await asyncio.sleep(0)
        assert wire.sent == [] and not call.done()
        leadership.observe(Role.FOLLOWER, 2, 2)
        with pytest.raises(MemberNotFound):
            async with asyncio.timeout(1):  # far less than the retry pause: the election woke it
                await call
    asyncio.run(scenario())


def test_no_leader_at_all_fails_with_no_leader() -> None:
    async def scenario() -> None:
        wire = Wire()
        follower = wire.add(3, _leadership(3, 0))
        with pytest.raises(NoLeader, match="etcdserver: no leader"):
            await follower.call(MemberCall(MemberOp.REMOVE, 123))
        assert wire.sent == []
    asyncio.run(scenario())
