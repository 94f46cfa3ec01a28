"""Forwarded lease calls: followers reach the leader, retry past a lost or wrong one, and fail
with etcd's errors when no leader answers in time. Members are linked by an in-process wire."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import pytest

from confagent.errors import NoLeader, ResourceExhausted, Unavailable
from confagent.server.peers import ForwardConfig, LeaseAnswer, LeaseForwarder, LeaseOp, LeaseQuery, PeerFrame
from confagent.testing import until_async

Answering = Callable[[LeaseOp, int], Awaitable[int | None]]
FAST = ForwardConfig(request_timeout_s=0.5, attempt_timeout_s=0.1, retry_pause_s=0.01)
GRANTED_TTL = 30


@dataclass
class Member:
    """One member's forwarder, what it believes about the leader, and whether it leads."""

    member_id: int
    wire: Wire
    leader: int = 0
    leads: bool = False
    answering: Answering | None = None
    """Replaces the default answers (a lease 7 with a 30 s TTL, while leading)."""
    config: ForwardConfig = FAST
    forwarder: LeaseForwarder = field(init=False)
    asked_locally: int = 0
    """How many times the forwarder asked this member for its own answer."""

    def __post_init__(self) -> None:
        self.forwarder = LeaseForwarder(self.member_id, self.wire.send, lambda: self.leader,
                                        self._answer_locally, self.config)

    async def _answer_locally(self, op: LeaseOp, lease_id: int) -> int | None:
        self.asked_locally += 1
        if self.answering is not None:
            return await self.answering(op, lease_id)
        if not self.leads:
            return None
        if lease_id != 7:
            return 0 if op is LeaseOp.KEEP_ALIVE else -1
        return GRANTED_TTL if op is LeaseOp.KEEP_ALIVE else GRANTED_TTL - 1


class Wire:
    """Delivers frames on the next loop turn, except to members that are cut off; logs them."""

    def __init__(self) -> None:
        self.members: dict[int, Member] = {}
        self.cut: set[int] = set()
        self.sent: list[PeerFrame] = []

    def add(self, member_id: int, *, leader: int, leads: bool = False,
            answering: Answering | None = None, config: ForwardConfig = FAST) -> Member:
        member = Member(member_id, self, leader, leads, answering, config)
        self.members[member_id] = member
        return member

    def send(self, frames: Iterable[PeerFrame]) -> None:
        loop = asyncio.get_running_loop()
        for frame in frames:
            self.sent.append(frame)
            assert isinstance(frame, LeaseQuery | LeaseAnswer)
            if frame.to not in self.cut and frame.frm not in self.cut:
                loop.call_soon(self.members[frame.to].forwarder.receive, frame)


def _run(scenario: Callable[[Wire], Awaitable[None]]) -> None:
    async def main() -> None:
        wire = Wire()
        try:
            await scenario(wire)
        finally:
            for member in wire.members.values():
                await member.forwarder.close()
    asyncio.run(main())


def test_a_follower_gets_the_leaders_answers() -> None:
    async def scenario(wire: Wire) -> None:
        follower = wire.add(1, leader=2)
        wire.add(2, leader=2, leads=True)
        assert await follower.forwarder.call(LeaseOp.KEEP_ALIVE, 7) == GRANTED_TTL
        assert await follower.forwarder.call(LeaseOp.TIME_TO_LIVE, 7) == GRANTED_TTL - 1
        assert await follower.forwarder.call(LeaseOp.KEEP_ALIVE, 8) == 0
        assert await follower.forwarder.call(LeaseOp.TIME_TO_LIVE, 8) == -1
    _run(scenario)


def test_the_leader_answers_itself_without_the_wire() -> None:
    async def scenario(wire: Wire) -> None:
        leader = wire.add(2, leader=2, leads=True)
        assert await leader.forwarder.call(LeaseOp.KEEP_ALIVE, 7) == GRANTED_TTL
        assert wire.sent == []
    _run(scenario)


def test_no_leader_known_fails_with_no_leader() -> None:
    async def scenario(wire: Wire) -> None:
        lonely = wire.add(1, leader=0)
        with pytest.raises(NoLeader, match="etcdserver: no leader"):
            await lonely.forwarder.call(LeaseOp.KEEP_ALIVE, 7)
    _run(scenario)


def test_a_leader_that_never_answers_times_the_call_out() -> None:
    async def scenario(wire: Wire) -> None:
        follower = wire.add(1, leader=2)
        wire.add(2, leader=2, leads=True)
        wire.cut.add(2)
        with pytest.raises(Unavailable, match="etcdserver: request timed out") as raised:
            await follower.forwarder.call(LeaseOp.KEEP_ALIVE, 7)
        assert not isinstance(raised.value, NoLeader)
        queries = [f for f in wire.sent if isinstance(f, LeaseQuery)]
        assert len(queries) >= 2  # each unanswered attempt is asked again
        assert len({q.request_id for q in queries}) == len(queries)
    _run(scenario)


