"""Learners at fleet scale in the pure core: a stalled learner costs the leader a bounded number of
appends and never holds the voters back; let go, it catches up (through a snapshot once the log it
needs is compacted); a promoted learner gets a voter's pipeline. Seeded, and a hypothesis model."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confagent.raft import (
    ConfChange,
    ConfChangeType,
    HardState,
    Message,
    MessageType,
    ProgressState,
    RaftConfig,
    RawNode,
    Role,
)
from confagent.testing import SimCluster, SimObserver, StateMachine

LEARNERS = (4, 5, 6)


class _Restores(SimObserver):
    """Counts the snapshots each node installed from its leader."""

    def __init__(self) -> None:
        self.count: dict[int, int] = {}

    def restored(self, cluster: SimCluster, node_id: int, machine: StateMachine) -> None:
        self.count[node_id] = self.count.get(node_id, 0) + 1


def _cluster(seed: int, *, learner_inflight: int, per_append: int = 1,
             observer: SimObserver | None = None) -> SimCluster:
    """Voters 1, 2, 3 led by 1, and the learners 4, 5, 6, all caught up."""
    base = RaftConfig(node_id=1, voters=(1,), max_inflight_learner_appends=learner_inflight,
                      max_entries_per_append=per_append)
    cluster = SimCluster(random.Random(seed), (1, 2, 3), base_config=base, observer=observer)
    cluster.running(1).campaign()
    cluster.stabilize()
    for learner in LEARNERS:
        cluster.running(1).propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, learner))
        cluster.stabilize()
        cluster.add_node(learner)
        cluster.stabilize()
    for _ in range(3):
        cluster.tick()
    return cluster


def _applied(cluster: SimCluster, node_id: int) -> int:
    machine = cluster.nodes[node_id].machine
    assert machine is not None
    return machine.applied


def _stalled_past_the_compacted_log(cluster: SimCluster, node_id: int, restores: _Restores) -> int:
    """Stalls ``node_id`` while the leader commits four times the simulation's snapshot interval, until
    what it needs next is compacted away; the snapshots it had restored before."""
    leader = cluster.running(1)
    cluster.stall(node_id)
    before = restores.count.get(node_id, 0)
    for i in range(200):
        leader.propose(b"%d" % i)
        cluster.stabilize()
    assert leader.log.first_index > _applied(cluster, node_id) + 1
    return before


def _catches_up_by_one_snapshot(cluster: SimCluster, node_id: int, restores: _Restores, before: int) -> None:
    """Ticks until ``node_id`` has applied the leader's whole log (at most 60), then checks that one
    snapshot more than ``before`` brought it there."""
    leader = cluster.running(1)
    for _ in range(60):
        cluster.tick()
        if _applied(cluster, node_id) == leader.log.last_index:
            break
    assert _applied(cluster, node_id) == leader.log.last_index
    assert restores.count.get(node_id, 0) == before + 1


def _held(cluster: SimCluster, node_id: int, kind: MessageType) -> list[int]:
    return [len(m.entries) for m in cluster.held if m.to == node_id and m.type is kind]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), learner_inflight=st.integers(1, 8), per_append=st.integers(1, 4),
       batches=st.lists(st.integers(1, 20), min_size=1, max_size=12))
def test_a_stalled_learner_holds_at_most_its_inflight_appends_and_voters_commit_everything(
        seed: int, learner_inflight: int, per_append: int, batches: list[int]) -> None:
    cluster = _cluster(seed, learner_inflight=learner_inflight, per_append=per_append)
    leader = cluster.running(1)
    cluster.stall(4)
    for size in batches:
        for i in range(size):
            leader.propose(b"%d" % i)
        cluster.stabilize()
        cluster.tick()
        # Bounded: appends carrying entries, unanswered, to the stalled learner (each at most
        # max_entries_per_append entries and max_append_bytes); snapshots one at a time.
        carrying = [n for n in _held(cluster, 4, MessageType.APPEND) if n]
        assert len(carrying) <= learner_inflight
        assert all(n <= per_append for n in carrying)
        assert len(_held(cluster, 4, MessageType.SNAPSHOT)) <= 1
        # Unaffected: the voters and the other learners have everything.
        last = leader.log.last_index
        assert leader.log.committed == last
        for member in (2, 3, 5, 6):
            assert _applied(cluster, member) == last
    cluster.resume(4)
    for _ in range(30):
        cluster.tick()
        if _applied(cluster, 4) == leader.log.last_index:
            break
    assert _applied(cluster, 4) == leader.log.last_index


def test_a_learner_stalled_past_the_compacted_log_rejoins_through_one_snapshot() -> None:
    restores = _Restores()
    cluster = _cluster(7, learner_inflight=2, observer=restores)
    before = _stalled_past_the_compacted_log(cluster, 5, restores)
    held = _held(cluster, 5, MessageType.APPEND)
    assert len([n for n in held if n]) <= 2
    cluster.resume(5)
    _catches_up_by_one_snapshot(cluster, 5, restores, before)


def test_a_snapshot_not_at_hand_is_asked_for_again_and_the_voters_go_on() -> None:
    """The leader's snapshot source answers None (the driver still reading or encoding it): no
    snapshot leaves, the learner stays where it was, the voters commit; once at hand, one goes."""
    restores = _Restores()
    cluster = _cluster(11, learner_inflight=2, observer=restores)
    leader = cluster.running(1)
    before = _stalled_past_the_compacted_log(cluster, 5, restores)
    cluster.snapshots_unavailable.add(1)
    cluster.resume(5)
    cluster.stabilize()  # what was held for it arrives
    stuck_at = _applied(cluster, 5)
    for i in range(40):  # four election timeouts of heartbeat answers, each asking again
        leader.propose(b"more %d" % i)
        cluster.tick()
        cluster.stabilize()
        progress = leader.progress(5)
        assert progress is not None and progress.state is not ProgressState.SNAPSHOT
    assert _applied(cluster, 5) == stuck_at and restores.count.get(5, 0) == before
    assert all(_applied(cluster, n) == leader.log.last_index for n in (2, 3, 4, 6))
    cluster.snapshots_unavailable.clear()
    _catches_up_by_one_snapshot(cluster, 5, restores, before)


def test_the_leader_sends_to_its_voters_before_any_learner() -> None:
    """Learners with lower ids than the voters: a Ready's messages still go to the voters first."""
    config = RaftConfig(node_id=9, voters=(9, 10, 11), learners=(1, 2))
    node = RawNode(config, HardState(), None, (), random.Random(1), snapshot_source=lambda: None)
    node.campaign()
    for kind in (MessageType.PRE_VOTE_RESPONSE, MessageType.VOTE_RESPONSE):
        node.step(Message(kind, 9, 10, term=1))
    assert node.role is Role.LEADER
    sent = [m.to for m in node.ready().messages if m.type is MessageType.APPEND]
    assert sent == [10, 11, 1, 2]


