"""etcd's key ranges: ``[key, range_end)``, where a prefix ends and "every key" is spelled.

Rules (etcd's ``clientv3.GetPrefixRangeEnd`` and ``mvcc``'s range reading):
1. A ``range_end`` of one zero byte (``FROM_KEY``) means every key ``>= key``;
   with ``key`` also ``\\0`` that is every key. An empty ``range_end`` means ``key`` alone.
2. The keys starting with ``prefix`` are ``[prefix, prefix_end(prefix))``: the
   last byte below ``0xff`` incremented, what follows it dropped; a prefix of
   ``0xff`` bytes only (or none) has no end, so its end is ``FROM_KEY``.
3. etcd refuses an empty key, so the empty prefix is asked as ``[\\0, \\0)``.

This module is the one place these rules are written: the store, the watch
hub, the client, the CLI and the backends all read ranges through it.
"""

from __future__ import annotations

__all__ = ["FROM_KEY", "prefix_end", "prefix_range"]

FROM_KEY = b"\x00"
"""A ``range_end`` of one zero byte means "every key >= key" (rule 1)."""


def prefix_end(prefix: bytes) -> bytes:
    """The ``range_end`` that makes ``[prefix, end)`` every key starting with ``prefix`` (rule 2)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return FROM_KEY
    return trimmed[:-1] + bytes((trimmed[-1] + 1,))


def prefix_range(prefix: bytes) -> tuple[bytes, bytes]:
    """``(key, range_end)`` asking for every key starting with ``prefix``, the empty one too (rule 3)."""
    if not prefix:
        return FROM_KEY, FROM_KEY
    return prefix, prefix_end(prefix)
