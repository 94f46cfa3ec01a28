"""The protobuf codec agrees with the JSON one: the same request gives the same value, the same answer the
same fields.

Requests: the gateway JSON our client writes for a value is read by protobuf's own jsonpb reader
(``json_format.ParseDict``) into etcd's message and sent as a gRPC client sends it; the protobuf
decoder must then give the value the JSON decoder gives, which is the value we started from.
Responses: what the protobuf encoder writes, turned into JSON by protobuf's own writer
(``MessageToDict`` with proto field names: grpc-gateway's shape), must be the JSON encoder's body.
Neither side is checked against expectations written here: each codec is the other's oracle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from confagent import wire
from confagent.errors import Internal, InvalidArgument, KeyNotFound
from confagent.kv import (
    CompactionRequest,
    Compare,
    CompareTarget,
    DeleteRangeRequest,
    DeleteRangeResponse,
    KeyValue,
    LeaseGrantResponse,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
    WatchCancelRequest,
    WatchCreateRequest,
    WatchProgressRequest,
    WatchResponse,
)
from confagent.wire._pb import health_pb2, rpc_pb2, v3election_pb2, v3lock_pb2
from tests.wire.strategies import (
    compaction_requests,
    delete_requests,
    delete_responses,
    headers,
    int64s,
    key_values,
    keys,
    members,
    put_requests,
    put_responses,
    range_requests,
    range_responses,
    revisions,
    statuses,
    txn_requests,
    txn_responses,
    uint64s,
    urls,
    watch_create_requests,
    watch_responses,
)


def _json(d: Any) -> Any:
    """Through bytes and back, as a body travels."""
    return wire.loads(orjson.dumps(d))


def _sent(d: dict[str, Any], message: type[Message]) -> bytes:
    """A gateway JSON request as protobuf's jsonpb reads it, serialized as a gRPC client sends it."""
    return json_format.ParseDict(orjson.loads(orjson.dumps(d)), message()).SerializeToString()


def _fields(message: type[Message], data: bytes) -> dict[str, Any]:
    """A response message as grpc-gateway writes it: proto names, zeros left out."""
    return json_format.MessageToDict(message.FromString(data), preserving_proto_field_name=True)


def _gw_header(h: wire.ResponseHeader) -> dict[str, Any]:
    return wire.encode_header(h.cluster_id, h.member_id, h.revision, h.raft_term)


# -- requests: both decoders give the value --------------------------------------------------


def _read(d: dict[str, Any], message: type[Message], pb_decode: Callable[[bytes], Any],
          json_decode: Callable[[Any], Any]) -> Any:
    """What both decoders make of the request ``d`` (the same, or the test fails)."""
    from_pb, from_json = pb_decode(_sent(d, message)), json_decode(_json(d))
    assert from_pb == from_json
    return from_pb


@given(range_requests, put_requests, delete_requests, compaction_requests)
def test_kv_requests(r: RangeRequest, p: PutRequest, d: DeleteRangeRequest, c: CompactionRequest) -> None:
    assert _read(wire.encode_range_request(r), rpc_pb2.RangeRequest, wire.pb_decode_range_request,
                 wire.decode_range_request) == r
    assert _read(wire.encode_put_request(p), rpc_pb2.PutRequest, wire.pb_decode_put_request,
                 wire.decode_put_request) == p
    assert _read(wire.encode_delete_range_request(d), rpc_pb2.DeleteRangeRequest,
                 wire.pb_decode_delete_range_request, wire.decode_delete_range_request) == d
    assert _read(wire.encode_compaction_request(c), rpc_pb2.CompactionRequest,
                 wire.pb_decode_compaction_request, wire.decode_compaction_request) == c


@given(txn_requests)
def test_txn_request(r: TxnRequest) -> None:
    assert _read(wire.encode_txn_request(r), rpc_pb2.TxnRequest, wire.pb_decode_txn_request,
                 wire.decode_txn_request) == r


@given(watch_create_requests, int64s)
def test_watch_requests(r: WatchCreateRequest, watch_id: int) -> None:
    cancel = WatchCancelRequest(watch_id)
    sent = ((wire.encode_watch_create_request(r), r), (wire.encode_watch_cancel_request(cancel), cancel),
            ({"progress_request": {}}, WatchProgressRequest()), ({}, None))
    for d, value in sent:
        assert _read(d, rpc_pb2.WatchRequest, wire.pb_decode_watch_request,
                     wire.decode_watch_request) == value


