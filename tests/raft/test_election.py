"""Leader election: votes, terms, pre-vote, check-quorum and the leader lease."""

from __future__ import annotations

import random

from confagent.raft import HardState, Message, MessageType, RaftConfig, RawNode, Role

from .helpers import drain, elected_cluster, entries_of_terms, lone_node


def test_a_candidate_with_a_quorum_of_votes_leads_and_the_others_follow() -> None:
    cluster = elected_cluster()
    roles = {i: (raw.role, raw.term, raw.leader_id) for i in (1, 2, 3) for raw in [cluster.running(i)]}
    assert roles == {1: (Role.LEADER, 1, 1), 2: (Role.FOLLOWER, 1, 1), 3: (Role.FOLLOWER, 1, 1)}


def test_ticks_alone_elect_exactly_one_leader() -> None:
    cluster = elected_cluster()
    for node in cluster.alive():
        assert node.raw is not None
    cluster.crash(1)
    for _ in range(40):
        cluster.tick()
    leaders = [n.node_id for n in cluster.alive() if n.raw is not None and n.raw.role is Role.LEADER]
    assert len(leaders) == 1 and cluster.running(leaders[0]).term == 2


def test_the_vote_is_in_the_same_ready_as_the_answer_that_promises_it() -> None:
    node = lone_node(2, (1, 2, 3))
    node.step(Message(MessageType.VOTE, 2, 1, term=1, index=0, log_term=0))
    rd = node.ready()
    assert rd.hard_state == HardState(term=1, vote=1, commit=0) and rd.must_sync
    assert [(m.type, m.reject) for m in rd.messages] == [(MessageType.VOTE_RESPONSE, False)]


def test_a_voter_grants_one_vote_per_term() -> None:
    node = lone_node(3, (1, 2, 3))
    node.step(Message(MessageType.VOTE, 3, 1, term=1))
    node.step(Message(MessageType.VOTE, 3, 2, term=1))
    answers = [(m.to, m.reject) for m in drain(node)]
    assert answers == [(1, False), (2, True)]


def test_a_candidate_with_a_less_complete_log_gets_no_vote() -> None:
    node = lone_node(2, (1, 2, 3), hard_state=HardState(term=2), entries=entries_of_terms(1, 2))
    node.step(Message(MessageType.VOTE, 2, 1, term=3, index=5, log_term=1))  # longer, but older last term
    assert [m.reject for m in drain(node)] == [True]


def test_pre_vote_keeps_a_cut_off_node_from_inflating_its_term() -> None:
    cluster = elected_cluster()
    cluster.isolate(3)
    for _ in range(100):
        cluster.tick()
    assert cluster.running(3).term == 1 and cluster.running(3).role is Role.PRE_CANDIDATE
    cluster.heal()
    for _ in range(5):
        cluster.tick()
    assert cluster.running(1).role is Role.LEADER and cluster.running(1).term == 1
    assert cluster.running(3).leader_id == 1


def test_without_pre_vote_a_cut_off_node_disrupts_the_leader_when_it_returns() -> None:
    cluster = elected_cluster(pre_vote=False, check_quorum=False)
    cluster.isolate(3)
    for _ in range(100):
        cluster.tick()
    assert cluster.running(3).term > 2
    cluster.heal()
    for _ in range(2 * cluster.base_config.election_ticks):
        cluster.tick()
    assert cluster.running(1).term > 1  # the high term deposed the leader


def test_check_quorum_makes_a_cut_off_leader_step_down() -> None:
    cluster = elected_cluster()
    cluster.isolate(1)
    for _ in range(2 * cluster.base_config.election_ticks):
        cluster.tick()
    assert cluster.running(1).role is Role.FOLLOWER


def test_followers_in_touch_with_a_leader_ignore_higher_term_votes() -> None:
    cluster = elected_cluster()
    follower = cluster.running(2)
    follower.step(Message(MessageType.VOTE, 2, 3, term=5, index=99, log_term=5))
    assert follower.term == 1 and not follower.has_ready()


def test_the_election_timeout_is_random_within_one_to_two_timeouts_and_seeded() -> None:
    def ticks_to_campaign(seed: int) -> int:
        node = RawNode(RaftConfig(node_id=1, voters=(1, 2, 3), election_ticks=10), HardState(), None, (),
                       random.Random(seed), snapshot_source=lambda: None)  # type: ignore[arg-type,return-value]
        for tick in range(1, 100):
            node.tick()
            if node.role is not Role.FOLLOWER:
                return tick
        raise AssertionError("never campaigned")

    timeouts = [ticks_to_campaign(seed) for seed in range(40)]
    assert all(10 <= t < 20 for t in timeouts) and len(set(timeouts)) > 3
    assert timeouts == [ticks_to_campaign(seed) for seed in range(40)]


def test_a_stale_leader_learns_the_new_term_from_any_answer_and_steps_down() -> None:
    node = lone_node(1, (1, 2, 3))
    node.campaign()
    node.step(Message(MessageType.PRE_VOTE_RESPONSE, 1, 2, term=1))
    node.step(Message(MessageType.VOTE_RESPONSE, 1, 2, term=1))
    assert node.role is Role.LEADER
    node.step(Message(MessageType.APPEND_RESPONSE, 1, 3, term=4))
    assert (node.role, node.term, node.leader_id) == (Role.FOLLOWER, 4, 0)
