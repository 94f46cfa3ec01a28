"""Reads of the key index as etcd 3.4's applier does them: ranges and txn compares.

Range rules (``applierV3backend.Range`` and ``store.rangeKeys``):
1. ``count`` is every key in the range at the read revision: before ``limit``
   and before the min/max mod/create-revision filters.
2. With ``sort_order`` NONE and no filter, only ``limit + 1`` keys are read (in
   key order); a non-KEY ``sort_target`` then sorts those, ASCEND. Otherwise
   every key is read, filtered, sorted and cut to ``limit``.
3. ``more`` is true when the cut removed something; ``keys_only`` drops
   values after sorting (a VALUE sort still sees them).
4. Ties keep ascending key order. Go's ``sort.Sort`` keeps them too up to 12
   items (insertion sort) and for already-ordered input; for longer results
   with equal sort keys etcd's tie order may differ from ours.

Compare rules (``applyCompare``): every key in the compare's range must
satisfy it; an empty range compares one missing key, whose version, create,
mod and lease are 0 and whose VALUE compare is always false. An operand of
the wrong kind for the target counts as that target's zero.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from operator import attrgetter

from confagent.kv._index import KeyIndex
from confagent.kv._messages import (
    Compare,
    CompareResult,
    CompareTarget,
    KeyValue,
    RangeRequest,
    RangeResponse,
    SortOrder,
    SortTarget,
)

__all__ = ["compare_holds", "read_range"]

_SORT_KEYS: dict[int, Callable[[KeyValue], object]] = {
    SortTarget.KEY: attrgetter("key"),
    SortTarget.VERSION: attrgetter("version"),
    SortTarget.CREATE: attrgetter("create_revision"),
    SortTarget.MOD: attrgetter("mod_revision"),
    SortTarget.VALUE: attrgetter("value"),
}
_MISSING = KeyValue(key=b"", create_revision=0, mod_revision=0, version=0)


def read_range(index: KeyIndex, request: RangeRequest, revision: int, latest: bool,
               header_revision: int) -> RangeResponse:
    """Answer ``request`` at ``revision`` (already checked against compaction).

    Args:
        latest: ``revision`` is at least the newest change in ``index``.
        header_revision: what the response's header names.
    """
    key, range_end = request.key, request.range_end
    found = index.visible(key, range_end, revision, latest)
    if request.count_only:
        count = index.count_live(key, range_end) if latest else sum(1 for _ in found)
        return RangeResponse(count=count, header_revision=header_revision)
    filtered = bool(request.min_mod_revision or request.max_mod_revision
                    or request.min_create_revision or request.max_create_revision)
    limit = request.limit
    if request.sort_order != SortOrder.NONE or filtered or limit <= 0:
        kvs = list(found)
        count = len(kvs)
    else:
        kvs = list(islice(found, limit + 1))
        count = index.count_live(key, range_end) if latest else len(kvs) + sum(1 for _ in found)
    if filtered:
        kvs = _filtered(kvs, request)
    kvs = _sorted(kvs, request)
    more = 0 < limit < len(kvs)
    if more:
        del kvs[limit:]
    if request.keys_only:
        kvs = [KeyValue(kv.key, kv.create_revision, kv.mod_revision, kv.version, b"", kv.lease)
               for kv in kvs]
    return RangeResponse(kvs=tuple(kvs), more=more, count=count,
                         header_revision=header_revision)


def _filtered(kvs: list[KeyValue], request: RangeRequest) -> list[KeyValue]:
    low_mod, high_mod = request.min_mod_revision, request.max_mod_revision
    low_create, high_create = request.min_create_revision, request.max_create_revision
    return [
        kv for kv in kvs
        if not (high_mod and kv.mod_revision > high_mod)
        and not (low_mod and kv.mod_revision < low_mod)
        and not (high_create and kv.create_revision > high_create)
        and not (low_create and kv.create_revision < low_create)
    ]


def _sorted(kvs: list[KeyValue], request: RangeRequest) -> list[KeyValue]:
    order, target = request.sort_order, request.sort_target
    if order == SortOrder.NONE and target != SortTarget.KEY:
        order = SortOrder.ASCEND
    if order == SortOrder.NONE or (order == SortOrder.ASCEND and target == SortTarget.KEY):
        return kvs  # the index already reads in ascending key order
    sort_key = _SORT_KEYS.get(target)
    if sort_key is None or order not in (SortOrder.ASCEND, SortOrder.DESCEND):
        return kvs
    return sorted(kvs, key=sort_key, reverse=order == SortOrder.DESCEND)  # type: ignore[arg-type]


def compare_holds(index: KeyIndex, compare: Compare) -> bool:
    """Whether ``compare`` holds for every key of its range at the current revision."""
    if not compare.range_end:
        found = index.live(compare.key)
        kvs: list[KeyValue] = [found] if found is not None else []
    else:
        kvs = list(index.visible(compare.key, compare.range_end, 0, latest=True))
    if not kvs:
        if compare.target == CompareTarget.VALUE:
            return False
        kvs = [_MISSING]
    return all(_compare_one(compare, kv) for kv in kvs)


def _compare_one(compare: Compare, kv: KeyValue) -> bool:
    target, operand = compare.target, compare.operand
    if target == CompareTarget.VALUE:
        value = operand if isinstance(operand, bytes) else b""
        sign = (kv.value > value) - (kv.value < value)
    else:
        actual = _INT_TARGETS[target](kv)
        number = operand if isinstance(operand, int) else 0
        sign = (actual > number) - (actual < number)
    return _RESULTS[compare.result](sign)


_INT_TARGETS: dict[int, Callable[[KeyValue], int]] = {
    CompareTarget.VERSION: attrgetter("version"),
    CompareTarget.CREATE: attrgetter("create_revision"),
    CompareTarget.MOD: attrgetter("mod_revision"),
    CompareTarget.LEASE: attrgetter("lease"),
}
_RESULTS: dict[int, Callable[[int], bool]] = {
    CompareResult.EQUAL: lambda sign: sign == 0,
    CompareResult.NOT_EQUAL: lambda sign: sign != 0,
    CompareResult.GREATER: lambda sign: sign > 0,
    CompareResult.LESS: lambda sign: sign < 0,
}
