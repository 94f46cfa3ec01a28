"""What one template resource sees of the store: its prefix and its keys (confd.md §5).

Rules:
1. The prefix gets a leading ``/`` and is cleaned, so ``"myapp"``,
   ``"/myapp"`` and ``"/myapp/"`` are the same prefix.
2. Each resource key is joined to the prefix as Go's ``path.Join`` does; the
   resource sees a store key ``k`` when ``k`` equals such a root or starts
   with the root plus ``/`` (``/app`` holds ``/app/x`` but not ``/apple``).
   A ``/*`` suffix is literal, as with confd's etcd backend; with
   ``strip_star`` (confd's redis backend) every ``/*`` in a key is removed
   first, so ``/app/*`` is ``/app``. Roots that ``..`` moves out of the
   prefix are dropped.
3. Templates name keys *relative to the prefix*, always with a leading ``/``:
   with prefix ``/myapp`` the template key ``/db/url`` is the store key
   ``/myapp/db/url``, and ``/`` is ``/myapp`` itself. A template key without
   the leading ``/`` names nothing (confd's lookups are exact).
4. The visible keys are a few disjoint half-open intervals of key order, one
   pair per root, so ranges over a big store are clipped by bisection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from confagent.render._paths import clean, prefix_end

__all__ = ["Interval", "Scope", "subtree"]

Interval = tuple[str, str | None]
"""Keys ``k`` with ``low <= k < high`` (``high`` None: no upper bound)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """A template resource's ``prefix`` and ``keys``, normalized as confd joins them.

    Args:
        prefix: the resource prefix (or the global one that replaces it).
        keys: the resource's keys, relative to the prefix; ``("/",)`` sees
            everything under the prefix.
        strip_star: remove every ``/*`` from the keys first (rule 2).
    """

    prefix: str = "/"
    keys: Sequence[str] = ("/",)
    strip_star: bool = False
    prefix_path: str = field(init=False)
    """The cleaned prefix, always starting with ``/``."""
    roots: tuple[str, ...] = field(init=False)
    """The absolute keys the resource sees, with their subtrees; none inside another."""
    _intervals: tuple[Interval, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        assert not isinstance(self.keys, str), "keys is a sequence of keys, not one key"
        object.__setattr__(self, "keys", tuple(self.keys))
        prefix_path = clean("/" + self.prefix)
        object.__setattr__(self, "prefix_path", prefix_path)
        keys = (key.replace("/*", "") for key in self.keys) if self.strip_star else self.keys
        roots = _outermost(_join(prefix_path, key) for key in keys)
        inside = tuple(root for root in roots if _is_within(root, prefix_path))
        object.__setattr__(self, "roots", inside)
        intervals = sorted(interval for root in inside for interval in subtree(root))
        object.__setattr__(self, "_intervals", tuple(intervals))

    def absolute(self, key: str) -> str | None:
        """The store key a template key names; None when it names nothing (no leading ``/``)."""
        if not key.startswith("/"):
            return None
        if self.prefix_path == "/":
            return key
        return self.prefix_path if key == "/" else self.prefix_path + key

    def relative(self, store_key: str) -> str:
        """The template key of a store key this scope covers (the inverse of ``absolute``)."""
        if self.prefix_path == "/":
            return store_key
        return "/" if store_key == self.prefix_path else store_key[len(self.prefix_path) :]

    def relative_keys(self, store_keys: Sequence[str]) -> Iterable[str]:
        """``relative`` of each of ``store_keys``, in order: the keys themselves under the root prefix, with
        no Python call per key."""
        if self.prefix_path == "/":
            return store_keys
        return map(self.relative, store_keys)

    def covers(self, store_key: str) -> bool:
        """Whether the resource sees ``store_key``."""
        return any(_is_within(store_key, root) for root in self.roots)

    def clip(self, low: str, high: str | None) -> list[Interval]:
        """The visible parts of the key interval ``[low, high)``, in key order."""
        clipped: list[Interval] = []
        for start, end in self._intervals:
            lower = max(low, start)
            upper = end if high is None else (high if end is None else min(high, end))
            if upper is None or lower < upper:
                clipped.append((lower, upper))
        return clipped


def subtree(store_key: str) -> tuple[Interval, ...]:
    """The key itself and every key below it (``key/...``), as intervals."""
    if store_key == "/":
        return (("/", prefix_end("/")),)
    below = store_key + "/"
    return ((store_key, store_key + "\x00"), (below, prefix_end(below)))


def _join(prefix_path: str, key: str) -> str:
    """Go's ``path.Join(prefix, key)``."""
    return clean(f"{prefix_path}/{key}") if key else prefix_path


def _is_within(store_key: str, root: str) -> bool:
    return root in ("/", store_key) or store_key.startswith(root + "/")


def _outermost(roots: Iterable[str]) -> tuple[str, ...]:
    kept: list[str] = []
    for root in sorted(set(roots)):
        if not any(_is_within(root, outer) for outer in kept):
            kept.append(root)
    return tuple(kept)
