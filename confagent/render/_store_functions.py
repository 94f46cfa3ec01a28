"""confd's store functions (memkv): ``exists get gets getv getvs ls lsdir`` (confd.md §4.1, §5).

Each render gets its own ``StoreFunctions`` over one ``KeyView`` and one
``Scope``, and writes what it read into a ``ReadLog``. Template keys are
relative to the prefix and exact (see ``Scope``). Differences from confd:

* ``gets``/``getvs``/``ls``/``lsdir`` take ``required=True`` to fail instead of
  returning an empty list (confd.md §10.6), and a malformed pattern is always
  an error, even on an empty store.
* ``ls "/"`` and ``lsdir "/"`` list the top level (memkv compares path terms
  so that the root lists only top-level leaves).
* Keys are used verbatim: a store key ``/a/`` is the template key ``/a/``
  (confd cleans it to ``/a``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any

from confagent.errors import RenderError
from confagent.render._paths import base, clean, compile_glob_rest, literal_prefix, prefix_end
from confagent.render._reads import ReadLog
from confagent.render._scope import Scope, subtree
from confagent.render._view import KeyView

__all__ = ["KVPair", "StoreFunctions", "require_str"]

_AFTER_SLASH = chr(ord("/") + 1)
"""``key + "/"`` starts a key's subtree and ``key + _AFTER_SLASH`` ends it."""


@dataclass(frozen=True, slots=True)
class KVPair:
    """A key (relative to the prefix) and its value; Go's field names, plus lowercase ones.

    Iterating gives ``(key, value)``, so ``{% for k, v in gets("/a/*") %}`` works.
    """

    Key: str
    Value: str

    # properties whose getter is C (attrgetter): a template reads them for every pair it prints
    key = property(attrgetter("Key"), doc="``Key``.")
    value = property(attrgetter("Value"), doc="``Value``.")

    def __iter__(self) -> Iterator[str]:
        yield self.Key
        yield self.Value


_new = object.__new__
_set_key: Callable[[KVPair, str], None] = vars(KVPair)["Key"].__set__  # the slots' descriptors
_set_value: Callable[[KVPair, str], None] = vars(KVPair)["Value"].__set__


def _pair(key: str, value: str) -> KVPair:
    """``KVPair(key, value)``, its slots filled directly: a frozen dataclass's ``__init__`` sets each field
    through ``object.__setattr__``, 1.1 us a pair against 0.65 (``gets`` makes one per key it returns:
    10,000 for the small one-shot, 100,000 for the large)."""
    pair = _new(KVPair)
    _set_key(pair, key)
    _set_value(pair, value)
    return pair


