"""The store's snapshot encoding: every retained version, the change log, leases, revisions.

Layout (msgpack)::

    [FORMAT, revision, compacted, [[lease_id, ttl], ...], base, log]
    base = [kv, ...]   the versions older than the last compaction (one per key at most)
    log  = [kv, ...]   the change log, in revision and sub-revision order
    kv   = [key, create_revision, mod_revision, version, value, lease]  trailing defaults left out

A tombstone (a delete) is ``[key, 0, mod_revision]``. Every retained version
is in exactly one of ``base`` and ``log``, so a restored store shares each
``KeyValue`` between its index and its log, as the original did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack  # type: ignore[import-untyped]

from confagent.errors import StorageError
from confagent.kv._codec import padded, trimmed
from confagent.kv._messages import KeyValue

__all__ = ["FORMAT", "State", "decode", "encode"]

FORMAT = 1
_KV_DEFAULTS = (b"", 0, 0, 0, b"", 0)


@dataclass(frozen=True, slots=True)
class State:
    """A store's state as a value; ``compacted`` is -1 for a store never compacted."""

    revision: int
    compacted: int
    leases: tuple[tuple[int, int], ...]
    base: tuple[KeyValue, ...]
    log: tuple[KeyValue, ...]


def encode(state: State) -> bytes:
    return msgpack.packb([  # type: ignore[no-any-return]
        FORMAT, state.revision, state.compacted, [list(lease) for lease in state.leases],
        [_kv_fields(kv) for kv in state.base], [_kv_fields(kv) for kv in state.log],
    ], use_bin_type=True)


def decode(data: bytes) -> State:
    """Raises StorageError when ``data`` is not a snapshot of this format."""
    try:
        fields = msgpack.unpackb(data, raw=False, use_list=False)
        if fields[0] != FORMAT:
            raise ValueError(f"snapshot format {fields[0]!r}, expected {FORMAT}")
        _, revision, compacted, leases, base, log = fields
        return State(revision=revision, compacted=compacted,
                     leases=tuple((lease_id, ttl) for lease_id, ttl in leases),
                     base=tuple(_kv(f) for f in base), log=tuple(_kv(f) for f in log))
    except (msgpack.UnpackException, ValueError, TypeError, IndexError) as error:
        raise StorageError(f"unreadable store snapshot: {error}") from error


def _kv_fields(kv: KeyValue) -> list[Any]:
    return trimmed((kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.value,
                    kv.lease), _KV_DEFAULTS)


def _kv(fields: Sequence[Any]) -> KeyValue:
    return KeyValue(*padded(fields, _KV_DEFAULTS))
