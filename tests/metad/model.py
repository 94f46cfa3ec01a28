"""Simple models for the metad core's property tests: a dict store that applies txns, a naive tree.

The models are written the obvious way (scan every key) so that the core's
bisection and incremental paths have something independent to agree with.
"""

from __future__ import annotations

from collections.abc import Mapping

from confagent.kv import DeleteRangeRequest, PutRequest, TxnRequest, validate
from confagent.metad import Layout, MetadState, Node
from confagent.render import KeyView


def apply_txn(store: dict[str, str], txn: TxnRequest) -> set[str]:
    """Apply ``txn`` (puts and range deletes) to ``store`` as etcd would; the keys whose value changed."""
    validate(txn)  # etcd refuses overlapping puts and deletes: so must the plans
    before = dict(store)
    for op in txn.success:
        if isinstance(op, PutRequest):
            store[op.key.decode()] = op.value.decode()
        elif isinstance(op, DeleteRangeRequest):
            start = op.key.decode()
            end = op.range_end.decode() if op.range_end else None
            for key in list(store):
                if (key == start) if end is None else (start <= key < end):
                    del store[key]
        else:
            raise AssertionError(f"a plan holds {op!r}")
    return {k for k in before.keys() | store.keys() if before.get(k) != store.get(k)}


def naive_tree(entries: Mapping[str, str], root: str) -> Node | None:
    """The node at key ``root`` from every key, by a scan (``root`` without a trailing ``/``)."""
    found: dict[str, Node] = {}
    for key in sorted(entries):
        if not key.startswith(root + "/"):
            continue
        segments = [s for s in key[len(root) + 1:].split("/") if s]
        if not segments:
            continue
        node = found
        for segment in segments[:-1]:
            child = node.get(segment)
            if not isinstance(child, dict):
                child = node[segment] = {}
            node = child
        if not isinstance(node.get(segments[-1]), dict):
            node[segments[-1]] = entries[key]
    if found:
        return found
    return entries.get(root) if root else None


def state_of(entries: Mapping[str, str], revision: int = 1, layout: Layout | None = None) -> MetadState:
    return MetadState(layout or Layout(), KeyView(entries, revision))
