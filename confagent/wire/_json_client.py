"""The etcd 3.4 JSON gateway codec, client side: request bodies out, response bodies in.

The mirror of ``_json_server``: ``encode_*`` turn message values into request dicts
(snake_case names, int64 as strings, enums by name, zero values left out), and
``decode_*`` turn the gateway's response dicts into message values, with the
response header alongside in a :class:`Reply`; an error body decodes to the
:class:`~confagent.errors.StoreError` it stands for. The same code reads
confagent's answers and a real etcd's.

Responses come from a server we chose to trust, so decoding is lenient on form
(absent means zero) and strict on nothing else; a malformed answer surfaces as
``KeyError``/``ValueError``/``TypeError``, which the client maps to ClientError.
Key-values are decoded on the hot path of a snapshot (10,000 in one answer):
``decode_key_value`` calls ``binascii`` directly (strict base64, as
``b64decode(validate=True)`` checks it, without its per-call wrapper).
"""

from __future__ import annotations

import re
from base64 import b64decode
from binascii import a2b_base64
from collections.abc import Sequence
from typing import Any, Final, TypeVar

from confagent.errors import StoreError, store_error_from
from confagent.kv import (
    CompactionRequest,
    Compare,
    CompareTarget,
    DeleteRangeRequest,
    DeleteRangeResponse,
    Event,
    EventType,
    KeyValue,
    LeaseGrantResponse,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    RequestOp,
    ResponseOp,
    TxnRequest,
    TxnResponse,
    WatchCancelRequest,
    WatchCreateRequest,
    WatchResponse,
)
from confagent.wire._json_fields import b64
from confagent.wire._json_scan import JsonObject
from confagent.wire._messages import (
    AlarmMember,
    LeaseKeepAlive,
    LeaseTimeToLive,
    Member,
    Reply,
    ResponseHeader,
    Status,
)

__all__ = [
    "decode_alarm_response",
    "decode_cancel_reason",
    "decode_delete_range_response",
    "decode_error_body",
    "decode_event",
    "decode_header",
    "decode_key_value",
    "decode_lease_grant_response",
    "decode_lease_keepalive_response",
    "decode_lease_leases_response",
    "decode_lease_time_to_live_response",
    "decode_member_add_response",
    "decode_member_list_response",
    "decode_put_response",
    "decode_range_response",
    "decode_status_response",
    "decode_stream_error",
    "decode_txn_response",
    "decode_watch_response",
    "encode_alarm_request",
    "encode_compaction_request",
    "encode_delete_range_request",
    "encode_lease_grant_request",
    "encode_lease_id_request",
    "encode_lease_time_to_live_request",
    "encode_member_add_request",
    "encode_member_id_request",
    "encode_member_update_request",
    "encode_move_leader_request",
    "encode_put_request",
    "encode_range_request",
    "encode_txn_request",
    "encode_watch_cancel_request",
    "encode_watch_create_request",
]

T = TypeVar("T")

_OPERAND_FIELD: Final = {
    CompareTarget.VERSION: "version",
    CompareTarget.CREATE: "create_revision",
    CompareTarget.MOD: "mod_revision",
    CompareTarget.VALUE: "value",
    CompareTarget.LEASE: "lease",
}


# -- requests ---------------------------------------------------------------------------


def _put_nonzero(out: JsonObject, **fields: object) -> JsonObject:
    """Add the fields that are set: bytes as base64, ints as strings, True as true."""
    for name, value in fields.items():
        if not value:
            continue
        if isinstance(value, bytes):
            out[name] = b64(value)
        elif isinstance(value, bool):
            out[name] = True
        elif isinstance(value, int):
            out[name] = str(value)
        else:
            out[name] = value
    return out


def encode_range_request(r: RangeRequest) -> JsonObject:
    out = _put_nonzero(
        {"key": b64(r.key)}, range_end=r.range_end, limit=r.limit, revision=r.revision
    )
    if r.sort_order:
        out["sort_order"] = r.sort_order.name
    if r.sort_target:
        out["sort_target"] = r.sort_target.name
    return _put_nonzero(
        out,
        serializable=r.serializable,
        keys_only=r.keys_only,
        count_only=r.count_only,
        min_mod_revision=r.min_mod_revision,
        max_mod_revision=r.max_mod_revision,
        min_create_revision=r.min_create_revision,
        max_create_revision=r.max_create_revision,
    )


