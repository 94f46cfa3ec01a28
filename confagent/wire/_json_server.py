"""The etcd 3.4 JSON gateway codec, server side: request bodies in, response bodies out.

Requests: :func:`loads` reads a body as Go does (``_json_scan``), then one
decoder per RPC builds the message value, reading fields in proto field order
with jsonpb's rules (``_json_fields``): snake_case or lowerCamel names (camel
wins), int64 as string or number, enums as name or number, strict base64,
unknown fields ignored, null the same as absent. Every refusal is an
:class:`~confagent.errors.InvalidArgument` carrying the message etcd sends.
:func:`decode_body` does both and re-reads the body exactly when an error must
quote a number's literal text.

Responses: encoders return dicts ready for ``orjson.dumps`` in the gateway's
shape: proto (snake_case) names, int64 as strings, every zero value omitted,
a PUT event without ``type``, a DELETE event's kv with only key and
mod_revision (the KeyValue already holds only those).

Known differences from etcd, for inputs no client sends: an empty RequestOp is
refused here at once with "etcdserver: key not found" (etcd finds it during
validation, after the compare keys); undefined enum numbers are refused (see
``_json_fields``); more than one member of a oneof takes the first in proto
order (etcd takes one at random).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, Final, TypeVar

import orjson

from confagent.errors import InvalidArgument, KeyNotFound, StoreError, http_status_of
from confagent.kv import (
    CompactionRequest,
    Compare,
    CompareResult,
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
    SortOrder,
    SortTarget,
    TxnRequest,
    TxnResponse,
    WatchCancelRequest,
    WatchCreateRequest,
    WatchProgressRequest,
    WatchRequest,
    WatchResponse,
)
from confagent.wire._json_fields import (
    GoUnknownNumberText,
    b64,
    pick,
    read_bool,
    read_bytes,
    read_enum,
    read_enum_number,
    read_int64,
    read_message,
    read_repeated,
    read_uint64,
)
from confagent.wire._json_scan import JsonObject, loads, loads_exact, next_value
from confagent.wire._messages import MemberFields, Status

__all__ = [
    "JsonObject",
    "decode_body",
    "decode_compaction_request",
    "decode_delete_range_request",
    "decode_lease_grant_request",
    "decode_lease_id",
    "decode_lease_time_to_live_request",
    "decode_member_id",
    "decode_member_is_learner",
    "decode_member_peer_urls",
    "decode_move_leader_request",
    "decode_put_request",
    "decode_range_request",
    "decode_txn_request",
    "decode_watch_request",
    "encode_delete_range_response",
    "encode_error_body",
    "encode_event",
    "encode_header",
    "encode_key_value",
    "encode_lease_grant_response",
    "encode_lease_keepalive_response",
    "encode_lease_leases_response",
    "encode_lease_time_to_live_response",
    "encode_member",
    "encode_member_add_response",
    "encode_member_list_response",
    "encode_put_response",
    "encode_range_response",
    "encode_status_response",
    "encode_stream_chunk",
    "encode_stream_error",
    "encode_txn_response",
    "encode_watch_response",
    "loads",
    "next_value",
]

T = TypeVar("T")

# Nested txns deeper than this are refused (etcd is bounded only by JSON depth).
TXN_DEPTH_MAX: Final = 64
_FILTERS: Final = {"NOPUT": 0, "NODELETE": 1}
_FILTER_TYPE: Final = "etcdserverpb.WatchCreateRequest_FilterType"
_ZERO_OPERAND: Final[dict[CompareTarget, int | bytes]] = {
    CompareTarget.VERSION: 0, CompareTarget.CREATE: 0, CompareTarget.MOD: 0,
    CompareTarget.VALUE: b"", CompareTarget.LEASE: 0,
}


def decode_body(body: bytes, decoder: Callable[[JsonObject], T]) -> T:
    """``decoder(loads(body))``, re-reading the body exactly if Go's message quotes a number."""
    try:
        return decoder(loads(body))
    except GoUnknownNumberText:
        return decoder(loads_exact(body))


# -- requests ---------------------------------------------------------------------------


