"""Metadata trees: nested directories read from the flat store keys, and JSON values flattened back (pure).

Rules:
1. A tree node is a ``str`` (a value) or a ``dict`` of segment -> node (a
   directory). ``subtree(view, leaf_key, children_root)`` reads one from a
   ``KeyView`` by bisection: it costs the size of the answer, not of the store.
2. Empty segments in keys are skipped (``/a//b`` is ``/a/b``). When a key
   is both a value and a directory (``/a`` and ``/a/b`` both exist), the
   directory wins; the service's own writes never create that.
3. ``flatten_value`` is metad's write rule: an object's members and an
   array's items (``/0``, ``/1``, ...) become path segments; strings stay,
   booleans are ``true``/``false``, numbers print as Go prints them, ``null``
   is ``""``; empty objects and arrays write nothing. A member name must be a
   path segment: not empty, not ``.`` or ``..``, no ``/``.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TypeAlias

from confagent.errors import MetadRequestError
from confagent.render import KeyView, prefix_end

__all__ = ["Node", "flatten_value", "key_range_end", "leaves", "scalar_text", "subtree"]

Node: TypeAlias = "str | dict[str, Node]"
"""A value, or a directory of segment -> node."""


def key_range_end(start: str) -> str:
    """The end of the key range of every key starting with ``start`` (which ends in ``/``)."""
    end = prefix_end(start)
    assert end is not None and start.endswith("/"), start
    return end


def subtree(view: KeyView, leaf_key: str | None, children_root: str,
            hidden: Callable[[str], bool] | None = None) -> Node | None:
    """The node at ``leaf_key`` / under ``children_root`` (rule 1); None when neither holds a key.

    Args:
        view: the keys at one revision.
        leaf_key: the key holding the node's own value (None: a directory only, the root).
        children_root: the node's children's keys start with this (it ends in ``/``).
        hidden: keys for which this is true are left out (the reserved keys).
    """
    keys = view.sorted_keys
    first = bisect_left(keys, children_root)
    last = bisect_left(keys, key_range_end(children_root), first)
    if first == last:
        return view.get(leaf_key) if leaf_key is not None else None
    root: dict[str, Node] = {}
    cut = len(children_root)
    for index in range(first, last):
        key = keys[index]
        if hidden is not None and hidden(key):
            continue
        _insert(root, [s for s in key[cut:].split("/") if s], view[key])
    if not root:
        return view.get(leaf_key) if leaf_key is not None else None
    return root


def _insert(root: dict[str, Node], segments: list[str], value: str) -> None:
    """Put ``value`` at ``segments`` below ``root``; a directory wins over a value (rule 2)."""
    if not segments:
        return
    node = root
    for segment in segments[:-1]:
        child = node.get(segment)
        if not isinstance(child, dict):
            child = node[segment] = {}
        node = child
    if not isinstance(node.get(segments[-1]), dict):
        node[segments[-1]] = value


def leaves(node: Node, path: str = "") -> Iterator[tuple[str, str]]:
    """``(path, value)`` of every value in ``node``, paths relative to it (``""`` for a bare value)."""
    if isinstance(node, str):
        yield path, node
        return
    for name in sorted(node):
        yield from leaves(node[name], f"{path}/{name}")


def flatten_value(path: str, value: Any) -> dict[str, str]:
    """The data paths and values that writing JSON ``value`` at ``path`` puts (rule 3).

    Raises:
        MetadRequestError: a member name is not a path segment.
    """
    flat: dict[str, str] = {}
    _flatten_into(flat, "" if path == "/" else path, value)
    return flat


def _flatten_into(flat: dict[str, str], path: str, value: Any) -> None:
    if isinstance(value, dict):
        for name, child in value.items():
            if not name or name in (".", "..") or "/" in name:
                raise MetadRequestError(f"{name!r} under {path or '/'} is not a path segment "
                                        f"(not empty, not '.' or '..', no '/')")
            _flatten_into(flat, f"{path}/{name}", child)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _flatten_into(flat, f"{path}/{index}", child)
    else:
        flat[path or "/"] = scalar_text(value)


def scalar_text(value: Any) -> str:
    """A JSON scalar as metad stores it: strings as they are, ``true``/``false``, numbers as Go's
    ``strconv.FormatFloat(v, 'f', -1, 64)`` prints them (``1e3`` is ``1000``), ``null`` as ``""``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MetadRequestError(f"{value} is not a JSON number")
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    assert isinstance(value, str), f"not a JSON scalar: {value!r}"
    return value
