"""Snapshot files: one whole snapshot per file, checksummed, replaced atomically.

A file is ``<index:016x>-<term:016x>.snap`` in the member's ``snap`` directory (little-endian)::

    magic b"CASNAP1\\n"  meta_length:u32  data_length:u64  crc32(meta + data):u32  meta  data
    meta := index:u64 term:u64 n_voters:u32 n_learners:u32 node_id:u64 *

Rules:

1. A snapshot is written with ``confagent.fsutil.write_file_atomically`` (stage file,
   fsync, rename, directory fsync): a file with a ``.snap`` name is whole. Stage files
   left by a crash are deleted when the directory is opened.
2. The newest ``keep`` snapshots are kept; older ones are deleted after each save, which
   answers the index of the oldest one kept: the log must reach back to it (``_wal``
   rule 5), so that any kept snapshot can start a replay.
3. Loading takes the newest file that reads back whole. An unreadable one is renamed to
   ``.broken`` (kept for inspection, never read again) and why is kept in ``broken``;
   if every file is unreadable, loading raises.

:func:`storage_errors` (OSError → StorageError) is shared with the write-ahead log.
"""

from __future__ import annotations

import contextlib
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from confagent.errors import StorageError
from confagent.fsutil import fsync_directory, remove_stage_leftovers, write_file_atomically
from confagent.raft._types import SnapshotMeta
from confagent.server.storage._wal_records import decode_snapshot_meta, encode_snapshot_meta

__all__ = [
    "KEEP_SNAPSHOTS",
    "BrokenSnapshot",
    "SnapshotFiles",
    "newest_snapshot",
    "storage_errors",
]

KEEP_SNAPSHOTS = 5
"""How many snapshot files a member keeps by default (etcd's ``--max-snapshots``): the log is
kept back to the oldest, so about ``KEEP_SNAPSHOTS`` times ``--snapshot-count`` entries."""

_MAGIC = b"CASNAP1\n"
_HEADER = struct.Struct("<8sIQI")
_SUFFIX = ".snap"
_BROKEN_SUFFIX = ".broken"
_NAME = re.compile(r"^[0-9a-f]{16}-[0-9a-f]{16}\.snap$")


@dataclass(frozen=True, slots=True)
class BrokenSnapshot:
    """A snapshot file loading passed over: where it was, where it is kept now, and why."""

    path: Path
    kept_as: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


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
        self._broken: list[BrokenSnapshot] = []
        with storage_errors(f"snap: cannot open {snap_dir}"):
            snap_dir.mkdir(parents=True, exist_ok=True)
            remove_stage_leftovers(snap_dir, f"*{_SUFFIX}")

    @property
    def broken(self) -> tuple[BrokenSnapshot, ...]:
        """The snapshot files ``load_latest`` passed over, and why each could not be read."""
        return tuple(self._broken)

    def save(self, meta: SnapshotMeta, data: bytes) -> int:
        """Write the snapshot durably, then delete all but the newest ``keep`` files.

        Returns:
            The index of the oldest snapshot kept: release the log only up to it.

        Raises:
            StorageError: the file could not be written (an older snapshot still stands).
        """
        meta_bytes = encode_snapshot_meta(meta)
        crc = zlib.crc32(data, zlib.crc32(meta_bytes))
        header = _HEADER.pack(_MAGIC, len(meta_bytes), len(data), crc)
        path = self._dir / f"{meta.index:016x}-{meta.term:016x}{_SUFFIX}"
        with storage_errors(f"snap: cannot write {path}"):
            write_file_atomically(path, b"".join((header, meta_bytes, data)))
            return self._delete_oldest()

    def load_latest(self) -> tuple[SnapshotMeta, bytes] | None:
        """The newest snapshot that reads back whole; None when there is none at all.

        Unreadable newer files are renamed ``.broken`` and added to ``broken``.

        Raises:
            StorageError: snapshot files exist but none is readable.
        """
        with storage_errors(f"snap: cannot read {self._dir}"):
            found, passed_over = newest_snapshot(self._dir)
            for path, reason in passed_over:
                kept_as = path.with_name(path.name + _BROKEN_SUFFIX)
                self._broken.append(BrokenSnapshot(path, kept_as, reason))
                path.rename(kept_as)
                fsync_directory(self._dir)
        if found is None and passed_over:
            reasons = "; ".join(str(broken) for broken in self._broken[-len(passed_over):])
            raise StorageError(f"snap: no readable snapshot in {self._dir}: {reasons}")
        return found

    def _delete_oldest(self) -> int:
        """Delete all but the newest ``keep`` files; the index of the oldest kept."""
        paths = _snapshot_paths(self._dir)
        for path in paths[:-self._keep]:
            path.unlink()
        if len(paths) > self._keep:
            fsync_directory(self._dir)
        return int(paths[-self._keep:][0].name[:16], 16)


def newest_snapshot(snap_dir: Path) -> tuple[tuple[SnapshotMeta, bytes] | None, list[tuple[Path, str]]]:
    """The newest snapshot file of ``snap_dir`` that reads back whole (None without one), and the
    newer files passed over with why (rule 3, without setting them aside: this only reads).

    Raises:
        OSError: the directory or a file cannot be read (a file deleted meanwhile among them).
    """
    passed_over: list[tuple[Path, str]] = []
    for path in reversed(_snapshot_paths(snap_dir)):
        snapshot = _decode_snapshot(path.read_bytes())
        if not isinstance(snapshot, str):
            return snapshot, passed_over
        passed_over.append((path, snapshot))
    return None, passed_over


def _snapshot_paths(snap_dir: Path) -> list[Path]:
    """Snapshot files, oldest first (names sort by index, then term)."""
    return sorted(path for path in snap_dir.glob(f"*{_SUFFIX}") if _NAME.match(path.name))


def _decode_snapshot(content: bytes) -> tuple[SnapshotMeta, bytes] | str:
    """The snapshot a file's ``content`` holds, or why it holds none."""
    if len(content) < _HEADER.size:
        return f"snapshot header cut short ({len(content)} bytes)"
    magic, meta_length, data_length, crc = _HEADER.unpack_from(content)
    if magic != _MAGIC:
        return f"not a snapshot file (magic {magic!r})"
    expected = _HEADER.size + meta_length + data_length
    if len(content) != expected:
        return f"snapshot has {len(content)} bytes, its header says {expected}"
    body = memoryview(content)[_HEADER.size:]
    if zlib.crc32(body) != crc:
        return "snapshot checksum mismatch"
    meta = decode_snapshot_meta(body[:meta_length])
    if meta is None:
        return "snapshot metadata is malformed"
    return meta, bytes(body[meta_length:])


@contextlib.contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Map an OSError inside the block to a StorageError saying ``what`` failed."""
    try:
        yield
    except OSError as error:
        raise StorageError(f"{what}: {error}") from error