@given(int64s, int64s, st.booleans())
def test_lease_requests(ttl: int, lease_id: int, with_keys: bool) -> None:
    assert _read(wire.encode_lease_grant_request(ttl, lease_id), rpc_pb2.LeaseGrantRequest,
                 wire.pb_decode_lease_grant_request, wire.decode_lease_grant_request) == (ttl, lease_id)
    for message in (rpc_pb2.LeaseRevokeRequest, rpc_pb2.LeaseKeepAliveRequest):
        assert _read(wire.encode_lease_id_request(lease_id), message, wire.pb_decode_lease_id,
                     wire.decode_lease_id) == lease_id
    assert _read(wire.encode_lease_time_to_live_request(lease_id, with_keys), rpc_pb2.LeaseTimeToLiveRequest,
                 wire.pb_decode_lease_time_to_live_request, wire.decode_lease_time_to_live_request) == (
        lease_id, with_keys)


def _member_add(d: Any) -> tuple[tuple[str, ...], bool]:
    return wire.decode_member_peer_urls(d), wire.decode_member_is_learner(d)


def _member_update(d: Any) -> tuple[int, tuple[str, ...]]:
    return wire.decode_member_id(d), wire.decode_member_peer_urls(d)


@given(uint64s, urls, st.booleans())
def test_member_requests(member_id: int, peer_urls: tuple[str, ...], is_learner: bool) -> None:
    assert _read(wire.encode_member_add_request(peer_urls, is_learner), rpc_pb2.MemberAddRequest,
                 wire.pb_decode_member_add_request, _member_add) == (peer_urls, is_learner)
    for message in (rpc_pb2.MemberRemoveRequest, rpc_pb2.MemberPromoteRequest):
        assert _read(wire.encode_member_id_request(member_id), message, wire.pb_decode_member_id,
                     wire.decode_member_id) == member_id
    assert _read(wire.encode_member_update_request(member_id, peer_urls), rpc_pb2.MemberUpdateRequest,
                 wire.pb_decode_member_update_request, _member_update) == (member_id, peer_urls)


leader_keys = st.builds(wire.LeaderKey, name=keys, key=keys, rev=revisions, lease=int64s)


@given(keys, int64s, st.binary(max_size=8), leader_keys)
def test_lock_and_election_requests(name: bytes, lease: int, value: bytes, leader: wire.LeaderKey) -> None:
    lock, campaign = wire.LockRequest(name, lease), wire.CampaignRequest(name, lease, value)
    assert _read(wire.encode_lock_request(lock), v3lock_pb2.LockRequest, wire.pb_decode_lock_request,
                 wire.decode_lock_request) == lock
    assert _read(wire.encode_unlock_request(name), v3lock_pb2.UnlockRequest, wire.pb_decode_unlock_request,
                 wire.decode_unlock_request) == name
    assert _read(wire.encode_campaign_request(campaign), v3election_pb2.CampaignRequest,
                 wire.pb_decode_campaign_request, wire.decode_campaign_request) == campaign
    assert _read(wire.encode_proclaim_request(leader, value), v3election_pb2.ProclaimRequest,
                 wire.pb_decode_proclaim_request, wire.decode_proclaim_request) == (
        wire.ProclaimRequest(leader, value))
    assert _read(wire.encode_resign_request(leader), v3election_pb2.ResignRequest,
                 wire.pb_decode_resign_request, wire.decode_resign_request) == wire.ResignRequest(leader)
    assert _read(wire.encode_leader_request(name), v3election_pb2.LeaderRequest,
                 wire.pb_decode_leader_request, wire.decode_leader_request) == name


