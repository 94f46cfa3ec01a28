"""ReadIndex: linearizable reads confirmed by a heartbeat round, never served by a stale leader."""

from __future__ import annotations

import pytest

from confagent.errors import NoLeader
from confagent.raft import HardState, Message, MessageType, ReadState, Role
from confagent.testing import SimCluster, SimObserver

from .helpers import drain, elected_cluster, entries_of_terms, lone_node, take_ready


class _ReadRecorder(SimObserver):
    def __init__(self) -> None:
        self.states: list[ReadState] = []

    def read(self, cluster: SimCluster, node_id: int, state: ReadState) -> None:
        self.states.append(state)


def test_a_read_at_the_leader_waits_for_a_quorum_of_heartbeat_answers() -> None:
    cluster = elected_cluster()
    leader = cluster.running(1)
    leader.read_index(b"ctx")
    rd = leader.ready()
    assert rd.read_states == ()
    heartbeats = [m for m in rd.messages if m.type is MessageType.HEARTBEAT]
    assert sorted(m.to for m in heartbeats) == [2, 3] and all(m.context == b"ctx" for m in heartbeats)
    leader.advance(rd)
    leader.step(Message(MessageType.HEARTBEAT_RESPONSE, 1, 2, term=1, context=b"ctx"))
    assert leader.ready().read_states == (ReadState(index=leader.log.committed, context=b"ctx"),)


def test_a_leader_cut_off_from_the_quorum_never_confirms_a_read() -> None:
    cluster = elected_cluster()
    cluster.isolate(1)
    leader = cluster.running(1)
    cluster.observer = recorder = _ReadRecorder()
    leader.read_index(b"ctx")
    for _ in range(2 * cluster.base_config.election_ticks):
        cluster.tick()
    # check-quorum deposed it, and the read was dropped unanswered
    assert recorder.states == [] and leader.role is Role.FOLLOWER


def test_a_follower_forwards_its_read_and_gets_the_leaders_index() -> None:
    cluster = elected_cluster()
    cluster.observer = recorder = _ReadRecorder()
    cluster.running(2).read_index(b"f")
    cluster.stabilize()
    assert recorder.states == [ReadState(cluster.running(1).log.committed, b"f")]


def test_a_new_leader_holds_reads_until_it_commits_an_entry_of_its_term() -> None:
    node = lone_node(1, (1, 2, 3), hard_state=HardState(term=1, commit=1), entries=entries_of_terms(1))
    node.campaign()
    node.step(Message(MessageType.PRE_VOTE_RESPONSE, 1, 2, term=2))
    node.step(Message(MessageType.VOTE_RESPONSE, 1, 2, term=2))
    assert node.role is Role.LEADER
    drain(node)
    node.read_index(b"early")
    assert not any(m.context == b"early" for m in drain(node))  # no heartbeat round yet
    node.step(Message(MessageType.APPEND_RESPONSE, 1, 2, term=2, index=2))  # its empty entry commits
    heartbeats = [m for m in drain(node) if m.type is MessageType.HEARTBEAT and m.context == b"early"]
    assert sorted(m.to for m in heartbeats) == [2, 3]
    node.step(Message(MessageType.HEARTBEAT_RESPONSE, 1, 3, term=2, context=b"early"))
    assert take_ready(node).read_states == (ReadState(2, b"early"),)


def test_a_lone_voter_answers_reads_at_once() -> None:
    node = lone_node(1, (1,))
    node.campaign()
    take_ready(node)
    node.read_index(b"x")
    assert take_ready(node).read_states == (ReadState(1, b"x"),)


def test_a_read_without_a_known_leader_is_refused() -> None:
    with pytest.raises(NoLeader):
        lone_node(2, (1, 2, 3)).read_index(b"x")


def test_one_quorum_answer_confirms_every_read_queued_before_it() -> None:
    cluster = elected_cluster()
    leader = cluster.running(1)
    leader.read_index(b"a")
    leader.read_index(b"b")
    drain(leader)
    leader.step(Message(MessageType.HEARTBEAT_RESPONSE, 1, 3, term=1, context=b"b"))
    assert [s.context for s in take_ready(leader).read_states] == [b"a", b"b"]
