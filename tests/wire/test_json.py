"""The gateway codec: round trips (hypothesis), literal shapes, and malformed bodies judged by a real etcd."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confagent import wire
from confagent.errors import InvalidArgument, StoreError
from confagent.kv import (
    CompactionRequest,
    DeleteRangeRequest,
    DeleteRangeResponse,
    Event,
    EventType,
    KeyValue,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
    WatchCreateRequest,
    WatchResponse,
)
from confagent.wire._json_fields import _go_base64, read_bytes
from confagent.wire._json_scan import RawNumber, loads_exact
from tests.thoroughness import examples
from tests.wire.strategies import (
    delete_requests,
    delete_responses,
    headers,
    int64s,
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
    watch_responses,
)


def _wire(d: dict[str, Any]) -> dict[str, Any]:
    """Through bytes and back, as a request travels."""
    return wire.loads(orjson.dumps(d))


def _gw_header(h: wire.ResponseHeader) -> dict[str, Any]:
    return wire.encode_header(h.cluster_id, h.member_id, h.revision, h.raft_term)


# -- round trips ----------------------------------------------------------------------------


@given(range_requests)
def test_range_request_round_trip(r: RangeRequest) -> None:
    assert wire.decode_range_request(_wire(wire.encode_range_request(r))) == r


@given(put_requests)
def test_put_request_round_trip(r: PutRequest) -> None:
    assert wire.decode_put_request(_wire(wire.encode_put_request(r))) == r


@given(delete_requests)
def test_delete_range_request_round_trip(r: DeleteRangeRequest) -> None:
    assert wire.decode_delete_range_request(_wire(wire.encode_delete_range_request(r))) == r


@given(txn_requests)
def test_txn_request_round_trip(r: TxnRequest) -> None:
    assert wire.decode_txn_request(_wire(wire.encode_txn_request(r))) == r


@given(st.builds(CompactionRequest, revision=int64s, physical=st.booleans()))
def test_compaction_request_round_trip(r: CompactionRequest) -> None:
    assert wire.decode_compaction_request(_wire(wire.encode_compaction_request(r))) == r


@given(st.builds(WatchCreateRequest, key=st.binary(max_size=8), range_end=st.binary(max_size=8),
                 start_revision=int64s, progress_notify=st.booleans(), no_put=st.booleans(),
                 no_delete=st.booleans(), prev_kv=st.booleans(), watch_id=int64s,
                 fragment=st.booleans()))
def test_watch_create_round_trip(r: WatchCreateRequest) -> None:
    assert wire.decode_watch_request(_wire(wire.encode_watch_create_request(r))) == r


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), int64s)
def test_lease_grant_round_trip(ttl: int, lease_id: int) -> None:
    assert wire.decode_lease_grant_request(_wire(wire.encode_lease_grant_request(ttl, lease_id))) == (
        ttl, lease_id)


@given(range_responses, headers)
def test_range_response_round_trip(r: RangeResponse, h: wire.ResponseHeader) -> None:
    body = orjson.loads(orjson.dumps(wire.encode_range_response(r, _gw_header(h))))
    assert wire.decode_range_response(body) == wire.Reply(h, r)


@given(put_responses, delete_responses, headers)
def test_put_and_delete_responses_round_trip(
    p: PutResponse, d: DeleteRangeResponse, h: wire.ResponseHeader
) -> None:
    assert wire.decode_put_response(wire.encode_put_response(p, _gw_header(h))) == wire.Reply(h, p)
    assert wire.decode_delete_range_response(wire.encode_delete_range_response(d, _gw_header(h))) == (
        wire.Reply(h, d))


@given(txn_responses, headers)
def test_txn_response_round_trip(r: TxnResponse, h: wire.ResponseHeader) -> None:
    body = orjson.loads(orjson.dumps(wire.encode_txn_response(r, _gw_header(h), h.revision)))
    assert wire.decode_txn_response(body) == wire.Reply(h, r)


@given(watch_responses, headers)
def test_watch_response_round_trip(r: WatchResponse, h: wire.ResponseHeader) -> None:
    line = wire.encode_stream_chunk(wire.encode_watch_response(r, _gw_header(h)))
    assert line.endswith(b"\n")
    assert wire.decode_watch_response(orjson.loads(line)["result"]) == wire.Reply(h, r)



# -- the answers a member gives itself, and the requests for them -----------------------------

@given(statuses, headers)
def test_status_response_round_trip(s: wire.Status, h: wire.ResponseHeader) -> None:
    body = orjson.loads(orjson.dumps(wire.encode_status_response(s, _gw_header(h))))
    assert wire.decode_status_response(body) == wire.Reply(h, s)


@given(members, st.lists(members, max_size=3).map(tuple), headers)
def test_member_responses_round_trip(
    m: wire.Member, ms: tuple[wire.Member, ...], h: wire.ResponseHeader
) -> None:
    listed = orjson.loads(orjson.dumps(wire.encode_member_list_response(ms, _gw_header(h))))
    assert wire.decode_member_list_response(listed) == wire.Reply(h, ms)
    added = orjson.loads(orjson.dumps(wire.encode_member_add_response(m, ms, _gw_header(h))))
    assert wire.decode_member_add_response(added) == wire.Reply(h, (m, ms))


@given(int64s, int64s, revisions, st.lists(keys, max_size=3).map(tuple), headers)
def test_lease_answers_round_trip(
    lease_id: int, ttl: int, granted: int, lease_keys: tuple[bytes, ...], h: wire.ResponseHeader
) -> None:
    kept = wire.encode_lease_keepalive_response(_gw_header(h), lease_id, ttl)
    assert wire.decode_lease_keepalive_response(kept) == wire.Reply(h, wire.LeaseKeepAlive(lease_id, ttl))
    alive = wire.encode_lease_time_to_live_response(_gw_header(h), lease_id, ttl, granted, lease_keys)
    assert wire.decode_lease_time_to_live_response(alive) == wire.Reply(
        h, wire.LeaseTimeToLive(lease_id, ttl, granted, lease_keys))
    listed = wire.encode_lease_leases_response(_gw_header(h), (lease_id, ttl))
    assert wire.decode_lease_leases_response(listed) == wire.Reply(h, (lease_id, ttl))


@given(int64s, st.booleans(), uint64s, urls)
def test_lease_and_member_requests_round_trip(
    lease_id: int, flag: bool, member_id: int, peer_urls: tuple[str, ...]
) -> None:
    assert wire.decode_lease_id(_wire(wire.encode_lease_id_request(lease_id))) == lease_id
    assert wire.decode_lease_time_to_live_request(
        _wire(wire.encode_lease_time_to_live_request(lease_id, flag))) == (lease_id, flag)
    added = _wire(wire.encode_member_add_request(peer_urls, flag))
    assert (wire.decode_member_peer_urls(added), wire.decode_member_is_learner(added)) == (peer_urls, flag)
    assert wire.decode_member_id(_wire(wire.encode_member_id_request(member_id))) == member_id
    updated = _wire(wire.encode_member_update_request(member_id, peer_urls))
    assert (wire.decode_member_id(updated), wire.decode_member_peer_urls(updated)) == (member_id, peer_urls)


@pytest.mark.parametrize("error", [InvalidArgument("etcdserver: key is not provided"), StoreError("boom")])
def test_error_bodies_round_trip(error: StoreError) -> None:
    for decoded in (wire.decode_error_body(orjson.loads(wire.encode_error_body(error))),
                    wire.decode_stream_error(orjson.loads(wire.encode_stream_error(error))["error"])):
        assert isinstance(decoded, type(error))
        assert (decoded.code, decoded.message) == (error.code, error.message)

# -- the two readers agree ------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | int64s | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=4))
def test_slow_path_reads_what_orjson_reads(d: dict[str, Any]) -> None:
    body = orjson.dumps(d)
    assert _floats(loads_exact(body)) == orjson.loads(body)


def _floats(value: Any) -> Any:
    """RawNumber back to float, everywhere in a decoded value."""
    if isinstance(value, RawNumber):
        return float(value.text)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value


@given(st.dictionaries(st.text(max_size=6), json_values, min_size=1, max_size=4), st.data())
def test_every_truncated_object_is_unexpected_eof(d: dict[str, Any], data: st.DataObject) -> None:
    body = orjson.dumps(d)
    cut = data.draw(st.integers(min_value=1, max_value=len(body) - 1))
    with pytest.raises(InvalidArgument, match=r"^unexpected EOF$"):
        wire.loads(body[:cut])


@given(st.binary(max_size=40), st.lists(st.integers(min_value=0, max_value=60), max_size=3))
def test_base64_skips_newlines_anywhere(data: bytes, cuts: list[int]) -> None:
    text = wire.b64(data)
    for cut in sorted(cuts, reverse=True):
        text = text[:cut] + "\r\n" + text[cut:]
    assert read_bytes(text) == data


@settings(max_examples=examples(300))
@given(st.text(alphabet="AZaz09+/=-_\n!", max_size=12))
def test_base64_fast_and_go_paths_agree(text: str) -> None:
    """Whatever the fast path accepts, Go's algorithm accepts with the same bytes."""
    expected = _go_base64(text.encode())
    try:
        got: bytes | int = read_bytes(text)
    except InvalidArgument as error:
        got = int(error.message.rsplit(" ", 1)[1])
    assert got == expected


