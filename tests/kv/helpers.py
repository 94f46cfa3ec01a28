"""Short builders for the store tests: key-values, requests and replays of the reference's writes."""

from __future__ import annotations

from confagent.kv import (
    Applied,
    DeleteRangeRequest,
    KeyValue,
    KvStore,
    LeaseGrantRequest,
    PutRequest,
    Request,
    TxnRequest,
    prefix_range,
)

__all__ = ["apply_all", "kv", "put", "reference_store"]


def kv(key: bytes, create: int, mod: int, version: int, value: bytes = b"",
       lease: int = 0) -> KeyValue:
    return KeyValue(key, create, mod, version, value, lease)


def put(key: bytes, value: bytes = b"", **options: object) -> PutRequest:
    return PutRequest(key, value, **options)  # type: ignore[arg-type]


def apply_all(store: KvStore, requests: list[Request]) -> list[Applied]:
    return [store.apply(request) for request in requests]


# The writes of reference/etcd-v3-json.md §4.1-§4.4, in order, from a fresh store.
_SECTION_4_1: list[Request] = [
    put(b"foo", b"bar"),                                     # 2
    put(b"foo", b"baz", prev_kv=True),                       # 3
    put(b"fresh", b"v", prev_kv=True),                       # 4
    put(b"foo", ignore_value=True, prev_kv=True),            # 5
    LeaseGrantRequest(ttl=600, id=7000),
    put(b"leased", b"lv", lease=7000),                       # 6
    put(b"leased", b"lv2", ignore_lease=True),               # 7
    put(b"leased", b"lv3"),                                  # 8
    put(b"empty"),                                           # 9
]
_SECTION_4_2: list[Request] = [
    put(b"app/a", b"val-a"), put(b"app/b", b"val-b"),        # 10, 11
    put(b"app/c", b"val-c"), put(b"app/d", b"val-d"),        # 12, 13
    put(b"app/a", b"val-z"),                                 # 14
]
_SECTION_4_3: list[Request] = [
    DeleteRangeRequest(b"fresh"),                            # 15
    put(b"tmp/1", b"one"), put(b"tmp/2", b"two"),            # 16, 17
    DeleteRangeRequest(*prefix_range(b"tmp/"), prev_kv=True),      # 18
]
_SECTION_4_4: list[Request] = [
    TxnRequest(success=(put(b"foo", b"qux"),)),              # 19
    put(b"lock", b"me"),                                     # 20
    DeleteRangeRequest(b"lock"),                             # 21
    put(b"leased2", lease=7000),                             # 22
    TxnRequest(success=(put(b"m/1", b"a"), put(b"m/2", b"b"))),  # 23
    put(b"m/3", b"inner-failure"),                           # 24
]
_REFERENCE_WRITES = {"4.1": _SECTION_4_1, "4.2": _SECTION_4_2, "4.3": _SECTION_4_3,
                     "4.4": _SECTION_4_4}


def reference_store(*sections: str) -> KvStore:
    """A store after the given sections' writes, in order (each starts where the last ended)."""
    store = KvStore()
    for section in sections:
        apply_all(store, _REFERENCE_WRITES[section])
    return store
