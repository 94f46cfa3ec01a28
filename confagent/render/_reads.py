"""What a render read, so the agent re-renders a template only when its inputs change.

Rules:
1. Keys are store keys (absolute). A key is recorded whether it existed or
   not: a later put of a missing key changes the output as much as an update.
2. A prefix stands for every key that starts with it (``gets``, ``getvs``,
   ``ls`` and ``lsdir`` read ranges). Prefixes are kept sorted with none
   inside another, so ``affected_by`` is one bisection.
3. The flags say the output also depends on the host: the clock
   (``datetime``), environment variables, DNS, or the file system. A render
   that used the clock differs every time; the agent decides what to do.
4. ``affected_by`` may say yes for a change the render would not notice (a
   superset), never no for one it would.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

__all__ = ["ReadLog", "Reads"]


@dataclass(frozen=True, slots=True)
class Reads:
    """The inputs of one render."""

    keys: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    """Sorted; no prefix starts with another."""
    clock: bool = False
    environment: bool = False
    dns: bool = False
    files: bool = False

    def __post_init__(self) -> None:
        assert list(self.prefixes) == _outermost(self.prefixes), "prefixes must be sorted and not nested"

    @property
    def uses_host(self) -> bool:
        """Whether the output may change without any key changing."""
        return self.clock or self.environment or self.dns or self.files

    def affected_by(self, store_key: str) -> bool:
        """Whether a change of ``store_key`` may change the output."""
        if store_key in self.keys:
            return True
        index = bisect_right(self.prefixes, store_key)
        return index > 0 and store_key.startswith(self.prefixes[index - 1])


class ReadLog:
    """The mutable record a render writes into; ``freeze`` gives its ``Reads``."""

    __slots__ = ("_keys", "_prefixes", "clock", "dns", "environment", "files")

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._prefixes: set[str] = set()
        self.clock = False
        self.environment = False
        self.dns = False
        self.files = False

    def key(self, store_key: str) -> None:
        self._keys.add(store_key)

    def prefix(self, key_prefix: str) -> None:
        self._prefixes.add(key_prefix)

    def freeze(self) -> Reads:
        prefixes = _outermost(self._prefixes)
        keys = frozenset(key for key in self._keys if not _starts_with_any(key, prefixes))
        return Reads(keys, tuple(prefixes), self.clock, self.environment, self.dns, self.files)


def _outermost(prefixes: tuple[str, ...] | set[str]) -> list[str]:
    kept: list[str] = []
    for prefix in sorted(prefixes):
        if not (kept and prefix.startswith(kept[-1])):
            kept.append(prefix)
    return kept


def _starts_with_any(key: str, prefixes: list[str]) -> bool:
    index = bisect_right(prefixes, key)
    return index > 0 and key.startswith(prefixes[index - 1])
