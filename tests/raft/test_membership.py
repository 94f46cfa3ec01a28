"""Membership changes one member at a time: add, promote, demote, remove; learners never count."""

from __future__ import annotations

import pytest

from confagent.errors import ConfigError, Unavailable
from confagent.raft import ConfChange, ConfChangeType, ConfState, Message, MessageType, Role
from confagent.raft._confchange import check_change

from .helpers import elected_cluster


def test_an_added_voter_gets_the_log_and_counts_to_the_quorum() -> None:
    cluster = elected_cluster(voters=(1,))
    leader = cluster.running(1)
    leader.propose_conf_change(ConfChange(ConfChangeType.ADD_VOTER, 2))
    cluster.add_node(2)
    cluster.stabilize()
    assert leader.conf_state == ConfState(voters=(1, 2))
    cluster.isolate(2)
    index = leader.propose(b"x")
    cluster.stabilize()
    assert leader.log.committed < index  # 1 of 2 voters is no quorum
    cluster.heal()
    for _ in range(2):
        cluster.tick()
    assert cluster.nodes[2].machine is not None and cluster.nodes[2].machine.applied == index


def test_a_learner_gets_the_log_but_never_counts_and_never_campaigns() -> None:
    cluster = elected_cluster(voters=(1, 2))
    leader = cluster.running(1)
    leader.propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 3))
    cluster.add_node(3)
    cluster.stabilize()
    assert cluster.running(3).conf_state == ConfState(voters=(1, 2), learners=(3,))
    cluster.isolate(2)
    index = leader.propose(b"x")
    cluster.stabilize()
    assert leader.log.committed < index  # the learner's answer does not commit it
    assert cluster.running(3).log.last_index == index - 1  # and it is sent committed entries only
    cluster.heal()
    cluster.tick()
    assert leader.log.committed == cluster.running(3).log.last_index == index
    cluster.isolate(1)
    for _ in range(100):
        cluster.tick()
    learner = cluster.running(3)
    assert learner.role is Role.FOLLOWER and learner.term == 1


def test_a_learners_vote_is_not_counted() -> None:
    cluster = elected_cluster(voters=(1, 2), check_quorum=False, pre_vote=False)
    leader = cluster.running(1)
    leader.propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 3))
    cluster.add_node(3)
    cluster.stabilize()
    cluster.crash(1)
    candidate = cluster.running(2)
    candidate.campaign()
    candidate.step(Message(MessageType.VOTE_RESPONSE, 2, 3, term=candidate.term))
    assert candidate.role is Role.CANDIDATE  # 3's vote does not make a quorum of {1, 2}


def test_a_promoted_learner_becomes_a_voter() -> None:
    cluster = elected_cluster(voters=(1,))
    leader = cluster.running(1)
    leader.propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 2))
    cluster.add_node(2)
    cluster.stabilize()
    leader.propose_conf_change(ConfChange(ConfChangeType.ADD_VOTER, 2))
    cluster.stabilize()
    assert leader.conf_state == cluster.running(2).conf_state == ConfState(voters=(1, 2))


def test_a_removed_voter_no_longer_counts_or_hears_from_the_leader() -> None:
    cluster = elected_cluster()
    leader = cluster.running(1)
    leader.propose_conf_change(ConfChange(ConfChangeType.REMOVE, 3))
    cluster.stabilize()
    assert leader.conf_state == ConfState(voters=(1, 2))
    assert leader.progress(3) is None
    cluster.crash(3)
    index = leader.propose(b"x")
    cluster.stabilize()
    assert leader.log.committed == index  # 2 of {1, 2}


def test_one_change_at_a_time() -> None:
    cluster = elected_cluster()
    leader = cluster.running(1)
    cluster.isolate(1)
    leader.propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 4))
    with pytest.raises(Unavailable):
        leader.propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 5))


@pytest.mark.parametrize("change", [
    ConfChange(ConfChangeType.ADD_VOTER, 2),    # already a voter
    ConfChange(ConfChangeType.REMOVE, 9),       # not a member
    ConfChange(ConfChangeType.REMOVE, 1),       # the leader itself: transfer first
    ConfChange(ConfChangeType.ADD_LEARNER, 1),  # demoting the leader: transfer first
])
def test_invalid_changes_are_refused(change: ConfChange) -> None:
    with pytest.raises(ConfigError):
        elected_cluster().running(1).propose_conf_change(change)


def test_the_last_voter_cannot_be_removed_or_demoted() -> None:
    for kind in (ConfChangeType.REMOVE, ConfChangeType.ADD_LEARNER):
        with pytest.raises(ConfigError):
            check_change(ConfState(voters=(1,), learners=(2,)), ConfChange(kind, 1))


def test_a_change_survives_encoding_and_garbage_is_refused() -> None:
    change = ConfChange(ConfChangeType.ADD_LEARNER, 0xDEADBEEF)
    assert ConfChange.decode(change.encode()) == change
    with pytest.raises(ConfigError):
        ConfChange.decode(b"\x07" + bytes(8))
