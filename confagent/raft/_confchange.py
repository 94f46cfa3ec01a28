"""Membership changes, one member at a time (Raft thesis §4.1).

Rules:
1. A change is a log entry (``EntryType.CONF_CHANGE``) whose data is
   ``ConfChange.encode()``; it takes effect on a node when the driver applies
   it and hands it back through ``RawNode.apply_conf_change``.
2. Changing one member at a time keeps every old quorum overlapping every new
   one, so no joint consensus is needed. The leader accepts a new change only
   once the previous one is applied (and after its first entry of the term).
3. ``ADD_VOTER`` of a learner promotes it; ``ADD_LEARNER`` of a voter demotes it;
   ``REMOVE`` drops a voter or a learner. The last voter cannot be removed.
4. ``context`` is the driver's, opaque to Raft (etcd's ``ConfChange.Context``): the
   store puts the member's attributes there. It is encoded after the fixed part.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from confagent.errors import ConfigError
from confagent.raft._types import ConfState

__all__ = ["ConfChange", "ConfChangeType", "apply_change", "check_change"]


class ConfChangeType(IntEnum):
    ADD_VOTER = 0
    REMOVE = 1
    ADD_LEARNER = 2


_FIXED_BYTES = 9


@dataclass(frozen=True, slots=True)
class ConfChange:
    """Add, promote, demote or remove one member; ``context`` travels with it, unread by Raft."""

    type: ConfChangeType
    node_id: int
    context: bytes = b""

    def __post_init__(self) -> None:
        if not 0 < self.node_id < 1 << 64:
            raise ConfigError(f"raft: bad member id {self.node_id} in a membership change")

    def encode(self) -> bytes:
        return bytes([self.type]) + self.node_id.to_bytes(8, "big") + self.context

    @classmethod
    def decode(cls, data: bytes) -> ConfChange:
        """Read a change from a log entry's data.

        Raises:
            ConfigError: the bytes are not an encoded ConfChange.
        """
        if len(data) < _FIXED_BYTES or data[0] not in {t.value for t in ConfChangeType}:
            raise ConfigError(f"raft: undecodable membership change {data[:_FIXED_BYTES]!r}")
        return cls(ConfChangeType(data[0]), int.from_bytes(data[1:_FIXED_BYTES], "big"),
                   bytes(data[_FIXED_BYTES:]))


def check_change(conf: ConfState, change: ConfChange) -> None:
    """Refuse a change that would do nothing or leave no voter.

    Raises:
        ConfigError: adding a voter (or learner) that already is one, removing a
            non-member, or removing or demoting the last voter.
    """
    member = change.node_id
    if change.type is ConfChangeType.ADD_VOTER and member in conf.voters:
        raise ConfigError(f"raft: {member:x} is already a voter")
    if change.type is ConfChangeType.ADD_LEARNER and member in conf.learners:
        raise ConfigError(f"raft: {member:x} is already a learner")
    if change.type is ConfChangeType.REMOVE and member not in conf.voters and member not in conf.learners:
        raise ConfigError(f"raft: {member:x} is not a member")
    if change.type is not ConfChangeType.ADD_VOTER and conf.voters == (member,):
        raise ConfigError(f"raft: {member:x} is the last voter")


def apply_change(conf: ConfState, change: ConfChange) -> ConfState:
    """The membership after ``change`` (checked first: see ``check_change``)."""
    check_change(conf, change)
    voters = set(conf.voters) - {change.node_id}
    learners = set(conf.learners) - {change.node_id}
    if change.type is ConfChangeType.ADD_VOTER:
        voters.add(change.node_id)
    elif change.type is ConfChangeType.ADD_LEARNER:
        learners.add(change.node_id)
    return ConfState(voters=tuple(sorted(voters)), learners=tuple(sorted(learners)))
