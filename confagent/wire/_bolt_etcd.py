"""etcd 3.4's database, read: the key-value history, leases, compaction and auth of a bbolt file.

What ``etcdctl snapshot save`` writes (less its SHA-256 trailer) and ``member/snap/db``
holds is a bbolt database (``_bolt_pages``) with etcd's buckets::

    key        main:u64be "_" sub:u64be, then "t" for a tombstone  ->  mvccpb.KeyValue
               (a tombstone's value holds its key only)
    lease      lease ID:u64be  ->  leasepb.Lease (ID, TTL, RemainingTTL)
    meta       consistent_index:u64be; finishedCompactRev, scheduledCompactRev: a revision key
    auth       authEnabled: 1 byte; authRevision:u64be
    authUsers  name -> authpb.User         authRoles  name -> authpb.Role
    members, members_removed, cluster: the old cluster's membership (restore replaces it)

Rules:

1. The current revision is the last one in ``key``, or the finished compaction's when
   that is later (every key at or below it may have been compacted away), as etcd's
   ``store.restore`` sets it.
2. The compaction point is the later of the finished and the scheduled compaction
   (etcd resumes a scheduled one when it opens the database); -1 when there was none.
   :func:`etcd_store_state` keeps what etcd's compaction keeps: per key, its latest version at
   or below that point unless it is a tombstone, and every version after it.
3. ``etcdctl snapshot status``'s figures (:func:`etcd_status`) are etcdctl 3.4's: the
   CRC-32C (Castagnoli) of every top-level bucket's name followed by its keys and values,
   the last revision in ``key``, the count of every bucket's keys, and the size in use.
4. A database that is not etcd's (no ``key`` or ``meta`` bucket), is a later etcd's
   (``meta`` has ``storageVersion``: etcd 3.6 on), or holds a value that does not decode
   is refused with a StorageError saying which bucket and key.

Pure: bytes in, values out.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import DecodeError

from confagent.auth import AuthState, Permission, PermissionType, Role, User
from confagent.errors import StorageError
from confagent.kv import KeyValue, SnapshotState
from confagent.wire._bolt_pages import BoltBucket, BoltDb, read_bolt
from confagent.wire._pb import auth_pb2, kv_pb2, lease_pb2

__all__ = ["EtcdDatabase", "EtcdStatus", "etcd_status", "etcd_store_state", "read_etcd_database"]

_U64 = struct.Struct(">Q")
_REVISION = struct.Struct(">Qc")
_REVISION_BYTES = 17
_TOMBSTONE = b"t"
_NEVER_COMPACTED = -1
_LATER_ETCD_KEY = b"storageVersion"
_M = TypeVar("_M", kv_pb2.KeyValue, lease_pb2.Lease, auth_pb2.User, auth_pb2.Role)


@dataclass(frozen=True, slots=True)
class EtcdDatabase:
    """What an etcd 3.4 database holds that a store carries over (module rules)."""

    revision: int
    compacted: int
    """The compaction point (rule 2); -1 when never compacted."""
    consistent_index: int
    versions: tuple[KeyValue, ...]
    """Every version in ``key``, in revision order; a tombstone is ``KeyValue(key, 0, rev, 0)``."""
    leases: tuple[tuple[int, int], ...]
    """(lease ID, granted TTL) for every lease, by ID."""
    auth: AuthState
    bolt: BoltDb


@dataclass(frozen=True, slots=True)
class EtcdStatus:
    """What ``etcdctl snapshot status`` prints for a database (rule 3)."""

    hash: int
    revision: int
    total_keys: int
    total_size: int


def etcd_status(database: EtcdDatabase) -> EtcdStatus:
    """etcdctl 3.4's status figures of ``database`` (rule 3); a pure-Python CRC, ~10 MB/s."""
    crc, total_keys, revision = 0, 0, 0
    for name, bucket in database.bolt.root.entries:
        if not isinstance(bucket, BoltBucket):
            continue
        crc = _crc32c(name, crc)
        for key, value in bucket.entries:
            crc = _crc32c(key, crc)
            if not isinstance(value, BoltBucket):
                crc = _crc32c(value, crc)
            total_keys += 1
        if name == b"key" and bucket.entries:
            revision = int(_U64.unpack_from(bucket.entries[-1][0])[0])
    return EtcdStatus(crc, revision, total_keys, database.bolt.high_water * database.bolt.page_size)


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ (_CASTAGNOLI if value & 1 else 0)
        table.append(value)
    return tuple(table)