def test_a_call_follows_the_leadership_when_it_moves() -> None:
    async def scenario(wire: Wire) -> None:
        follower = wire.add(1, leader=2)
        wire.add(2, leader=2)                 # believed to lead, but does not: answers retry
        new_leader = wire.add(3, leader=3, leads=True)

        async def move_leadership() -> None:
            while not any(isinstance(f, LeaseAnswer) and f.retry for f in wire.sent):
                await asyncio.sleep(0.01)
            follower.leader = new_leader.member_id
        mover = asyncio.create_task(move_leadership())
        assert await follower.forwarder.call(LeaseOp.KEEP_ALIVE, 7) == GRANTED_TTL
        await mover
        asked = [f.to for f in wire.sent if isinstance(f, LeaseQuery)]
        assert asked[0] == 2 and asked[-1] == 3
    _run(scenario)


def test_a_member_that_becomes_leader_answers_its_own_waiting_call() -> None:
    async def scenario(wire: Wire) -> None:
        member = wire.add(1, leader=0)

        async def elect() -> None:  # once the call has found no answer and waits for a leader
            await until_async(lambda: member.asked_locally > 0, "the call to wait", deadline_s=5)
            member.leader, member.leads = 1, True
        election = asyncio.create_task(elect())
        assert await member.forwarder.call(LeaseOp.TIME_TO_LIVE, 7) == GRANTED_TTL - 1
        await election
    _run(scenario)


def test_a_leader_that_cannot_answer_yet_says_retry() -> None:
    async def scenario(wire: Wire) -> None:
        failures = 2

        async def flaky(op: LeaseOp, lease_id: int) -> int | None:
            nonlocal failures
            if failures:
                failures -= 1
                raise Unavailable()
            return GRANTED_TTL
        follower = wire.add(1, leader=2)
        wire.add(2, leader=2, answering=flaky)
        assert await follower.forwarder.call(LeaseOp.KEEP_ALIVE, 7) == GRANTED_TTL
        retries = [f for f in wire.sent if isinstance(f, LeaseAnswer) and f.retry]
        assert len(retries) == 2
    _run(scenario)


def test_answering_is_bounded_and_overflow_is_told_to_retry() -> None:
    async def scenario(wire: Wire) -> None:
        release = asyncio.Event()

        async def slow(op: LeaseOp, lease_id: int) -> int | None:
            await release.wait()
            return GRANTED_TTL
        wire.add(1, leader=2)
        bounded = wire.add(2, leader=2, answering=slow, config=ForwardConfig(max_answering=2)).forwarder
        for request_id in range(3):
            bounded.receive(LeaseQuery(2, 1, request_id, LeaseOp.KEEP_ALIVE, 7))
        assert wire.sent == [LeaseAnswer(1, 2, 2, 0, retry=True)]
        release.set()

        def answered() -> list[int]:
            return sorted(f.request_id for f in wire.sent if isinstance(f, LeaseAnswer) and not f.retry)

        await until_async(lambda: len(answered()) >= 2, "the queries under way to be answered", deadline_s=5)
        assert answered() == [0, 1]
    _run(scenario)


def test_calls_under_way_are_bounded() -> None:
    async def scenario(wire: Wire) -> None:
        wire.add(2, leader=2, leads=True)
        wire.cut.add(2)
        follower = LeaseForwarder(1, wire.send, lambda: 2, _never_leads,
                                  ForwardConfig(max_calls=1, request_timeout_s=0.5))
        first = asyncio.create_task(follower.call(LeaseOp.KEEP_ALIVE, 7))
        await until_async(lambda: any(isinstance(f, LeaseQuery) for f in wire.sent),
                          "the first call under way", deadline_s=5)
        with pytest.raises(ResourceExhausted):
            await follower.call(LeaseOp.KEEP_ALIVE, 7)
        await follower.close()
        with pytest.raises(asyncio.CancelledError):
            await first
    _run(scenario)


def test_late_and_unknown_answers_are_dropped() -> None:
    async def scenario(wire: Wire) -> None:
        follower = wire.add(1, leader=2)
        follower.forwarder.receive(LeaseAnswer(1, 2, 12345, GRANTED_TTL))
        wire.add(2, leader=2, leads=True)
        assert await follower.forwarder.call(LeaseOp.KEEP_ALIVE, 8) == 0
    _run(scenario)


async def _never_leads(op: LeaseOp, lease_id: int) -> int | None:
    return None
