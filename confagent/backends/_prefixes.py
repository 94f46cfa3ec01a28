"""Watched prefixes: the distinct ones, whether a key falls under them, and the key range that covers them.

Rules:
1. A prefix is a plain string prefix (etcd's ``--prefix``): ``/a`` covers
   ``/a/b`` and also ``/ab``; the empty prefix covers every key.
2. ``distinct_prefixes`` drops every prefix another one covers, so each key
   is under at most one kept prefix: one watch and one read per distinct
   prefix, shared by every resource that asked for it.
3. Among distinct prefixes, the only one that can cover a key is the greatest
   prefix not above it, so ``PrefixSet.covers`` is one bisection.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

from confagent.kv import FROM_KEY, prefix_range

__all__ = ["PrefixSet", "distinct_prefixes"]


def distinct_prefixes(prefixes: Iterable[str]) -> tuple[str, ...]:
    """The prefixes no other one covers, sorted: ``['/a/b', '/a', '/c']`` -> ``('/a', '/c')``."""
    kept: list[str] = []
    for prefix in sorted(set(prefixes)):
        if kept and prefix.startswith(kept[-1]):
            continue  # sorted order puts the covering prefix right before what it covers
        kept.append(prefix)
    return tuple(kept)


class PrefixSet:
    """Distinct prefixes, with membership of keys and the one key range covering them all."""

    __slots__ = ("prefixes",)

    def __init__(self, prefixes: Iterable[str]) -> None:
        self.prefixes = distinct_prefixes(prefixes)
        assert self.prefixes, "at least one prefix is needed"

    def covers(self, key: str) -> bool:
        """True when ``key`` starts with one of the prefixes."""
        position = bisect_right(self.prefixes, key)
        return position > 0 and key.startswith(self.prefixes[position - 1])

    def covering_range(self) -> tuple[bytes, bytes]:
        """The smallest etcd key range holding every key under every prefix."""
        ranges = [prefix_range(prefix.encode()) for prefix in self.prefixes]
        ends = [end for _, end in ranges]
        end = FROM_KEY if FROM_KEY in ends else max(ends)
        return ranges[0][0], end

    def __repr__(self) -> str:
        return f"PrefixSet({list(self.prefixes)!r})"
