"""Raft consensus as a pure state machine (etcd's RawNode/Ready design).

Determinism contract: given the same sequence of ``tick``, ``step``,
``propose`` and ``read_index`` calls and the same seeded ``random.Random``, a
RawNode produces the same sequence of ``Ready`` values. It never touches a
socket, a file or a clock: the driver in ``confagent.server`` does, in the
order ``Ready`` prescribes (persist, then send, then apply, then ``advance``).

Features: elections with pre-vote and check-quorum, pipelined log replication
with per-follower flow control and fast backtracking, snapshots for followers
behind the compacted log, ReadIndex reads, leadership transfer, and membership
changes one member at a time (voters and learners).
"""

from confagent.raft._confchange import ConfChange, ConfChangeType
from confagent.raft._log import RaftLog
from confagent.raft._progress import Progress, ProgressState
from confagent.raft._rawnode import RaftConfig, RawNode, Ready, Role
from confagent.raft._readonly import ReadState
from confagent.raft._state import SnapshotSource
from confagent.raft._types import (
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    Snapshot,
    SnapshotMeta,
)

__all__ = [
    "ConfChange",
    "ConfChangeType",
    "ConfState",
    "Entry",
    "EntryType",
    "HardState",
    "Message",
    "MessageType",
    "Progress",
    "ProgressState",
    "RaftConfig",
    "RaftLog",
    "RawNode",
    "ReadState",
    "Ready",
    "Role",
    "Snapshot",
    "SnapshotMeta",
    "SnapshotSource",
]
