"""Log replication: quorum commit, the current-term rule, backtracking, batching and flow control."""

from __future__ import annotations

import pytest

from confagent.errors import NoLeader
from confagent.raft import Entry, HardState, Message, MessageType, ProgressState, RaftLog, Role
from confagent.raft._progress import Inflights

from .helpers import drain, elected_cluster, entries_of_terms, lone_node, take_ready


def test_a_proposal_commits_and_applies_everywhere_once_a_quorum_has_it() -> None:
    cluster = elected_cluster()
    index = cluster.running(1).propose(b"x")
    cluster.stabilize()
    for node in cluster.alive():
        assert node.machine is not None and node.machine.applied == index
        assert node.raw is not None and node.raw.log.committed == index


def test_a_minority_cannot_commit() -> None:
    cluster = elected_cluster()
    cluster.isolate(2)
    cluster.isolate(3)
    index = cluster.running(1).propose(b"x")
    cluster.stabilize()
    assert cluster.running(1).log.committed < index


def test_only_entries_of_the_current_term_commit_by_counting_replicas() -> None:
    # Figure 8 of the Raft paper: node 1 leads term 3 with an entry of term 2 at index 2.
    node = lone_node(1, (1, 2, 3), hard_state=HardState(term=2), entries=entries_of_terms(1, 2))
    node.campaign()
    node.step(Message(MessageType.PRE_VOTE_RESPONSE, 1, 2, term=3))
    node.step(Message(MessageType.VOTE_RESPONSE, 1, 2, term=3))
    assert node.role is Role.LEADER and node.log.last_index == 3  # its empty entry of term 3
    drain(node)
    node.step(Message(MessageType.APPEND_RESPONSE, 1, 2, term=3, index=2))
    assert node.log.committed == 0  # a quorum has index 2, but it is of term 2
    node.step(Message(MessageType.APPEND_RESPONSE, 1, 2, term=3, index=3))
    assert node.log.committed == 3  # the term-3 entry commits, and index 2 with it


def test_a_divergent_follower_is_repaired_in_few_round_trips() -> None:
    cluster = elected_cluster(seed=3)
    old_leader = cluster.running(1)
    cluster.isolate(1)
    for i in range(30):
        old_leader.propose(b"old%d" % i)  # 30 entries of term 1 that nobody else gets
    others = (cluster.running(2), cluster.running(3))
    while not any(raw.role is Role.LEADER for raw in others):
        cluster.tick()
    leader = next(raw for raw in others if raw.role is Role.LEADER)
    assert leader.term == 2
    for i in range(40):
        leader.propose(b"new%d" % i)
    cluster.stabilize()
    rejects: list[Message] = []
    original = cluster._deliver

    def count(m: Message) -> None:
        if m.type is MessageType.APPEND_RESPONSE and m.reject:
            rejects.append(m)
        original(m)

    cluster._deliver = count  # type: ignore[method-assign]
    cluster.heal()
    for _ in range(3):
        cluster.tick()
    assert old_leader.log.last_index == leader.log.last_index == 42  # 2 empty entries + 40
    assert old_leader.log.term_at(31) == 2  # its own entries of term 1 are replaced
    assert len(rejects) <= 2  # 30 conflicting entries, skipped a term at a time


def test_a_follower_rejects_a_gap_with_a_hint_to_skip_a_whole_term() -> None:
    follower = lone_node(2, (1, 2, 3), hard_state=HardState(term=3), entries=entries_of_terms(1, 2, 2, 2, 2))
    follower.step(Message(MessageType.APPEND, 2, 1, term=3, index=5, log_term=3))
    (answer,) = drain(follower)
    assert answer.reject and answer.index == 5
    assert (answer.reject_hint, answer.log_term) == (5, 2)  # "I end at term 2": skip to there
    log = RaftLog(None, entries_of_terms(1, 1, 3, 3, 3), 0)
    assert log.find_conflict_by_term(5, 2) == (2, 1)  # the leader's side of the same computation