@pytest.mark.parametrize(("message", "pb_decode", "json_decode"), [
    (v3election_pb2.ProclaimRequest, wire.pb_decode_proclaim_request, wire.decode_proclaim_request),
    (v3election_pb2.ResignRequest, wire.pb_decode_resign_request, wire.decode_resign_request),
])
def test_a_leader_key_left_out_is_none_on_both_fronts(
    message: type[Message], pb_decode: Callable[[bytes], Any], json_decode: Callable[[Any], Any]
) -> None:
    assert _read({}, message, pb_decode, json_decode).leader is None
    assert _read({"leader": {}}, message, pb_decode, json_decode).leader == wire.LeaderKey()


# -- responses: both encoders write the same fields ---------------------------------------------


def _same(message: type[Message], written: bytes, gateway_body: dict[str, Any]) -> None:
    """``written`` (protobuf) carries the fields of ``gateway_body`` (the JSON encoder's)."""
    assert _fields(message, written) == _json(gateway_body)


@given(range_responses, put_responses, delete_responses, headers)
def test_kv_responses(r: RangeResponse, p: PutResponse, d: DeleteRangeResponse,
                      h: wire.ResponseHeader) -> None:
    gw = _gw_header(h)
    _same(rpc_pb2.RangeResponse, wire.pb_encode_range_response(r, h), wire.encode_range_response(r, gw))
    _same(rpc_pb2.PutResponse, wire.pb_encode_put_response(p, h), wire.encode_put_response(p, gw))
    _same(rpc_pb2.DeleteRangeResponse, wire.pb_encode_delete_range_response(d, h),
          wire.encode_delete_range_response(d, gw))


@given(txn_responses, headers)
def test_txn_response(r: TxnResponse, h: wire.ResponseHeader) -> None:
    _same(rpc_pb2.TxnResponse, wire.pb_encode_txn_response(r, h, h.revision),
          wire.encode_txn_response(r, _gw_header(h), h.revision))


@given(watch_responses, headers)
def test_watch_response(r: WatchResponse, h: wire.ResponseHeader) -> None:
    _same(rpc_pb2.WatchResponse, wire.pb_encode_watch_response(r, h),
          wire.encode_watch_response(r, _gw_header(h)))


# Lease and member IDs are never 0; the JSON encoder writes such an ID (as "0"), protobuf cannot.
lease_ids = int64s.filter(bool)
live_members = members.filter(lambda m: m.id != 0)


@given(lease_ids, int64s, revisions, st.lists(keys, max_size=3).map(tuple),
       st.lists(lease_ids, max_size=3).map(tuple), headers)
def test_lease_responses(lease_id: int, ttl: int, granted: int, lease_keys: tuple[bytes, ...],
                         listed: tuple[int, ...], h: wire.ResponseHeader) -> None:
    gw, grant = _gw_header(h), LeaseGrantResponse(id=lease_id, ttl=ttl)
    _same(rpc_pb2.LeaseGrantResponse, wire.pb_encode_lease_grant_response(grant, h),
          wire.encode_lease_grant_response(grant, gw))
    _same(rpc_pb2.LeaseKeepAliveResponse, wire.pb_encode_lease_keepalive_response(h, lease_id, ttl),
          wire.encode_lease_keepalive_response(gw, lease_id, ttl))
    _same(rpc_pb2.LeaseTimeToLiveResponse,
          wire.pb_encode_lease_time_to_live_response(h, lease_id, ttl, granted, lease_keys),
          wire.encode_lease_time_to_live_response(gw, lease_id, ttl, granted, lease_keys))
    _same(rpc_pb2.LeaseLeasesResponse, wire.pb_encode_lease_leases_response(h, listed),
          wire.encode_lease_leases_response(gw, listed))


def _peer_urls_always(d: dict[str, Any]) -> dict[str, Any]:
    """The gateway writes a member's peerURLs even when empty; protobuf has no empty list to write."""
    for member in [d.get("member"), *d.get("members", [])]:
        if member is not None:
            member.setdefault("peerURLs", [])
    return d


