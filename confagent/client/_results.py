"""Answers of the lease, maintenance and cluster RPCs, as values, and how to read them.

The kv answers have message values in ``confagent.kv._messages``; these RPCs
are answered by the server directly (no Raft entry), so their values live with
the client that reads them. Field names follow etcd's ``rpc.proto``.
"""

from __future__ import annotations

from base64 import b64decode
from dataclasses import dataclass
from typing import Any

from confagent.wire import Reply, decode_header

__all__ = [
    "LeaseKeepAlive",
    "LeaseTimeToLive",
    "Member",
    "Status",
    "decode_lease_keepalive",
    "decode_lease_leases",
    "decode_lease_time_to_live",
    "decode_member_add",
    "decode_member_list",
    "decode_status",
]


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
class Member:
    """A cluster member; an empty ``name`` means it has not started yet."""

    id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool = False


def _int(d: dict[str, Any], name: str) -> int:
    return int(d.get(name, 0))


def decode_lease_keepalive(d: dict[str, Any]) -> Reply[LeaseKeepAlive]:
    header = decode_header(d.get("header") or {})
    return Reply(header, LeaseKeepAlive(id=_int(d, "ID"), ttl_s=_int(d, "TTL")))


def decode_lease_time_to_live(d: dict[str, Any]) -> Reply[LeaseTimeToLive]:
    header = decode_header(d.get("header") or {})
    keys = tuple(b64decode(k, validate=True) for k in d.get("keys", ()))
    return Reply(header, LeaseTimeToLive(
        id=_int(d, "ID"), ttl_s=_int(d, "TTL"), granted_ttl_s=_int(d, "grantedTTL"), keys=keys
    ))


def decode_lease_leases(d: dict[str, Any]) -> Reply[tuple[int, ...]]:
    header = decode_header(d.get("header") or {})
    return Reply(header, tuple(_int(lease, "ID") for lease in d.get("leases", ())))


def decode_status(d: dict[str, Any]) -> Reply[Status]:
    header = decode_header(d.get("header") or {})
    return Reply(header, Status(
        version=str(d.get("version", "")),
        db_size=_int(d, "dbSize"),
        leader=_int(d, "leader"),
        raft_index=_int(d, "raftIndex"),
        raft_term=_int(d, "raftTerm"),
        raft_applied_index=_int(d, "raftAppliedIndex"),
        db_size_in_use=_int(d, "dbSizeInUse"),
        is_learner=bool(d.get("isLearner", False)),
        errors=tuple(str(e) for e in d.get("errors", ())),
    ))


def _member(m: dict[str, Any]) -> Member:
    return Member(
        id=_int(m, "ID"),
        name=str(m.get("name", "")),
        peer_urls=tuple(m.get("peerURLs", ())),
        client_urls=tuple(m.get("clientURLs", ())),
        is_learner=bool(m.get("isLearner", False)),
    )


def decode_member_list(d: dict[str, Any]) -> Reply[tuple[Member, ...]]:
    """The members of a list, remove, update or promote answer."""
    header = decode_header(d.get("header") or {})
    return Reply(header, tuple(_member(m) for m in d.get("members", ())))


def decode_member_add(d: dict[str, Any]) -> Reply[tuple[Member, tuple[Member, ...]]]:
    """The added member and every member, from a member add answer."""
    header = decode_header(d.get("header") or {})
    return Reply(header, (_member(d["member"]), tuple(_member(m) for m in d.get("members", ()))))
