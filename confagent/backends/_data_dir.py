"""``DataDirBackend``: a one-shot's keys read from the embedded store's data directory, without a member.

A one-shot pass (``run --onetime``, ``render --check``) reads one snapshot.
Starting the member for it imports the whole server and replays the log, then
elects itself; reading the directory (``confagent.server.read_data_dir_keys``)
gives the same keys at the same revision in a fraction of that.

Rules:
1. Only a lone member's directory is read so: one whose settings start it
   alone (``serves``) and whose directory says so (``DataDirKeys.lone_voter``).
   A cluster member's replica may trail its cluster, which a member started on
   it would ask first (a ReadIndex round): ``read`` answers None for one, and
   for a directory holding no store yet (the member makes one).
2. A directory a running member holds is read all the same: the snapshot has
   every write that member acknowledged (``read_data_dir`` rule 3).
3. It reads once: ``changes`` ends at once (``watches`` is False); the daemon
   runs the member (``EmbeddedBackend``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

from confagent.backends._base import Change, Snapshot
from confagent.backends._prefixes import PrefixSet
from confagent.backends._store_events import snapshot_of_pairs
from confagent.kv import prefix_range
from confagent.server import DataDirKeys, read_data_dir_keys
from confagent.server.storage import read_identity
from confagent.settings import StoreConfig

__all__ = ["DataDirBackend"]


class DataDirBackend:
    """The keys of a lone member's data directory, read once (module rules)."""

    name = "embedded"
    watches = False

    def __init__(self, view: DataDirKeys) -> None:
        self.view = view

    @staticmethod
    def serves(store: StoreConfig) -> bool:
        """Whether ``store``'s settings start a lone member (rule 1): no other initial member, not joining."""
        return len(store.initial_members()) <= 1 and store.initial_cluster_state != "existing"

    @classmethod
    async def read(cls, data_dir: Path) -> DataDirBackend | None:
        """The directory read (in a thread); None when it is a cluster member's or holds no store yet
        (rule 1).

        Raises:
            StorageError: a file unreadable or damaged (names it).
        """
        if read_identity(data_dir) is None:
            return None
        view = await asyncio.to_thread(read_data_dir_keys, data_dir)
        return cls(view) if view.lone_voter else None

    async def snapshot(self, prefixes: Sequence[str]) -> Snapshot:
        """Every key under ``prefixes`` at the directory's revision."""
        keys = self.view.keys
        found: list[tuple[bytes, bytes]] = []
        for prefix in PrefixSet(prefixes).prefixes:
            found.extend(keys.pairs(*prefix_range(prefix.encode())))
        return snapshot_of_pairs(keys.revision, found, self.view.cluster_id)

    async def changes(self, prefixes: Sequence[str], after: int) -> AsyncGenerator[Change, None]:
        """None: it reads once (rule 3)."""
        return
        yield  # an async generator that ends at once

    async def close(self) -> None:
        """Nothing to release."""
