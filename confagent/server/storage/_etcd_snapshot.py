"""etcd's snapshot files, read: what ``etcdctl snapshot save`` writes, or an etcd member's ``member/snap/db``.

Either is etcd 3.4's bbolt database (``confagent.wire.read_etcd_database`` reads
it); ``snapshot save`` appends a SHA-256 of the database, which a member's own
``db`` lacks.

Rules (etcdctl 3.4's ``snapshot restore``):

1. A file whose size is whole 512-byte blocks and 32 bytes has a SHA-256 of the rest
   at its end (etcdctl's ``hasChecksum``); it is checked unless told to skip it
   (``--skip-hash-check``). A file without one is refused unless told to skip the
   check, with etcdctl's words.
2. The whole file is read and checked before anything uses it; every error is one
   StorageError naming the file and saying what is wrong.
3. ``snapshot status`` (:func:`read_snapshot_status`) reads either kind of file; of an
   etcd file it gives etcdctl's figures and, as etcdctl, leaves its hash unchecked.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from confagent import wire
from confagent.errors import StorageError
from confagent.server.storage._saved_snapshot import read_saved_snapshot

__all__ = ["SnapshotStatus", "is_etcd_snapshot", "read_etcd_snapshot", "read_snapshot_status"]

_DIGEST_BYTES = hashlib.sha256().digest_size
_BLOCK_BYTES = 512
_MAGIC = struct.pack("<I", wire.BOLT_MAGIC)


def is_etcd_snapshot(content: bytes) -> bool:
    """Whether ``content`` starts as a bbolt database does (etcd's, presumably)."""
    return content[wire.BOLT_MAGIC_OFFSET:wire.BOLT_MAGIC_OFFSET + len(_MAGIC)] == _MAGIC


def read_etcd_snapshot(path: Path, content: bytes, *, skip_hash_check: bool = False) -> wire.EtcdDatabase:
    """The etcd database in ``content``, the bytes of the file ``path`` (module rules).

    Raises:
        StorageError: the hash is missing or wrong, or the database is damaged or not
            etcd 3.4's; the message names the file.
    """
    has_hash = len(content) % _BLOCK_BYTES == _DIGEST_BYTES
    if not has_hash and not skip_hash_check:
        raise StorageError(f"{path}: snapshot missing hash but --skip-hash-check=false")
    database = memoryview(content)[:len(content) - _DIGEST_BYTES] if has_hash else memoryview(content)
    if has_hash and not skip_hash_check:
        stored, computed = content[-_DIGEST_BYTES:], hashlib.sha256(database).digest()
        if stored != computed:
            raise StorageError(f"{path}: expected sha256 {stored.hex()}, got {computed.hex()}")
    try:
        return wire.read_etcd_database(bytes(database))
    except StorageError as error:
        raise StorageError(f"{path}: not a readable etcd 3.4 snapshot: {error}") from error


@dataclass(frozen=True, slots=True)
class SnapshotStatus:
    """What ``snapshot status`` prints of a snapshot file (etcdctl's columns)."""

    hash: int
    revision: int
    total_keys: int
    total_size: int


def read_snapshot_status(path: Path) -> SnapshotStatus:
    """The status of a confagent or an etcd snapshot file (rule 3).

    Raises:
        StorageError: the file is unreadable, or neither kind of snapshot; names the file.
    """
    try:
        content = path.read_bytes()
    except OSError as error:
        raise StorageError(f"{path}: cannot read the snapshot: {error.strerror}") from error
    if is_etcd_snapshot(content):
        status = wire.etcd_status(read_etcd_snapshot(path, content, skip_hash_check=True))
        return SnapshotStatus(status.hash, status.revision, status.total_keys, status.total_size)
    saved = read_saved_snapshot(path)
    return SnapshotStatus(saved.hash, saved.image.revision, saved.image.key_count, saved.size_bytes)
