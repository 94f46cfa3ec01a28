"""LiveKeys: the newest keys of a snapshot, read without restoring the store, are the restored store's."""

from __future__ import annotations

import contextlib

import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confagent.errors import StorageError, StoreError
from confagent.kv import (
    FROM_KEY,
    CompactionRequest,
    DeleteRangeRequest,
    KvStore,
    LeaseGrantRequest,
    LiveKeys,
    PutRequest,
    RangeRequest,
    Request,
)

from .strategies import KEYS, compaction_requests, range_ends, write_requests

_RANGES = st.sampled_from((*KEYS, b"\0", b"a/")).flatmap(
    lambda key: st.tuples(st.just(key), st.one_of(st.just(b""), st.just(FROM_KEY), range_ends(key))))


def _ranged(store: KvStore, key: bytes, range_end: bytes) -> list[tuple[bytes, bytes]]:
    return [(kv.key, kv.value) for kv in store.range(RangeRequest(key=key, range_end=range_end)).kvs]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(write_requests(), compaction_requests(max_revision=20)), max_size=30),
       st.lists(_RANGES, max_size=8))
def test_a_snapshot_s_live_keys_are_what_the_restored_store_ranges(
        requests: list[Request], ranges: list[tuple[bytes, bytes]]) -> None:
    store = KvStore()
    for request in requests:
        with contextlib.suppress(StoreError):
            store.apply(request)
    restored = KvStore.restore(store.snapshot())
    for live in (LiveKeys.of_snapshot(store.snapshot()), LiveKeys.of_store(store)):
        assert live.revision == restored.revision == store.revision
        assert live.pairs(b"\0", FROM_KEY) == _ranged(restored, b"\0", FROM_KEY)
        assert len(live) == store.key_count()
        for key, range_end in ranges:
            assert live.pairs(key, range_end) == _ranged(restored, key, range_end), (key, range_end)


def test_overwritten_deleted_and_leased_keys_read_as_the_store_has_them() -> None:
    """A key put again, one deleted, one put after its delete, an empty value, one under a lease and
    a compaction between: the cases the snapshot's encoding spells differently."""
    store = KvStore()
    for request in (PutRequest(b"a", b"1"), PutRequest(b"a", b"2"), PutRequest(b"b", b"x"),
                    DeleteRangeRequest(b"b"), PutRequest(b"c", b"gone"), DeleteRangeRequest(b"c"),
                    PutRequest(b"c", b"back"), PutRequest(b"e", b""), LeaseGrantRequest(ttl=60, id=7),
                    PutRequest(b"l", b"leased", lease=7)):
        store.apply(request)
    store.apply(CompactionRequest(revision=4))
    store.apply(PutRequest(b"d", b"after"))
    live = LiveKeys.of_snapshot(store.snapshot())
    assert live.pairs(b"\0", FROM_KEY) == [(b"a", b"2"), (b"c", b"back"), (b"d", b"after"), (b"e", b""),
                                           (b"l", b"leased")]
    assert (live.pairs(b"b", b""), live.pairs(b"c", b""), live.pairs(b"d", b"a")) == \
        ([], [(b"c", b"back")], [])


@pytest.mark.parametrize("data", [
    b"", b"\x90", b"\xc1", msgpack.packb([9, 1, -1, [], [], []]), msgpack.packb({"a": 1}),
    msgpack.packb([1, 1, -1, [], [], 5]), msgpack.packb([1, 1, -1, [], [[]], []]),
    msgpack.packb([1, 1, -1, [], [5], []]), msgpack.packb([1, 1, -1, [], [], []]) + b"\x00"])
def test_an_unreadable_snapshot_is_a_storage_error(data: bytes) -> None:
    with pytest.raises(StorageError):
        LiveKeys.of_snapshot(data)
