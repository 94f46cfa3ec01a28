"""Proposals a follower forwards to its leader travel as one PROPOSE per Ready (``RawNode.ready``).

The store's followers forward every write they are sent; merging those made
between two Readys saves the leader a frame to decode and a step per write.
"""

from __future__ import annotations

import random

from confagent.raft import EntryType, MessageType, RaftConfig
from confagent.testing import SimCluster


def _elected(**limits: int) -> SimCluster:
    config = RaftConfig(node_id=1, voters=(1,), **limits)  # type: ignore[arg-type]
    cluster = SimCluster(random.Random(3), (1, 2, 3), base_config=config)
    cluster.running(1).campaign()
    cluster.stabilize()
    return cluster


def _proposals(cluster: SimCluster, follower: int, payloads: list[bytes]) -> list[list[bytes]]:
    node = cluster.running(follower)
    for data in payloads:
        assert node.propose(data) == 0  # forwarded
    rd = node.ready()
    node.advance(rd)
    return [[e.data for e in m.entries] for m in rd.messages if m.type is MessageType.PROPOSE]


def test_proposals_between_two_readys_travel_as_one_message() -> None:
    payloads = [b"p%d" % i for i in range(5)]
    assert _proposals(_elected(), 2, payloads) == [payloads]


def test_a_merged_proposal_stays_within_one_append() -> None:
    payloads = [b"p%d" % i for i in range(5)]
    assert _proposals(_elected(max_entries_per_append=2), 2, payloads) == [
        payloads[:2], payloads[2:4], payloads[4:]]
    big = [b"x" * 600, b"y" * 600, b"z" * 100]
    assert _proposals(_elected(max_append_bytes=1000), 2, big) == [big[:1], big[1:]]


def test_the_leader_commits_every_merged_proposal_in_order() -> None:
    cluster = _elected()
    payloads = [b"p%d" % i for i in range(7)]
    for data in payloads:
        cluster.running(3).propose(data)
    cluster.stabilize()
    applied = [e.data for e in cluster.running(1).log.slice(1, cluster.running(1).log.last_index + 1)
               if e.type is EntryType.NORMAL and e.data]
    assert applied == payloads
    assert all(cluster.nodes[i].machine.applied == cluster.running(1).log.last_index  # type: ignore[union-attr]
               for i in (1, 2, 3))
