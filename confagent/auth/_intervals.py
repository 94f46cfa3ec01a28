"""Key intervals as etcd's permission check sees them (``pkg/adt``'s bytes-affine intervals).

Rules (etcd 3.4's ``range_perm_cache.go`` over ``adt.IntervalTree``):

- Keys compare as bytes, except that the empty key is greater than every other
  (it stands for "no end"): ``[k, b"")`` is every key from ``k`` on.
- A single key ``k`` is the interval ``[k, k + b"\\0")``.
- A permission's ``range_end`` ``b"\\0"`` means "no end"; an empty one, its key alone.
  A request's ``range_end`` ``b"\\0"`` means "no end" too; an empty one, its key alone.
- Two intervals overlap unless one lies wholly left of the other, as etcd's
  ``Interval.Compare`` decides it (also for ill-formed ones, whose end is not
  above their begin).
- A range is allowed when the intervals overlapping it, in ascending order of
  their begin (ties in the order they were added), join without a gap and
  reach from its begin to its end (``IntervalTree.Contains``); a single key,
  when some interval overlaps it (``IntervalTree.Intersects``).

etcd walks a red-black tree; this scans a sorted tuple, which gives the same
answers for every well-formed interval. For an ill-formed request range (its
end not above its begin, so it names no key) etcd's answer depends on the
tree's shape, one way or the other: such a range is always refused here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["Interval", "contains", "intersects", "interval", "point", "sorted_intervals"]

Interval = tuple[bytes, bytes]
"""``(begin, end)``; an empty ``end`` (or ``begin``) is greater than every key."""


def _compare(a: bytes, b: bytes) -> int:
    """etcd's ``BytesAffineComparable.Compare``: bytes order, the empty key above all."""
    if not a:
        return 0 if not b else 1
    if not b:
        return -1
    return (a > b) - (a < b)


def _overlaps(query: Interval, other: Interval) -> bool:
    """etcd's ``Interval.Compare(query, other) == 0``."""
    if _compare(query[0], other[0]) < 0 and _compare(query[1], other[0]) <= 0:
        return False  # query lies left of other
    return _compare(query[0], other[1]) < 0  # else it lies right of other


def point(key: bytes) -> Interval:
    """The interval holding ``key`` alone."""
    return key, key + b"\0"


def interval(key: bytes, range_end: bytes) -> Interval:
    """The interval a permission (or a request) names: a key alone, a range, or from a key on."""
    if not range_end:
        return point(key)
    return key, b"" if range_end == b"\0" else range_end


def _begin_order(item: Interval) -> tuple[bool, bytes]:
    return not item[0], item[0]


def sorted_intervals(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """``intervals`` in ascending order of begin, ties kept in their given order (etcd's in-order walk)."""
    return tuple(sorted(intervals, key=_begin_order))


def intersects(intervals: Sequence[Interval], query: Interval) -> bool:
    """Whether some interval overlaps ``query``."""
    return any(_overlaps(query, item) for item in intervals)


def contains(intervals: Sequence[Interval], query: Interval) -> bool:
    """Whether ``intervals`` (from :func:`sorted_intervals`) cover ``query`` without a gap.

    An ill-formed ``query`` (its end not above its begin: no key at all) is never covered.
    """
    if _compare(query[0], query[1]) >= 0:
        return False
    low: bytes | None = None
    high = b""
    for item in intervals:
        if not _overlaps(query, item):
            continue
        if low is None:
            low, high = item
        elif _compare(high, item[0]) < 0:
            return False
        elif _compare(item[1], high) > 0:
            high = item[1]
    return low is not None and _compare(high, query[1]) >= 0 and _compare(low, query[0]) <= 0
