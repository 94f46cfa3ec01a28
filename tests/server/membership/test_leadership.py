"""LeadershipLog: a line per election this member starts and per change of leader, nothing else.
Leadership: a wait for a leader ends at the observation that names one, and is bounded."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from confagent.errors import NoLeader
from confagent.raft import Role
from confagent.server.membership import Leadership
from confagent.server.membership._leadership import LeadershipLog

F, P, C, L = Role.FOLLOWER, Role.PRE_CANDIDATE, Role.CANDIDATE, Role.LEADER


def _lines(observations: list[tuple[Role, int, int]]) -> list[dict[str, object]]:
    leadership = LeadershipLog(0xA)
    with capture_logs() as logs:
        for role, term, leader in observations:
            leadership.observe(role, term, leader)
    return [{k: v for k, v in line.items() if k != "member"} for line in logs]


def test_a_follower_logs_its_leader_then_a_new_one_after_an_election() -> None:
    assert _lines([(F, 0, 0), (F, 1, 0xB), (F, 1, 0xB), (P, 1, 0), (P, 1, 0), (C, 2, 0), (C, 2, 0),
                   (L, 2, 0xA), (L, 2, 0xA), (F, 3, 0xC)]) == [
        {"event": "leader changed", "log_level": "info", "term": 1, "leader": "b", "previous": None},
        {"event": "leader lost", "log_level": "warning", "term": 1, "previous": "b"},
        {"event": "election started", "log_level": "info", "term": 2},
        {"event": "leader changed", "log_level": "info", "term": 2, "leader": "a", "previous": None},
        {"event": "leader changed", "log_level": "info", "term": 3, "leader": "c", "previous": "a"},
    ]


def test_a_cut_off_member_repeating_pre_votes_logs_once() -> None:
    assert _lines([(F, 4, 0xB), *[(P, 4, 0)] * 50, (C, 5, 0), *[(P, 5, 0)] * 50]) == [
        {"event": "leader changed", "log_level": "info", "term": 4, "leader": "b", "previous": None},
        {"event": "leader lost", "log_level": "warning", "term": 4, "previous": "b"},
        {"event": "election started", "log_level": "info", "term": 5},
    ]


async def _turns(count: int = 5) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


def test_a_wait_for_a_leader_ends_at_the_observation_that_names_one() -> None:
    async def scenario() -> None:
        leadership = Leadership(0xA)
        waiter = asyncio.create_task(leadership.wait_for_leader(60))
        await _turns()
        leadership.observe(P, 1, 0)
        await _turns()
        assert not waiter.done()
        leadership.observe(F, 1, 0xB)
        async with asyncio.timeout(1):
            assert await waiter == 0xB
    asyncio.run(scenario())


def test_a_wait_for_another_leader_passes_over_this_one() -> None:
    async def scenario() -> None:
        leadership = Leadership(0xA)
        leadership.observe(L, 2, 0xA)
        waiter = asyncio.create_task(leadership.wait_for_leader(60, other_than=0xA))
        await _turns()
        assert not waiter.done()
        leadership.observe(F, 3, 0xC)
        async with asyncio.timeout(1):
            assert await waiter == 0xC
        assert not leadership.is_leader
    asyncio.run(scenario())


def test_no_leader_within_the_bound_is_no_leader() -> None:
    async def scenario() -> None:
        with pytest.raises(NoLeader, match="etcdserver: no leader"):
            await Leadership(0xA).wait_for_leader(0.05)
    asyncio.run(scenario())
