"""Snapshot files: one whole snapshot per file, checksummed, replaced atomically.

A file is ``<index:016x>-<term:016x>.snap`` in the member's ``snap`` directory (little-endian)::

    magic b"CASNAP1\\n"  meta_length:u32  data_length:u64  crc32(meta + data):u32  meta  data
    meta := index:u64 term:u64 n_voters:u32 n_learners:u32 node_id:u64 *

Rules:

1. A snapshot is written with ``confagent.fsutil.write_file_atomically`` (stage file,
   fsync, rename, directory fsync): a file with a ``.snap`` name is whole. Stage files
   left by a crash are deleted when the directory is opened.
2. The newest ``keep`` snapshots are kept; older ones are deleted after each save.
3. Loading takes the newest file that reads back whole. An unreadable one is renamed to
   ``.broken`` (kept for inspection, never read again) and its error is kept in ``broken``;
   if every file is unreadable, loading raises.

:func:`storage_errors` (OSError → StorageError) is shared with the write-ahead log.
"""

from __future__ import annotations

import contextlib
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from confagent.errors import StorageError
from confagent.fsutil import fsync_directory, remove_stage_leftovers, write_file_atomically
from confagent.raft._types import SnapshotMeta
from confagent.server._wal_records import decode_snapshot_meta, encode_snapshot_meta

__all__ = [
    "KEEP_SNAPSHOTS",
    "SnapshotFiles",
    "storage_errors",
]

KEEP_SNAPSHOTS = 5
"""How many snapshot files a member keeps by default."""

_MAGIC = b"CASNAP1\n"
_HEADER = struct.Struct("<8sIQI")
_SUFFIX = ".snap"
_BROKEN_SUFFIX = ".broken"


class SnapshotFiles:
    """The snapshot files of one member (rules in the module doc). Synchronous."""

    def __init__(self, snap_dir: Path, keep: int = KEEP_SNAPSHOTS) -> None:
        """Open ``snap_dir``, creating it, and delete temp files a crash left behind.

        Raises:
            StorageError: the directory cannot be created or cleaned.
        """
        assert keep >= 1, "keep at least one snapshot"
        self._dir = snap_dir
        self._keep = keep
        self._broken: list[StorageError] = []
        with storage_errors(f"snap: cannot open {snap_dir}"):
            snap_dir.mkdir(parents=True, exist_ok=True)
            remove_stage_leftovers(snap_dir, f"*{_SUFFIX}")

    @property
    def broken(self) -> tuple[StorageError, ...]:
        """Why each snapshot file passed over by ``load_latest`` could not be read."""
        return tuple(self._broken)

    def save(self, meta: SnapshotMeta, data: bytes) -> None:
        """Write the snapshot durably, then delete all but the newest ``keep`` files.

        Raises:
            StorageError: the file could not be written (an older snapshot still stands).
        """
        meta_bytes = encode_snapshot_meta(meta)
        crc = zlib.crc32(data, zlib.crc32(meta_bytes))
        header = _HEADER.pack(_MAGIC, len(meta_bytes), len(data), crc)
        path = self._dir / f"{meta.index:016x}-{meta.term:016x}{_SUFFIX}"
        with storage_errors(f"snap: cannot write {path}"):
            write_file_atomically(path, b"".join((header, meta_bytes, data)))
            self._delete_oldest()

    def load_latest(self) -> tuple[SnapshotMeta, bytes] | None:
        """The newest snapshot that reads back whole; None when there is none at all.

        Unreadable newer files are renamed ``.broken`` and their errors added to ``broken``.

        Raises:
            StorageError: snapshot files exist but none is readable.
        """
        with storage_errors(f"snap: cannot read {self._dir}"):
            paths = self._snapshot_paths()
            for path in reversed(paths):
                try:
                    return _read_snapshot(path)
                except StorageError as error:
                    self._broken.append(error)
                    path.rename(path.with_name(path.name + _BROKEN_SUFFIX))
                    fsync_directory(self._dir)
        if paths:
            reasons = "; ".join(str(error) for error in self._broken[-len(paths):])
            raise StorageError(f"snap: no readable snapshot in {self._dir}: {reasons}")
        return None

    def _snapshot_paths(self) -> list[Path]:
        """Snapshot files, oldest first (names sort by index, then term)."""
        return sorted(self._dir.glob(f"*{_SUFFIX}"))

    def _delete_oldest(self) -> None:
        paths = self._snapshot_paths()
        for path in paths[:-self._keep]:
            path.unlink()
        if len(paths) > self._keep:
            fsync_directory(self._dir)


def _read_snapshot(path: Path) -> tuple[SnapshotMeta, bytes]:
    """Read and check one snapshot file. Raises StorageError naming the file."""
    content = path.read_bytes()
    if len(content) < _HEADER.size:
        raise StorageError(f"{path}: snapshot header cut short ({len(content)} bytes)")
    magic, meta_length, data_length, crc = _HEADER.unpack_from(content)
    if magic != _MAGIC:
        raise StorageError(f"{path}: not a snapshot file (magic {magic!r})")
    if len(content) != _HEADER.size + meta_length + data_length:
        raise StorageError(f"{path}: snapshot has {len(content)} bytes, its header says "
                           f"{_HEADER.size + meta_length + data_length}")
    body = memoryview(content)[_HEADER.size:]
    if zlib.crc32(body) != crc:
        raise StorageError(f"{path}: snapshot checksum mismatch")
    meta = decode_snapshot_meta(body[:meta_length])
    if meta is None:
        raise StorageError(f"{path}: snapshot metadata is malformed")
    return meta, bytes(body[meta_length:])


@contextlib.contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Map an OSError inside the block to a StorageError saying ``what`` failed."""
    try:
        yield
    except OSError as error:
        raise StorageError(f"{what}: {error}") from error
