"""The ``embedded`` backend (the default): the store in the agent's own process.

A ``StoreServer`` runs from a data directory in the same event loop: a lone
member, or one member of a cluster (a ``StoreConfig``, etcd's flags). Its
client listener is optional: with ``listen_client_urls`` set, ``confagent kv
put`` (or any etcd client) reaches it; without, only the agent reads it.
Reads go straight to the local ``KvStore`` (no HTTP); changes come from a
``LocalWatch`` of the node's watch hub (no HTTP), over the key range covering
every distinct prefix, as the ``etcd`` backend does and for the same reason
(one ordered stream of whole revisions).

Rules:
1. A snapshot is consistent because it is read without yielding to the event
   loop: no write can be applied between two prefixes' ranges.
2. A snapshot is current: it is read only after a ReadIndex round
   (``StoreNode.linearizable_barrier``) says the local replica holds every
   entry committed when it was asked for, so a first render never uses a
   replica that is behind the cluster. A learner asks the leader for the
   read index as a follower does (Raft forwards ``READ_INDEX`` to the leader,
   which counts a quorum of voters' heartbeat answers, as etcd does). Without
   a leader (a partition) the snapshot fails with ``Unavailable`` (``NoLeader``
   after ``LEADER_WAIT_ELECTIONS`` election timeouts, a timeout after the node's
   request timeout when the leader it knew is cut off), and the cache retries
   with its backoff; the files stay as they were.
3. Changes stay local: every applied entry is committed, and entries are
   applied in log order, so the local watch needs no round trip; during a
   partition nothing new is applied here and the files keep the last data,
   and after the heal the replica catches up and the changes flow again.
4. When the node's state is replaced by a leader's snapshot (it fell too far
   behind), the open change streams end with ``ResyncNeeded``: the changes
   in between were never applied here one by one.
5. Once this member is removed from its cluster (``StoreNode.removed``:
   it applied its own removal, or its peers no longer list it), the open
   change streams end with ``MemberRemoved``, and so do new ones and every
   ``snapshot``: the replica will never change again, as etcd's removed
   member stops (the ``Backend`` contract's rule 5). The same with
   ``MemberFailed`` once the member's Raft driver died of a bug.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

from confagent.backends._base import Change, Snapshot
from confagent.backends._prefixes import PrefixSet
from confagent.backends._store_events import changes_of_events, snapshot_of
from confagent.errors import NoLeader, ResyncNeeded
from confagent.kv import KeyValue, RangeRequest, prefix_range
from confagent.server import LocalWatch, LocalWatchHub, StoreNode, StoreServer
from confagent.settings import StoreConfig

__all__ = ["LEADER_WAIT_ELECTIONS", "EmbeddedBackend"]

LEADER_WAIT_ELECTIONS = 2
"""A snapshot waits for a leader this many of the longest election timeouts (2 s each by
default), long enough for a cluster starting up; then the cache's backoff takes over."""


