"""``ViewDigest``: a fingerprint of the keys an agent's view holds, kept up to date per change.

The fleet view tells hosts that converged from hosts that did not by what
they rendered: two agents reading the same keys whose views hold the same
values have the same digest, whatever revision each first read them at.

Rules:
1. The digest is the XOR of a 64-bit BLAKE2b of each key and value outside
   ``FLEET_PREFIX`` (the agents' summaries are no one's configuration): the
   same for the same keys and values in any order, in any process.
2. ``reset`` reads a whole view (a snapshot, a resync); ``update`` takes the
   keys one change touched, with the views before and after it, and costs
   as many hashes as keys changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from confagent.agent._status import FLEET_PREFIX

__all__ = ["ViewDigest"]


def _entry(key: str, value: str) -> int:
    digest = hashlib.blake2b(key.encode() + b"\0" + value.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class ViewDigest:
    """The running digest of a view's keys (module rules)."""

    def __init__(self) -> None:
        self._value = 0

    @property
    def hex(self) -> str:
        return f"{self._value:016x}"

    def reset(self, view: Mapping[str, str]) -> None:
        """The digest of ``view`` alone (rule 2)."""
        self._value = 0
        self.update({}, view, view.keys())

    def update(self, before: Mapping[str, str], after: Mapping[str, str], changed: Iterable[str]) -> None:
        """Take in the keys ``changed`` from ``before`` to ``after`` (added, updated, removed; rule 2)."""
        for key in changed:
            if key.startswith(FLEET_PREFIX):
                continue
            if key in before:
                self._value ^= _entry(key, before[key])
            if key in after:
                self._value ^= _entry(key, after[key])
