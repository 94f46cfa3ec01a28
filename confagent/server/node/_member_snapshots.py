"""MemberSnapshots: what a member does with snapshots of its state — captures, takes, sends, installs.

The driver (``_node``) owns when; this module owns how:

1. A capture is the applied state at the applied index, taken in one step of the
   event loop by reference (``_payload`` rule 2), with the member table: what
   snapshot files hold and what followers behind the leader's compacted log are
   sent (``catch_up``, ``peers._catch_up``). ``now`` encodes one at once, without the
   table, for a client (``snapshot save``, ``snapshot restore`` reads it).
2. One is taken every ``snapshot_entries`` applied, in the background
   (``_snapshotter``), and at once after a membership change applied, the driver
   waiting until it is durable (``MemberChanges.snapshot_wanted``); a member stopping
   healthy takes a last one (``_snapshotter`` rule 5).
3. A leader's snapshot is installed: the job in flight settles first (``_snapshotter``
   rule 3), the file is saved and marked in the log, then the state becomes it: the
   key-value state, the users and roles, the member table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from confagent.kv import KvStore
from confagent.raft import RawNode, Snapshot, SnapshotMeta
from confagent.server.membership import MemberChanges
from confagent.server.node._auth import MemberAuth, wrap_auth
from confagent.server.node._payload import Payload, capture_payload
from confagent.server.node._snapshotter import Encode, Snapshotter
from confagent.server.peers import CatchUpSnapshot
from confagent.server.storage import SnapshotFiles, WalWriter

__all__ = ["MemberSnapshots"]


class MemberSnapshots:
    """A member's snapshots (rules in the module doc), over the state its driver applies to."""

    def __init__(self, files: SnapshotFiles, writer: WalWriter, core: RawNode, kv: KvStore, auth: MemberAuth,
                 members: MemberChanges, applied_index: Callable[[], int], *, every_entries: int,
                 wake: Callable[[], None]) -> None:
        """``applied_index()``: the last entry applied to ``kv``; ``wake`` wakes the driver once a
        background job ended."""
        self._files = files
        self._writer = writer
        self._core = core
        self._kv = kv
        self._auth = auth
        self._members = members
        self._applied_index = applied_index
        self._snapshotter = Snapshotter(files, writer, every_entries=every_entries, index=core.log.offset,
                                        compact=core.compact, wake=wake)
        self.catch_up = CatchUpSnapshot(files.load_latest, self.capture, lambda: core.log.offset)
        """The snapshot the leader sends followers behind its compacted log (``peers._catch_up``)."""

    def now(self) -> tuple[SnapshotMeta, bytes]:
        """The applied state as a snapshot: its metadata and payload (the users and roles, then
        the key-value state), as ``snapshot restore`` reads it (rule 1).

        Taken in one step of the event loop (the state cannot move meanwhile); the cost is
        one ``KvStore.snapshot()``, about 0.1 s per 100,000 keys.
        """
        return self._meta(), wrap_auth(self._auth.state, self._kv.snapshot())

    def capture(self) -> tuple[SnapshotMeta, Encode]:
        """The state now, with the member table, by reference; and the function making its
        payload later, in another thread (rule 1)."""
        return self._meta(), capture_payload(self._kv, self._auth.state, self._members.table)

    async def maybe_take(self, *, now: bool = False) -> None:
        """Compact the log after a snapshot written; start one when due, or take one ``now`` and
        wait until it is durable (a membership change applied) (rule 2)."""
        self._snapshotter.collect()
        if now:
            self._members.snapshot_wanted = False
            await self._snapshotter.take(*self.capture())
        elif self._snapshotter.due(self._core.log.applied):
            self._snapshotter.start(*self.capture())

    async def take_at_stop(self) -> None:
        """The last snapshot of a member stopping healthy, when enough was applied since (rule 2)."""
        await self._snapshotter.take_at_stop(self._applied_index(), self.capture)

    async def install(self, snapshot: Snapshot) -> None:
        """A leader's snapshot saved, marked, and made the state (rule 3)."""
        await self._snapshotter.settle()
        await asyncio.to_thread(self._files.save, snapshot.meta, snapshot.data)
        await self._writer.save(None, (), sync=True, snapshot=snapshot.meta)
        payload = Payload.read(snapshot.data)
        self._kv.load(payload.kv_data)
        self._auth.restored(payload.auth_state)
        self._members.restored(payload.table)
        self._snapshotter.installed(snapshot.meta)

    async def close(self) -> list[str]:
        """Let a job in flight finish, within a stop's bound (``_snapshotter``); the tasks that did not."""
        return await self._snapshotter.close()

    def _meta(self) -> SnapshotMeta:
        applied = self._applied_index()
        term = self._core.log.term_at(applied)
        assert term is not None, "the applied entry is in the log or is its snapshot"
        return SnapshotMeta(index=applied, term=term, conf_state=self._core.conf_state)
