"""What each management write puts and deletes in the store, as etcd txns (pure).

Rules:
1. The data and each host's mapping are trees stored one key per value
   (``_tree.py``). PUT merges: the values given are written, the others
   kept; a value written where a directory was replaces the directory, and a
   directory written where a value was replaces the value, so the stored
   keys always form a tree.
2. POST replaces: the subtree at the path becomes exactly what is given.
   It is ONE txn: the deletions are the ranges *between* the keys written
   (etcd refuses a txn that puts a key inside a range it deletes), so no
   reader ever sees the subtree half-replaced (metad deletes, then puts).
3. DELETE removes the node at the path, or only its children named in
   ``subs`` (names, not paths; empty names are ignored). Deleting the data
   root never deletes the service's own keys.
4. A write needing more than ``MAX_TXN_OPS`` operations is split into
   several txns, applied in order: a replace then deletes the subtree first
   and puts the values after; readers may see the steps in between.
5. A plan is computed from the state's keys (for rule 1's conflicts), but
   needs none of them to be correct for rules 2 and 3.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson

from confagent.errors import MetadRequestError
from confagent.kv import MAX_TXN_OPS, DeleteRangeRequest, PutRequest, RequestOp, TxnRequest
from confagent.metad._access import AccessRule
from confagent.metad._paths import RESERVED_ROOT, Layout, clean_path, path_segments
from confagent.metad._tree import key_range_end
from confagent.render import KeyView

__all__ = ["Space", "WritePlan", "delete_plan", "merge_plan", "replace_plan", "rules_delete_plan",
           "rules_set_plan"]

_Interval = tuple[str, str]


@dataclass(frozen=True, slots=True)
class WritePlan:
    """The txns of one write, to apply in order (one, unless rule 4 splits it)."""

    txns: tuple[TxnRequest, ...] = ()

    @classmethod
    def of(cls, deletes: Sequence[RequestOp], puts: Sequence[RequestOp], *, atomic_first: bool) -> WritePlan:
        """One txn if it fits; else the deletes, then the puts, in chunks (rule 4)."""
        ops = [*deletes, *puts]
        if len(ops) <= MAX_TXN_OPS or not atomic_first:
            chunks = _chunks(ops)
        else:
            chunks = [list(deletes), *_chunks(puts)]
        return cls(tuple(TxnRequest(success=tuple(chunk)) for chunk in chunks if chunk))

    def changes_nothing(self, view: KeyView) -> bool:
        """True when applying the plan to ``view`` leaves every value as it is (a repeated write)."""
        for txn in self.txns:
            for op in txn.success:
                if isinstance(op, PutRequest) and view.get(op.key.decode()) != op.value.decode():
                    return False
                if isinstance(op, DeleteRangeRequest):
                    start = op.key.decode()
                    if start in view or (op.range_end and _holds_any(view, start, op.range_end.decode())):
                        return False
        return True


@dataclass(frozen=True, slots=True)
class Space:
    """A tree of paths stored under ``root`` (the data, or the mappings), minus ``excluded`` keys.

    Attributes:
        root: the store key of path ``/`` (``""`` for data with no prefix).
        excluded: key intervals ``[start, end)`` inside the root that belong to someone else.
    """

    root: str
    excluded: tuple[_Interval, ...] = ()

    @classmethod
    def data(cls, layout: Layout) -> Space:
        if layout.prefix:
            return cls(layout.prefix)
        return cls("", ((RESERVED_ROOT, RESERVED_ROOT + "\0"),  # the reserved key and its subtree
                        (RESERVED_ROOT + "/", key_range_end(RESERVED_ROOT + "/"))))

    @classmethod
    def mappings(cls, layout: Layout) -> Space:
        return cls(layout.mapping_root.rstrip("/"))

    def key(self, path: str) -> str:
        return self.root + path

    def subtree(self, path: str) -> tuple[str | None, _Interval]:
        """The key of ``path``'s own value (None for the root) and the interval of its children."""
        start = (self.root if path == "/" else self.key(path)) + "/"
        return (None if path == "/" else self.key(path)), (start, key_range_end(start))


def merge_plan(space: Space, view: KeyView, values: Mapping[str, str]) -> WritePlan:
    """Write ``values`` (path -> value) into ``space``, keeping the rest (rule 1)."""
    _check_no_root_value(values)
    deletes: dict[str, RequestOp] = {}
    for path in values:
        for ancestor in _ancestors(path):
            key = space.key(ancestor)
            if ancestor not in values and key in view:
                deletes[key] = DeleteRangeRequest(key.encode())
        _, (start, end) = space.subtree(path)
        if _holds_any(view, start, end):
            deletes[start] = DeleteRangeRequest(start.encode(), end.encode())
    return WritePlan.of(list(deletes.values()), _puts(space, values), atomic_first=False)


