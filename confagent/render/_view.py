"""The key-value data a render reads: every key of the cache at one revision.

Rules:
1. A view never changes: ``with_changes`` returns a new view, so a render that
   holds one sees exactly one revision (DESIGN.md: "One revision per render").
2. Keys are absolute store keys, kept verbatim (no cleaning): the prefix of a
   template resource is applied by its ``Scope`` at render time, so one view
   serves every template.
3. ``sorted_keys`` lists the keys in code-point order, which is etcd's byte
   order for UTF-8 keys; store functions bisect it for ranges and children
   instead of scanning every key.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping, Sequence

__all__ = ["KeyView"]

_PATCH_LIMIT = 64
"""Above this many added or removed keys, ``with_changes`` re-sorts instead of patching."""


class KeyView(Mapping[str, str]):
    """A read-only mapping of absolute key -> value at ``revision``, plus its keys in order.

    Args:
        entries: the keys and values (any mapping, or pairs).
        revision: the store revision the entries were read at.
    """

    __slots__ = ("_keys", "_revision", "_values")

    def __init__(
        self, entries: Mapping[str, str] | Iterable[tuple[str, str]] = (), revision: int = 0
    ) -> None:
        self._values: dict[str, str] = dict(entries)
        self._keys: list[str] = sorted(self._values)
        self._revision = revision

    @property
    def revision(self) -> int:
        """The store revision every entry was read at."""
        return self._revision

    @property
    def sorted_keys(self) -> Sequence[str]:
        """Every key in ascending order; do not modify."""
        return self._keys

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._values)

    def values_of(self, keys: Iterable[str]) -> Iterator[str]:
        """The values of ``keys``, each of which is in the view (``KeyError`` otherwise), in their order:
        for the store functions' scans, without a Python call per key."""
        return map(self._values.__getitem__, keys)

    def __repr__(self) -> str:
        return f"KeyView({len(self._values)} keys, revision={self._revision})"

    def with_changes(self, puts: Mapping[str, str], deletes: Iterable[str], revision: int) -> KeyView:
        """A new view: this one with ``puts`` written, then ``deletes`` removed, at ``revision``.

        Costs a copy of the key list plus O(log n) per changed key, so the
        agent can follow a watch without re-sorting the whole cache.
        """
        deleted = set(deletes)
        values = dict(self._values)
        values.update(puts)
        for key in deleted:
            values.pop(key, None)
        removed = [key for key in deleted if key in self._values]
        added = [key for key in puts if key not in self._values and key not in deleted]
        view = KeyView.__new__(KeyView)
        view._values = values
        view._revision = revision
        if len(added) + len(removed) > _PATCH_LIMIT:
            view._keys = sorted(values)
            return view
        keys = self._keys.copy()
        for key in removed:
            del keys[bisect_left(keys, key)]
        for key in added:
            insort(keys, key)
        view._keys = keys
        return view
