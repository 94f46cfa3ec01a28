"""The lock and election services on etcd 3.4's JSON gateway, client side: requests out, answers in.

The mirror of ``_json_server_locks``, in ``_json_client``'s manner: requests as
dicts with zero values left out, answers decoded leniently (absent means zero)
into a :class:`Reply` carrying the header. The same code reads confagent's
answers and a real etcd's.
"""

from __future__ import annotations

from binascii import a2b_base64

from confagent.kv import KeyValue
from confagent.wire._json_client import decode_header, decode_key_value
from confagent.wire._json_fields import b64
from confagent.wire._json_scan import JsonObject
from confagent.wire._messages import CampaignRequest, LeaderKey, LockRequest, Reply, ResponseHeader

__all__ = [
    "decode_campaign_response",
    "decode_leader_response",
    "decode_lock_response",
    "encode_campaign_request",
    "encode_leader_request",
    "encode_lock_request",
    "encode_proclaim_request",
    "encode_resign_request",
    "encode_unlock_request",
]


def _nonzero(**fields: bytes | int) -> JsonObject:
    return {name: b64(value) if isinstance(value, bytes) else str(value)
            for name, value in fields.items() if value}


def encode_lock_request(request: LockRequest) -> JsonObject:
    return _nonzero(name=request.name, lease=request.lease)


def encode_unlock_request(key: bytes) -> JsonObject:
    return _nonzero(key=key)


def encode_campaign_request(request: CampaignRequest) -> JsonObject:
    return _nonzero(name=request.name, lease=request.lease, value=request.value)


def _leader_key(leader: LeaderKey) -> JsonObject:
    return _nonzero(name=leader.name, key=leader.key, rev=leader.rev, lease=leader.lease)


def encode_proclaim_request(leader: LeaderKey, value: bytes) -> JsonObject:
    return {"leader": _leader_key(leader), **_nonzero(value=value)}


def encode_resign_request(leader: LeaderKey) -> JsonObject:
    return {"leader": _leader_key(leader)}


def encode_leader_request(name: bytes) -> JsonObject:
    """A LeaderRequest: the Leader and Observe calls."""
    return _nonzero(name=name)


def _bytes(value: object) -> bytes:
    return a2b_base64(str(value), strict_mode=True) if value else b""


def _header(d: JsonObject) -> ResponseHeader:
    return decode_header(d.get("header") or {})


def decode_lock_response(d: JsonObject) -> Reply[bytes]:
    """The lock's key (``name/<lease in hex>``); the header's revision is when it was taken."""
    return Reply(header=_header(d), response=_bytes(d.get("key")))


def decode_campaign_response(d: JsonObject) -> Reply[LeaderKey]:
    raw = d.get("leader") or {}
    leader = LeaderKey(name=_bytes(raw.get("name")), key=_bytes(raw.get("key")),
                       rev=int(raw.get("rev", 0)), lease=int(raw.get("lease", 0)))
    return Reply(header=_header(d), response=leader)


def decode_leader_response(d: JsonObject) -> Reply[KeyValue]:
    """The leader's key-value: a Leader answer, or one message of an Observe stream."""
    return Reply(header=_header(d), response=decode_key_value(d.get("kv") or {}))
