"""Small bbolt files made by hand, for the reader's refusals (tests only).

Real files come from a real etcd in tests/e2e/test_etcd_snapshot_restore.py; these
are the shapes a real etcd never writes (a damaged page, a key out of order, a later
etcd's meta bucket), laid out as go.etcd.io/bbolt's page.go and db.go define them:
meta pages 0 and 1, then the pages given, each ``PAGE_BYTES`` long.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

PAGE_BYTES = 4096
MAGIC, VERSION = 0xED0CDAED, 2
BRANCH, LEAF, META, FREELIST = 0x01, 0x02, 0x04, 0x10
BUCKET_FLAG = 0x01
NO_FREELIST = 0xFFFFFFFFFFFFFFFF
_HEADER = struct.Struct("<QHHI")
_LEAF_ELEMENT = struct.Struct("<IIII")

Entry = tuple[bytes, bytes, int]
"""(key, value, flags): flags ``BUCKET_FLAG`` when the value is a bucket."""


def fnv64a(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & ((1 << 64) - 1)
    return value


def leaf_body(entries: Sequence[Entry]) -> bytes:
    """A leaf page's elements and data, after its header."""
    elements, data = [], b""
    for index, (key, value, flags) in enumerate(entries):
        pos = (len(entries) - index) * _LEAF_ELEMENT.size + len(data)
        elements.append(_LEAF_ELEMENT.pack(flags, pos, len(key), len(value)))
        data += key + value
    return b"".join(elements) + data


def inline_bucket(entries: Sequence[Entry]) -> bytes:
    """A bucket value holding its leaf page inline (root 0)."""
    return struct.pack("<QQ", 0, 0) + _HEADER.pack(0, LEAF, len(entries), 0) + leaf_body(entries)


def bucket_at(page_id: int) -> bytes:
    """A bucket value whose root is page ``page_id``."""
    return struct.pack("<QQ", page_id, 0)


def page(page_id: int, flags: int, count: int, body: bytes) -> bytes:
    raw = _HEADER.pack(page_id, flags, count, 0) + body
    assert len(raw) <= PAGE_BYTES
    return raw + bytes(PAGE_BYTES - len(raw))


def meta_page(page_id: int, root: int, high_water: int, txid: int, freelist: int = NO_FREELIST,
              version: int = VERSION) -> bytes:
    fields = struct.pack("<IIII QQ QQQ", MAGIC, version, PAGE_BYTES, 0, root, 0, freelist, high_water, txid)
    return page(page_id, META, 0, fields + struct.pack("<Q", fnv64a(fields)))


def database(pages: Sequence[bytes], root: int = 2, freelist: int = NO_FREELIST) -> bytes:
    """Meta pages 0 and 1 (the same transaction) over ``pages`` (page 2 on)."""
    high_water = 2 + len(pages)
    return b"".join((meta_page(0, root, high_water, 2, freelist), meta_page(1, root, high_water, 1, freelist),
                     *pages))


def one_leaf_database(buckets: dict[bytes, Sequence[Entry]]) -> bytes:
    """A database whose root page (2) holds ``buckets``, each inline."""
    entries = [(name, inline_bucket(items), BUCKET_FLAG) for name, items in sorted(buckets.items())]
    return database([page(2, LEAF, len(entries), leaf_body(entries))])