# -- literal shapes from the reference --------------------------------------------------------


def test_nested_txn_headers_and_omitted_zeros() -> None:
    inner = TxnResponse(responses=(PutResponse(),))
    resp = TxnResponse(succeeded=True, responses=(inner, RangeResponse(count=1)))
    assert wire.encode_txn_response(resp, {"revision": "24"}, 24) == {
        "header": {"revision": "24"}, "succeeded": True,
        "responses": [
            {"response_txn": {"header": {}, "responses": [
                {"response_put": {"header": {"revision": "24"}}}]}},
            {"response_range": {"header": {"revision": "24"}, "count": "1"}},
        ],
    }


def test_events_and_watch_messages() -> None:
    deleted = Event(EventType.DELETE, KeyValue(b"app/e", 0, 28, 0),
                    KeyValue(b"app/e", 25, 26, 2, b"val-e2"))
    assert wire.encode_event(deleted) == {
        "type": "DELETE", "kv": {"key": "YXBwL2U=", "mod_revision": "28"},
        "prev_kv": {"key": "YXBwL2U=", "create_revision": "25", "mod_revision": "26",
                    "version": "2", "value": "dmFsLWUy"},
    }
    assert wire.encode_event(Event(EventType.PUT, KeyValue(b"k", 1, 1, 1))) == {
        "kv": {"key": "aw==", "create_revision": "1", "mod_revision": "1", "version": "1"}}
    canceled = WatchResponse(canceled=True, compact_revision=25)
    assert wire.encode_watch_response(canceled, wire.encode_header(9, 8, 0, 2)) == {
        "header": {"cluster_id": "9", "member_id": "8", "raft_term": "2"},
        "canceled": True, "compact_revision": "25"}
    assert wire.encode_watch_response(WatchResponse(watch_id=-1), {}) == {"header": {}, "watch_id": "-1"}