def decode_range_request(d: JsonObject) -> RangeRequest:
    return RangeRequest(
        key=read_bytes(d.get("key")),
        range_end=read_bytes(pick(d, "range_end", "rangeEnd")),
        limit=read_int64(d.get("limit")),
        revision=read_int64(d.get("revision")),
        sort_order=read_enum(
            pick(d, "sort_order", "sortOrder"), SortOrder, "etcdserverpb.RangeRequest_SortOrder"
        ),
        sort_target=read_enum(
            pick(d, "sort_target", "sortTarget"), SortTarget, "etcdserverpb.RangeRequest_SortTarget"
        ),
        serializable=read_bool(d.get("serializable")),
        keys_only=read_bool(pick(d, "keys_only", "keysOnly")),
        count_only=read_bool(pick(d, "count_only", "countOnly")),
        min_mod_revision=read_int64(pick(d, "min_mod_revision", "minModRevision")),
        max_mod_revision=read_int64(pick(d, "max_mod_revision", "maxModRevision")),
        min_create_revision=read_int64(pick(d, "min_create_revision", "minCreateRevision")),
        max_create_revision=read_int64(pick(d, "max_create_revision", "maxCreateRevision")),
    )


def decode_put_request(d: JsonObject) -> PutRequest:
    return PutRequest(
        key=read_bytes(d.get("key")),
        value=read_bytes(d.get("value")),
        lease=read_int64(d.get("lease")),
        prev_kv=read_bool(pick(d, "prev_kv", "prevKv")),
        ignore_value=read_bool(pick(d, "ignore_value", "ignoreValue")),
        ignore_lease=read_bool(pick(d, "ignore_lease", "ignoreLease")),
    )


def decode_delete_range_request(d: JsonObject) -> DeleteRangeRequest:
    return DeleteRangeRequest(
        key=read_bytes(d.get("key")),
        range_end=read_bytes(pick(d, "range_end", "rangeEnd")),
        prev_kv=read_bool(pick(d, "prev_kv", "prevKv")),
    )


def decode_txn_request(d: JsonObject) -> TxnRequest:
    """A txn, nested txns included.

    Raises:
        KeyNotFound: a RequestOp names no request (etcd's answer to ``{}``).
    """
    return _txn(d, depth=0)


def _txn(d: JsonObject, depth: int) -> TxnRequest:
    if depth > TXN_DEPTH_MAX:
        raise InvalidArgument("exceeded max depth")
    compare = tuple(_compare(read_message(c)) for c in read_repeated(d.get("compare")))
    success = tuple(_request_op(read_message(o), depth) for o in read_repeated(d.get("success")))
    failure = tuple(_request_op(read_message(o), depth) for o in read_repeated(d.get("failure")))
    return TxnRequest(compare=compare, success=success, failure=failure)


def _compare(d: JsonObject) -> Compare:
    """A Compare; the operand is the oneof member that matches the target, else its zero."""
    result = read_enum(d.get("result"), CompareResult, "etcdserverpb.Compare_CompareResult")
    target = read_enum(d.get("target"), CompareTarget, "etcdserverpb.Compare_CompareTarget")
    key = read_bytes(d.get("key"))
    range_end = read_bytes(pick(d, "range_end", "rangeEnd"))
    operands: dict[CompareTarget, int | bytes] = {}
    for member, names, reader in _COMPARE_OPERANDS:
        raw = pick(d, *names)
        if raw is not None:
            operands[member] = reader(raw)
    operand = operands.get(target, _ZERO_OPERAND[target])
    return Compare(key=key, target=target, result=result, operand=operand, range_end=range_end)


_COMPARE_OPERANDS: Final[tuple[tuple[CompareTarget, tuple[str, str], Callable[[Any], Any]], ...]] = (
    (CompareTarget.VERSION, ("version", "version"), read_int64),
    (CompareTarget.CREATE, ("create_revision", "createRevision"), read_int64),
    (CompareTarget.MOD, ("mod_revision", "modRevision"), read_int64),
    (CompareTarget.VALUE, ("value", "value"), read_bytes),
    (CompareTarget.LEASE, ("lease", "lease"), read_int64),
)