def encode_put_request(r: PutRequest) -> JsonObject:
    return _put_nonzero(
        {"key": b64(r.key)},
        value=r.value,
        lease=r.lease,
        prev_kv=r.prev_kv,
        ignore_value=r.ignore_value,
        ignore_lease=r.ignore_lease,
    )


def encode_delete_range_request(r: DeleteRangeRequest) -> JsonObject:
    return _put_nonzero({"key": b64(r.key)}, range_end=r.range_end, prev_kv=r.prev_kv)


def _encode_compare(c: Compare) -> JsonObject:
    """A Compare; the operand field follows the target and is always sent, even when zero."""
    operand = b64(c.operand) if isinstance(c.operand, bytes) else str(c.operand)
    out: JsonObject = {
        "key": b64(c.key),
        "target": c.target.name,
        "result": c.result.name,
        _OPERAND_FIELD[c.target]: operand,
    }
    return _put_nonzero(out, range_end=c.range_end)


def _encode_op(op: RequestOp) -> JsonObject:
    if isinstance(op, RangeRequest):
        return {"request_range": encode_range_request(op)}
    if isinstance(op, PutRequest):
        return {"request_put": encode_put_request(op)}
    if isinstance(op, DeleteRangeRequest):
        return {"request_delete_range": encode_delete_range_request(op)}
    return {"request_txn": encode_txn_request(op)}


def encode_txn_request(r: TxnRequest) -> JsonObject:
    out: JsonObject = {}
    if r.compare:
        out["compare"] = [_encode_compare(c) for c in r.compare]
    if r.success:
        out["success"] = [_encode_op(op) for op in r.success]
    if r.failure:
        out["failure"] = [_encode_op(op) for op in r.failure]
    return out


def encode_compaction_request(r: CompactionRequest) -> JsonObject:
    return _put_nonzero({}, revision=r.revision, physical=r.physical)


def encode_lease_grant_request(ttl_s: int, lease_id: int = 0) -> JsonObject:
    """``lease_id`` 0 lets the server choose."""
    return _put_nonzero({"TTL": str(ttl_s)}, ID=lease_id)


def encode_watch_create_request(r: WatchCreateRequest) -> JsonObject:
    """The ``{"create_request": ...}`` stream object."""
    inner = _put_nonzero(
        {"key": b64(r.key)},
        range_end=r.range_end,
        start_revision=r.start_revision,
        progress_notify=r.progress_notify,
    )
    filters = [name for name, on in (("NOPUT", r.no_put), ("NODELETE", r.no_delete)) if on]
    if filters:
        inner["filters"] = filters
    _put_nonzero(inner, prev_kv=r.prev_kv, watch_id=r.watch_id, fragment=r.fragment)
    return {"create_request": inner}


def encode_watch_cancel_request(r: WatchCancelRequest) -> JsonObject:
    return {"cancel_request": {"watch_id": str(r.watch_id)}}


def encode_lease_id_request(lease_id: int) -> JsonObject:
    """A LeaseRevokeRequest or LeaseKeepAliveRequest."""
    return {"ID": str(lease_id)}


def encode_lease_time_to_live_request(lease_id: int, keys: bool) -> JsonObject:
    return {"ID": str(lease_id), "keys": keys}


def encode_member_add_request(peer_urls: Sequence[str], is_learner: bool) -> JsonObject:
    out: JsonObject = {"peerURLs": list(peer_urls)}
    if is_learner:
        out["isLearner"] = True
    return out


def encode_member_id_request(member_id: int) -> JsonObject:
    """A MemberRemoveRequest or MemberPromoteRequest."""
    return {"ID": str(member_id)}


def encode_member_update_request(member_id: int, peer_urls: Sequence[str]) -> JsonObject:
    return {"ID": str(member_id), "peerURLs": list(peer_urls)}