def replace_plan(space: Space, view: KeyView, path: str, values: Mapping[str, str]) -> WritePlan:
    """Make the subtree at ``path`` exactly ``values`` (rule 2)."""
    _check_no_root_value(values)
    own, children = space.subtree(path)
    holes = sorted([*((space.key(p), space.key(p) + "\0") for p in values), *space.excluded])
    deletes: list[RequestOp] = [DeleteRangeRequest(s.encode(), e.encode()) for s, e in _gaps(children, holes)]
    if own is not None and path not in values:
        deletes.append(DeleteRangeRequest(own.encode()))
    deletes += [DeleteRangeRequest(space.key(a).encode()) for a in _ancestors(path) if space.key(a) in view]
    plan = WritePlan.of(deletes, _puts(space, values), atomic_first=True)
    if len(plan.txns) > 1:  # too big for one txn: delete everything first, then put (rule 4)
        return WritePlan.of(_subtree_deletes(space, path), _puts(space, values), atomic_first=True)
    return plan


def delete_plan(space: Space, path: str, subs: Iterable[str] = ()) -> WritePlan:
    """Remove the node at ``path``, or only its children named in ``subs`` (rule 3).

    Raises:
        MetadRequestError: a sub is a path rather than a name.
    """
    names = [name for name in subs if name]
    for name in names:
        if "/" in name or name in (".", ".."):
            raise MetadRequestError(f"sub node must not be a path: {name!r}")
    targets = [clean_path(f"{path}/{name}") for name in names] if names else [path]
    ops = [op for target in targets for op in _subtree_deletes(space, target)]
    return WritePlan.of(ops, (), atomic_first=False)


def rules_set_plan(layout: Layout, rules: Mapping[str, Sequence[AccessRule]]) -> WritePlan:
    """Set each listed host's rules (a whole-host replace)."""
    puts: list[RequestOp] = [
        PutRequest(layout.rule_key(ip).encode(), orjson.dumps([rule.to_json() for rule in host_rules]))
        for ip, host_rules in rules.items()]
    return WritePlan.of((), puts, atomic_first=False)


def rules_delete_plan(layout: Layout, hosts: Iterable[str]) -> WritePlan:
    return WritePlan.of([DeleteRangeRequest(layout.rule_key(ip).encode()) for ip in hosts], (),
                        atomic_first=False)


def _chunks(ops: Sequence[RequestOp]) -> list[list[RequestOp]]:
    return [list(ops[i:i + MAX_TXN_OPS]) for i in range(0, len(ops), MAX_TXN_OPS)]


def _subtree_deletes(space: Space, path: str) -> list[RequestOp]:
    own, children = space.subtree(path)
    ops: list[RequestOp] = [DeleteRangeRequest(s.encode(), e.encode())
                            for s, e in _gaps(children, list(space.excluded))]
    if own is not None:
        ops.append(DeleteRangeRequest(own.encode()))
    return ops


def _gaps(interval: _Interval, holes: Sequence[_Interval]) -> list[_Interval]:
    """``interval`` minus the sorted, disjoint ``holes``, as non-empty intervals."""
    start, end = interval
    gaps: list[_Interval] = []
    for hole_start, hole_end in holes:
        if hole_end <= start or hole_start >= end:
            continue
        if hole_start > start:
            gaps.append((start, hole_start))
        start = max(start, hole_end)
    if start < end:
        gaps.append((start, end))
    return gaps


def _puts(space: Space, values: Mapping[str, str]) -> list[RequestOp]:
    return [PutRequest(space.key(path).encode(), value.encode()) for path, value in sorted(values.items())]


def _ancestors(path: str) -> list[str]:
    """The paths strictly between ``/`` and ``path``: ``/a/b/c`` -> ``['/a', '/a/b']``."""
    segments = path_segments(path)
    return ["/" + "/".join(segments[:n]) for n in range(1, len(segments))]


def _holds_any(view: KeyView, start: str, end: str) -> bool:
    keys = view.sorted_keys
    index = bisect_left(keys, start)
    return index < len(keys) and keys[index] < end


def _check_no_root_value(values: Mapping[str, str]) -> None:
    if "/" in values:
        raise MetadRequestError("the root is a directory: write a JSON object there, not a value")