_CASTAGNOLI = 0x82F63B78
_CRC32C_TABLE = _crc32c_table()


def _crc32c(data: bytes, crc: int) -> int:
    """CRC-32C of ``data`` continuing from ``crc`` (0 to start), as Go's crc32 with Castagnoli."""
    value, table = crc ^ 0xFFFFFFFF, _CRC32C_TABLE
    for byte in data:
        value = table[(value ^ byte) & 0xFF] ^ (value >> 8)
    return value ^ 0xFFFFFFFF


def read_etcd_database(data: bytes) -> EtcdDatabase:
    """An etcd database's bytes, read and checked (module rules).

    Raises:
        StorageError: a damaged bbolt file, or not etcd 3.4's database; the message says
            what is wrong and where.
    """
    bolt = read_bolt(data)
    keys, meta = bolt.root.bucket(b"key"), bolt.root.bucket(b"meta")
    if keys is None or meta is None:
        raise StorageError("a bbolt database but not etcd's: it has no 'key' or 'meta' bucket")
    meta_values = dict(meta.pairs())
    if _LATER_ETCD_KEY in meta_values:
        raise StorageError(f"written by a later etcd (meta storageVersion "
                           f"{meta_values[_LATER_ETCD_KEY]!r}); etcd 3.4's database is read")
    versions = tuple(_versions(keys))
    finished = _compact_revision(meta_values, b"finishedCompactRev")
    scheduled = _compact_revision(meta_values, b"scheduledCompactRev")
    last = versions[-1].mod_revision if versions else 1
    return EtcdDatabase(
        revision=max(last, finished), compacted=max(finished, scheduled),
        consistent_index=_u64(meta_values.get(b"consistent_index", bytes(8)), "meta", b"consistent_index"),
        versions=versions, leases=tuple(_leases(bolt.root.bucket(b"lease"))),
        auth=_auth(bolt.root), bolt=bolt)


def etcd_store_state(database: EtcdDatabase) -> SnapshotState:
    """The store's snapshot state holding what etcd's store holds (rule 2).

    Raises:
        StorageError: a key is attached to a lease the database does not hold.
    """
    compacted = database.compacted
    latest: dict[bytes, KeyValue] = {}
    for version in database.versions:
        if version.mod_revision > compacted:
            break
        latest[version.key] = version
    kept = {id(v) for v in latest.values() if v.version}
    base = sorted((v for v in latest.values() if id(v) in kept and v.mod_revision < compacted),
                  key=lambda v: v.key)
    log = [v for v in database.versions
           if v.mod_revision > compacted or (v.mod_revision == compacted and id(v) in kept)]
    _check_leases(database.leases, base + log)
    return SnapshotState(revision=database.revision, compacted=compacted, leases=database.leases,
                         base=tuple(base), log=tuple(log))