@given(statuses, live_members, st.lists(live_members, min_size=1, max_size=3).map(tuple), headers)
def test_status_and_member_responses(status: wire.Status, m: wire.Member, ms: tuple[wire.Member, ...],
                                     h: wire.ResponseHeader) -> None:
    gw = _gw_header(h)
    _same(rpc_pb2.StatusResponse, wire.pb_encode_status_response(status, h),
          wire.encode_status_response(status, gw))
    listed = wire.pb_encode_member_list_response(ms, h)  # a cluster never has no member
    for message in (rpc_pb2.MemberListResponse, rpc_pb2.MemberRemoveResponse, rpc_pb2.MemberUpdateResponse,
                    rpc_pb2.MemberPromoteResponse):
        assert _peer_urls_always(_fields(message, listed)) == _json(wire.encode_member_list_response(ms, gw))
    added = _fields(rpc_pb2.MemberAddResponse, wire.pb_encode_member_add_response(m, ms, h))
    assert _peer_urls_always(added) == _json(wire.encode_member_add_response(m, ms, gw))


@given(keys, leader_keys, key_values, headers)
def test_lock_and_election_responses(key: bytes, leader: wire.LeaderKey, kv: KeyValue,
                                     h: wire.ResponseHeader) -> None:
    gw = _gw_header(h)
    _same(v3lock_pb2.LockResponse, wire.pb_encode_lock_response(key, h), wire.encode_lock_response(key, gw))
    _same(v3election_pb2.CampaignResponse, wire.pb_encode_campaign_response(leader, h),
          wire.encode_campaign_response(leader, gw))
    _same(v3election_pb2.LeaderResponse, wire.pb_encode_leader_response(kv, h),
          wire.encode_leader_response(kv, gw))


# -- the calls the gateway does not serve (yet): what is written is what is read ----------------


@given(headers, st.lists(st.tuples(uint64s, st.sampled_from((0, 1, 2))), max_size=3),
       st.integers(min_value=0, max_value=2**32 - 1), revisions, st.binary(max_size=32))
def test_maintenance_answers(h: wire.ResponseHeader, alarms: list[tuple[int, int]], hash_value: int,
                             revision: int, blob: bytes) -> None:
    header = _json(_gw_header(h))
    alarmed = rpc_pb2.AlarmResponse.FromString(wire.pb_encode_alarm_response(h, alarms))
    assert [(a.memberID, a.alarm) for a in alarmed.alarms] == alarms
    assert _fields(rpc_pb2.HashResponse, wire.pb_encode_hash_response(h, hash_value)) == _nonzero(
        header=header, hash=hash_value)
    assert _fields(rpc_pb2.HashKVResponse, wire.pb_encode_hash_kv_response(h, hash_value, revision)) == (
        _nonzero(header=header, hash=hash_value, compact_revision=str(revision) if revision else 0))
    chunk = rpc_pb2.SnapshotResponse.FromString(wire.pb_encode_snapshot_response(revision, blob))
    assert (chunk.remaining_bytes, chunk.blob, chunk.HasField("header")) == (revision, blob, False)


def _nonzero(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value or name == "header"}


small_enums = st.sampled_from((0, 1, 2))


@given(small_enums, uint64s, small_enums, revisions, uint64s, st.text(max_size=8))
def test_maintenance_and_health_requests(action: int, member_id: int, alarm: int, revision: int, target: int,
                                         service: str) -> None:
    sent = rpc_pb2.AlarmRequest(action=action, memberID=member_id, alarm=alarm)  # type: ignore[arg-type]
    assert wire.pb_decode_alarm_request(sent.SerializeToString()) == (action, member_id, alarm)
    hashed = rpc_pb2.HashKVRequest(revision=revision).SerializeToString()
    assert wire.pb_decode_hash_kv_request(hashed) == revision
    moved = rpc_pb2.MoveLeaderRequest(targetID=target).SerializeToString()
    assert wire.pb_decode_move_leader_request(moved) == target
    asked = health_pb2.HealthCheckRequest(service=service).SerializeToString()
    assert wire.pb_decode_health_check_request(asked) == service
    answered = health_pb2.HealthCheckResponse.FromString(wire.pb_encode_health_check_response(1))
    assert answered.status == health_pb2.HealthCheckResponse.SERVING


# -- one message on the wire for many calls ---------------------------------------------------


def _messages(*modules: Any) -> list[type[Message]]:
    return [getattr(module, name) for module in modules for name in module.DESCRIPTOR.message_types_by_name]