def test_a_promoted_learner_gets_a_voters_pipeline() -> None:
    cluster = _cluster(3, learner_inflight=2)
    leader = cluster.running(1)
    progress = leader.progress(6)
    assert progress is not None and progress.inflights.capacity == 2
    leader.propose_conf_change(ConfChange(ConfChangeType.ADD_VOTER, 6))
    cluster.stabilize()
    assert progress.inflights.capacity == RaftConfig(node_id=1, voters=(1,)).max_inflight_appends
    leader.propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 6))  # demoted: a learner's again
    cluster.stabilize()
    assert progress.inflights.capacity == 2


class _SnapshotTurns(_Restores):
    """Also records, after every event, how many learners the leader streams a snapshot to."""

    def __init__(self) -> None:
        super().__init__()
        self.most = 0

    def stepped(self, cluster: SimCluster) -> None:
        leader = cluster.nodes[1].raw
        if leader is None:
            return
        streaming = sum(1 for learner in LEARNERS if (p := leader.progress(learner)) is not None
                        and p.state is ProgressState.SNAPSHOT)
        self.most = max(self.most, streaming)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_learners_restarting_together_take_turns_for_snapshots_and_voters_go_on(seed: int) -> None:
    turns = _SnapshotTurns()
    cluster = _cluster(seed, learner_inflight=2, observer=turns)
    leader = cluster.running(1)
    for learner in LEARNERS:
        cluster.crash(learner)
    for i in range(150):  # three of the simulation's snapshot intervals: the learners' next entries go
        leader.propose(b"%d" % i)
        cluster.stabilize()
    restored = dict(turns.count)
    for learner in LEARNERS:  # a fleet restarting: every learner at once
        cluster.restart(learner)
    for i in range(200):
        leader.propose(b"later %d" % i)
        cluster.tick()
        assert leader.log.committed == leader.log.last_index  # the voters are never held back
        if all(_applied(cluster, n) == leader.log.last_index for n in LEARNERS):
            break
    assert all(_applied(cluster, n) == leader.log.last_index for n in LEARNERS)
    assert all(turns.count.get(n, 0) > restored.get(n, 0) for n in LEARNERS)  # each through a snapshot
    assert turns.most == 1  # one at a time


