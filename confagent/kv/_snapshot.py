"""The store's snapshot encoding: every retained version, the change log, leases, revisions.

Layout (msgpack)::

    [FORMAT, revision, compacted, [[lease_id, ttl], ...], base, log]
    base = [kv, ...]   the versions older than the last compaction (one per key at most)
    log  = [kv, ...]   the change log, in revision and sub-revision order
    kv   = [key, create_revision, mod_revision, version, value, lease]  trailing defaults left out

A tombstone (a delete) is ``[key, 0, mod_revision]``. Every retained version
is in exactly one of ``base`` and ``log``, so a restored store shares each
``KeyValue`` between its index and its log, as the original did.

Encoding is made to run beside the store, in a worker thread (``SnapshotState.chunks``):
a ``SnapshotState`` holds only immutable values, and no single call into msgpack
packs more than one version or lease, so the thread gives the interpreter back to
the event loop at its usual switch interval instead of holding it for the whole
state. The pieces come out ``CHUNK_ITEMS`` versions (or leases) at a time; joined,
they are exactly the bytes one ``msgpack.packb`` of the layout would give.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack  # type: ignore[import-untyped]

from confagent.errors import StorageError
from confagent.kv._codec import padded, trimmed
from confagent.kv._messages import KeyValue

__all__ = ["CHUNK_ITEMS", "FORMAT", "SnapshotState", "decode"]

FORMAT = 1
CHUNK_ITEMS = 1024
"""At most this many versions (or leases) in one piece of ``SnapshotState.chunks``."""
_KV_DEFAULTS = (b"", 0, 0, 0, b"", 0)
_KV_REQUIRED = 4
"""The fields of a ``KeyValue`` without a default: key, create_revision, mod_revision, version."""


@dataclass(frozen=True, slots=True)
class SnapshotState:
    """A store's state as a value; ``compacted`` is -1 for a store never compacted."""

    revision: int
    compacted: int
    leases: tuple[tuple[int, int], ...]
    base: tuple[KeyValue, ...]
    log: tuple[KeyValue, ...]

    def encode(self) -> bytes:
        return b"".join(self.chunks())

    def chunks(self) -> Iterator[bytes]:
        """The encoding in pieces of at most ``CHUNK_ITEMS`` versions or leases (module doc)."""
        packer = msgpack.Packer(use_bin_type=True)
        yield b"".join((packer.pack_array_header(6), packer.pack(FORMAT), packer.pack(self.revision),
                        packer.pack(self.compacted)))
        yield from _array(packer, self.leases, list)
        yield from _array(packer, self.base, _kv_fields)
        yield from _array(packer, self.log, _kv_fields)


def _array(packer: msgpack.Packer, items: Sequence[Any],
           fields: Callable[[Any], list[Any]]) -> Iterator[bytes]:
    yield packer.pack_array_header(len(items))
    for start in range(0, len(items), CHUNK_ITEMS):
        yield b"".join([packer.pack(fields(item)) for item in items[start:start + CHUNK_ITEMS]])


def decode(data: bytes) -> SnapshotState:
    """Raises StorageError when ``data`` is not a snapshot of this format."""
    try:
        fields = msgpack.unpackb(data, raw=False, use_list=False)
        if fields[0] != FORMAT:
            raise ValueError(f"snapshot format {fields[0]!r}, expected {FORMAT}")
        _, revision, compacted, leases, base, log = fields
        return SnapshotState(revision=revision, compacted=compacted,
                     leases=tuple((lease_id, ttl) for lease_id, ttl in leases),
                     base=tuple(_kv(f) for f in base), log=tuple(_kv(f) for f in log))
    except (msgpack.UnpackException, ValueError, TypeError, IndexError) as error:
        raise StorageError(f"unreadable store snapshot: {error}") from error


def _kv_fields(kv: KeyValue) -> list[Any]:
    return trimmed((kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.value,
                    kv.lease), _KV_DEFAULTS)


def _kv(fields: Sequence[Any]) -> KeyValue:
    if len(fields) >= _KV_REQUIRED:  # the rest have KeyValue's own defaults, which are _KV_DEFAULTS'
        return KeyValue(*fields)
    return KeyValue(*padded(fields, _KV_DEFAULTS))