def test_a_late_duplicate_append_does_not_truncate_newer_entries() -> None:
    follower = lone_node(2, (1, 2, 3), hard_state=HardState(term=1))
    entries = entries_of_terms(1, 1, 1)
    follower.step(Message(MessageType.APPEND, 2, 1, term=1, index=0, log_term=0, entries=entries))
    follower.step(Message(MessageType.APPEND, 2, 1, term=1, index=0, log_term=0, entries=entries[:1]))
    assert follower.log.last_index == 3
    assert [m.index for m in drain(follower)] == [3, 1]


def test_an_append_answer_waits_in_the_ready_of_the_entries_it_acknowledges() -> None:
    follower = lone_node(2, (1, 2, 3))
    follower.step(Message(MessageType.APPEND, 2, 1, term=1, index=0, log_term=0, entries=entries_of_terms(1)))
    rd = follower.ready()
    assert [e.index for e in rd.entries] == [1]
    assert [(m.type, m.index) for m in rd.messages] == [(MessageType.APPEND_RESPONSE, 1)]


def test_proposals_between_two_readys_travel_in_one_append_per_follower() -> None:
    cluster = elected_cluster()
    leader = cluster.running(1)
    for i in range(10):
        leader.propose(b"%d" % i)
    appends = [m for m in take_ready(leader).messages if m.type is MessageType.APPEND]
    assert sorted(m.to for m in appends) == [2, 3]
    assert all(len(m.entries) == 10 for m in appends)


def test_a_replicating_follower_gets_at_most_max_inflight_appends_before_answering() -> None:
    cluster = elected_cluster(max_entries_per_append=1, max_inflight_appends=4)
    leader = cluster.running(1)
    progress = leader.progress(2)
    assert progress is not None and progress.state is ProgressState.REPLICATE
    for i in range(10):
        leader.propose(b"%d" % i)
    appends = [m for m in take_ready(leader).messages if m.type is MessageType.APPEND and m.to == 2]
    assert len(appends) == 4 and progress.is_paused()


def test_a_probing_follower_gets_one_append_per_heartbeat() -> None:
    cluster = elected_cluster()
    leader = cluster.running(1)
    progress = leader.progress(3)
    assert progress is not None
    progress.become_probe()
    for i in range(3):
        leader.propose(b"%d" % i)
    appends = [m for m in take_ready(leader).messages if m.type is MessageType.APPEND and m.to == 3]
    assert len(appends) == 1 and progress.is_paused()


def test_inflights_free_what_is_acknowledged() -> None:
    inflights = Inflights(3)
    for last in (2, 4, 6):
        inflights.add(last)
    assert inflights.full()
    inflights.free_to(4)
    assert len(inflights) == 1 and not inflights.full()


def test_a_follower_forwards_a_proposal_to_the_leader() -> None:
    cluster = elected_cluster()
    follower = cluster.running(2)
    before = follower.log.last_index
    assert follower.propose(b"forwarded") == 0
    cluster.stabilize()
    for node in cluster.alive():
        assert node.raw is not None and node.raw.log.committed == before + 1
        assert node.raw.log.term_at(before + 1) == 1
    assert cluster.running(1).log.slice(before + 1, before + 2)[0].data == b"forwarded"


def test_a_follower_without_a_leader_refuses_proposals() -> None:
    node = lone_node(2, (1, 2, 3))
    with pytest.raises(NoLeader):
        node.propose(b"x")


def test_the_leader_ignores_forwarded_proposals_while_handing_over() -> None:
    cluster = elected_cluster()
    leader = cluster.running(1)
    cluster.isolate(3)
    leader.transfer_leader(3)  # 3 is unreachable: the hand-over stays pending
    last = leader.log.last_index
    leader.step(Message(MessageType.PROPOSE, 1, 2, leader.term, entries=(Entry(0, 0, data=b"x"),)))
    assert leader.log.last_index == last
