"""Leadership transfer (TIMEOUT_NOW) and catching a follower up with a snapshot."""

from __future__ import annotations

import pytest

from confagent.errors import ConfigError, NoLeader
from confagent.raft import ConfChange, ConfChangeType, MessageType, ProgressState, Role

from .helpers import elected_cluster, take_ready


def test_leadership_moves_to_an_up_to_date_follower_at_once() -> None:
    cluster = elected_cluster()
    cluster.running(1).transfer_leader(2)
    cluster.stabilize()
    assert cluster.running(2).role is Role.LEADER and cluster.running(2).term == 2
    assert cluster.running(1).leader_id == 2


def test_a_lagging_target_is_caught_up_before_it_is_told_to_campaign() -> None:
    cluster = elected_cluster()
    cluster.isolate(3)
    leader = cluster.running(1)
    for i in range(5):
        leader.propose(b"%d" % i)
    cluster.stabilize()
    cluster.heal()
    leader.transfer_leader(3)
    cluster.stabilize()
    for _ in range(3):
        cluster.tick()
    assert cluster.running(3).role is Role.LEADER
    assert cluster.running(3).log.committed >= 7


def test_proposals_are_refused_while_leadership_is_handed_over() -> None:
    cluster = elected_cluster()
    cluster.isolate(2)
    leader = cluster.running(1)
    leader.transfer_leader(2)
    with pytest.raises(NoLeader):
        leader.propose(b"x")


def test_a_transfer_that_does_not_finish_within_an_election_timeout_is_abandoned() -> None:
    cluster = elected_cluster(check_quorum=False)
    cluster.isolate(2)
    leader = cluster.running(1)
    leader.transfer_leader(2)
    assert leader.lead_transferee == 2
    for _ in range(cluster.base_config.election_ticks):
        cluster.tick()
    assert leader.lead_transferee == 0 and leader.role is Role.LEADER
    leader.propose(b"accepted again")


def test_leadership_cannot_go_to_a_learner() -> None:
    cluster = elected_cluster()
    leader = cluster.running(1)
    leader.propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 4))
    cluster.add_node(4)
    cluster.stabilize()
    with pytest.raises(ConfigError):
        leader.transfer_leader(4)


def test_a_follower_behind_the_compacted_log_is_sent_a_snapshot() -> None:
    cluster = elected_cluster()
    cluster.snapshot_entries = 10
    cluster.isolate(3)
    leader = cluster.running(1)
    for i in range(30):
        leader.propose(b"%d" % i)
    cluster.stabilize()
    assert leader.log.offset > cluster.running(3).log.last_index  # what node 3 needs is gone
    sent: list[int] = []
    original = cluster._deliver

    def watch(m: object) -> None:
        if getattr(m, "type", None) is MessageType.SNAPSHOT:
            sent.append(m.to)  # type: ignore[attr-defined]
        original(m)  # type: ignore[arg-type]

    cluster._deliver = watch  # type: ignore[method-assign]
    cluster.heal()
    for _ in range(5):
        cluster.tick()
    assert sent == [3]
    follower, machine = cluster.running(3), cluster.nodes[3].machine
    assert machine is not None and machine.applied == leader.log.committed
    assert machine.digest == cluster.nodes[1].machine.digest  # type: ignore[union-attr]
    assert follower.log.pending_snapshot is None  # the bytes left the core with the Ready
    progress = leader.progress(3)
    assert progress is not None and progress.state is ProgressState.REPLICATE


def test_a_failed_snapshot_send_returns_the_follower_to_probing() -> None:
    cluster = elected_cluster()
    leader = cluster.running(1)
    progress = leader.progress(3)
    assert progress is not None
    progress.become_snapshot(10)
    assert progress.is_paused()
    leader.report_snapshot(3, delivered=False)
    assert progress.state is ProgressState.PROBE and progress.next == progress.match + 1
    take_ready(leader)
