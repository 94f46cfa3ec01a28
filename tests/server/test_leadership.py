"""LeadershipLog: a line per election this member starts and per change of leader, nothing else."""

from __future__ import annotations

from structlog.testing import capture_logs

from confagent.raft import Role
from confagent.server._leadership import LeadershipLog

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