def _versions(bucket: BoltBucket) -> Iterator[KeyValue]:
    for key, value in bucket.pairs():
        if len(key) not in (_REVISION_BYTES, _REVISION_BYTES + 1) or key[8:9] != b"_" or \
                (len(key) > _REVISION_BYTES and key[-1:] != _TOMBSTONE):
            raise StorageError(f"bucket 'key': {key.hex()} is not a revision")
        main = _U64.unpack_from(key)[0]
        stored = _message(kv_pb2.KeyValue, value, "key", key)
        if len(key) > _REVISION_BYTES:
            yield KeyValue(stored.key, 0, main, 0)
            continue
        if stored.mod_revision != main or stored.version < 1:
            raise StorageError(f"bucket 'key': revision {main} holds a version of "
                               f"{stored.key!r} with mod_revision {stored.mod_revision} and "
                               f"version {stored.version}")
        yield KeyValue(stored.key, stored.create_revision, stored.mod_revision, stored.version,
                       stored.value, stored.lease)


def _leases(bucket: BoltBucket | None) -> Iterator[tuple[int, int]]:
    for key, value in bucket.pairs() if bucket is not None else ():
        lease = _message(lease_pb2.Lease, value, "lease", key)
        if _u64(key, "lease", key) != lease.ID & 0xFFFFFFFFFFFFFFFF:
            raise StorageError(f"bucket 'lease': key {key.hex()} holds lease {lease.ID:x}")
        yield lease.ID, lease.TTL


def _auth(root: BoltBucket) -> AuthState:
    bucket = root.bucket(b"auth")
    settings = dict(bucket.pairs()) if bucket is not None else {}
    users = root.bucket(b"authUsers")
    roles = root.bucket(b"authRoles")
    revision = settings.get(b"authRevision")
    return AuthState(
        enabled=settings.get(b"authEnabled") == b"\x01",
        revision=_u64(revision, "auth", b"authRevision") if revision is not None else 1,
        users={user.name: user for user in map(_user, users.pairs() if users else ())},
        roles={role.name: role for role in map(_role, roles.pairs() if roles else ())})


def _user(pair: tuple[bytes, bytes]) -> User:
    stored = _message(auth_pb2.User, pair[1], "authUsers", pair[0])
    no_password = stored.options.no_password
    return User(name=_text(stored.name, "authUsers"), password_hash=stored.password or None,
                roles=tuple(sorted(stored.roles)), no_password=no_password)


def _role(pair: tuple[bytes, bytes]) -> Role:
    stored = _message(auth_pb2.Role, pair[1], "authRoles", pair[0])
    permissions = tuple(Permission(p.key, p.range_end, PermissionType(p.permType))
                        for p in stored.keyPermission)
    return Role(name=_text(stored.name, "authRoles"), permissions=permissions)


def _check_leases(leases: tuple[tuple[int, int], ...], versions: list[KeyValue]) -> None:
    granted = {lease_id for lease_id, _ in leases}
    live: dict[bytes, KeyValue] = {}
    for version in versions:
        live[version.key] = version
    for version in live.values():
        if version.version and version.lease and version.lease not in granted:
            raise StorageError(f"key {version.key!r} is attached to lease {version.lease:x}, "
                               f"which the database does not hold")


def _compact_revision(meta: dict[bytes, bytes], name: bytes) -> int:
    value = meta.get(name)
    if value is None:
        return _NEVER_COMPACTED
    if len(value) < _REVISION_BYTES:
        raise StorageError(f"bucket 'meta': {name.decode()} is not a revision")
    return int(_U64.unpack_from(value)[0])


def _u64(value: bytes, bucket: str, key: bytes) -> int:
    if len(value) != _U64.size:
        raise StorageError(f"bucket {bucket!r}: {key!r} is not an 8-byte number")
    return int(_U64.unpack(value)[0])


def _text(name: bytes, bucket: str) -> str:
    try:
        return name.decode()
    except UnicodeDecodeError as error:
        raise StorageError(f"bucket {bucket!r}: name {name!r} is not UTF-8") from error


def _message(kind: type[_M], value: bytes, bucket: str, key: bytes) -> _M:
    try:
        return kind.FromString(value)
    except DecodeError as error:
        raise StorageError(f"bucket {bucket!r}: the value of {key.hex()} is not a "
                           f"{kind.DESCRIPTOR.full_name}: {error}") from error
