"""The API's values that are not the state machine's: response headers and the server's own answers.

``kv`` holds the messages that go through the Raft log (ranges, puts, txns,
lease grants, watch events). The lease keep-alive and time-to-live, status
and member answers are given by a member directly, from its own state, so
their values live here, beside the codecs that write and read them; so do
the response header and :class:`Reply`, which pairs a decoded response with
it, a role's key-range :class:`Permission` as the Auth service answers it,
and the requests of the lock and election services (etcd's ``v3lock`` and
``v3election``), which a member serves as a client of its own KV, lease and
watch. Field names follow etcd's ``rpc.proto``, ``v3lock.proto`` and
``v3election.proto``; every codec of the package shares these values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from confagent.auth import Permission, PermissionType  # the auth core's values, on the wire as they are

__all__ = [
    "AlarmMember",
    "CampaignRequest",
    "LeaderKey",
    "LeaseKeepAlive",
    "LeaseTimeToLive",
    "LockRequest",
    "Member",
    "MemberFields",
    "Permission",
    "PermissionType",
    "ProclaimRequest",
    "Reply",
    "ResignRequest",
    "ResponseHeader",
    "Status",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ResponseHeader:
    """The header of every response; ``revision`` is the store's revision when answered."""

    cluster_id: int = 0
    member_id: int = 0
    revision: int = 0
    raft_term: int = 0


@dataclass(frozen=True, slots=True)
class Reply(Generic[T]):
    """A decoded response and the header it came with."""

    header: ResponseHeader
    response: T


@dataclass(frozen=True, slots=True)
class LeaseKeepAlive:
    """``ttl_s`` 0 means the lease no longer exists."""

    id: int
    ttl_s: int


@dataclass(frozen=True, slots=True)
class LeaseTimeToLive:
    """``ttl_s`` -1 means the lease does not exist (or expired)."""

    id: int
    ttl_s: int
    granted_ttl_s: int
    keys: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class Status:
    """A member's ``maintenance/status``; ``leader`` is a member id (0: none known)."""

    version: str
    db_size: int
    leader: int
    raft_index: int
    raft_term: int
    raft_applied_index: int = 0
    db_size_in_use: int = 0
    is_learner: bool = False
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlarmMember:
    """An alarm raised on a member: ``alarm`` is etcd's AlarmType name (``NOSPACE``, ``CORRUPT``)."""

    member_id: int
    alarm: str


@dataclass(frozen=True, slots=True)
class Member:
    """A cluster member; an empty ``name`` means it has not started yet."""

    id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool = False


class MemberFields(Protocol):
    """What a member's encoders read: :class:`Member`, or the server's own member record."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def peer_urls(self) -> tuple[str, ...]: ...
    @property
    def client_urls(self) -> tuple[str, ...]: ...
    @property
    def is_learner(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class LockRequest:
    """Take the lock ``name``; ``lease`` 0 asks the server for a lease of its own (etcd grants
    one of 60 s that nobody renews)."""

    name: bytes = b""
    lease: int = 0


@dataclass(frozen=True, slots=True)
class LeaderKey:
    """An election's leader as Campaign answers it, and the proof Proclaim and Resign present.

    ``key`` is ``name/<lease in hex>``, ``rev`` its create revision, ``lease`` the lease it
    lives under.
    """

    name: bytes = b""
    key: bytes = b""
    rev: int = 0
    lease: int = 0


@dataclass(frozen=True, slots=True)
class CampaignRequest:
    """Campaign in the election ``name`` with ``value``; ``lease`` as in :class:`LockRequest`."""

    name: bytes = b""
    lease: int = 0
    value: bytes = b""


@dataclass(frozen=True, slots=True)
class ProclaimRequest:
    """A leader's new value; ``leader`` None is refused ("leader" field must be provided)."""

    leader: LeaderKey | None = None
    value: bytes = b""


@dataclass(frozen=True, slots=True)
class ResignRequest:
    """Give up leadership (or a campaign); ``leader`` None is refused as in :class:`ProclaimRequest`."""

    leader: LeaderKey | None = None


