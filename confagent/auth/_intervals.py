"""Key intervals as etcd's permission check sees them, merged into one sorted union per user and kind.

Rules (etcd 3.4's ``range_perm_cache.go`` over ``pkg/adt``'s bytes-affine intervals):

- Keys compare as bytes, except that the empty key is greater than every other
  (it stands for "no end"): ``[k, b"")`` is every key from ``k`` on.
- A single key ``k`` is the interval ``[k, k + b"\\0")``.
- A permission's ``range_end`` ``b"\\0"`` means "no end"; an empty one, its key alone.
  A request's ``range_end`` ``b"\\0"`` means "no end" too; an empty one, its key alone.
- A range is allowed when the user's intervals of that kind cover all of it
  (``IntervalTree.Contains``), a single key when one of them holds it
  (``IntervalTree.Intersects``).

etcd walks a red-black tree of the intervals as granted; this merges them once
into disjoint sorted intervals (:func:`union`, what a cache keeps per user) and
answers by bisection. Both answer alike for every request that names a key
(a brute-force model and a real etcd agree, tests/auth). An interval whose end
is not above its begin (a grant on ``[b, a)``, or on the empty key) holds no
key and adds nothing. A request range whose end is not above its key names no
key: etcd's answer then depends on its tree's shape, one way or the other; it
is always refused here.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Interval", "Union", "interval", "union"]

Interval = tuple[bytes, bytes]
"""``(begin, end)``; an empty ``end`` is greater than every key."""


def _below(a: bytes, b: bytes) -> bool:
    """``a < b``, the empty key above all (etcd's ``BytesAffineComparable``)."""
    return bool(a) and (not b or a < b)


def interval(key: bytes, range_end: bytes) -> Interval:
    """The interval a permission (or a request) names: a key alone, a range, or from a key on."""
    if not range_end:
        return key, key + b"\0"
    return key, b"" if range_end == b"\0" else range_end


@dataclass(frozen=True, slots=True)
class Union:
    """Disjoint intervals, sorted, none touching the next: ``begins[i]`` to ``ends[i]``."""

    begins: tuple[bytes, ...] = ()
    ends: tuple[bytes, ...] = ()

    def holds(self, key: bytes, range_end: bytes) -> bool:
        """Whether the union holds every key of ``[key, range_end)`` (a request's, as :func:`interval`
        reads it), and that range names at least one key."""
        begin, end = interval(key, range_end)
        if not _below(begin, end):
            return False
        at = bisect.bisect_right(self.begins, begin) - 1
        return at >= 0 and not _below(self.ends[at], end)


def union(intervals: Iterable[Interval]) -> Union:
    """The keys of ``intervals`` as disjoint sorted intervals (those holding no key dropped)."""
    begins: list[bytes] = []
    ends: list[bytes] = []
    for begin, end in sorted(item for item in intervals if _below(*item)):
        if ends and not _below(ends[-1], begin):  # overlaps or touches the last one
            if _below(ends[-1], end):
                ends[-1] = end
        else:
            begins.append(begin)
            ends.append(end)
    return Union(tuple(begins), tuple(ends))