class EmbeddedBackend:
    """Keys from a store member running in this process (module rules).

    Use :meth:`start` or :meth:`start_member` to run a store from a data
    directory; the constructor takes a server already started (whose lifetime
    the backend then owns).
    """

    name = "embedded"
    watches = True

    def __init__(self, server: StoreServer) -> None:
        assert server.node is not None, "start the store server first"
        self.server = server
        self._watches = LocalWatchHub(server.node)
        self._open: set[LocalWatch] = set()
        self._restores = 0
        self._closed = False
        server.node.add_restore_listener(self._on_restore)
        self._removal = asyncio.create_task(self._end_streams_on_removal(), name="embedded-removal")

    @classmethod
    async def start(cls, data_dir: Path, *, listen_client_urls: Sequence[str] = (),
                    name: str = "default") -> EmbeddedBackend:
        """Recover (or create) a lone member's store in ``data_dir`` and start it.

        Raises:
            ConfigError: a bad listen URL, or the port is taken.
            StorageError: the data directory cannot be used.
        """
        return await cls.start_member(StoreConfig(name=name, data_dir=data_dir,
                                                  listen_client_urls=tuple(listen_client_urls),
                                                  listen_peer_urls=()))

    @classmethod
    async def start_member(cls, config: StoreConfig) -> EmbeddedBackend:
        """Recover (or create) the store in ``config.data_dir`` as the cluster member ``config`` describes.

        Raises:
            ConfigError: a bad listen URL or cluster setting (etcd's flag named), or a port is taken.
            StorageError: the data directory cannot be used.
        """
        server = StoreServer(config)
        await server.start()
        return cls(server)

    @property
    def node(self) -> StoreNode:
        node = self.server.node
        assert node is not None, "started in __init__"
        return node

    @property
    def cluster_id(self) -> int:
        """The cluster this member belongs to, known from its data directory without its peers."""
        return self.node.cluster_id

    async def snapshot(self, prefixes: Sequence[str]) -> Snapshot:
        """Every key under ``prefixes`` at the local replica's revision, once it is caught up.

        Raises:
            Unavailable: no leader confirmed the replica current within the request timeout.
            MemberStopped: this member was removed from its cluster, or failed (rule 5).
        """
        await self._caught_up()
        self._check_member()
        kv = self.node.kv  # from here on no await: one revision (rule 1)
        revision = kv.revision
        found: list[KeyValue] = []
        for prefix in PrefixSet(prefixes).prefixes:
            found.extend(kv.range(RangeRequest(*prefix_range(prefix.encode()), revision=revision)).kvs)
        return snapshot_of(revision, found, self.cluster_id)

    async def _caught_up(self) -> None:
        """Rule 2. While no leader is known the read index cannot be asked for: wait for one, for as
        long as ``LEADER_WAIT_ELECTIONS`` elections may take, then raise. A removed member never
        hears of a leader again: it raises ``MemberRemoved`` once it knows (rule 5)."""
        node = self.node
        loop = asyncio.get_running_loop()
        election_timeout_max_s = 2 * node.config.election_ticks * node.config.tick_s
        deadline = loop.time() + LEADER_WAIT_ELECTIONS * election_timeout_max_s
        while True:
            self._check_member()
            try:
                await node.linearizable_barrier()
                return
            except NoLeader:
                if loop.time() >= deadline:
                    raise
            await self.server.wait_for_leader(deadline - loop.time())

    async def changes(self, prefixes: Sequence[str], after: int) -> AsyncGenerator[Change, None]:
        """The changes under ``prefixes`` after ``after``, one per revision, as applied here.

        Raises:
            Compacted: revision ``after + 1`` is compacted (now or while catching up).
            ResyncNeeded: the node's state was replaced by a leader's snapshot (rule 4).
            MemberStopped: this member was removed from its cluster, or failed (rule 5).
        """
        watched = PrefixSet(prefixes)
        if self._closed:
            return
        self._check_member()
        key, range_end = watched.covering_range()
        restores = self._restores
        watch = self._watches.watch(key, range_end, start_revision=after + 1)
        self._open.add(watch)
        try:
            async for _revision, events in watch:
                for change in changes_of_events(events, watched.covers):
                    yield change
        finally:
            self._open.discard(watch)
            watch.close()
        if not self._closed:
            self._check_member()
        if self._restores != restores:
            raise ResyncNeeded("the store's state was replaced by the leader's snapshot")

    def _check_member(self) -> None:
        """Raise ``MemberRemoved`` or ``MemberFailed`` once this member cannot go on (rule 5)."""
        cause = self.server.stop_cause()
        if cause is not None:
            raise cause

    def _on_restore(self) -> None:
        self._restores += 1
        self._close_streams()

    async def _end_streams_on_removal(self) -> None:
        await self.server.wait_stopped()
        self._close_streams()  # each stream then raises MemberRemoved or MemberFailed (rule 5)

    def _close_streams(self) -> None:
        for watch in list(self._open):
            watch.close()

    async def close(self) -> None:
        """Close the watches, then stop the store (listeners, node, log)."""
        self._closed = True
        self._removal.cancel()
        self._watches.close()
        await self.server.stop()
