"""When the store's driver may send a Ready's messages before persisting it (``_node`` rule 7).

``Ready.send_before_persist`` is the core's decision; the driver follows it. These
tests pin the decision down case by case, and run the seeded simulation (whose
driver sends such Readys first, so its crash points strike with the messages out
and nothing persisted) with a check of the rule's promise on every early Ready:
no message carries a commit index beyond what the leader had durable.
"""

from __future__ import annotations

import random

import pytest

from confagent.raft import (
    HardState,
    Message,
    MessageType,
    RaftConfig,
    RawNode,
    Ready,
    Role,
    Snapshot,
    SnapshotMeta,
)
from confagent.testing import NetworkFaults, SimCluster, SimObserver


def _elected(seed: int = 1) -> SimCluster:
    cluster = SimCluster(random.Random(seed), (1, 2, 3), base_config=RaftConfig(node_id=1, voters=(1,)))
    cluster.running(1).campaign()
    cluster.stabilize()
    return cluster


def test_a_leader_with_peers_sends_its_appends_before_persisting_them() -> None:
    leader = _elected().running(1)
    leader.propose(b"x")
    stable = leader.log.stable_index
    rd = leader.ready()
    assert rd.entries and rd.must_sync and rd.send_before_persist
    appends = [m for m in rd.messages if m.entries]
    assert appends and all(m.commit <= stable < rd.entries[0].index for m in appends)


def test_followers_and_candidates_persist_first() -> None:
    cluster = _elected()
    cluster.running(1).propose(b"x")
    leader_rd = cluster.running(1).ready()
    follower = cluster.running(2)
    for m in leader_rd.messages:
        if m.to == 2:
            follower.step(m)
    rd = follower.ready()
    assert rd.entries and not rd.send_before_persist  # its answer vouches for its disk
    follower.advance(rd)
    follower.campaign()
    rd = follower.ready()
    assert follower.role in (Role.PRE_CANDIDATE, Role.CANDIDATE) and rd.messages
    assert not rd.send_before_persist


def _lone_voter_with_learner() -> RawNode:
    config = RaftConfig(node_id=1, voters=(1,), learners=(2,))
    node = RawNode(config, HardState(), None, (), random.Random(1),
                   snapshot_source=lambda: Snapshot(SnapshotMeta()))
    node.campaign()
    return node


def test_a_new_term_or_vote_is_persisted_before_anything_is_sent() -> None:
    node = _lone_voter_with_learner()
    rd = node.ready()
    assert node.role is Role.LEADER and rd.hard_state is not None and rd.hard_state.vote == 1
    assert not rd.send_before_persist


def test_a_lone_voter_committing_by_its_own_append_persists_first() -> None:
    # The learner's append would call the new entry committed while only memory holds it.
    node = _lone_voter_with_learner()
    first = node.ready()
    node.advance(first)
    for m in first.messages:  # the learner takes the leader's first entry
        node.step(Message(MessageType.APPEND_RESPONSE, 1, 2, m.term, index=m.index + len(m.entries)))
    node.propose(b"x")
    rd = node.ready()
    assert node.role is Role.LEADER and rd.committed[-1] == rd.entries[-1]
    assert any(m.commit == rd.entries[-1].index for m in rd.messages)
    assert not rd.send_before_persist


class _EarlySendPromise(SimObserver):
    """Every Ready sent before persisting is a leader's whose messages commit only durable entries."""

    def __init__(self) -> None:
        self.early = 0

    def persisting(self, cluster: SimCluster, node_id: int, rd: Ready) -> None:
        if not rd.send_before_persist:
            return
        raw = cluster.running(node_id)
        self.early += 1
        assert raw.role is Role.LEADER
        assert all(m.commit <= raw.log.stable_index for m in rd.messages), (node_id, rd)


@pytest.mark.parametrize("seed", range(40))
def test_the_simulation_keeps_the_early_send_promise(seed: int) -> None:
    print(f"seed {seed}")
    rng = random.Random(seed)
    observer = _EarlySendPromise()
    faults = NetworkFaults(drop_rate=0.05, delay_ticks_max=2, crash_in_ready_rate=0.01)
    cluster = SimCluster(rng, (1, 2, 3), faults=faults, observer=observer,
                         base_config=RaftConfig(node_id=1, voters=(1,), election_ticks=10))
    for _ in range(300):
        for node in cluster.alive():
            raw = node.raw
            if raw is not None and raw.role is Role.LEADER and rng.random() < 0.5:
                raw.propose(b"p%d" % rng.getrandbits(32))
        if rng.random() < 0.01:
            victim = rng.choice(sorted(cluster.nodes))
            if cluster.nodes[victim].alive:
                cluster.crash(victim)
        for node_id, node in sorted(cluster.nodes.items()):
            if not node.alive and rng.random() < 0.05:
                cluster.restart(node_id)
        cluster.tick()
    assert observer.early > 0