class StoreFunctions:
    """The store functions of one render, bound to its view, scope and read log."""

    __slots__ = ("_log", "_scope", "_view")

    def __init__(self, view: KeyView, scope: Scope, log: ReadLog) -> None:
        self._view = view
        self._scope = scope
        self._log = log

    def functions(self) -> dict[str, Callable[..., Any]]:
        """The functions under confd's names."""
        return {
            "exists": self.exists, "get": self.get, "gets": self.gets, "getv": self.getv,
            "getvs": self.getvs, "ls": self.ls, "lsdir": self.lsdir,
        }

    def exists(self, key: str) -> bool:
        """Whether ``key`` is in the store (exact match)."""
        return self._lookup("exists", key) is not None

    def get(self, key: str) -> KVPair:
        """The pair of ``key``; an error when it is missing."""
        value = self._lookup("get", key)
        if value is None:
            raise self._missing(key)
        return KVPair(key, value)

    def getv(self, key: str, default: object = None) -> str:
        """The value of ``key``; ``default`` (even ``""``) when it is missing, else an error."""
        value = self._lookup("getv", key)
        if value is not None:
            return value
        if default is None:
            raise self._missing(key)
        return str(default)

    def gets(self, pattern: str, required: bool = False) -> list[KVPair]:
        """The pairs whose key matches the glob ``pattern``, sorted by key."""
        literal, rest = compile_glob_rest(require_str("gets", pattern))
        start, match = len(literal), rest.fullmatch  # every key scanned starts with the literal
        pairs = [_pair(key, value) for key, value in self._scan(pattern) if match(key, start)]
        if required and not pairs:
            raise RenderError(f"gets: no keys match {pattern}", key=pattern)
        return pairs

    def getvs(self, pattern: str, required: bool = False) -> list[str]:
        """The values of the keys matching ``pattern``, sorted by value (not by key)."""
        literal, rest = compile_glob_rest(require_str("getvs", pattern))
        start, match = len(literal), rest.fullmatch  # every key scanned starts with the literal
        values = sorted(value for key, value in self._scan(pattern) if match(key, start))
        if required and not values:
            raise RenderError(f"getvs: no keys match {pattern}", key=pattern)
        return values

    def ls(self, path: str, required: bool = False) -> list[str]:
        """The sorted names below ``path``; a leaf lists its own name."""
        leaves, dirs = self._children("ls", path, leaf_itself=True)
        if required and not (leaves or dirs):
            raise RenderError(f"ls: nothing under {path}", key=path)
        return sorted(leaves | dirs)

    def lsdir(self, path: str, required: bool = False) -> list[str]:
        """The sorted names below ``path`` that have keys below them."""
        _, dirs = self._children("lsdir", path, leaf_itself=False)
        if required and not dirs:
            raise RenderError(f"lsdir: no directories under {path}", key=path)
        return sorted(dirs)

    def _lookup(self, function: str, key: str) -> str | None:
        store_key = self._scope.absolute(require_str(function, key))
        if store_key is None or not self._scope.covers(store_key):
            return None
        self._log.key(store_key)
        return self._view.get(store_key)

    def _missing(self, key: str) -> RenderError:
        store_key = self._scope.absolute(key)
        if store_key is None:
            detail = " (template keys start with '/')"
        elif not self._scope.covers(store_key):
            detail = " (outside the resource's keys)"
        elif store_key != key:
            detail = f" (store key {store_key})"
        else:
            detail = ""
        return RenderError(f"key not found: {key}{detail}", key=key)

    def _scan(self, pattern: str) -> Iterable[tuple[str, str]]:
        """(template key, value) of every visible key that starts with the pattern's literal part: zips over
        slices of the view's keys, with no Python frame per key (``gets`` reads 100,000 in the large
        one-shot). The reads are logged when it is called."""
        literal = literal_prefix(pattern)
        if literal in ("", "/"):
            intervals = subtree(self._scope.prefix_path)
            self._log.key(self._scope.prefix_path)
            self._log.prefix(intervals[-1][0])
        elif literal.startswith("/"):
            start = self._scope.prefix_path.rstrip("/") + literal
            intervals = ((start, prefix_end(start)),)
            self._log.prefix(start)
        else:
            return ()
        keys, scope = self._view.sorted_keys, self._scope
        parts = []
        for wanted in intervals:
            for low, high in scope.clip(*wanted):
                first, last = self._indexes(low, high)
                found = keys[first:last]
                parts.append(zip(scope.relative_keys(found), self._view.values_of(found), strict=True))
        return parts[0] if len(parts) == 1 else chain.from_iterable(parts)

    def _children(self, function: str, path: str, leaf_itself: bool) -> tuple[set[str], set[str]]:
        """Names of leaves and of directories directly below ``path`` (skipping whole subtrees)."""
        store_key = self._scope.absolute(require_str(function, path))
        if store_key is None:
            return set(), set()
        leaves: set[str] = set()
        if leaf_itself and path != "/" and self._scope.covers(store_key):
            self._log.key(store_key)
            if store_key in self._view:
                leaves.add(base(path))
        node = clean(store_key)
        below = node if node == "/" else node + "/"
        self._log.prefix(below)
        dirs: set[str] = set()
        keys = self._view.sorted_keys
        for low, high in self._scope.clip(below, prefix_end(below)):
            index, end = self._indexes(low, high)
            while index < end:
                name, slash, _ = keys[index][len(below) :].partition("/")
                if slash and name:  # a key further down: `name` is a directory, skip the rest of it
                    dirs.add(name)
                    index = bisect_left(keys, f"{below}{name}{_AFTER_SLASH}", index, end)
                    continue
                if name:
                    leaves.add(name)
                index += 1
        return leaves, dirs

    def _indexes(self, low: str, high: str | None) -> tuple[int, int]:
        """Where the keys ``low <= key < high`` are in ``sorted_keys``."""
        keys = self._view.sorted_keys
        return bisect_left(keys, low), len(keys) if high is None else bisect_left(keys, high)


def require_str(function: str, argument: object) -> str:
    """``argument`` if it is a string, else the render error a Go template would give."""
    if not isinstance(argument, str):
        raise RenderError(f"{function}: expected a string, got {type(argument).__name__}")
    return argument
