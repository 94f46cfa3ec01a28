"""``LiveKeys``: the keys that exist at one revision and their values, for readers of the newest state only.

An offline reader of a data directory (a one-shot's keys) reads every key at the
store's revision once and nothing else: no older version, no watch history, no
lease. Restoring the whole store for that makes a ``KeyValue`` per version and
the key index and change log around them; ``of_snapshot`` reads the snapshot's
bytes into the keys and values alone (``_snapshot.latest_values``).

Rules:
1. ``pairs(key, range_end)`` gives what ``KvStore.range`` of that range at its
   current revision gives (keys and values, in key order, etcd's range ends:
   empty for one key, ``FROM_KEY`` for every key from ``key``), for a store
   restored from the same snapshot or, with ``of_store``, for that store.
2. A key under a lease is there until a revoke was applied, as in the store
   restored from the snapshot (deadlines are the leader's and not kept).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

from confagent.kv._keys import FROM_KEY
from confagent.kv._snapshot import latest_values

if TYPE_CHECKING:
    from confagent.kv._store import KvStore

__all__ = ["LiveKeys"]


class LiveKeys:
    """The keys that exist at ``revision``, sorted, and their values (module rules)."""

    __slots__ = ("_keys", "_values", "revision")

    def __init__(self, revision: int, values: dict[bytes, bytes]) -> None:
        self.revision = revision
        self._values = values
        self._keys = sorted(values)

    @classmethod
    def of_snapshot(cls, data: bytes) -> LiveKeys:
        """The newest keys of the store ``KvStore.restore(data)`` would give, without restoring it.

        Raises:
            StorageError: ``data`` is not a snapshot this version can read.
        """
        return cls(*latest_values(data))

    @classmethod
    def of_store(cls, store: KvStore) -> LiveKeys:
        """The keys that exist in ``store`` now."""
        from confagent.kv._messages import RangeRequest  # noqa: PLC0415 - the store's path loaded it

        everything = store.range(RangeRequest(key=b"\0", range_end=FROM_KEY)).kvs
        return cls(store.revision, {kv.key: kv.value for kv in everything})

    def pairs(self, key: bytes, range_end: bytes) -> list[tuple[bytes, bytes]]:
        """Every key in ``[key, range_end)`` with its value, ascending (rule 1)."""
        values = self._values
        if not range_end:
            value = values.get(key)
            return [] if value is None else [(key, value)]
        keys = self._keys
        start = bisect_left(keys, key)
        if range_end == FROM_KEY:
            end = len(keys)
        elif range_end <= key:
            return []
        else:
            end = bisect_left(keys, range_end, start)
        return [(name, values[name]) for name in keys[start:end]]

    def __len__(self) -> int:
        return len(self._values)
