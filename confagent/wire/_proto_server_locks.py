"""The lock and election services in etcd 3.4's protobuf, server side, and the gRPC health service.

The twin of ``_json_server_locks``: ``v3lock`` (Lock, Unlock) and
``v3election`` (Campaign, Proclaim, Leader, Observe, Resign) requests parse into
the values the JSON decoders give (:class:`LockRequest`, :class:`LeaderKey`,
...), and answers are written from the values the JSON encoders take, with a
:class:`ResponseHeader` for the header, under ``_proto_server``'s rules. A
LeaderKey missing from a Proclaim or Resign request decodes to ``None``: refusing
it is the service's business, as on the gateway. Unlock, Proclaim and Resign
answer with a header alone (``pb_encode_header_response``).

``grpc.health.v1``'s Check and Watch take a service name and answer a
ServingStatus (UNKNOWN 0, SERVING 1, NOT_SERVING 2, SERVICE_UNKNOWN 3).
"""

from __future__ import annotations

from confagent.kv import KeyValue
from confagent.wire._messages import (
    CampaignRequest,
    LeaderKey,
    LockRequest,
    ProclaimRequest,
    ResignRequest,
    ResponseHeader,
)
from confagent.wire._pb import health_pb2, v3election_pb2, v3lock_pb2
from confagent.wire._proto_server import answer, pb_parse, set_key_value

__all__ = [
    "pb_decode_campaign_request",
    "pb_decode_health_check_request",
    "pb_decode_leader_request",
    "pb_decode_lock_request",
    "pb_decode_proclaim_request",
    "pb_decode_resign_request",
    "pb_decode_unlock_request",
    "pb_encode_campaign_response",
    "pb_encode_health_check_response",
    "pb_encode_leader_response",
    "pb_encode_lock_response",
]


def pb_decode_lock_request(data: bytes) -> LockRequest:
    r = pb_parse(v3lock_pb2.LockRequest, data)
    return LockRequest(name=r.name, lease=r.lease)


def pb_decode_unlock_request(data: bytes) -> bytes:
    """The ``key`` of an UnlockRequest."""
    return pb_parse(v3lock_pb2.UnlockRequest, data).key


def pb_decode_campaign_request(data: bytes) -> CampaignRequest:
    r = pb_parse(v3election_pb2.CampaignRequest, data)
    return CampaignRequest(name=r.name, lease=r.lease, value=r.value)


def _leader_key(message: v3election_pb2.ProclaimRequest | v3election_pb2.ResignRequest) -> LeaderKey | None:
    if not message.HasField("leader"):
        return None
    k = message.leader
    return LeaderKey(name=k.name, key=k.key, rev=k.rev, lease=k.lease)


def pb_decode_proclaim_request(data: bytes) -> ProclaimRequest:
    r = pb_parse(v3election_pb2.ProclaimRequest, data)
    return ProclaimRequest(leader=_leader_key(r), value=r.value)


def pb_decode_resign_request(data: bytes) -> ResignRequest:
    return ResignRequest(leader=_leader_key(pb_parse(v3election_pb2.ResignRequest, data)))


def pb_decode_leader_request(data: bytes) -> bytes:
    """The ``name`` of a LeaderRequest (the Leader and Observe calls)."""
    return pb_parse(v3election_pb2.LeaderRequest, data).name


def pb_encode_lock_response(key: bytes, header: ResponseHeader) -> bytes:
    out = answer(v3lock_pb2.LockResponse, header)
    out.key = key
    return out.SerializeToString()


def pb_encode_campaign_response(leader: LeaderKey, header: ResponseHeader) -> bytes:
    """A CampaignResponse: the leader key, present even when every field of it is zero."""
    out = answer(v3election_pb2.CampaignResponse, header)
    k = out.leader
    k.SetInParent()
    k.name, k.key, k.rev, k.lease = leader.name, leader.key, leader.rev, leader.lease
    return out.SerializeToString()


def pb_encode_leader_response(kv: KeyValue, header: ResponseHeader) -> bytes:
    """A LeaderResponse: the leader's key-value (one message of Observe's stream too)."""
    out = answer(v3election_pb2.LeaderResponse, header)
    set_key_value(out.kv, kv)
    return out.SerializeToString()


def pb_decode_health_check_request(data: bytes) -> str:
    """The ``service`` a HealthCheckRequest asks about ("" for the server as a whole)."""
    return pb_parse(health_pb2.HealthCheckRequest, data).service


def pb_encode_health_check_response(status: int) -> bytes:
    """A HealthCheckResponse with ``status``, a ServingStatus number."""
    return health_pb2.HealthCheckResponse(status=status).SerializeToString()  # type: ignore[arg-type]
