"""The key index: every retained version of every key, ordered by key.

Rules:
1. A key's versions are kept oldest first, in (revision, sub-revision) order.
   A deletion is stored as a *tombstone*: a ``KeyValue`` with ``version`` 0
   that carries only ``key`` and ``mod_revision``, exactly the ``kv`` of the
   DELETE event, so the change log and the index share one object.
2. A key with one version stores that ``KeyValue`` itself, not a list: most
   keys have one version, and the list would cost more than the value.
3. The version of a key "at revision r" is its newest version with
   ``mod_revision <= r``; a tombstone there means the key did not exist.
4. Compaction at C keeps, per key, the newest version ``<= C`` unless it is a
   tombstone, and every version after C (etcd's ``keyIndex.compact``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from operator import attrgetter

from sortedcontainers import SortedList  # type: ignore[import-untyped]

from confagent.kv._keys import FROM_KEY
from confagent.kv._messages import KeyValue

__all__ = ["KeyIndex", "tombstone"]

_Versions = KeyValue | list[KeyValue]
_mod_revision = attrgetter("mod_revision")
_VERSION_OVERHEAD_BYTES = 48
"""What ``size_bytes`` counts per version besides its key and value (revisions, lease)."""


def tombstone(key: bytes, revision: int) -> KeyValue:
    """The stored form of a deletion, and the ``kv`` of its DELETE event."""
    return KeyValue(key=key, create_revision=0, mod_revision=revision, version=0)


class KeyIndex:
    """Versions by key, plus the keys in byte order for range scans."""

    __slots__ = ("_keys", "_live", "_versions", "size_bytes")

    def __init__(self) -> None:
        self._keys = SortedList()  # every key with a retained version
        self._live = SortedList()  # the keys that exist now
        self._versions: dict[bytes, _Versions] = {}
        self.size_bytes = 0
        """Keys and values of every retained version, plus a fixed overhead each."""

    @classmethod
    def built(cls, versions: Iterable[KeyValue]) -> KeyIndex:
        """The index ``append`` of each of ``versions`` in turn gives (each key's oldest first), built
        at once: the key lists sorted once rather than kept sorted at each new key (a restore)."""
        index = cls()
        found = index._versions
        size = 0
        for kv in versions:
            key = kv.key
            size += len(key) + len(kv.value)
            held = found.get(key)
            if held is None:
                found[key] = kv
            elif isinstance(held, KeyValue):
                found[key] = [held, kv]
            else:
                held.append(kv)
        index.size_bytes = size + _VERSION_OVERHEAD_BYTES * sum(
            1 if isinstance(held, KeyValue) else len(held) for held in found.values())
        index._keys = SortedList(found)
        index._live = SortedList(key for key, held in found.items()
                                 if (held if isinstance(held, KeyValue) else held[-1]).version)
        return index

    def last(self, key: bytes) -> KeyValue | None:
        """The newest version of ``key`` (possibly a tombstone), None if none is retained."""
        versions = self._versions.get(key)
        if versions is None or isinstance(versions, KeyValue):
            return versions
        return versions[-1]

    def first(self, key: bytes) -> KeyValue | None:
        """The oldest retained version of ``key``."""
        versions = self._versions.get(key)
        if versions is None or isinstance(versions, KeyValue):
            return versions
        return versions[0]

    def live(self, key: bytes) -> KeyValue | None:
        """The current version of ``key``, None if it does not exist."""
        kv = self.last(key)
        return None if kv is None or kv.version == 0 else kv

    def at(self, key: bytes, revision: int) -> KeyValue | None:
        """The version of ``key`` at ``revision``, None if it did not exist then."""
        versions = self._versions.get(key)
        if versions is None:
            return None
        if isinstance(versions, KeyValue):
            kv = versions if versions.mod_revision <= revision else None
        else:
            position = bisect_right(versions, revision, key=_mod_revision)
            kv = versions[position - 1] if position else None
        return None if kv is None or kv.version == 0 else kv

    def visible(self, key: bytes, range_end: bytes, revision: int,
                latest: bool) -> Iterator[KeyValue]:
        """Every key in the range that existed at ``revision``, ascending.

        ``latest`` says ``revision`` is at least the newest change, so only the
        keys that exist now are read, each at its last version.
        """
        if not range_end:
            kv = self.live(key) if latest else self.at(key, revision)
            if kv is not None:
                yield kv
        elif latest:
            versions = self._versions
            for name in _irange(self._live, key, range_end):
                found = versions[name]
                yield found if isinstance(found, KeyValue) else found[-1]
        else:
            for name in _irange(self._keys, key, range_end):
                kv = self.at(name, revision)
                if kv is not None:
                    yield kv

    def count_live(self, key: bytes, range_end: bytes) -> int:
        """How many keys in the range exist now, without reading them."""
        if not range_end:
            return 0 if self.live(key) is None else 1
        live = self._live
        start = live.bisect_left(key)
        if range_end == FROM_KEY:
            return len(live) - start  # type: ignore[no-any-return]
        if range_end <= key:
            return 0
        return live.bisect_left(range_end) - start  # type: ignore[no-any-return]

    def append(self, kv: KeyValue) -> None:
        """Record a newer version (or tombstone) of ``kv.key``."""
        key = kv.key
        self.size_bytes += len(key) + len(kv.value) + _VERSION_OVERHEAD_BYTES
        versions = self._versions.get(key)
        if versions is None:
            self._versions[key] = kv
            self._keys.add(key)
            previous = None
        elif isinstance(versions, KeyValue):
            self._versions[key] = [versions, kv]
            previous = versions
        else:
            previous = versions[-1]
            versions.append(kv)
        if not kv.version:
            self._live.discard(key)
        elif previous is None or not previous.version:
            self._live.add(key)  # a new life begins

    def compact(self, keys: Iterable[bytes], revision: int) -> None:
        """Drop the versions of ``keys`` that compaction at ``revision`` makes unreachable."""
        for key in keys:
            versions = self._versions.get(key)
            if versions is None:
                continue
            if isinstance(versions, KeyValue):
                versions = [versions]
            position = bisect_right(versions, revision, key=_mod_revision)
            start = max(position - 1, 0)
            if position and versions[start].version == 0:
                start += 1
            self.size_bytes -= sum([len(key) + len(kv.value) + _VERSION_OVERHEAD_BYTES
                                    for kv in versions[:start]])
            self._replace(key, versions[start:])

    def _replace(self, key: bytes, versions: list[KeyValue]) -> None:
        if not versions:
            del self._versions[key]
            self._keys.remove(key)
        elif len(versions) == 1:
            self._versions[key] = versions[0]
        else:
            self._versions[key] = versions

    def __iter__(self) -> Iterator[bytes]:
        """Every key with a retained version, ascending."""
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._versions)

    @property
    def live_count(self) -> int:
        """How many keys exist now."""
        return len(self._live)


def _irange(keys: SortedList, key: bytes, range_end: bytes) -> Iterable[bytes]:
    """``keys`` in ``[key, range_end)``, ascending; ``range_end`` is not empty."""
    if range_end == FROM_KEY:
        return keys.irange(minimum=key)  # type: ignore[no-any-return]
    if range_end <= key:
        return ()
    return keys.irange(key, range_end, inclusive=(True, False))  # type: ignore[no-any-return]