def encode_alarm_request(action: str, alarm: AlarmMember | None = None) -> JsonObject:
    """An AlarmRequest: ``action`` GET, ACTIVATE or DEACTIVATE, of ``alarm`` (None: every member's)."""
    out: JsonObject = {"action": action}
    if alarm is not None:
        out.update(memberID=str(alarm.member_id), alarm=alarm.alarm)
    return out


def encode_move_leader_request(target_id: int) -> JsonObject:
    return {"targetID": str(target_id)}


# -- responses --------------------------------------------------------------------------


def _int(d: JsonObject, name: str) -> int:
    return int(d.get(name, 0))


def decode_header(d: JsonObject) -> ResponseHeader:
    return ResponseHeader(
        cluster_id=_int(d, "cluster_id"),
        member_id=_int(d, "member_id"),
        revision=_int(d, "revision"),
        raft_term=_int(d, "raft_term"),
    )


def _reply(d: JsonObject, response: T) -> Reply[T]:
    return Reply(header=decode_header(d.get("header") or {}), response=response)


def decode_key_value(d: JsonObject) -> KeyValue:
    get = d.get  # the body of ``_bytes`` and ``_int``, inlined: once per key of a snapshot
    key, value = get("key"), get("value")
    return KeyValue(
        key=a2b_base64(key, strict_mode=True) if key else b"",
        create_revision=int(get("create_revision", 0)),
        mod_revision=int(get("mod_revision", 0)),
        version=int(get("version", 0)),
        value=a2b_base64(value, strict_mode=True) if value else b"",
        lease=int(get("lease", 0)),
    )


def _range(d: JsonObject, header_revision: int = 0) -> RangeResponse:
    return RangeResponse(
        kvs=tuple(map(decode_key_value, d.get("kvs", ()))),
        more=bool(d.get("more", False)),
        count=_int(d, "count"),
        header_revision=header_revision,
    )


def decode_range_response(d: JsonObject) -> Reply[RangeResponse]:
    return _reply(d, _range(d))


def _put(d: JsonObject, header_revision: int = 0) -> PutResponse:
    prev = d.get("prev_kv")
    return PutResponse(
        prev_kv=None if prev is None else decode_key_value(prev), header_revision=header_revision
    )


def decode_put_response(d: JsonObject) -> Reply[PutResponse]:
    return _reply(d, _put(d))


def _delete_range(d: JsonObject, header_revision: int = 0) -> DeleteRangeResponse:
    return DeleteRangeResponse(
        deleted=_int(d, "deleted"),
        prev_kvs=tuple(decode_key_value(kv) for kv in d.get("prev_kvs", ())),
        header_revision=header_revision,
    )


def decode_delete_range_response(d: JsonObject) -> Reply[DeleteRangeResponse]:
    return _reply(d, _delete_range(d))


def _response_op(d: JsonObject) -> ResponseOp:
    """One response of a txn; an op's inner header revision becomes its ``header_revision``."""
    if "response_txn" in d:
        return _txn(d["response_txn"])
    kind, body = next(iter(d.items()))
    revision = _int(body.get("header") or {}, "revision")
    if kind == "response_range":
        return _range(body, revision)
    if kind == "response_put":
        return _put(body, revision)
    if kind == "response_delete_range":
        return _delete_range(body, revision)
    raise ValueError(f"unknown response kind {kind!r}")


def _txn(d: JsonObject) -> TxnResponse:
    return TxnResponse(
        succeeded=bool(d.get("succeeded", False)),
        responses=tuple(_response_op(r) for r in d.get("responses", ())),
    )


def decode_txn_response(d: JsonObject) -> Reply[TxnResponse]:
    return _reply(d, _txn(d))


def decode_lease_grant_response(d: JsonObject) -> Reply[LeaseGrantResponse]:
    return _reply(d, LeaseGrantResponse(id=_int(d, "ID"), ttl=_int(d, "TTL")))


def decode_event(d: JsonObject) -> Event:
    prev = d.get("prev_kv")
    return Event(
        type=EventType.DELETE if d.get("type") in ("DELETE", 1) else EventType.PUT,
        kv=decode_key_value(d.get("kv") or {}),
        prev_kv=None if prev is None else decode_key_value(prev),
    )


