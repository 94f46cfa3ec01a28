"""The ``embedded`` backend (the default): the store in the agent's own process.

A one-member ``StoreServer`` runs from a data directory in the same event
loop. Its client listener is optional: with ``listen_client_urls`` set,
``confagent kv put`` (or any etcd client) reaches it; without, only the agent
reads it. Reads go straight to the ``KvStore`` (no HTTP); changes come from a
``LocalWatch`` of the node's watch hub (no HTTP), over the key range covering
every distinct prefix, as the ``etcd`` backend does and for the same reason
(one ordered stream of whole revisions).

A snapshot is consistent because it is read without yielding to the event
loop: no write can be applied between two prefixes' ranges.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

from confagent.backends._base import Change, Snapshot
from confagent.backends._prefixes import PrefixSet, key_range
from confagent.backends._store_events import changes_of_events, snapshot_of
from confagent.kv import KeyValue, RangeRequest
from confagent.server import LocalWatchHub, StoreConfig, StoreNode, StoreServer

__all__ = ["EmbeddedBackend"]


class EmbeddedBackend:
    """Keys from a store running in this process.

    Use :meth:`start` to run a store from a data directory; the constructor
    takes a server already started (whose lifetime the backend then owns).
    """

    name = "embedded"
    watches = True

    def __init__(self, server: StoreServer) -> None:
        assert server.node is not None, "start the store server first"
        self.server = server
        self._watches = LocalWatchHub(server.node)
        self._closed = False

    @classmethod
    async def start(cls, data_dir: Path, *, listen_client_urls: Sequence[str] = (),
                    name: str = "default") -> EmbeddedBackend:
        """Recover (or create) the store in ``data_dir`` and start it.

        Raises:
            ConfigError: a bad listen URL, or the port is taken.
            StorageError: the data directory cannot be used.
        """
        server = StoreServer(StoreConfig(name=name, data_dir=data_dir,
                                         listen_client_urls=tuple(listen_client_urls)))
        await server.start()
        return cls(server)

    @property
    def node(self) -> StoreNode:
        node = self.server.node
        assert node is not None, "started in __init__"
        return node

    async def snapshot(self, prefixes: Sequence[str]) -> Snapshot:
        """Every key under ``prefixes`` at the store's current revision (no await: one revision)."""
        kv = self.node.kv
        revision = kv.revision
        found: list[KeyValue] = []
        for prefix in PrefixSet(prefixes).prefixes:
            found.extend(kv.range(RangeRequest(*key_range(prefix), revision=revision)).kvs)
        return snapshot_of(revision, found)

    async def changes(self, prefixes: Sequence[str], after: int) -> AsyncGenerator[Change, None]:
        """The changes under ``prefixes`` after ``after``, one per revision.

        Raises:
            Compacted: revision ``after + 1`` is compacted (now or while catching up).
        """
        watched = PrefixSet(prefixes)
        if self._closed:
            return
        key, range_end = watched.covering_range()
        watch = self._watches.watch(key, range_end, start_revision=after + 1)
        try:
            async for _revision, events in watch:
                for change in changes_of_events(events, watched.covers):
                    yield change
        finally:
            watch.close()

    async def close(self) -> None:
        """Close the watches, then stop the store (listeners, node, log)."""
        self._closed = True
        self._watches.close()
        await self.server.stop()
