"""The log's command encoding and the store's snapshots: round trips and refusals."""

from __future__ import annotations

import contextlib

import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confagent.errors import StorageError, StoreError
from confagent.kv import (
    CompactionRequest,
    Compare,
    CompareTarget,
    KvStore,
    LeaseGrantRequest,
    PutRequest,
    RangeRequest,
    Request,
    TxnRequest,
    decode_request,
    encode_request,
)
from confagent.kv._snapshot import CHUNK_ITEMS

from .strategies import KEYS, any_request, compaction_requests, range_requests, write_requests


@given(any_request())
def test_every_request_survives_the_log(request: Request) -> None:
    assert decode_request(encode_request(request)) == request


def test_a_compare_operand_keeps_its_kind() -> None:
    for operand in (b"", 0, b"\x00", 7):
        txn = TxnRequest(compare=(Compare(b"k", CompareTarget.VALUE, operand=operand),))
        decoded = decode_request(encode_request(txn))
        assert isinstance(decoded, TxnRequest)
        assert type(decoded.compare[0].operand) is type(operand)


def test_a_plain_put_costs_little_more_than_its_key_and_value() -> None:
    assert len(encode_request(PutRequest(b"key", b"value"))) <= len(b"key" + b"value") + 8
    assert len(encode_request(RangeRequest(b"key"))) <= len(b"key") + 6


@pytest.mark.parametrize("data", [
    b"",
    b"\xc1",
    msgpack.packb([2, 1, b"k"]),            # another format
    msgpack.packb([1, 42, b"k"]),           # unknown command
    msgpack.packb([1, 1, b"k", b"v", 0, 0, 9]),  # too many fields
    msgpack.packb([1]),
    msgpack.packb({"a": 1}),
])
def test_garbage_is_a_storage_error(data: bytes) -> None:
    with pytest.raises(StorageError):
        decode_request(data)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(write_requests(), compaction_requests(max_revision=20)), max_size=30),
       st.lists(range_requests(max_revision=20), max_size=8))
def test_a_restored_snapshot_is_the_same_store(requests: list[Request],
                                                reads: list[RangeRequest]) -> None:
    store = KvStore()
    for request in requests:
        with contextlib.suppress(StoreError):
            store.apply(request)
    data = store.snapshot()
    restored = KvStore.restore(data)
    assert restored.snapshot() == data
    assert (restored.revision, restored.compact_revision, restored.key_count(), restored.size_bytes()) == \
        (store.revision, store.compact_revision, store.key_count(), store.size_bytes())
    assert [restored.lease(i) for i in store.lease_ids()] == \
        [store.lease(i) for i in store.lease_ids()]
    start = store.compact_revision
    assert list(restored.history(start)) == list(store.history(start))
    for read in reads:
        assert _outcome(restored, read) == _outcome(store, read)
    follow_up = PutRequest(KEYS[0], b"after")
    assert restored.apply(follow_up) == store.apply(follow_up)


def _outcome(store: KvStore, read: RangeRequest) -> object:
    try:
        return store.range(read)
    except StoreError as error:
        return type(error)


@pytest.mark.parametrize("data", [b"", b"\x90", msgpack.packb([9, 1, -1, [], [], []]),
                                  msgpack.packb([1, 1, -1, [[1]], [], []])])
def test_an_unreadable_snapshot_is_a_storage_error(data: bytes) -> None:
    with pytest.raises(StorageError):
        KvStore.restore(data)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(write_requests(), compaction_requests(max_revision=20)), max_size=20),
       st.lists(st.one_of(write_requests(), compaction_requests(max_revision=40)), max_size=20))
def test_a_snapshot_state_keeps_the_state_it_was_taken_at(before: list[Request],
                                                          after: list[Request]) -> None:
    """What a snapshot encodes can be taken now and encoded later (in a worker thread while
    the store goes on applying): it still encodes the state when it was taken."""
    store = KvStore()
    for request in before:
        with contextlib.suppress(StoreError):
            store.apply(request)
    state, data = store.snapshot_state(), store.snapshot()
    for request in after:
        with contextlib.suppress(StoreError):
            store.apply(request)
    assert state.encode() == data
    assert KvStore.restore(store.snapshot()).snapshot() == store.snapshot()


def test_a_snapshot_is_encoded_in_bounded_pieces_of_the_same_bytes() -> None:
    """No piece packs more than CHUNK_ITEMS versions or leases (the encoding leaves the
    event loop its turns), and the pieces are the layout's one msgpack encoding."""
    store = KvStore()
    for i in range(3 * CHUNK_ITEMS):
        store.apply(PutRequest(b"k%d" % (i % 1500), b"v%d" % i))
    for lease_id in range(1, CHUNK_ITEMS + 10):
        store.apply(LeaseGrantRequest(ttl=60, id=lease_id))
    store.apply(CompactionRequest(revision=2 * CHUNK_ITEMS))
    state = store.snapshot_state()
    assert len(state.base) > 0 and len(state.log) > CHUNK_ITEMS and len(state.leases) > CHUNK_ITEMS
    pieces = list(state.chunks())
    for piece in pieces:
        unpacker = msgpack.Unpacker()
        unpacker.feed(piece)
        assert len(list(unpacker)) <= CHUNK_ITEMS
    data = b"".join(pieces)
    assert data == msgpack.packb(msgpack.unpackb(data), use_bin_type=True)
    assert KvStore.restore(data).snapshot() == data
