"""Member and cluster IDs derived exactly as etcd derives them.

A member's ID is the first 8 bytes (big-endian) of SHA-1 over its sorted peer
URLs joined, then the cluster token; the cluster's ID is the same over the
sorted member IDs. The same flags therefore give the same IDs as etcd, across
fresh data directories, which keeps ``member list`` output comparable.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable

__all__ = ["cluster_id_of", "member_id_of"]


def _first_u64(data: bytes) -> int:
    value: int = struct.unpack(">Q", hashlib.sha1(data).digest()[:8])[0]
    return value


def member_id_of(peer_urls: Iterable[str], cluster_token: str) -> int:
    return _first_u64("".join(sorted(peer_urls)).encode() + cluster_token.encode())


def cluster_id_of(member_ids: Iterable[int]) -> int:
    return _first_u64(b"".join(struct.pack(">Q", m) for m in sorted(member_ids)))
