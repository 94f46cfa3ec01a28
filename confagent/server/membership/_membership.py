"""The member table: who is in the cluster, as replicated state that every member applies alike.

A member is its ID, its peer URLs and whether it is a learner (set by membership
changes), and its name and client URLs (set when it publishes them after it
starts, as etcd's members do; a member without a name has not started yet).

Rules:
1. The table changes only when a log entry is applied: a membership change (a
   Raft ``CONF_CHANGE`` entry whose ``context`` is a ``ChangeContext``), or a
   ``MemberCommand`` (a normal entry: a member publishing its name and client
   URLs, or an update of a member's peer URLs).
2. Every change is checked against the table when applied, identically on
   every member (etcd's ``ValidateConfigurationChange``): an invalid one
   changes nothing, and its proposer gets the error.
3. Removed IDs are remembered, so that a removed member restarted learns that it
   must stop; the same peer URLs may be added again later (the same ID, then).
4. The table travels with the key-value state in snapshots (``wrap_snapshot``);
   a snapshot payload of the key-value state alone (an older member's, or a
   restored backup's) loads without a table: the flags then describe it.
5. An added learner is refused past the limit of learners (``--max-learners``) the proposing leader
   holds: the limit travels in the change's context, so that every member applying it counts against
   the same limit (etcd 3.5 counts against each member's own flag, which its docs ask to be alike).
6. The checks etcd makes before proposing (``--strict-reconfig-check``, on by
   default) are functions of the table here (``ready_to_*``), as etcd 3.4.23 counts.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any
from urllib.parse import urlsplit

import msgpack  # type: ignore[import-untyped]

from confagent.errors import (
    MemberBadURLs,
    MemberExists,
    MemberNotFound,
    MemberNotLearner,
    PeerURLExists,
    StorageError,
    TooManyLearners,
)
from confagent.raft import ConfChange, ConfChangeType

__all__ = [
    "DEFAULT_MAX_LEARNERS",
    "ChangeContext",
    "CommandKind",
    "Member",
    "MemberCommand",
    "MemberTable",
    "check_peer_urls",
    "ready_to_add_voter",
    "ready_to_promote",
    "ready_to_remove",
    "unwrap_snapshot",
    "wrap_snapshot",
]

DEFAULT_MAX_LEARNERS = 1
"""Learners a cluster may have at once unless ``--max-learners`` says more (etcd 3.4's ``maxLearners``,
etcd 3.5's ``--experimental-max-learners`` default)."""

_FORMAT = 1
_SNAPSHOT_MAGIC = b"CAMT"
"""Starts a wrapped snapshot payload. ``C`` is a msgpack integer, never the array a bare
key-value snapshot starts with, so the two cannot be confused."""
_TABLE_LENGTH = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class Member:
    """One member as ``member list`` shows it; ``name`` is empty until it publishes."""

    id: int
    peer_urls: tuple[str, ...]
    name: str = ""
    client_urls: tuple[str, ...] = ()
    is_learner: bool = False

    @property
    def started(self) -> bool:
        return bool(self.name)

    def to_fields(self) -> list[Any]:
        """The member as a msgpack-ready list (the member table's encoding, and peer frames')."""
        return [self.id, list(self.peer_urls), self.name, list(self.client_urls), self.is_learner]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Member:
        """Raises ValueError or TypeError when ``fields`` is not what ``to_fields`` made."""
        member_id, peer_urls, name, client_urls, is_learner = fields
        return cls(int(member_id), tuple(map(str, peer_urls)), str(name), tuple(map(str, client_urls)),
                   bool(is_learner))


@dataclass(frozen=True, slots=True)
class ChangeContext:
    """What a membership change entry carries besides Raft's type and ID (its ``context``).

    ``request_id`` lets the proposing member find its waiting caller; ``promote``
    tells a learner's promotion from the addition of a new voter; ``max_learners`` is the
    proposer's limit of learners (rule 5; a context written before it had one counts etcd 3.4's).
    """

    request_id: bytes
    peer_urls: tuple[str, ...] = ()
    promote: bool = False
    max_learners: int = DEFAULT_MAX_LEARNERS

    def encode(self) -> bytes:
        packed: bytes = msgpack.packb([_FORMAT, self.request_id, list(self.peer_urls), self.promote,
                                       self.max_learners], use_bin_type=True)
        return packed

    @classmethod
    def decode(cls, data: bytes) -> ChangeContext:
        """Raises StorageError when ``data`` is not a context this version wrote."""
        try:
            version, request_id, peer_urls, promote, *rest = msgpack.unpackb(data, raw=False)
            if version != _FORMAT or len(rest) > 1:
                raise ValueError(f"format {version!r}")
            limit = int(rest[0]) if rest else DEFAULT_MAX_LEARNERS
            return cls(bytes(request_id), tuple(map(str, peer_urls)), bool(promote), limit)
        except (ValueError, TypeError, msgpack.UnpackException) as error:
            raise StorageError(f"undecodable membership change context: {error}") from error


class CommandKind(IntEnum):
    PUBLISH = 1
    """A member's name and client URLs (etcd's publish of member attributes)."""
    UPDATE = 2
    """A member's new peer URLs (``member update``)."""


@dataclass(frozen=True, slots=True)
class MemberCommand:
    """A change of a member's attributes, carried by a normal log entry (``encode`` adds a marker)."""

    kind: CommandKind
    member_id: int
    urls: tuple[str, ...]
    name: str = ""

    MARKER = b"\xc1"
    """Starts an encoded command: a byte msgpack never uses, so no store request starts with it."""

    def encode(self) -> bytes:
        body = [_FORMAT, self.kind.value, self.member_id, list(self.urls), self.name]
        packed: bytes = msgpack.packb(body, use_bin_type=True)
        return self.MARKER + packed

    @classmethod
    def decode(cls, data: bytes) -> MemberCommand:
        """Raises StorageError when ``data`` is not a command this version wrote."""
        try:
            version, kind, member_id, urls, name = msgpack.unpackb(data[len(cls.MARKER):], raw=False)
            if version != _FORMAT:
                raise ValueError(f"format {version!r}")
            return cls(CommandKind(kind), int(member_id), tuple(map(str, urls)), str(name))
        except (ValueError, TypeError, msgpack.UnpackException) as error:
            raise StorageError(f"undecodable member command: {error}") from error


def check_peer_urls(urls: Iterable[str]) -> tuple[str, ...]:
    """The URLs, if each is ``http(s)://HOST:PORT`` and there is at least one.

    Raises:
        MemberBadURLs: etcd's answer to a missing or malformed URL.
    """
    checked = tuple(urls)
    for url in checked:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise MemberBadURLs() from None
        if parts.scheme not in ("http", "https") or not parts.hostname or not port \
                or parts.path not in ("", "/"):
            raise MemberBadURLs()
    if not checked:
        raise MemberBadURLs()
    return checked


class MemberTable:
    """The members of one cluster and the IDs removed from it (rules in the module doc)."""

    def __init__(self, cluster_id: int, members: Iterable[Member] = (), removed: Iterable[int] = ()) -> None:
        self.cluster_id = cluster_id
        self._members = {m.id: m for m in members}
        self.removed = frozenset(removed)

    def __repr__(self) -> str:
        return f"MemberTable({self.cluster_id:x}, {self.members()!r}, removed={sorted(self.removed)})"

    def members(self) -> tuple[Member, ...]:
        """Every member, by ID (etcd lists them so)."""
        return tuple(self._members[i] for i in sorted(self._members))

    def get(self, member_id: int) -> Member | None:
        return self._members.get(member_id)

    def voters(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members() if not m.is_learner)

    def peer_urls(self) -> dict[int, str]:
        """Member ID -> the first peer URL, where the transport dials it."""
        return {m.id: m.peer_urls[0] for m in self.members() if m.peer_urls}

    # -- membership changes (Raft CONF_CHANGE entries) ------------------------------------
    def check_change(self, kind: ConfChangeType, member_id: int, context: ChangeContext) -> None:
        """Raises the MembershipError etcd gives when a change of ``kind`` to ``member_id``
        cannot apply to this table. Made before proposing (an ID that is no member, 0 included,
        never reaches the log) and again when the entry is applied, on every member."""
        member = self._members.get(member_id)
        if kind is ConfChangeType.REMOVE:
            if member is None:
                raise MemberNotFound()
        elif context.promote:
            if member is None:
                raise MemberNotFound()
            if not member.is_learner:
                raise MemberNotLearner()
        else:
            self._check_urls_free(context.peer_urls, 0)
            if member is not None:
                raise MemberExists()
            learners = sum(m.is_learner for m in self._members.values())
            if kind is ConfChangeType.ADD_LEARNER and learners >= context.max_learners:
                raise TooManyLearners()

    def apply_change(self, change: ConfChange, context: ChangeContext) -> None:
        """Apply a change ``check_change`` let through."""
        member_id = change.node_id
        if change.type is ConfChangeType.REMOVE:
            del self._members[member_id]
            self.removed = self.removed | {member_id}
        elif context.promote:
            self._members[member_id] = replace(self._members[member_id], is_learner=False)
        else:
            self._members[member_id] = Member(member_id, context.peer_urls,
                                              is_learner=change.type is ConfChangeType.ADD_LEARNER)
            self.removed = self.removed - {member_id}

    # -- attribute changes (normal entries) --------------------------------------------------
    def check_command(self, command: MemberCommand) -> None:
        """Raises MemberNotFound or PeerURLExists when ``command`` cannot apply."""
        if command.member_id not in self._members:
            raise MemberNotFound()
        if command.kind is CommandKind.UPDATE:
            self._check_urls_free(command.urls, command.member_id)

    def apply_command(self, command: MemberCommand) -> None:
        member = self._members[command.member_id]
        if command.kind is CommandKind.PUBLISH:
            member = replace(member, name=command.name, client_urls=command.urls)
        else:
            member = replace(member, peer_urls=command.urls)
        self._members[command.member_id] = member

    def _check_urls_free(self, urls: Iterable[str], member_id: int) -> None:
        taken = {url for m in self._members.values() if m.id != member_id for url in m.peer_urls}
        if taken.intersection(urls):
            raise PeerURLExists()

    # -- encoding --------------------------------------------------------------------------
    def encode(self) -> bytes:
        packed: bytes = msgpack.packb([_FORMAT, self.cluster_id, [m.to_fields() for m in self.members()],
                                       sorted(self.removed)], use_bin_type=True)
        return packed

    @classmethod
    def decode(cls, data: bytes) -> MemberTable:
        """Raises StorageError when ``data`` is not a table this version wrote."""
        try:
            version, cluster_id, members, removed = msgpack.unpackb(data, raw=False)
            if version != _FORMAT:
                raise ValueError(f"format {version!r}")
            return cls(int(cluster_id), map(Member.from_fields, members), map(int, removed))
        except (ValueError, TypeError, msgpack.UnpackException) as error:
            raise StorageError(f"undecodable member table: {error}") from error


def wrap_snapshot(table: MemberTable, kv_data: bytes) -> bytes:
    """A snapshot payload: the member table, then the key-value state's bytes."""
    encoded = table.encode()
    return b"".join((_SNAPSHOT_MAGIC, _TABLE_LENGTH.pack(len(encoded)), encoded, kv_data))


def unwrap_snapshot(data: bytes) -> tuple[MemberTable | None, bytes]:
    """The member table (None in a payload of the key-value state alone) and the key-value bytes.

    Raises:
        StorageError: a wrapped payload whose table cannot be read.
    """
    if not data.startswith(_SNAPSHOT_MAGIC):
        return None, data
    start = len(_SNAPSHOT_MAGIC) + _TABLE_LENGTH.size
    if len(data) < start:
        raise StorageError("snapshot payload cut short in its member table")
    (length,) = _TABLE_LENGTH.unpack_from(data, len(_SNAPSHOT_MAGIC))
    return MemberTable.decode(data[start:start + length]), data[start + length:]


# -- etcd's --strict-reconfig-check, as etcd 3.4.23 answers ------------------------------------
def _quorum(members: int) -> int:
    return members // 2 + 1


def ready_to_add_voter(table: MemberTable) -> bool:
    """Whether the started voters would still be a quorum with one more (unstarted) voter;
    a started lone voter may always take a second one (etcd's restore case)."""
    voters = table.voters()
    started = sum(m.started for m in voters)
    members = len(voters) + 1
    return (started == 1 and members == 2) or started >= _quorum(members)


def ready_to_remove(table: MemberTable, member_id: int) -> bool:
    """Whether the started voters left after removing ``member_id`` are a quorum of those left."""
    left = [m for m in table.voters() if m.id != member_id]
    return sum(m.started for m in left) >= _quorum(len(left))


def ready_to_promote(table: MemberTable) -> bool:
    """Whether the started voters and the learner (counted as started) are a quorum of the new voters."""
    voters = table.voters()
    return sum(m.started for m in voters) + 1 >= _quorum(len(voters) + 1)
