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

``latest_values`` reads the same bytes for an offline reader that wants only the
newest state (a one-shot's keys): each key's last version in ``base`` then ``log``
order is its current one, so no ``KeyValue``, index or change log is made, and the
message types (``_messages``, with ``_codec``) are not even loaded: they are imported
where a version is made or encoded (``_kv_decoder``, ``_kv_encoder``), so that a one-shot
reading a data directory's keys does not pay for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import msgpack  # type: ignore[import-untyped]

from confagent.errors import StorageError

if TYPE_CHECKING:
    from confagent.kv._messages import KeyValue

__all__ = ["CHUNK_ITEMS", "FORMAT", "SnapshotState", "decode", "latest_values"]

FORMAT = 1
CHUNK_ITEMS = 1024
"""At most this many versions (or leases) in one piece of ``SnapshotState.chunks``."""
_KV_DEFAULTS = (b"", 0, 0, 0, b"", 0)
_KV_REQUIRED = 4
"""The fields of a ``KeyValue`` without a default: key, create_revision, mod_revision, version."""
_VERSION, _VALUE = 3, 4
"""Where a version's ``version`` and ``value`` are in its fields."""
_KEY_OF = itemgetter(0)
_LAYOUT_FIELDS = 6


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
        packer, fields = msgpack.Packer(use_bin_type=True), _kv_encoder()
        yield b"".join((packer.pack_array_header(6), packer.pack(FORMAT), packer.pack(self.revision),
                        packer.pack(self.compacted)))
        yield from _array(packer, self.leases, list)
        yield from _array(packer, self.base, fields)
        yield from _array(packer, self.log, fields)


def _array(packer: msgpack.Packer, items: Sequence[Any],
           fields: Callable[[Any], list[Any]]) -> Iterator[bytes]:
    yield packer.pack_array_header(len(items))
    for start in range(0, len(items), CHUNK_ITEMS):
        yield b"".join([packer.pack(fields(item)) for item in items[start:start + CHUNK_ITEMS]])


def decode(data: bytes) -> SnapshotState:
    """Raises StorageError when ``data`` is not a snapshot of this format."""
    try:
        revision, compacted, leases, base, log = _fields(data)
        kv = _kv_decoder()
        return SnapshotState(revision=revision, compacted=compacted,
                     leases=tuple((lease_id, ttl) for lease_id, ttl in leases),
                     base=tuple(map(kv, base)), log=tuple(map(kv, log)))
    except (ValueError, TypeError, IndexError) as error:
        raise StorageError(f"unreadable store snapshot: {error}") from error


def latest_values(data: bytes) -> tuple[int, dict[bytes, bytes]]:
    """The revision of the snapshot ``data`` and the value of every key that exists at it (module doc).

    Raises:
        StorageError: ``data`` is not a snapshot of this format.
    """
    try:
        revision, _, _, base, log = _fields(data)
        newest = dict(zip(map(_KEY_OF, base), base, strict=True))
        newest.update(zip(map(_KEY_OF, log), log, strict=True))
        # trailing defaults are left out: a tombstone is [key, 0, mod_revision], a live version has
        # its version (>= 1) and, when not empty, its value at 4
        values = {key: fields[_VALUE] if len(fields) > _VALUE else b""
                  for key, fields in newest.items() if len(fields) > _VERSION and fields[_VERSION]}
    except (ValueError, TypeError, IndexError) as error:
        raise StorageError(f"unreadable store snapshot: {error}") from error
    return revision, values


def _fields(data: bytes) -> tuple[Any, Any, Any, Any, Any]:
    """The layout's fields after ``FORMAT``: revision, compacted, leases, base, log.

    Raises:
        ValueError, TypeError, IndexError: ``data`` is not a snapshot of this format.
    """
    try:
        fields = msgpack.unpackb(data, raw=False, use_list=False)
    except msgpack.UnpackException as error:
        raise ValueError(str(error)) from error
    if not isinstance(fields, tuple) or len(fields) != _LAYOUT_FIELDS:
        raise ValueError(f"not a snapshot's layout (a {type(fields).__name__})")
    if fields[0] != FORMAT:
        raise ValueError(f"snapshot format {fields[0]!r}, expected {FORMAT}")
    _, revision, compacted, leases, base, log = fields
    return revision, compacted, leases, base, log


def _kv_encoder() -> Callable[[KeyValue], list[Any]]:
    """A version -> its fields, trailing defaults left out (the message types loaded now: module doc)."""
    from confagent.kv._codec import trimmed  # noqa: PLC0415 - see the module docstring

    def fields(kv: KeyValue) -> list[Any]:
        return trimmed((kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.value, kv.lease),
                       _KV_DEFAULTS)

    return fields


def _kv_decoder() -> Callable[[Sequence[Any]], KeyValue]:
    """A version's fields -> its ``KeyValue`` (the message types loaded now: module doc)."""
    from confagent.kv._codec import padded  # noqa: PLC0415 - see the module docstring
    from confagent.kv._messages import KeyValue  # noqa: PLC0415 - see the module docstring

    def kv(fields: Sequence[Any]) -> KeyValue:
        if len(fields) >= _KV_REQUIRED:  # the rest have KeyValue's own defaults, which are _KV_DEFAULTS'
            return KeyValue(*fields)
        return KeyValue(*padded(fields, _KV_DEFAULTS))

    return kv