def _request_op(d: JsonObject, depth: int) -> RequestOp:
    found: list[RequestOp] = []
    if (raw := pick(d, "request_range", "requestRange")) is not None:
        found.append(decode_range_request(read_message(raw)))
    if (raw := pick(d, "request_put", "requestPut")) is not None:
        found.append(decode_put_request(read_message(raw)))
    if (raw := pick(d, "request_delete_range", "requestDeleteRange")) is not None:
        found.append(decode_delete_range_request(read_message(raw)))
    if (raw := pick(d, "request_txn", "requestTxn")) is not None:
        found.append(_txn(read_message(raw), depth + 1))
    if not found:
        raise KeyNotFound()
    return found[0]


def decode_compaction_request(d: JsonObject) -> CompactionRequest:
    return CompactionRequest(
        revision=read_int64(d.get("revision")), physical=read_bool(d.get("physical"))
    )


def decode_lease_grant_request(d: JsonObject) -> tuple[int, int]:
    """``(ttl, id)`` of a LeaseGrantRequest; both may be 0 or negative, as sent."""
    return read_int64(d.get("TTL")), read_int64(d.get("ID"))


def decode_lease_id(d: JsonObject) -> int:
    """The ``ID`` of a LeaseRevoke or LeaseKeepAlive request."""
    return read_int64(d.get("ID"))


def decode_lease_time_to_live_request(d: JsonObject) -> tuple[int, bool]:
    """``(id, keys)`` of a LeaseTimeToLiveRequest."""
    return read_int64(d.get("ID")), read_bool(d.get("keys"))


def decode_watch_request(d: JsonObject) -> WatchRequest | None:
    """One object of a watch stream; ``None`` for one with no request, which etcd skips."""
    found: list[WatchRequest] = []
    if (raw := pick(d, "create_request", "createRequest")) is not None:
        found.append(_watch_create(read_message(raw)))
    if (raw := pick(d, "cancel_request", "cancelRequest")) is not None:
        cancel = read_message(raw)
        found.append(WatchCancelRequest(watch_id=read_int64(pick(cancel, "watch_id", "watchId"))))
    if (raw := pick(d, "progress_request", "progressRequest")) is not None:
        read_message(raw)
        found.append(WatchProgressRequest())
    return found[0] if found else None


def _watch_create(d: JsonObject) -> WatchCreateRequest:
    key = read_bytes(d.get("key"))
    range_end = read_bytes(pick(d, "range_end", "rangeEnd"))
    start_revision = read_int64(pick(d, "start_revision", "startRevision"))
    progress_notify = read_bool(pick(d, "progress_notify", "progressNotify"))
    filters = _filters(d.get("filters"))
    return WatchCreateRequest(
        key=key,
        range_end=range_end,
        start_revision=start_revision,
        progress_notify=progress_notify,
        no_put=0 in filters,
        no_delete=1 in filters,
        prev_kv=read_bool(pick(d, "prev_kv", "prevKv")),
        watch_id=read_int64(pick(d, "watch_id", "watchId")),
        fragment=read_bool(d.get("fragment")),
    )


def _filters(value: object) -> set[int]:
    """The numbers of a repeated FilterType; etcd ignores numbers it does not know."""
    if isinstance(value, str):
        raise InvalidArgument(f'invalid target "slice" for enum {_FILTER_TYPE}')
    return {read_enum_number(item, _FILTERS, _FILTER_TYPE) for item in read_repeated(value)}


def decode_member_id(d: JsonObject) -> int:
    """The ``ID`` (uint64) of a member remove, update or promote request."""
    return read_uint64(d.get("ID"))


def decode_member_peer_urls(d: JsonObject) -> tuple[str, ...]:
    """The ``peerURLs`` of a member add or update request, as sent (the server checks them)."""
    return tuple(str(url) for url in read_repeated(d.get("peerURLs")))


def decode_member_is_learner(d: JsonObject) -> bool:
    """The ``isLearner`` of a member add request."""
    return read_bool(d.get("isLearner"))


def decode_move_leader_request(d: JsonObject) -> int:
    """The ``targetID`` (uint64) of a MoveLeaderRequest."""
    return read_uint64(d.get("targetID"))