class _LearnerLogs(SimObserver):
    """After every event: no learner's log runs past what the leader committed (rule 5 of ``_leader``)."""

    def stepped(self, cluster: SimCluster) -> None:
        leader = cluster.nodes[1].raw
        if leader is None:
            return
        for learner in LEARNERS:
            raw = cluster.nodes[learner].raw if learner in cluster.nodes else None
            if raw is not None:
                assert raw.log.last_index <= leader.log.committed


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), batches=st.lists(st.integers(1, 10), min_size=1, max_size=10))
def test_learners_are_sent_each_committed_entry_once_in_one_append_per_ready(
        seed: int, batches: list[int]) -> None:
    cluster = _cluster(seed, learner_inflight=2, per_append=512, observer=_LearnerLogs())
    leader = cluster.running(1)
    for size in batches:
        cluster.stall(4)  # hold learner 4's mail to read it
        for i in range(size):
            leader.propose(b"%d" % i)
        cluster.stabilize()
        appends = [m for m in cluster.held if m.type is MessageType.APPEND]
        assert len(appends) == 1 and len(appends[0].entries) == size  # one append, carrying the batch
        assert appends[0].commit == appends[0].entries[-1].index  # and the commit to apply it
        cluster.resume(4)
        cluster.stabilize()
        for learner in LEARNERS:
            assert _applied(cluster, learner) == leader.log.last_index


def test_learners_at_one_position_are_sent_one_entries_tuple() -> None:
    """The peer transport encodes an append alike for many learners once: that takes one tuple."""
    cluster = _cluster(7, learner_inflight=2, per_append=512)
    for learner in LEARNERS:
        cluster.stall(learner)
    for i in range(3):
        cluster.running(1).propose(b"%d" % i)
    cluster.stabilize()
    appends = [m for m in cluster.held if m.type is MessageType.APPEND and m.entries]
    assert sorted(m.to for m in appends) == list(LEARNERS)
    assert all(m.entries is appends[0].entries for m in appends) and len(appends[0].entries) == 3


@pytest.mark.parametrize("kind", [MessageType.PRE_VOTE, MessageType.VOTE])
def test_a_learner_asking_for_votes_is_refused_and_changes_no_term(kind: MessageType) -> None:
    cluster = _cluster(5, learner_inflight=2)
    leader, voter = cluster.running(1), cluster.running(2)
    term, last = voter.term, voter.log.last_index
    voter.step(Message(kind, 2, 4, term=term + 5, index=last + 10, log_term=term + 4))
    answers = [m for m in voter.ready().messages if m.to == 4]
    assert [(m.type.name, m.reject, m.term) for m in answers] == [(f"{kind.name}_RESPONSE", True, term)]
    assert voter.term == term and voter.leader_id == 1 and voter.vote in (0, 1)
    assert leader.role is Role.LEADER and leader.term == term
