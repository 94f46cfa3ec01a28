"""RawNode on a one-member cluster: the Ready contract the store's write path relies on."""

from __future__ import annotations

import random

import pytest

from confagent.errors import ConfigError, NoLeader
from confagent.raft import Entry, HardState, RaftConfig, RawNode, Role, SnapshotMeta


def _node(hard_state: HardState | None = None, entries: tuple[Entry, ...] = (),
          snapshot: SnapshotMeta | None = None) -> RawNode:
    return RawNode(RaftConfig(node_id=1, voters=(1,)), hard_state or HardState(), snapshot, entries,
                   random.Random(7))


def _drain(node: RawNode) -> list[Entry]:
    applied: list[Entry] = []
    while node.has_ready():
        rd = node.ready()
        applied.extend(rd.committed)
        node.advance(rd)
    return applied


def test_a_follower_refuses_proposals() -> None:
    with pytest.raises(NoLeader):
        _node().propose(b"x")


def test_campaign_makes_a_single_voter_leader_with_an_empty_entry() -> None:
    node = _node()
    node.campaign()
    assert (node.role, node.term, node.leader_id) == (Role.LEADER, 1, 1)
    rd = node.ready()
    assert rd.hard_state == HardState(term=1, vote=1, commit=1)
    assert rd.entries == (Entry(term=1, index=1),)
    assert rd.committed == rd.entries
    assert rd.must_sync and rd.messages == ()


def test_ticks_elect_a_single_voter_within_two_election_timeouts() -> None:
    node = _node()
    for _ in range(20):
        node.tick()
    assert node.role is Role.LEADER


def test_proposals_batch_into_one_ready_in_order() -> None:
    node = _node()
    node.campaign()
    _drain(node)
    indexes = [node.propose(bytes([i])) for i in range(5)]
    rd = node.ready()
    assert [e.index for e in rd.entries] == indexes == [2, 3, 4, 5, 6]
    assert [e.data for e in rd.committed] == [bytes([i]) for i in range(5)]
    node.advance(rd)
    assert not node.has_ready()


def test_entries_proposed_between_ready_and_advance_come_in_the_next_ready() -> None:
    node = _node()
    node.campaign()
    _drain(node)
    node.propose(b"a")
    rd = node.ready()
    node.propose(b"b")
    node.advance(rd)
    assert [e.data for e in _drain(node)] == [b"b"]


def test_restart_from_persisted_state_keeps_the_log_and_moves_to_a_new_term() -> None:
    node = _node()
    node.campaign()
    node.propose(b"a")
    persisted: list[Entry] = []
    hard_state = HardState()
    while node.has_ready():
        rd = node.ready()
        persisted.extend(rd.entries)
        hard_state = rd.hard_state or hard_state
        node.advance(rd)
    restarted = _node(hard_state, tuple(persisted))
    assert restarted.log.committed == 2 and restarted.log.applied == 0
    assert [e.data for e in restarted.log.to_apply()] == [b"", b"a"]
    restarted.campaign()
    assert restarted.term == 2


def test_compaction_forgets_applied_entries_but_remembers_the_boundary() -> None:
    node = _node()
    node.campaign()
    for i in range(3):
        node.propose(bytes([i]))
    _drain(node)
    node.compact(SnapshotMeta(index=3, term=1))
    assert node.log.term_at(3) == 1 and node.log.term_at(2) is None
    assert node.log.last_index == 4


@pytest.mark.parametrize("voters", [(2,), (1, 2, 3)])
def test_configs_a_node_cannot_run_are_refused(voters: tuple[int, ...]) -> None:
    # (2,): the node is not a member; (1, 2, 3): peers but no snapshot source to catch them up.
    with pytest.raises(ConfigError):
        RawNode(RaftConfig(node_id=1, voters=voters), HardState(), None, (), random.Random(7))