# -- responses --------------------------------------------------------------------------


def encode_header(cluster_id: int, member_id: int, revision: int, raft_term: int) -> JsonObject:
    """A ResponseHeader; ``revision`` 0 is omitted (member list, compacted watch cancel)."""
    out: JsonObject = {}
    if cluster_id:
        out["cluster_id"] = str(cluster_id)
    if member_id:
        out["member_id"] = str(member_id)
    if revision:
        out["revision"] = str(revision)
    if raft_term:
        out["raft_term"] = str(raft_term)
    return out


def encode_key_value(kv: KeyValue) -> JsonObject:
    out: JsonObject = {}
    if kv.key:
        out["key"] = b64(kv.key)
    if kv.create_revision:
        out["create_revision"] = str(kv.create_revision)
    if kv.mod_revision:
        out["mod_revision"] = str(kv.mod_revision)
    if kv.version:
        out["version"] = str(kv.version)
    if kv.value:
        out["value"] = b64(kv.value)
    if kv.lease:
        out["lease"] = str(kv.lease)
    return out


def encode_range_response(resp: RangeResponse, header: JsonObject) -> JsonObject:
    out: JsonObject = {"header": header}
    if resp.kvs:
        out["kvs"] = [encode_key_value(kv) for kv in resp.kvs]
    if resp.more:
        out["more"] = True
    if resp.count:
        out["count"] = str(resp.count)
    return out


def encode_put_response(resp: PutResponse, header: JsonObject) -> JsonObject:
    out: JsonObject = {"header": header}
    if resp.prev_kv is not None:
        out["prev_kv"] = encode_key_value(resp.prev_kv)
    return out


def encode_delete_range_response(resp: DeleteRangeResponse, header: JsonObject) -> JsonObject:
    out: JsonObject = {"header": header}
    if resp.deleted:
        out["deleted"] = str(resp.deleted)
    if resp.prev_kvs:
        out["prev_kvs"] = [encode_key_value(kv) for kv in resp.prev_kvs]
    return out


def encode_txn_response(resp: TxnResponse, header: JsonObject, revision: int) -> JsonObject:
    """A TxnResponse; a nested txn's header is ``{}``, an op's ``{"revision": N}``.

    N is the op's own ``header_revision`` when set, else ``revision``.
    """
    out: JsonObject = {"header": header}
    out.update(_txn_body(resp, {"revision": str(revision)} if revision else {}))
    return out


def _txn_body(resp: TxnResponse, inner_header: JsonObject) -> JsonObject:
    out: JsonObject = {}
    if resp.succeeded:
        out["succeeded"] = True
    if resp.responses:
        out["responses"] = [_response_op(r, inner_header) for r in resp.responses]
    return out


def _response_op(resp: ResponseOp, inner_header: JsonObject) -> JsonObject:
    if isinstance(resp, TxnResponse):
        return {"response_txn": {"header": {}, **_txn_body(resp, inner_header)}}
    if resp.header_revision:
        inner_header = {"revision": str(resp.header_revision)}
    if isinstance(resp, RangeResponse):
        return {"response_range": encode_range_response(resp, inner_header)}
    if isinstance(resp, PutResponse):
        return {"response_put": encode_put_response(resp, inner_header)}
    return {"response_delete_range": encode_delete_range_response(resp, inner_header)}


def encode_lease_grant_response(resp: LeaseGrantResponse, header: JsonObject) -> JsonObject:
    out: JsonObject = {"header": header}
    if resp.id:
        out["ID"] = str(resp.id)
    if resp.ttl:
        out["TTL"] = str(resp.ttl)
    return out


def encode_lease_keepalive_response(header: JsonObject, lease_id: int, ttl_s: int) -> JsonObject:
    """One keepalive answer; ``ttl_s`` 0 (omitted) means the lease is gone."""
    out: JsonObject = {"header": header}
    if lease_id:
        out["ID"] = str(lease_id)
    if ttl_s:
        out["TTL"] = str(ttl_s)
    return out


