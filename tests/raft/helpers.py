"""Small builders shared by the Raft unit tests: clusters on a perfect network, lone RawNodes."""

from __future__ import annotations

import random
from collections.abc import Sequence

from confagent.raft import Entry, HardState, Message, RaftConfig, RawNode, Ready, Snapshot, SnapshotMeta
from confagent.testing import SimCluster

__all__ = ["drain", "elected_cluster", "entries_of_terms", "lone_node", "take_ready"]


def elected_cluster(voters: Sequence[int] = (1, 2, 3), leader: int = 1, seed: int = 1,
                    **config: object) -> SimCluster:
    """A cluster on a perfect network where ``leader`` won term 1 and everything is applied."""
    base = RaftConfig(node_id=1, voters=(1,), **config)  # type: ignore[arg-type]
    cluster = SimCluster(random.Random(seed), voters, base_config=base)
    cluster.running(leader).campaign()
    cluster.stabilize()
    return cluster


def entries_of_terms(*terms: int, start: int = 1) -> tuple[Entry, ...]:
    return tuple(Entry(term=t, index=start + i, data=b"e%d" % (start + i)) for i, t in enumerate(terms))


def lone_node(node_id: int, voters: Sequence[int], *, hard_state: HardState | None = None,
              entries: Sequence[Entry] = (), **config: object) -> RawNode:
    """A RawNode outside any cluster: the test plays its peers by stepping messages by hand."""
    raft_config = RaftConfig(node_id=node_id, voters=tuple(voters), **config)  # type: ignore[arg-type]
    return RawNode(raft_config, hard_state or HardState(), None, entries, random.Random(node_id),
                   snapshot_source=lambda: Snapshot(SnapshotMeta()))


def take_ready(node: RawNode) -> Ready:
    """One Ready, acknowledged at once (as if persisted, sent and applied)."""
    rd = node.ready()
    node.advance(rd)
    return rd


def drain(node: RawNode) -> list[Message]:
    """Every message the node wants to send now, its Readys acknowledged."""
    messages: list[Message] = []
    while node.has_ready():
        messages.extend(take_ready(node).messages)
    return messages