def test_every_header_only_answer_is_the_header_response() -> None:
    h = wire.ResponseHeader(cluster_id=1, member_id=2, revision=3, raft_term=4)
    header_only = [m for m in _messages(rpc_pb2, v3lock_pb2, v3election_pb2)
                   if [f.name for f in m.DESCRIPTOR.fields] == ["header"]]
    assert len(header_only) == 19  # Compact, LeaseRevoke, Defragment, MoveLeader, Unlock, Proclaim, Auth...
    for message in header_only:
        assert _fields(message, wire.pb_encode_header_response(h)) == {"header": _json(_gw_header(h))}


def test_every_empty_request_is_read_by_the_empty_reader() -> None:
    empty = [m for m in _messages(rpc_pb2) if not m.DESCRIPTOR.fields and m.__name__.endswith("Request")]
    assert {m.__name__ for m in empty} >= {"LeaseLeasesRequest", "MemberListRequest", "StatusRequest",
                                          "DefragmentRequest", "HashRequest", "SnapshotRequest"}
    for message in empty:
        assert wire.pb_decode_empty_request(message().SerializeToString()) is None


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"\x0a\x05ab", b"\xff", b"\x0a"])
def test_malformed_bytes_are_grpc_gos_unmarshalling_error(data: bytes) -> None:
    decoders: list[Callable[[bytes], object]] = [
        wire.pb_decode_range_request, wire.pb_decode_txn_request, wire.pb_decode_watch_request,
        wire.pb_decode_empty_request, wire.pb_decode_lock_request]
    for decode in decoders:
        with pytest.raises(Internal, match=r"^grpc: error unmarshalling request: ") as caught:
            decode(data)
        assert caught.value.code == 13


def test_unknown_fields_are_skipped_and_unknown_filters_ignored() -> None:
    put = rpc_pb2.PutRequest(key=b"k").SerializeToString() + b"\xf8\x06\x01"  # field 111, varint 1
    assert wire.pb_decode_put_request(put) == PutRequest(key=b"k")
    create = rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"k", filters=[1, 5]))  # type: ignore[list-item]
    decoded = wire.pb_decode_watch_request(create.SerializeToString())
    assert decoded == WatchCreateRequest(key=b"k", no_delete=True)


def test_an_undefined_enum_number_is_refused_as_the_gateway_refuses_it() -> None:
    data = rpc_pb2.RangeRequest(key=b"k", sort_order=7).SerializeToString()  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument) as pb_error:
        wire.pb_decode_range_request(data)
    with pytest.raises(InvalidArgument) as json_error:
        wire.decode_range_request({"key": "aw==", "sort_order": 7})
    assert pb_error.value.message == json_error.value.message == (
        "unknown value 7 for enum etcdserverpb.RangeRequest_SortOrder")


def test_a_request_op_naming_no_request_is_key_not_found() -> None:
    data = rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp()]).SerializeToString()
    with pytest.raises(KeyNotFound, match=r"^etcdserver: key not found$"):
        wire.pb_decode_txn_request(data)


def test_a_compare_operand_not_of_its_target_is_the_targets_zero() -> None:
    compare = rpc_pb2.Compare(key=b"k", target=rpc_pb2.Compare.VALUE, version=5)
    data = rpc_pb2.TxnRequest(compare=[compare]).SerializeToString()
    assert wire.pb_decode_txn_request(data).compare == (
        Compare(key=b"k", target=CompareTarget.VALUE, operand=b""),)


def _nested_txn(depth: int) -> bytes:
    """A TxnRequest whose first success op is a txn, ``depth`` times, written by hand (protobuf's own
    messages refuse to hold it past its nesting bound): success is field 2, request_txn field 4."""
    txn = b""
    for _ in range(depth):
        op = b"\x22" + _varint(len(txn)) + txn
        txn = b"\x12" + _varint(len(op)) + op
    return txn


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes([*out, n])


def test_txns_nest_50_deep_and_deeper_is_an_unmarshalling_error() -> None:
    decoded = wire.pb_decode_txn_request(_nested_txn(50))
    for _ in range(49):
        (decoded,) = decoded.success  # type: ignore[assignment]
    assert decoded.success == (TxnRequest(),)
    with pytest.raises(Internal, match=r"^grpc: error unmarshalling request: .*MaxDepth"):
        wire.pb_decode_txn_request(_nested_txn(51))