def encode_lease_time_to_live_response(
    header: JsonObject, lease_id: int, ttl_s: int, granted_ttl_s: int, keys: tuple[bytes, ...]
) -> JsonObject:
    """A LeaseTimeToLiveResponse; an unknown lease has ``ttl_s`` -1."""
    out = encode_lease_keepalive_response(header, lease_id, ttl_s)
    if granted_ttl_s:
        out["grantedTTL"] = str(granted_ttl_s)
    if keys:
        out["keys"] = [b64(k) for k in keys]
    return out


def encode_lease_leases_response(header: JsonObject, lease_ids: tuple[int, ...]) -> JsonObject:
    out: JsonObject = {"header": header}
    if lease_ids:
        out["leases"] = [{"ID": str(i)} for i in lease_ids]
    return out


def encode_event(e: Event) -> JsonObject:
    out: JsonObject = {}
    if e.type is EventType.DELETE:
        out["type"] = "DELETE"
    out["kv"] = encode_key_value(e.kv)
    if e.prev_kv is not None:
        out["prev_kv"] = encode_key_value(e.prev_kv)
    return out


def encode_watch_response(resp: WatchResponse, header: JsonObject) -> JsonObject:
    """The WatchResponse of one stream message (wrap it with :func:`encode_stream_chunk`)."""
    out: JsonObject = {"header": header}
    if resp.watch_id:
        out["watch_id"] = str(resp.watch_id)
    if resp.created:
        out["created"] = True
    if resp.canceled:
        out["canceled"] = True
    if resp.compact_revision:
        out["compact_revision"] = str(resp.compact_revision)
    if resp.cancel_reason:
        out["cancel_reason"] = resp.cancel_reason
    if resp.fragment:
        out["fragment"] = True
    if resp.events:
        out["events"] = [encode_event(e) for e in resp.events]
    return out


def encode_status_response(status: Status, header: JsonObject) -> JsonObject:
    out: JsonObject = {"header": header}
    if status.version:
        out["version"] = status.version
    for name, value in (("dbSize", status.db_size), ("leader", status.leader),
                        ("raftIndex", status.raft_index), ("raftTerm", status.raft_term),
                        ("raftAppliedIndex", status.raft_applied_index)):
        if value:
            out[name] = str(value)
    if status.errors:
        out["errors"] = list(status.errors)
    if status.db_size_in_use:
        out["dbSizeInUse"] = str(status.db_size_in_use)
    if status.is_learner:
        out["isLearner"] = True
    return out


def encode_member(member: MemberFields) -> JsonObject:
    """A Member: ``ID`` as a string, ``peerURLs`` always, the other empty fields left out."""
    out: JsonObject = {"ID": str(member.id)}
    if member.name:
        out["name"] = member.name
    out["peerURLs"] = list(member.peer_urls)
    if member.client_urls:
        out["clientURLs"] = list(member.client_urls)
    if member.is_learner:
        out["isLearner"] = True
    return out


def encode_member_list_response(members: Iterable[MemberFields], header: JsonObject) -> JsonObject:
    """The answer of a member list, remove, update or promote: every member after it."""
    return {"header": header, "members": [encode_member(m) for m in members]}


def encode_member_add_response(member: MemberFields, members: Iterable[MemberFields],
                               header: JsonObject) -> JsonObject:
    return {"header": header, "member": encode_member(member),
            "members": [encode_member(m) for m in members]}


def encode_stream_chunk(result: JsonObject) -> bytes:
    """One message of a gateway stream: ``{"result": ...}`` and a newline."""
    return orjson.dumps({"result": result}) + b"\n"


def encode_stream_error(err: StoreError) -> bytes:
    """The last message of a stream that fails after it started (grpc-gateway 1.6.4's shape)."""
    status = http_status_of(err.code)
    return orjson.dumps({"error": {
        "grpc_code": err.code,
        "http_code": status,
        "message": err.message,
        "http_status": HTTPStatus(status).phrase,
    }}) + b"\n"


def encode_error_body(err: StoreError) -> bytes:
    """The unary error body ``{"error", "message", "code"}``; the HTTP status is ``err.http_status``."""
    return orjson.dumps({"error": err.message, "message": err.message, "code": err.code})
