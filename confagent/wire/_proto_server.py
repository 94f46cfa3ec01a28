"""The etcd 3.4 protobuf codec, server side: the gRPC front's request bytes in, response bytes out.

The twin of ``_json_server``, with the same values on the other side: each
``pb_decode_<rpc>_request`` parses one gRPC request message (etcd's
``etcdserverpb`` messages, generated into ``_pb`` from proto/) into the value
the JSON gateway's decoder gives for the same request, and each
``pb_encode_<rpc>_response`` writes the value the JSON encoder takes, with the
same arguments except the header: a :class:`ResponseHeader` value here. So the
gRPC front calls the same request handling as the gateway, between these.

Rules, the gateway's (``_json_server``): zero values are left out (proto3
writes no zero scalar); every response carries its header, even an empty one
(a nested txn's); a txn's op responses carry ``{revision}`` headers as the
gateway's do; a Compare's operand is the oneof member matching its target, else
that target's zero; a RequestOp naming no request is "etcdserver: key not
found" (etcd's ``checkRequestOp``).

Malformed bytes are :class:`~confagent.errors.Internal` (code 13) "grpc: error
unmarshalling request: ...", as grpc-go answers; the reason after the colon is
protobuf's, not Go's. Known differences from etcd, for requests no client
sends: an enum number the proto does not define is refused, as by the JSON
codec (``unknown value 7 for enum etcdserverpb.RangeRequest_SortOrder``; etcd
takes any int32); protobuf's parser reads at most 100 nested messages, so txns
nest at most 50 deep here (the gateway: 64; etcd: no bound), deeper is that
Internal error.

Requests that carry nothing (LeaseLeases, MemberList, Status, Defragment,
Hash, Snapshot, the Auth calls' empty ones) go through
:func:`pb_decode_empty_request`; responses made only of a header (Compact,
LeaseRevoke, Defragment, MoveLeader, the Auth calls' answers) through
:func:`pb_encode_header_response`: on the wire each is the same message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, TypeVar

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from google.protobuf.message import DecodeError, Message

from confagent.errors import Internal, KeyNotFound
from confagent.kv import (
    CompactionRequest,
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    DeleteRangeResponse,
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
from confagent.wire._enums import enum_member
from confagent.wire._messages import MemberFields, ResponseHeader, Status
from confagent.wire._pb import kv_pb2, rpc_pb2

__all__ = [
    "pb_decode_alarm_request",
    "pb_decode_compaction_request",
    "pb_decode_delete_range_request",
    "pb_decode_empty_request",
    "pb_decode_hash_kv_request",
    "pb_decode_lease_grant_request",
    "pb_decode_lease_id",
    "pb_decode_lease_time_to_live_request",
    "pb_decode_member_add_request",
    "pb_decode_member_id",
    "pb_decode_member_update_request",
    "pb_decode_move_leader_request",
    "pb_decode_put_request",
    "pb_decode_range_request",
    "pb_decode_txn_request",
    "pb_decode_watch_request",
    "pb_encode_alarm_response",
    "pb_encode_delete_range_response",
    "pb_encode_hash_kv_response",
    "pb_encode_hash_response",
    "pb_encode_header_response",
    "pb_encode_lease_grant_response",
    "pb_encode_lease_keepalive_response",
    "pb_encode_lease_leases_response",
    "pb_encode_lease_time_to_live_response",
    "pb_encode_member_add_response",
    "pb_encode_member_list_response",
    "pb_encode_put_response",
    "pb_encode_range_response",
    "pb_encode_snapshot_response",
    "pb_encode_status_response",
    "pb_encode_txn_response",
    "pb_encode_watch_response",
]

M = TypeVar("M", bound=Message)

_UNMARSHAL: Final = "grpc: error unmarshalling request: "
_NO_PUT, _NO_DELETE = rpc_pb2.WatchCreateRequest.NOPUT, rpc_pb2.WatchCreateRequest.NODELETE
_COMPARE_OPERANDS: Final[dict[str, CompareTarget]] = {
    "version": CompareTarget.VERSION, "create_revision": CompareTarget.CREATE,
    "mod_revision": CompareTarget.MOD, "value": CompareTarget.VALUE, "lease": CompareTarget.LEASE,
}
_ZERO_OPERAND: Final[dict[CompareTarget, int | bytes]] = {
    CompareTarget.VERSION: 0, CompareTarget.CREATE: 0, CompareTarget.MOD: 0,
    CompareTarget.VALUE: b"", CompareTarget.LEASE: 0,
}


def pb_parse(message: type[M], data: bytes) -> M:
    """``data`` as a ``message``.

    Raises:
        Internal: the bytes are no such message (grpc-go's code and words).
    """
    try:
        return message.FromString(data)
    except DecodeError as err:
        raise Internal(f"{_UNMARSHAL}{err}") from None


# -- requests ---------------------------------------------------------------------------


def pb_decode_range_request(data: bytes) -> RangeRequest:
    return _range(pb_parse(rpc_pb2.RangeRequest, data))


def _range(r: rpc_pb2.RangeRequest) -> RangeRequest:
    return RangeRequest(
        key=r.key, range_end=r.range_end, limit=r.limit, revision=r.revision,
        sort_order=enum_member(r.sort_order, SortOrder, "etcdserverpb.RangeRequest_SortOrder"),
        sort_target=enum_member(r.sort_target, SortTarget, "etcdserverpb.RangeRequest_SortTarget"),
        serializable=r.serializable, keys_only=r.keys_only, count_only=r.count_only,
        min_mod_revision=r.min_mod_revision, max_mod_revision=r.max_mod_revision,
        min_create_revision=r.min_create_revision, max_create_revision=r.max_create_revision,
    )


def pb_decode_put_request(data: bytes) -> PutRequest:
    return _put(pb_parse(rpc_pb2.PutRequest, data))


def _put(r: rpc_pb2.PutRequest) -> PutRequest:
    return PutRequest(key=r.key, value=r.value, lease=r.lease, prev_kv=r.prev_kv,
                      ignore_value=r.ignore_value, ignore_lease=r.ignore_lease)


def pb_decode_delete_range_request(data: bytes) -> DeleteRangeRequest:
    return _delete_range(pb_parse(rpc_pb2.DeleteRangeRequest, data))


def _delete_range(r: rpc_pb2.DeleteRangeRequest) -> DeleteRangeRequest:
    return DeleteRangeRequest(key=r.key, range_end=r.range_end, prev_kv=r.prev_kv)


def pb_decode_txn_request(data: bytes) -> TxnRequest:
    """A txn, nested txns included.

    Raises:
        KeyNotFound: a RequestOp names no request.
        InvalidArgument: an undefined enum number.
        Internal: malformed bytes, or txns nested more than 50 deep.
    """
    return _txn(pb_parse(rpc_pb2.TxnRequest, data))


def _txn(r: rpc_pb2.TxnRequest) -> TxnRequest:
    return TxnRequest(compare=tuple(_compare(c) for c in r.compare),
                      success=tuple(_request_op(op) for op in r.success),
                      failure=tuple(_request_op(op) for op in r.failure))


def _compare(c: rpc_pb2.Compare) -> Compare:
    target = enum_member(c.target, CompareTarget, "etcdserverpb.Compare_CompareTarget")
    result = enum_member(c.result, CompareResult, "etcdserverpb.Compare_CompareResult")
    member = c.WhichOneof("target_union")
    operand: int | bytes = (getattr(c, member) if member and _COMPARE_OPERANDS[member] is target
                            else _ZERO_OPERAND[target])
    return Compare(key=c.key, target=target, result=result, operand=operand, range_end=c.range_end)


def _request_op(op: rpc_pb2.RequestOp) -> RequestOp:
    member = op.WhichOneof("request")
    if member == "request_range":
        return _range(op.request_range)
    if member == "request_put":
        return _put(op.request_put)
    if member == "request_delete_range":
        return _delete_range(op.request_delete_range)
    if member == "request_txn":
        return _txn(op.request_txn)
    raise KeyNotFound()


def pb_decode_compaction_request(data: bytes) -> CompactionRequest:
    r = pb_parse(rpc_pb2.CompactionRequest, data)
    return CompactionRequest(revision=r.revision, physical=r.physical)


def pb_decode_watch_request(data: bytes) -> WatchRequest | None:
    """One message of a Watch stream; ``None`` for one with no request, which etcd skips."""
    r = pb_parse(rpc_pb2.WatchRequest, data)
    member = r.WhichOneof("request_union")
    if member == "create_request":
        c = r.create_request
        return WatchCreateRequest(
            key=c.key, range_end=c.range_end, start_revision=c.start_revision,
            progress_notify=c.progress_notify, no_put=_NO_PUT in c.filters,
            no_delete=_NO_DELETE in c.filters, prev_kv=c.prev_kv, watch_id=c.watch_id,
            fragment=c.fragment,
        )
    if member == "cancel_request":
        return WatchCancelRequest(watch_id=r.cancel_request.watch_id)
    if member == "progress_request":
        return WatchProgressRequest()
    return None


def pb_decode_lease_grant_request(data: bytes) -> tuple[int, int]:
    """``(ttl, id)`` of a LeaseGrantRequest; both may be 0 or negative, as sent."""
    r = pb_parse(rpc_pb2.LeaseGrantRequest, data)
    return r.TTL, r.ID


def pb_decode_lease_id(data: bytes) -> int:
    """The ``ID`` of a LeaseRevokeRequest or a LeaseKeepAliveRequest (one message on the wire)."""
    return pb_parse(rpc_pb2.LeaseRevokeRequest, data).ID


def pb_decode_lease_time_to_live_request(data: bytes) -> tuple[int, bool]:
    """``(id, keys)`` of a LeaseTimeToLiveRequest."""
    r = pb_parse(rpc_pb2.LeaseTimeToLiveRequest, data)
    return r.ID, r.keys


def pb_decode_member_add_request(data: bytes) -> tuple[tuple[str, ...], bool]:
    """``(peer_urls, is_learner)`` of a MemberAddRequest, as sent (the server checks the URLs)."""
    r = pb_parse(rpc_pb2.MemberAddRequest, data)
    return tuple(r.peerURLs), r.isLearner


def pb_decode_member_id(data: bytes) -> int:
    """The ``ID`` (uint64) of a MemberRemoveRequest or MemberPromoteRequest (one message on the wire)."""
    return pb_parse(rpc_pb2.MemberRemoveRequest, data).ID


def pb_decode_member_update_request(data: bytes) -> tuple[int, tuple[str, ...]]:
    """``(id, peer_urls)`` of a MemberUpdateRequest."""
    r = pb_parse(rpc_pb2.MemberUpdateRequest, data)
    return r.ID, tuple(r.peerURLs)


def pb_decode_alarm_request(data: bytes) -> tuple[int, int, int]:
    """``(action, member_id, alarm)`` of an AlarmRequest: AlarmAction GET 0, ACTIVATE 1, DEACTIVATE 2;
    AlarmType NONE 0, NOSPACE 1, CORRUPT 2 (numbers as sent: etcd acts on the ones it knows)."""
    r = pb_parse(rpc_pb2.AlarmRequest, data)
    return r.action, r.memberID, r.alarm


def pb_decode_hash_kv_request(data: bytes) -> int:
    """The ``revision`` of a HashKVRequest (0: the current one)."""
    return pb_parse(rpc_pb2.HashKVRequest, data).revision


def pb_decode_move_leader_request(data: bytes) -> int:
    """The ``targetID`` (uint64) of a MoveLeaderRequest."""
    return pb_parse(rpc_pb2.MoveLeaderRequest, data).targetID


def pb_decode_empty_request(data: bytes) -> None:
    """Check a request of a call that takes no fields (unknown fields are skipped, as etcd does)."""
    pb_parse(rpc_pb2.StatusRequest, data)


# -- responses --------------------------------------------------------------------------
# Each answer is built in place, its header and key-values filled field by field: half the
# time of building each sub-message and copying it in (protobuf copies on assignment).


def _set_header(out: rpc_pb2.ResponseHeader, header: ResponseHeader) -> None:
    out.SetInParent()  # present, even when every field is zero
    out.cluster_id, out.member_id = header.cluster_id, header.member_id
    out.revision, out.raft_term = header.revision, header.raft_term


def set_key_value(out: kv_pb2.KeyValue, kv: KeyValue) -> None:
    out.SetInParent()
    out.key, out.create_revision, out.mod_revision = kv.key, kv.create_revision, kv.mod_revision
    out.version, out.value, out.lease = kv.version, kv.value, kv.lease


def _add_key_values(out: RepeatedCompositeFieldContainer[kv_pb2.KeyValue], kvs: Iterable[KeyValue]) -> None:
    add = out.add
    for kv in kvs:
        add(key=kv.key, create_revision=kv.create_revision, mod_revision=kv.mod_revision,
            version=kv.version, value=kv.value, lease=kv.lease)


def answer(message: type[M], header: ResponseHeader) -> M:
    """A new ``message`` with ``header`` set: every answer's field 1 (``_proto_server_locks`` too)."""
    out = message()
    _set_header(out.header, header)  # type: ignore[attr-defined]  # every answer has header = 1
    return out


def pb_encode_header_response(header: ResponseHeader) -> bytes:
    """A response of nothing but its header (CompactionResponse, LeaseRevokeResponse, ...)."""
    return answer(rpc_pb2.CompactionResponse, header).SerializeToString()


def pb_encode_range_response(resp: RangeResponse, header: ResponseHeader) -> bytes:
    out = answer(rpc_pb2.RangeResponse, header)
    _fill_range(out, resp)
    return out.SerializeToString()


def _fill_range(out: rpc_pb2.RangeResponse, resp: RangeResponse) -> None:
    out.more, out.count = resp.more, resp.count
    _add_key_values(out.kvs, resp.kvs)


def pb_encode_put_response(resp: PutResponse, header: ResponseHeader) -> bytes:
    out = answer(rpc_pb2.PutResponse, header)
    _fill_put(out, resp)
    return out.SerializeToString()


def _fill_put(out: rpc_pb2.PutResponse, resp: PutResponse) -> None:
    if resp.prev_kv is not None:
        set_key_value(out.prev_kv, resp.prev_kv)


def pb_encode_delete_range_response(resp: DeleteRangeResponse, header: ResponseHeader) -> bytes:
    out = answer(rpc_pb2.DeleteRangeResponse, header)
    _fill_delete_range(out, resp)
    return out.SerializeToString()


def _fill_delete_range(out: rpc_pb2.DeleteRangeResponse, resp: DeleteRangeResponse) -> None:
    out.deleted = resp.deleted
    _add_key_values(out.prev_kvs, resp.prev_kvs)


def pb_encode_txn_response(resp: TxnResponse, header: ResponseHeader, revision: int) -> bytes:
    """A TxnResponse; a nested txn's header is empty, an op's holds the revision it names.

    That is the op's own ``header_revision`` when set, else ``revision`` (as the gateway's).
    """
    out = answer(rpc_pb2.TxnResponse, header)
    _fill_txn(out, resp, revision)
    return out.SerializeToString()


def _fill_txn(out: rpc_pb2.TxnResponse, resp: TxnResponse, revision: int) -> None:
    out.succeeded = resp.succeeded
    add = out.responses.add
    for op in resp.responses:
        _fill_op(add(), op, revision)


def _fill_op(out: rpc_pb2.ResponseOp, resp: ResponseOp, revision: int) -> None:
    if isinstance(resp, TxnResponse):
        out.response_txn.header.SetInParent()
        _fill_txn(out.response_txn, resp, revision)
        return
    if isinstance(resp, RangeResponse):
        _fill_range(out.response_range, resp)
        header = out.response_range.header
    elif isinstance(resp, PutResponse):
        _fill_put(out.response_put, resp)
        header = out.response_put.header
    else:
        _fill_delete_range(out.response_delete_range, resp)
        header = out.response_delete_range.header
    header.SetInParent()
    header.revision = resp.header_revision or revision


def pb_encode_lease_grant_response(resp: LeaseGrantResponse, header: ResponseHeader) -> bytes:
    out = answer(rpc_pb2.LeaseGrantResponse, header)
    out.ID, out.TTL = resp.id, resp.ttl
    return out.SerializeToString()


def pb_encode_lease_keepalive_response(header: ResponseHeader, lease_id: int, ttl_s: int) -> bytes:
    """One message of a LeaseKeepAlive stream; ``ttl_s`` 0 means the lease is gone."""
    out = answer(rpc_pb2.LeaseKeepAliveResponse, header)
    out.ID, out.TTL = lease_id, ttl_s
    return out.SerializeToString()


def pb_encode_lease_time_to_live_response(header: ResponseHeader, lease_id: int, ttl_s: int,
                                          granted_ttl_s: int, keys: tuple[bytes, ...]) -> bytes:
    """A LeaseTimeToLiveResponse; an unknown lease has ``ttl_s`` -1."""
    out = answer(rpc_pb2.LeaseTimeToLiveResponse, header)
    out.ID, out.TTL, out.grantedTTL = lease_id, ttl_s, granted_ttl_s
    out.keys.extend(keys)
    return out.SerializeToString()


def pb_encode_lease_leases_response(header: ResponseHeader, lease_ids: tuple[int, ...]) -> bytes:
    out = answer(rpc_pb2.LeaseLeasesResponse, header)
    for lease_id in lease_ids:
        out.leases.add(ID=lease_id)
    return out.SerializeToString()


def pb_encode_watch_response(resp: WatchResponse, header: ResponseHeader) -> bytes:
    """One message of a Watch stream."""
    out = answer(rpc_pb2.WatchResponse, header)
    out.watch_id, out.created, out.canceled = resp.watch_id, resp.created, resp.canceled
    out.compact_revision, out.cancel_reason = resp.compact_revision, resp.cancel_reason
    out.fragment = resp.fragment
    add = out.events.add
    for e in resp.events:
        event = add(type=kv_pb2.Event.DELETE if e.type is EventType.DELETE else kv_pb2.Event.PUT)
        set_key_value(event.kv, e.kv)
        if e.prev_kv is not None:
            set_key_value(event.prev_kv, e.prev_kv)
    return out.SerializeToString()


def pb_encode_status_response(status: Status, header: ResponseHeader) -> bytes:
    out = answer(rpc_pb2.StatusResponse, header)
    out.version, out.dbSize, out.leader = status.version, status.db_size, status.leader
    out.raftIndex, out.raftTerm = status.raft_index, status.raft_term
    out.raftAppliedIndex, out.dbSizeInUse = status.raft_applied_index, status.db_size_in_use
    out.isLearner = status.is_learner
    out.errors.extend(status.errors)
    return out.SerializeToString()


def _add_members(out: RepeatedCompositeFieldContainer[rpc_pb2.Member],
                 members: Iterable[MemberFields]) -> None:
    for m in members:
        out.add(ID=m.id, name=m.name, peerURLs=m.peer_urls, clientURLs=m.client_urls, isLearner=m.is_learner)


def pb_encode_member_list_response(members: Iterable[MemberFields], header: ResponseHeader) -> bytes:
    """The answer of a member list, remove, update or promote (one message on the wire): every member."""
    out = answer(rpc_pb2.MemberListResponse, header)
    _add_members(out.members, members)
    return out.SerializeToString()


def pb_encode_member_add_response(member: MemberFields, members: Iterable[MemberFields],
                                  header: ResponseHeader) -> bytes:
    out = answer(rpc_pb2.MemberAddResponse, header)
    m = out.member
    m.SetInParent()
    m.ID, m.name, m.isLearner = member.id, member.name, member.is_learner
    m.peerURLs.extend(member.peer_urls)
    m.clientURLs.extend(member.client_urls)
    _add_members(out.members, members)
    return out.SerializeToString()


def pb_encode_alarm_response(header: ResponseHeader, alarms: Iterable[tuple[int, int]]) -> bytes:
    """An AlarmResponse: ``(member_id, alarm)`` for each alarm raised (AlarmType's numbers)."""
    out = answer(rpc_pb2.AlarmResponse, header)
    for member_id, alarm in alarms:
        out.alarms.add(memberID=member_id, alarm=alarm)
    return out.SerializeToString()


def pb_encode_hash_response(header: ResponseHeader, hash_value: int) -> bytes:
    out = answer(rpc_pb2.HashResponse, header)
    out.hash = hash_value
    return out.SerializeToString()


def pb_encode_hash_kv_response(header: ResponseHeader, hash_value: int, compact_revision: int) -> bytes:
    out = answer(rpc_pb2.HashKVResponse, header)
    out.hash, out.compact_revision = hash_value, compact_revision
    return out.SerializeToString()


def pb_encode_snapshot_response(remaining_bytes: int, blob: bytes) -> bytes:
    """One message of a Snapshot stream: ``blob``, and how many bytes follow it; no header, as
    etcd's maintenance server sends none (nor does the gateway's stream)."""
    return rpc_pb2.SnapshotResponse(remaining_bytes=remaining_bytes, blob=blob).SerializeToString()
