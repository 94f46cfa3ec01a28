"""The lock and election codec: what the client side writes, the server side reads back, and the other
way round (hypothesis), and the gateway's shapes for zero values."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from confagent import wire
from confagent.kv import KeyValue
from confagent.wire import CampaignRequest, LeaderKey, LockRequest, ProclaimRequest, ResignRequest

int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)
names = st.binary(max_size=12)
leader_keys = st.builds(LeaderKey, name=names, key=names, rev=int64s, lease=int64s)
header = wire.encode_header(1, 2, 3, 4)


def _through_json(body: wire.JsonObject) -> wire.JsonObject:
    return wire.loads(orjson.dumps(body))


@given(st.builds(LockRequest, name=names, lease=int64s))
def test_lock_requests_round_trip(request: LockRequest) -> None:
    assert wire.decode_lock_request(_through_json(wire.encode_lock_request(request))) == request


@given(names)
def test_unlock_and_leader_requests_round_trip(key: bytes) -> None:
    assert wire.decode_unlock_request(_through_json(wire.encode_unlock_request(key))) == key
    assert wire.decode_leader_request(_through_json(wire.encode_leader_request(key))) == key


@given(st.builds(CampaignRequest, name=names, lease=int64s, value=names))
def test_campaign_requests_round_trip(request: CampaignRequest) -> None:
    assert wire.decode_campaign_request(_through_json(wire.encode_campaign_request(request))) == request


@given(leader_keys, names)
def test_proclaim_and_resign_requests_round_trip(leader: LeaderKey, value: bytes) -> None:
    proclaim = _through_json(wire.encode_proclaim_request(leader, value))
    assert wire.decode_proclaim_request(proclaim) == ProclaimRequest(leader=leader, value=value)
    resign = _through_json(wire.encode_resign_request(leader))
    assert wire.decode_resign_request(resign) == ResignRequest(leader=leader)


def test_a_request_without_a_leader_key_decodes_to_none() -> None:
    assert wire.decode_proclaim_request({"value": "dg=="}) == ProclaimRequest(value=b"v")
    assert wire.decode_resign_request({"leader": None}) == ResignRequest()
    assert wire.decode_resign_request({"leader": {}}) == ResignRequest(leader=LeaderKey())


@given(names, leader_keys)
def test_answers_round_trip(key: bytes, leader: LeaderKey) -> None:
    locked = wire.decode_lock_response(_through_json(wire.encode_lock_response(key, header)))
    assert (locked.header.revision, locked.response) == (3, key)
    campaigned = wire.decode_campaign_response(_through_json(wire.encode_campaign_response(leader, header)))
    assert campaigned.response == leader


def test_answers_leave_zero_values_out() -> None:
    assert wire.encode_lock_response(b"", header) == {"header": header}
    assert wire.encode_campaign_response(LeaderKey(key=b"E/1", rev=5), header) == {
        "header": header, "leader": {"key": "RS8x", "rev": "5"}}
    kv = KeyValue(key=b"E/1", create_revision=5, mod_revision=6, version=2, value=b"v", lease=7)
    answer = wire.encode_leader_response(kv, header)
    assert answer == {"header": header, "kv": {"key": "RS8x", "create_revision": "5", "mod_revision": "6",
                                               "version": "2", "value": "dg==", "lease": "7"}}
    assert wire.decode_leader_response(_through_json(answer)).response == kv