def test_error_bodies() -> None:
    error = InvalidArgument("etcdserver: key is not provided")
    assert orjson.loads(wire.encode_error_body(error)) == {
        "error": "etcdserver: key is not provided",
        "message": "etcdserver: key is not provided", "code": 3}
    assert orjson.loads(wire.encode_stream_error(error)) == {"error": {
        "grpc_code": 3, "http_code": 400, "message": "etcdserver: key is not provided",
        "http_status": "Bad Request"}}


def test_streams_split_into_objects() -> None:
    buffer = b'{"create_request":{"key":"YQ=="}}\n{"progress_request":{}}  {"cancel'
    first, used = wire.next_value(buffer, final=False)
    assert first == {"create_request": {"key": "YQ=="}}
    second, used2 = wire.next_value(buffer[used:], final=False)
    assert second == {"progress_request": {}}
    assert wire.next_value(buffer[used + used2:], final=False) == (None, 0)
    with pytest.raises(InvalidArgument, match="unexpected EOF"):
        wire.next_value(buffer[used + used2:], final=True)


# -- malformed bodies, judged by a real etcd ----------------------------------------------------

Decoder = Callable[[dict[str, Any]], object]
RANGE, PUT, DEL, TXN = "/v3/kv/range", "/v3/kv/put", "/v3/kv/deleterange", "/v3/kv/txn"
DECODERS: dict[str, Decoder] = {
    RANGE: wire.decode_range_request, PUT: wire.decode_put_request, DEL: wire.decode_delete_range_request,
    TXN: wire.decode_txn_request, "/v3/kv/compaction": wire.decode_compaction_request,
    "/v3/lease/grant": wire.decode_lease_grant_request, "/v3/lease/revoke": wire.decode_lease_id,
    "/v3/lease/timetolive": wire.decode_lease_time_to_live_request, "/v3/watch": wire.decode_watch_request,
}
K = b'{"key":"dGVzdC1qc29u"'  # test-json: a key no other test uses
CASES: list[tuple[str, bytes]] = [
    (RANGE, b""), (RANGE, b"   "), (RANGE, b"null"), (RANGE, b"[]"), (RANGE, b"1"), (RANGE, b'"x"'),
    (RANGE, b"true"), (RANGE, K + b","), (RANGE, b"not json"), (RANGE, K + b"} garbage"),
    (RANGE, K + b'}{"key":1}'), (RANGE, K + b",}"), (RANGE, b"{key:1}"), (RANGE, b'{"key" 1}'),
    (RANGE, K + b' "a":1}'), (RANGE, b'{"key":"Zm9v'), (RANGE, b"\xef\xbb\xbf{}"),
    (RANGE, K + b',"limit":"ten"}'), (RANGE, K + b',"limit":"1.5"}'), (RANGE, K + b',"limit":1.5}'),
    (RANGE, K + b',"limit":1e3}'), (RANGE, K + b',"limit":99999999999999999999}'),
    (RANGE, K + b',"limit":"99999999999999999999"}'), (RANGE, K + b',"limit":""}'),
    (RANGE, K + b',"limit":true}'), (RANGE, K + b',"limit":null}'), (RANGE, K + b',"limit":{}}'),
    (RANGE, K + b',"limit":[]}'), (RANGE, K + b',"limit":" 4"}'), (RANGE, K + b',"limit":"4 "}'),
    (RANGE, K + b',"limit":"4x"}'), (RANGE, K + b',"limit":"-3"}'), (RANGE, K + b',"limit":"+3"}'),
    (RANGE, K + b',"limit":"03"}'), (RANGE, K + b',"limit":-0}'), (RANGE, K + b',"limit":"0x10"}'),
    (RANGE, K + b',"limit":9223372036854775808}'), (RANGE, K + b',"limit":-9223372036854775808}'),
    (RANGE, b'{"key":123}'), (RANGE, b'{"key":true}'), (RANGE, b'{"key":["Zm9v"]}'),
    (RANGE, b'{"key":{}}'), (RANGE, b'{"key":null}'), (RANGE, b'{"key":"!!!!"}'),
    (RANGE, b'{"key":"Zm8"}'), (RANGE, b'{"key":"Zm9vYmFyx"}'), (RANGE, b'{"key":"Zm9v\\n"}'),
    (RANGE, b'{"key":"Zm9v\\r\\nYmFy"}'), (RANGE, b'{"key":"Zm9v="}'), (RANGE, b'{"key":"Zm8=Zm8="}'),
    (RANGE, b'{"key":"Z==="}'), (RANGE, b'{"key":"Zg"}'), (RANGE, b'{"key":"Zh=="}'),
    (RANGE, b'{"key":"Zm9v====="}'), (RANGE, b'{"key":"Zm9v-_"}'), (RANGE, b'{"key":"Zm9\\u00e9"}'),
    (RANGE, K + b',"serializable":"yes"}'), (RANGE, K + b',"serializable":1}'),
    (RANGE, K + b',"sort_order":"UP"}'), (RANGE, K + b',"sort_target":"UP"}'),
    (RANGE, K + b',"sort_order":"2"}'), (RANGE, K + b',"sort_order":true}'),
    (RANGE, K + b',"sort_order":1.5}'), (RANGE, K + b',"sortOrder":"descend"}'),
    (RANGE, K + b',"sort_order":"DESCEND","sortOrder":"UP"}'), (RANGE, K + b',"sortOrder":2}'),
    (RANGE, K + b',"limit":"x","key":"!!"}'), (RANGE, K + b',"x":1e999}'), (RANGE, K + b',"x":"\xff"}'),
    (RANGE, K + b',"x":"\\ud800"}'), (RANGE, K + b',"x":"a\tb"}'), (RANGE, K + b',"x":01}'),
    (RANGE, K + b',"x":-}'), (RANGE, K + b',"x":1.}'), (RANGE, K + b',"x":1e}'),
    (RANGE, K + b',"x":"\\x"}'), (RANGE, K + b',"x":"\\u12g4"}'), (RANGE, K + b',"x":[1 2]}'),
    (RANGE, K + b',"x":tru}'), (RANGE, K + b',"x":nul'), (RANGE, K + b',"keysOnly":"no"}'),
    (PUT, K + b',"value":"YmFyx"}'), (PUT, K + b',"prev_kv":"yes"}'), (PUT, K + b',"lease":"abc"}'),
    (PUT, K + b',"ignoreLease":0}'), (DEL, K + b',"prevKv":[]}'), (DEL, K + b',"range_end":"="}'),
    (TXN, b'{"compare":{}}'), (TXN, b'{"compare":[1]}'), (TXN, b'{"compare":"x"}'),
    (TXN, b'{"compare":[{"key":"Zm9v","target":"BOGUS"}]}'),
    (TXN, b'{"compare":[{"key":"Zm9v","result":"BOGUS"}]}'),
    (TXN, b'{"success":[{"request_put":{"key":"!"}}]}'),
    (TXN, b'{"success":[{"requestRange":{"key":"!"}}]}'),
    (TXN, b'{"compare":[{"key":"Zm9v","value":"!"}]}'),
    (TXN, b'{"compare":[{"key":"Zm9v","modRevision":"x"}]}'),
    (TXN, b'{"success":[{"request_txn":{"failure":[{"request_delete_range":{"key":3}}]}}]}'),
    (TXN, b'{"compare":[{"key":"dGVzdC1qc29u","version":"0"}],"success":[{"request_range":'
          b'{"key":"dGVzdC1qc29u"}}]}'),
    ("/v3/lease/grant", b'{"TTL":"x"}'), ("/v3/lease/grant", b'{"TTL":5,"ID":"abc"}'),
    ("/v3/lease/revoke", b'{"ID":"x"}'), ("/v3/lease/revoke", b'{"ID":[]}'),
    ("/v3/lease/timetolive", b'{"ID":"5","keys":"x"}'), ("/v3/lease/timetolive", b'{"ID":"5"}'),
    ("/v3/kv/compaction", b'{"revision":"x"}'), ("/v3/kv/compaction", b'{"revision":"1","physical":"x"}'),
    ("/v3/watch", b'{"create_request":{"key":"!!"}}'),
    ("/v3/watch", b'{"create_request":{"key":"Zm9v","filters":["BOGUS"]}}'),
    ("/v3/watch", b'{"create_request":{"key":"Zm9v","filters":"NOPUT"}}'),
    ("/v3/watch", b"not json"), ("/v3/watch", b'{"create_request":{"key":"Zm9v","startRevision":"x"}}'),
    ("/v3/watch", b'{"cancel_request":{"watch_id":"x"}}'),
    ("/v3/watch", b'{"progress_request":[]}'),
]


