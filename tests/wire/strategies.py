"""Hypothesis strategies for the wire's values: requests, responses, headers, and a member's own answers.

Every codec's tests draw from these (tests/wire/test_json.py, test_proto.py), so each
codec is tried on the same values.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from confagent import wire
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
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    SortOrder,
    SortTarget,
    TxnRequest,
    TxnResponse,
    WatchCreateRequest,
    WatchResponse,
)

int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)
revisions = st.integers(min_value=0, max_value=2**63 - 1)
keys = st.binary(min_size=1, max_size=12)

range_requests = st.builds(
    RangeRequest, key=keys, range_end=st.binary(max_size=8), limit=int64s, revision=int64s,
    sort_order=st.sampled_from(SortOrder), sort_target=st.sampled_from(SortTarget),
    serializable=st.booleans(), keys_only=st.booleans(), count_only=st.booleans(),
    min_mod_revision=int64s, max_mod_revision=int64s, min_create_revision=int64s,
    max_create_revision=int64s,
)
put_requests = st.builds(
    PutRequest, key=keys, value=st.binary(max_size=16), lease=int64s, prev_kv=st.booleans(),
    ignore_value=st.booleans(), ignore_lease=st.booleans(),
)
delete_requests = st.builds(
    DeleteRangeRequest, key=keys, range_end=st.binary(max_size=8), prev_kv=st.booleans()
)


@st.composite
def compares(draw: st.DrawFn) -> Compare:
    target = draw(st.sampled_from(CompareTarget))
    operand: int | bytes = (
        draw(st.binary(max_size=8)) if target is CompareTarget.VALUE else draw(int64s)
    )
    return Compare(key=draw(keys), target=target, result=draw(st.sampled_from(CompareResult)),
                   operand=operand, range_end=draw(st.binary(max_size=4)))


def _txn_of(ops: st.SearchStrategy[Any]) -> st.SearchStrategy[TxnRequest]:
    return st.builds(TxnRequest, compare=st.lists(compares(), max_size=3).map(tuple),
                     success=st.lists(ops, max_size=3).map(tuple),
                     failure=st.lists(ops, max_size=3).map(tuple))


txn_requests = st.recursive(
    _txn_of(st.one_of(range_requests, put_requests, delete_requests)),
    lambda inner: _txn_of(st.one_of(range_requests, put_requests, delete_requests, inner)),
    max_leaves=6,
)

key_values = st.builds(
    KeyValue, key=keys, create_revision=revisions, mod_revision=revisions, version=revisions,
    value=st.binary(max_size=16), lease=revisions,
)
inner_revisions = st.integers(min_value=1, max_value=2**40)
range_responses = st.builds(RangeResponse, kvs=st.lists(key_values, max_size=3).map(tuple),
                            more=st.booleans(), count=revisions)
put_responses = st.builds(PutResponse, prev_kv=st.none() | key_values)
delete_responses = st.builds(DeleteRangeResponse, deleted=revisions,
                             prev_kvs=st.lists(key_values, max_size=3).map(tuple))


def _inner(op: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(lambda r, rev: type(r)(**{**_fields(r), "header_revision": rev}), op,
                     inner_revisions)


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


txn_responses = st.recursive(
    st.builds(TxnResponse, succeeded=st.booleans(), responses=st.lists(
        _inner(st.one_of(range_responses, put_responses, delete_responses)), max_size=3
    ).map(tuple)),
    lambda inner: st.builds(TxnResponse, succeeded=st.booleans(), responses=st.lists(
        st.one_of(_inner(st.one_of(range_responses, put_responses)), inner), max_size=3
    ).map(tuple)),
    max_leaves=5,
)
events = st.builds(
    Event, type=st.sampled_from(EventType), kv=key_values, prev_kv=st.none() | key_values
)
watch_responses = st.builds(
    WatchResponse, watch_id=int64s, created=st.booleans(), canceled=st.booleans(),
    compact_revision=revisions, cancel_reason=st.text(max_size=10), fragment=st.booleans(),
    events=st.lists(events, max_size=3).map(tuple),
)
headers = st.builds(wire.ResponseHeader, cluster_id=revisions, member_id=revisions,
                    revision=revisions, raft_term=revisions)

uint64s = st.integers(min_value=0, max_value=2**64 - 1)
texts = st.text(max_size=8)
statuses = st.builds(
    wire.Status, version=texts, db_size=revisions, leader=uint64s, raft_index=revisions,
    raft_term=revisions, raft_applied_index=revisions, db_size_in_use=revisions,
    is_learner=st.booleans(), errors=st.lists(texts, max_size=2).map(tuple),
)
urls = st.lists(st.text(min_size=1, max_size=12), max_size=2).map(tuple)
members = st.builds(wire.Member, id=uint64s, name=texts, peer_urls=urls, client_urls=urls,
                    is_learner=st.booleans())
compaction_requests = st.builds(CompactionRequest, revision=int64s, physical=st.booleans())
watch_create_requests = st.builds(
    WatchCreateRequest, key=st.binary(max_size=8), range_end=st.binary(max_size=8), start_revision=int64s,
    progress_notify=st.booleans(), no_put=st.booleans(), no_delete=st.booleans(), prev_kv=st.booleans(),
    watch_id=int64s, fragment=st.booleans(),
)
