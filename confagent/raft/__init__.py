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

The values on disk and on the wire (``_types``: entries, snapshots, messages)
load with the package; the machine's names (``RawNode`` and what it uses) on
first use (``confagent.lazy``): a reader of a data directory decodes entries
and snapshots and runs no Raft.
"""

from typing import TYPE_CHECKING

from confagent.lazy import lazy_exports
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

if TYPE_CHECKING:
    from confagent.raft._confchange import ConfChange, ConfChangeType
    from confagent.raft._log import RaftLog
    from confagent.raft._progress import Progress, ProgressState
    from confagent.raft._rawnode import RaftConfig, RawNode, Ready, Role
    from confagent.raft._readonly import ReadState
    from confagent.raft._state import SnapshotSource

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

_LAZY_MODULES = {"ConfChange": "_confchange", "ConfChangeType": "_confchange", "RaftLog": "_log",
                 "Progress": "_progress", "ProgressState": "_progress", "RaftConfig": "_rawnode",
                 "RawNode": "_rawnode", "Ready": "_rawnode", "Role": "_rawnode", "ReadState": "_readonly",
                 "SnapshotSource": "_state"}
"""The machine's names, by the module defining them (module docstring)."""

if not TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead, and checks every name
    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY_MODULES)