def decode_watch_response(d: JsonObject) -> Reply[WatchResponse]:
    """One ``result`` of a watch stream (the object inside ``{"result": ...}``)."""
    events: Any = d.get("events", ())
    return _reply(
        d,
        WatchResponse(
            watch_id=_int(d, "watch_id"),
            created=bool(d.get("created", False)),
            canceled=bool(d.get("canceled", False)),
            compact_revision=_int(d, "compact_revision"),
            cancel_reason=str(d.get("cancel_reason", "")),
            fragment=bool(d.get("fragment", False)),
            events=tuple(decode_event(e) for e in events),
        ),
    )


def decode_lease_keepalive_response(d: JsonObject) -> Reply[LeaseKeepAlive]:
    return _reply(d, LeaseKeepAlive(id=_int(d, "ID"), ttl_s=_int(d, "TTL")))


def decode_lease_time_to_live_response(d: JsonObject) -> Reply[LeaseTimeToLive]:
    keys = tuple(b64decode(k, validate=True) for k in d.get("keys", ()))
    return _reply(d, LeaseTimeToLive(
        id=_int(d, "ID"), ttl_s=_int(d, "TTL"), granted_ttl_s=_int(d, "grantedTTL"), keys=keys
    ))


def decode_lease_leases_response(d: JsonObject) -> Reply[tuple[int, ...]]:
    return _reply(d, tuple(_int(lease, "ID") for lease in d.get("leases", ())))


def decode_status_response(d: JsonObject) -> Reply[Status]:
    return _reply(d, Status(
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


def _member(m: JsonObject) -> Member:
    return Member(
        id=_int(m, "ID"),
        name=str(m.get("name", "")),
        peer_urls=tuple(m.get("peerURLs", ())),
        client_urls=tuple(m.get("clientURLs", ())),
        is_learner=bool(m.get("isLearner", False)),
    )


def decode_member_list_response(d: JsonObject) -> Reply[tuple[Member, ...]]:
    """The members of a list, remove, update or promote answer."""
    return _reply(d, tuple(_member(m) for m in d.get("members", ())))


def decode_member_add_response(d: JsonObject) -> Reply[tuple[Member, tuple[Member, ...]]]:
    """The added member and every member, from a member add answer."""
    return _reply(d, (_member(d["member"]), tuple(_member(m) for m in d.get("members", ()))))


_ALARM_TYPES: Final = ("NONE", "NOSPACE", "CORRUPT")


def decode_alarm_response(d: JsonObject) -> tuple[AlarmMember, ...]:
    """The alarms of an AlarmResponse (etcd's carries no header); an alarm type by name or number."""
    return tuple(AlarmMember(member_id=_int(a, "memberID"),
                             alarm=_ALARM_TYPES[a["alarm"]] if isinstance(a.get("alarm"), int)
                             else str(a.get("alarm", "NONE")))
                 for a in d.get("alarms", ()))


def decode_error_body(d: JsonObject) -> StoreError:
    """The error of a unary answer's ``{"error", "message", "code"}`` body.

    Raises:
        KeyError, TypeError, ValueError: the body is not one.
    """
    return store_error_from(int(d["code"]), str(d["message"]))


_GRPC_CODES: Final = {name: code for code, name in enumerate((
    "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
    "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
    "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"))}
"""grpc-go's names of the status codes, as its errors' text names them."""
_RPC_ERROR = re.compile(r"rpc error: code = (\w+) desc = (.*)", re.DOTALL)


def decode_cancel_reason(reason: str) -> StoreError | None:
    """The error a watch's ``cancel_reason`` carries when it is grpc-go's text of a status
    (``rpc error: code = PermissionDenied desc = etcdserver: permission denied``: etcd refusing a
    watch for its auth); None for another reason (``mvcc: required revision has been compacted``)."""
    match = _RPC_ERROR.fullmatch(reason)
    if match is None or match.group(1) not in _GRPC_CODES:
        return None
    return store_error_from(_GRPC_CODES[match.group(1)], match.group(2))


def decode_stream_error(error: JsonObject) -> StoreError:
    """The error a gateway stream ended with (the object of its last ``{"error": ...}``)."""
    return store_error_from(int(error.get("grpc_code", 2)), str(error.get("message", "")))
