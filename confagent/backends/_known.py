"""KnownKeys: what a backend without revisions of its own has read, numbered by a counter, with the changes.

For backends whose source keeps no history a client can ask for (ZooKeeper's
tree): each read of some prefixes is recorded here, and this is what gives
them revisions and ``changes(after=R)`` something to replay.

Rules:
1. The revision is a counter: 1 for the first read, +1 each time a read
   finds other data under its prefixes than the reads before it found there.
   Every key read is kept, whichever prefixes read it; a read compares only
   the keys under its own prefixes, so reads of different prefixes never
   delete each other's keys.
2. The last ``history_max`` changes are kept; ``since(R)`` replays them from
   R, and raises ``ResyncNeeded`` when R is older than that (or unknown).
3. Keys left out of a read (not UTF-8) are kept with their error, so a key
   that becomes readable again is a change, and a new problem is reported once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from confagent.backends._base import Change
from confagent.backends._prefixes import PrefixSet
from confagent.errors import BackendError, ResyncNeeded

__all__ = ["HISTORY_MAX", "KnownKeys", "restricted"]

HISTORY_MAX = 1024
"""Changes kept for ``since`` to replay."""


class KnownKeys:
    """Every key the reads found, at the counter's revision, and the changes before it (module rules).

    Args:
        source: the backend's name, for ``ResyncNeeded``'s text.
        history_max: changes kept (rule 2).
    """

    def __init__(self, source: str, history_max: int = HISTORY_MAX) -> None:
        self.source = source
        self.revision = 0
        self.entries: dict[str, str] = {}
        self.problems: dict[str, BackendError] = {}
        self.history: deque[Change] = deque(maxlen=history_max)

    def record(self, watched: PrefixSet, entries: Mapping[str, str],
               problems: Mapping[str, BackendError]) -> int:
        """Take a read of ``watched``; the revision it is known at (a new one when it differs, rule 1)."""
        known = {k: v for k, v in self.entries.items() if watched.covers(k)}
        old_problems = {k for k in self.problems if watched.covers(k)}
        first = self.revision == 0
        if not first and entries == known and problems.keys() == old_problems:
            return self.revision
        self.revision += 1
        for key in known.keys() - entries.keys():
            del self.entries[key]
        for key in old_problems - problems.keys():
            del self.problems[key]
        self.entries.update(entries)
        if not first:
            puts = {k: v for k, v in entries.items() if known.get(k) != v}
            news = tuple(e for k, e in problems.items() if k not in old_problems)
            self.history.append(Change(self.revision, puts, frozenset(known.keys() - entries.keys()), news))
        self.problems.update(problems)
        return self.revision

    def since(self, cursor: int) -> list[Change]:
        """The changes after revision ``cursor``, oldest first.

        Raises:
            ResyncNeeded: they are not all kept (rule 2).
        """
        oldest = self.history[0].revision - 1 if self.history else self.revision
        if not oldest <= cursor <= self.revision:
            raise ResyncNeeded(f"the {self.source} backend keeps the changes from revision {oldest + 1}, "
                               f"not from {cursor + 1}")
        return [change for change in self.history if change.revision > cursor]


def restricted(change: Change, watched: PrefixSet) -> Change | None:
    """``change`` limited to the keys under ``watched``; None when it touches none of them."""
    puts = {k: v for k, v in change.puts.items() if watched.covers(k)}
    deletes = frozenset(k for k in change.deletes if watched.covers(k))
    if not puts and not deletes:
        return None
    return Change(change.revision, puts, deletes, change.problems)
