"""Raft consensus as a pure state machine (etcd's RawNode/Ready design).

Determinism contract: given the same sequence of ``tick``, ``step`` and
``propose`` calls and the same seeded ``random.Random``, a RawNode produces
the same sequence of ``Ready`` values. It never touches a socket, a file or
a clock: the driver in ``confagent.server`` does, in the order ``Ready``
prescribes (persist, then send, then apply, then ``advance``).
"""

from confagent.raft._log import RaftLog
from confagent.raft._rawnode import RaftConfig, RawNode, Ready, Role
from confagent.raft._types import (
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    SnapshotMeta,
)

__all__ = [
    "ConfState",
    "Entry",
    "EntryType",
    "HardState",
    "Message",
    "MessageType",
    "RaftConfig",
    "RaftLog",
    "RawNode",
    "Ready",
    "Role",
    "SnapshotMeta",
]
