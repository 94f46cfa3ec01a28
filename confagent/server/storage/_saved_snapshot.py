"""Saved snapshot files: what ``snapshot save`` writes and ``snapshot restore`` and ``snapshot status`` read.

A saved snapshot is one member's state at one applied index, then a SHA-256 of
everything before it, as etcd appends a SHA-256 to its database (little-endian)::

    magic b"CASAVE1\\n"  meta_length:u32  data_length:u64  revision:u64  key_count:u64
    meta      index:u64 term:u64 n_voters:u32 n_learners:u32 node_id:u64 *   (as in .snap files)
    data      the member's key-value snapshot payload (opaque here: the node makes it and reads it)
    padding   zero bytes up to a multiple of 512 (etcd's database is whole pages)
    sha256    32 bytes, over everything above

The gateway streams these bytes (its ``SnapshotStream``).

Rules:

1. The payload is the key-value state without the member table: a backup is
   restored into a new cluster, whose membership comes from the restore's flags
   (as etcd's restore replaces it).
2. A file is read back whole and checked before anything uses it: the magic, the
   lengths its header gives, the metadata, and the SHA-256 (unless told to skip it,
   etcdctl's ``--skip-hash-check``). Every error is one StorageError naming the file.
3. The body is padded to a multiple of ``PAGE_BYTES``: etcdctl's ``snapshot save``
   takes a download as whole only if its size is pages plus a SHA-256. A file
   without padding (saved before it was added) reads the same.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from confagent.errors import StorageError
from confagent.raft import SnapshotMeta
from confagent.server.storage._wal_records import decode_snapshot_meta, encode_snapshot_meta

__all__ = [
    "DIGEST_BYTES",
    "PAGE_BYTES",
    "SavedSnapshot",
    "SnapshotImage",
    "encode_image",
    "encode_with_digest",
    "read_saved_snapshot",
]

DIGEST_BYTES = hashlib.sha256().digest_size
PAGE_BYTES = 512
"""A saved body's size is a multiple of this (rule 3)."""

_MAGIC = b"CASAVE1\n"
_HEADER = struct.Struct("<8sIQQQ")
_BOLT_MAGIC = struct.pack("<I", 0xED0CDAED)
_BOLT_MAGIC_OFFSET = 16
"""Where an etcd (bbolt) database has its magic: saved by ``snapshot save`` from a real etcd."""


@dataclass(frozen=True, slots=True)
class SnapshotImage:
    """A member's state at one applied index, as a saved snapshot holds it."""

    meta: SnapshotMeta
    """The Raft position (index, term) and membership the payload was taken at."""
    revision: int
    """The store revision of the payload."""
    key_count: int
    """Keys that exist at ``revision``."""
    data: bytes
    """The member's snapshot payload, as ``StoreNode.snapshot_now`` made it."""


@dataclass(frozen=True, slots=True)
class SavedSnapshot:
    """A saved snapshot read back and checked, with what ``snapshot status`` shows."""

    image: SnapshotImage
    size_bytes: int
    """The snapshot without its SHA-256 trailer (etcd's "total size" excludes it too)."""
    hash: int
    """CRC-32 of the payload: equal payloads, equal hashes."""


def encode_image(image: SnapshotImage) -> bytes:
    """The snapshot's bytes, without the SHA-256 trailer."""
    meta = encode_snapshot_meta(image.meta)
    header = _HEADER.pack(_MAGIC, len(meta), len(image.data), image.revision, image.key_count)
    return b"".join((header, meta, image.data))


def encode_with_digest(image: SnapshotImage) -> tuple[bytes, bytes]:
    """The snapshot's bytes without the trailer, padded (rule 3), and the SHA-256 that follows them."""
    body = encode_image(image)
    body += bytes(_padded(len(body)) - len(body))
    return body, hashlib.sha256(body).digest()


def _padded(size: int) -> int:
    return -(-size // PAGE_BYTES) * PAGE_BYTES


def read_saved_snapshot(path: Path, *, skip_hash_check: bool = False) -> SavedSnapshot:
    """Read and check a saved snapshot (rule 2).

    Args:
        skip_hash_check: accept the file without checking (or needing) its SHA-256.

    Raises:
        StorageError: the file cannot be read, is not a saved snapshot, is cut short,
            or fails its checksum; the message names the file.
    """
    try:
        content = path.read_bytes()
    except OSError as error:
        raise StorageError(f"{path}: cannot read the snapshot: {error.strerror}") from error
    if not content.startswith(_MAGIC):
        what = ": it is an etcd database" \
            if content[_BOLT_MAGIC_OFFSET:].startswith(_BOLT_MAGIC) else ", nor an etcd database"
        raise StorageError(f"{path}: not a confagent snapshot file{what}")
    if len(content) < _HEADER.size:
        raise StorageError(f"{path}: snapshot is truncated: {len(content)} bytes, "
                           f"shorter than its {_HEADER.size}-byte header")
    _, meta_length, data_length, revision, key_count = _HEADER.unpack_from(content)
    size = _HEADER.size + meta_length + data_length
    if len(content) >= _padded(size) > size and not any(content[size:_padded(size)]):
        size = _padded(size)  # rule 3
    _check_length(path, len(content), size, skip_hash_check)
    body = memoryview(content)[:size]
    if len(content) > size and not skip_hash_check:
        _check_digest(path, body, content[size:])
    meta = decode_snapshot_meta(body[_HEADER.size:_HEADER.size + meta_length])
    if meta is None:
        raise StorageError(f"{path}: snapshot metadata is malformed")
    data = bytes(body[_HEADER.size + meta_length:_HEADER.size + meta_length + data_length])
    return SavedSnapshot(SnapshotImage(meta, revision, key_count, data), size, zlib.crc32(data))


def _check_length(path: Path, length: int, size: int, skip_hash_check: bool) -> None:
    if length < size:
        raise StorageError(f"{path}: snapshot is truncated: {length} bytes, its header says "
                           f"{size} and a {DIGEST_BYTES}-byte sha256")
    if length == size and not skip_hash_check:
        raise StorageError(f"{path}: snapshot missing hash but --skip-hash-check=false")
    if length not in (size, size + DIGEST_BYTES):
        raise StorageError(f"{path}: {length - size - DIGEST_BYTES} unexpected bytes after "
                           f"the snapshot's sha256")


def _check_digest(path: Path, body: memoryview, stored: bytes) -> None:
    computed = hashlib.sha256(body).digest()
    if computed != stored:
        raise StorageError(f"{path}: expected sha256 {stored.hex()}, got {computed.hex()}")
