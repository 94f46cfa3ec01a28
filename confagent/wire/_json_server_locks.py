"""The lock and election services on etcd 3.4's JSON gateway, server side: requests in, answers out.

``v3lock`` (Lock, Unlock) and ``v3election`` (Campaign, Proclaim, Leader,
Observe, Resign) are read with the same jsonpb rules as the KV messages
(``_json_fields``: proto field order, base64 bytes, int64 as string or number,
null the same as absent) and written in the same shape (proto names, int64 as
strings, every zero value left out). A LeaderKey missing from a Proclaim or
Resign request decodes to ``None``: refusing it is the service's business
(etcd answers it from the service, not the gateway).
"""

from __future__ import annotations

from confagent.kv import KeyValue
from confagent.wire._json_fields import b64, read_bytes, read_int64, read_message
from confagent.wire._json_scan import JsonObject
from confagent.wire._json_server import encode_key_value
from confagent.wire._messages import CampaignRequest, LeaderKey, LockRequest, ProclaimRequest, ResignRequest

__all__ = [
    "decode_campaign_request",
    "decode_leader_request",
    "decode_lock_request",
    "decode_proclaim_request",
    "decode_resign_request",
    "decode_unlock_request",
    "encode_campaign_response",
    "encode_leader_response",
    "encode_lock_response",
]


def decode_lock_request(d: JsonObject) -> LockRequest:
    return LockRequest(name=read_bytes(d.get("name")), lease=read_int64(d.get("lease")))


def decode_unlock_request(d: JsonObject) -> bytes:
    """The ``key`` of an UnlockRequest."""
    return read_bytes(d.get("key"))


def decode_campaign_request(d: JsonObject) -> CampaignRequest:
    return CampaignRequest(name=read_bytes(d.get("name")), lease=read_int64(d.get("lease")),
                           value=read_bytes(d.get("value")))


def _leader_key(value: object) -> LeaderKey | None:
    if value is None:
        return None
    d = read_message(value)
    return LeaderKey(name=read_bytes(d.get("name")), key=read_bytes(d.get("key")),
                     rev=read_int64(d.get("rev")), lease=read_int64(d.get("lease")))


def decode_proclaim_request(d: JsonObject) -> ProclaimRequest:
    return ProclaimRequest(leader=_leader_key(d.get("leader")), value=read_bytes(d.get("value")))


def decode_resign_request(d: JsonObject) -> ResignRequest:
    return ResignRequest(leader=_leader_key(d.get("leader")))


def decode_leader_request(d: JsonObject) -> bytes:
    """The ``name`` of a LeaderRequest (the Leader and Observe calls)."""
    return read_bytes(d.get("name"))


def encode_lock_response(key: bytes, header: JsonObject) -> JsonObject:
    out: JsonObject = {"header": header}
    if key:
        out["key"] = b64(key)
    return out


def encode_campaign_response(leader: LeaderKey, header: JsonObject) -> JsonObject:
    inner: JsonObject = {}
    if leader.name:
        inner["name"] = b64(leader.name)
    if leader.key:
        inner["key"] = b64(leader.key)
    if leader.rev:
        inner["rev"] = str(leader.rev)
    if leader.lease:
        inner["lease"] = str(leader.lease)
    return {"header": header, "leader": inner}


def encode_leader_response(kv: KeyValue, header: JsonObject) -> JsonObject:
    """A LeaderResponse: the leader's key-value (one message of Observe's stream too)."""
    return {"header": header, "kv": encode_key_value(kv)}