def _etcd_verdict(client: httpx.Client, url: str, path: str, body: bytes) -> tuple[int, str] | None:
    """etcd's (code, message) for a body it refuses while decoding; None if it decoded it."""
    if path == "/v3/watch":
        with client.stream("POST", url + path, content=body) as response:
            if response.status_code == 200:
                return None
            error = orjson.loads(response.read())
    else:
        response = client.post(url + path, content=body)
        error = orjson.loads(response.content)
    if "error" not in error or error["error"].startswith("etcdserver:"):
        return None  # decoded; refused (or not) later, by validation or the store
    return error["code"], error["message"]


def test_malformed_bodies_get_etcds_messages(etcd_server: str) -> None:
    mismatches = []
    with httpx.Client(timeout=5.0) as client:
        for path, body in CASES:
            expected = _etcd_verdict(client, etcd_server, path, body)
            try:
                wire.decode_body(body, DECODERS[path])
                got = None
            except StoreError as error:
                got = (2 if path == "/v3/watch" else error.code, error.message)
            if got != expected:
                mismatches.append((path, body, expected, got))
    assert mismatches == []


@pytest.mark.parametrize(("reason", "error"), [
    ("rpc error: code = PermissionDenied desc = etcdserver: permission denied", "PermissionDenied"),
    ("rpc error: code = Unauthenticated desc = etcdserver: invalid auth token", "InvalidAuthToken"),
    ("rpc error: code = InvalidArgument desc = etcdserver: user name is empty", "UserEmpty"),
    ("rpc error: code = Unknown desc = something else", "StoreError"),
])
def test_a_watch_cancel_reason_in_grpc_go_s_words_is_its_error(reason: str, error: str) -> None:
    """etcd 3.4's gateway cancels a watch its auth refuses with such a reason (recorded from it)."""
    decoded = wire.decode_cancel_reason(reason)
    assert type(decoded).__name__ == error and decoded is not None
    assert decoded.message == reason.split(" desc = ")[1]


@pytest.mark.parametrize("reason", ["", "mvcc: required revision has been compacted",
                                    "rpc error: code = Nonsense desc = x"])
def test_another_cancel_reason_is_no_error(reason: str) -> None:
    assert wire.decode_cancel_reason(reason) is None
