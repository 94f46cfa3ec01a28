"""The shapes ``etcdctl -w json`` prints, built from our values.

etcdctl 3.4 marshals clientv3's Go structs with encoding/json, not the
gateway's jsonpb: int64 are numbers, bytes are base64, zero values are omitted
only where the Go struct says ``omitempty`` (the protobuf messages), and
clientv3's own structs show their Go field names (``"Header"``, ``"Events"``,
``"CompactRevision"``) or flatten the response header into the top level.
The client's types (httpx) are named in annotations only, so that registering
the commands does not import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from confagent.kv._messages import (
    DeleteRangeResponse,
    Event,
    EventType,
    KeyValue,
    LeaseGrantResponse,
    PutResponse,
    RangeResponse,
    ResponseOp,
    TxnResponse,
    WatchResponse,
)
from confagent.wire import b64

if TYPE_CHECKING:
    from confagent.client import (
        LeaseKeepAlive,
        LeaseTimeToLive,
        Member,
        Permission,
        Reply,
        ResponseHeader,
        Status,
    )

__all__ = [
    "auth_header_json",
    "auth_names_json",
    "delete_json",
    "endpoint_health_json",
    "endpoint_status_json",
    "get_json",
    "header_json",
    "lease_grant_json",
    "lease_keepalive_json",
    "lease_leases_json",
    "lease_time_to_live_json",
    "member_list_json",
    "put_json",
    "role_get_json",
    "txn_json",
    "watch_json",
]

Json = dict[str, Any]


def _nonzero(**fields: Any) -> Json:
    return {name: value for name, value in fields.items() if value}


def header_json(h: ResponseHeader) -> Json:
    return _nonzero(cluster_id=h.cluster_id, member_id=h.member_id, revision=h.revision,
                    raft_term=h.raft_term)


def _kv(kv: KeyValue) -> Json:
    return _nonzero(key=b64(kv.key) if kv.key else "", create_revision=kv.create_revision,
                    mod_revision=kv.mod_revision, version=kv.version,
                    value=b64(kv.value) if kv.value else "", lease=kv.lease)


def _range(r: RangeResponse, header: Json) -> Json:
    return {"header": header, **_nonzero(kvs=[_kv(kv) for kv in r.kvs], more=r.more,
                                         count=r.count)}


def _put(r: PutResponse, header: Json) -> Json:
    out: Json = {"header": header}
    if r.prev_kv is not None:
        out["prev_kv"] = _kv(r.prev_kv)
    return out


def _delete(r: DeleteRangeResponse, header: Json) -> Json:
    return {"header": header, **_nonzero(deleted=r.deleted,
                                         prev_kvs=[_kv(kv) for kv in r.prev_kvs])}


def get_json(reply: Reply[RangeResponse]) -> Json:
    return _range(reply.response, header_json(reply.header))


def put_json(reply: Reply[PutResponse]) -> Json:
    return _put(reply.response, header_json(reply.header))


def delete_json(reply: Reply[DeleteRangeResponse]) -> Json:
    return _delete(reply.response, header_json(reply.header))


def _txn_body(r: TxnResponse, revision: int) -> Json:
    return _nonzero(succeeded=r.succeeded,
                    responses=[_response_op(op, revision) for op in r.responses])


def _response_op(op: ResponseOp, revision: int) -> Json:
    if isinstance(op, TxnResponse):
        return {"Response": {"ResponseTxn": {"header": {}, **_txn_body(op, revision)}}}
    inner = _nonzero(revision=op.header_revision or revision)
    if isinstance(op, RangeResponse):
        return {"Response": {"ResponseRange": _range(op, inner)}}
    if isinstance(op, PutResponse):
        return {"Response": {"ResponsePut": _put(op, inner)}}
    return {"Response": {"ResponseDeleteRange": _delete(op, inner)}}


def txn_json(reply: Reply[TxnResponse]) -> Json:
    return {"header": header_json(reply.header),
            **_txn_body(reply.response, reply.header.revision)}


def _event(e: Event) -> Json:
    out: Json = {"type": 1} if e.type is EventType.DELETE else {}
    out["kv"] = _kv(e.kv)
    if e.prev_kv is not None:
        out["prev_kv"] = _kv(e.prev_kv)
    return out


def watch_json(reply: Reply[WatchResponse]) -> Json:
    r = reply.response
    return {
        "Header": header_json(reply.header),
        "Events": [_event(e) for e in r.events] or None,
        "CompactRevision": r.compact_revision,
        "Canceled": r.canceled,
        "Created": r.created,
    }


def lease_grant_json(reply: Reply[LeaseGrantResponse]) -> Json:
    return {**header_json(reply.header), "ID": reply.response.id, "TTL": reply.response.ttl,
            "Error": ""}


def lease_keepalive_json(reply: Reply[LeaseKeepAlive]) -> Json:
    return {**header_json(reply.header), "ID": reply.response.id, "TTL": reply.response.ttl_s}


def lease_time_to_live_json(reply: Reply[LeaseTimeToLive]) -> Json:
    r = reply.response
    return {**header_json(reply.header), "id": r.id, "ttl": r.ttl_s, "granted-ttl": r.granted_ttl_s,
            "keys": [b64(k) for k in r.keys] or None}


def lease_leases_json(reply: Reply[tuple[int, ...]]) -> Json:
    return {**header_json(reply.header), "leases": [{"id": i} for i in reply.response]}


def member_list_json(reply: Reply[tuple[Member, ...]]) -> Json:
    members = [
        {"ID": m.id, **_nonzero(name=m.name, peerURLs=list(m.peer_urls),
                                clientURLs=list(m.client_urls), isLearner=m.is_learner)}
        for m in reply.response
    ]
    return {"header": header_json(reply.header), **_nonzero(members=members)}


def endpoint_status_json(endpoint: str, reply: Reply[Status]) -> Json:
    s = reply.response
    status = {"header": header_json(reply.header), **_nonzero(
        version=s.version, dbSize=s.db_size, leader=s.leader, raftIndex=s.raft_index,
        raftTerm=s.raft_term, raftAppliedIndex=s.raft_applied_index, errors=list(s.errors),
        dbSizeInUse=s.db_size_in_use, isLearner=s.is_learner)}
    return {"Endpoint": endpoint, "Status": status}


def endpoint_health_json(endpoint: str, healthy: bool, took: str, error: str) -> Json:
    return {"endpoint": endpoint, "health": healthy, "took": took, **_nonzero(error=error)}


def auth_header_json(header: ResponseHeader) -> Json:
    """An Auth answer that carries its header alone (user add, role grant-permission, ...)."""
    return {"header": header_json(header)}


def auth_names_json(reply: Reply[tuple[str, ...]], field: str) -> Json:
    """A user list (``users``), role list or user get (``roles``)."""
    return {"header": header_json(reply.header), **_nonzero(**{field: list(reply.response)})}


def role_get_json(reply: Reply[tuple[Permission, ...]]) -> Json:
    perms = [_nonzero(permType=int(p.type), key=b64(p.key) if p.key else "",
                      range_end=b64(p.range_end) if p.range_end else "") for p in reply.response]
    return {"header": header_json(reply.header), **_nonzero(perm=perms)}
