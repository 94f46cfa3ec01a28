"""KvStore: etcd 3.4's MVCC key-value store as a deterministic state machine.

The Raft log feeds it commands (``apply``); reads, watch history and
snapshots are served from the same state. No clock, no I/O: lease deadlines
are the ``Lessor``'s business, expiry arrives as a ``LeaseRevokeRequest``.

Rules:
1. One global revision, 1 on an empty store, +1 per command that changes at
   least one key; all changes of one command share it (``_writes.py``).
2. A command either fails before changing anything (a ``StoreError``) or is
   applied whole. State-dependent checks come first; nothing is undone.
3. Compaction at C keeps what a read at revision C and a watch from C need,
   exactly as etcd: reads below C and watches from below C fail with
   ``Compacted``; a compaction at or below the last one, too. A store never
   compacted accepts a compaction at revision 0 once (etcd starts at -1).
4. Leases live here as replicated state (ID, granted TTL, keys); revoking one
   deletes its keys, sorted, in one revision.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from confagent.errors import (
    Compacted,
    FutureRevision,
    KeyNotFound,
    LeaseExists,
    LeaseNotFound,
    LeaseTTLTooLarge,
)
from confagent.kv import _snapshot
from confagent.kv._history import ChangeLog
from confagent.kv._index import KeyIndex
from confagent.kv._leases import LeaseInfo, LeaseTable
from confagent.kv._limits import MAX_LEASE_TTL
from confagent.kv._messages import (
    CompactionRequest,
    DeleteRangeRequest,
    Event,
    EventType,
    KeyValue,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
    RangeResponse,
    Request,
    RequestOp,
    Response,
    TxnRequest,
)
from confagent.kv._reads import read_range
from confagent.kv._txn import apply_taken, check_taken, is_read_only, taken_path
from confagent.kv._writes import WriteTxn

__all__ = ["Applied", "KvStore"]

_HASHED = struct.Struct(">qqqqI")
"""What ``hash_kv`` hashes of a version besides its key and value: revisions, version, lease, key length."""

_NEVER_COMPACTED = -1


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying one command did.

    Attributes:
        revision: the store revision after the command (the response header's).
        response: PutResponse, DeleteRangeResponse, TxnResponse, RangeResponse,
            LeaseGrantResponse, or None (compaction, lease revoke).
        events: the changes in sub-revision order, each with ``prev_kv`` (the
            key's version at ``revision - 1``); () if nothing changed.
    """

    revision: int
    response: Response
    events: tuple[Event, ...] = ()


class KvStore:
    """Keys, their versions since the last compaction, and leases."""

    def __init__(self, *, min_lease_ttl: int = 2) -> None:
        self.min_lease_ttl = min_lease_ttl
        self._index = KeyIndex()
        self._log = ChangeLog()
        self._leases = LeaseTable()
        self._revision = 1
        self._compacted = _NEVER_COMPACTED
        self._base: tuple[KeyValue, ...] = ()
        """The versions older than the last compaction, by key (they change only when it does)."""
        self._appliers: dict[type[Any], Callable[[Any], Applied]] = {
            PutRequest: self._apply_put,
            DeleteRangeRequest: self._apply_delete_range,
            TxnRequest: self._apply_txn,
            RangeRequest: self._apply_range,
            CompactionRequest: self._apply_compaction,
            LeaseGrantRequest: self._apply_lease_grant,
            LeaseRevokeRequest: self._apply_lease_revoke,
        }

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def compact_revision(self) -> int:
        """The revision of the last compaction; 0 when never compacted."""
        return max(self._compacted, 0)

    # -- commands -------------------------------------------------------------------
    def apply(self, request: Request) -> Applied:
        """Apply one committed command.

        Raises:
            StoreError: Compacted, FutureRevision, LeaseNotFound, LeaseExists,
                KeyNotFound, LeaseTTLTooLarge; then nothing changed.
        """
        return self._appliers[type(request)](request)

    def _apply_put(self, request: PutRequest) -> Applied:
        if request.lease and request.lease not in self._leases:
            raise LeaseNotFound()
        self._check_exists(request)
        writes = self._begin()
        return self._commit(writes, writes.put(request))

    def _apply_delete_range(self, request: DeleteRangeRequest) -> Applied:
        writes = self._begin()
        return self._commit(writes, writes.delete_range(request))

    def _apply_txn(self, request: TxnRequest) -> Applied:
        path = taken_path(self._index, request)
        if not is_read_only(request):
            check_taken(request, iter(path), self._check_txn_put)
        check_taken(request, iter(path), self._check_txn_range)
        writes = self._begin()
        return self._commit(writes, apply_taken(request, iter(path), writes))

    def _apply_range(self, request: RangeRequest) -> Applied:
        return Applied(self._revision, self.range(request))

    def _apply_compaction(self, request: CompactionRequest) -> Applied:
        revision = request.revision
        if revision <= self._compacted:
            raise Compacted()
        if revision > self._revision:
            raise FutureRevision()
        touched = {kv.key for kv in self._log.through(revision)}
        self._index.compact(touched, revision)
        self._log.compact(revision, lambda kv: self._index.first(kv.key) is kv)
        self._compacted = revision
        self._base = tuple(kv for kv in map(self._index.first, self._index)
                           if kv is not None and kv.mod_revision < revision)
        return Applied(self._revision, None)

    def _apply_lease_grant(self, request: LeaseGrantRequest) -> Applied:
        if request.ttl > MAX_LEASE_TTL:
            raise LeaseTTLTooLarge()
        if request.id == 0:
            raise LeaseNotFound()  # etcd's answer to a grant of lease 0 in the log
        if request.id in self._leases:
            raise LeaseExists()
        ttl = max(request.ttl, self.min_lease_ttl)
        self._leases.grant(request.id, ttl)
        return Applied(self._revision, LeaseGrantResponse(id=request.id, ttl=ttl))

    def _apply_lease_revoke(self, request: LeaseRevokeRequest) -> Applied:
        if request.id not in self._leases:
            raise LeaseNotFound()
        writes = self._begin()
        for key in self._leases.remove(request.id):
            kv = self._index.live(key)
            assert kv is not None and kv.lease == request.id, (key, kv)
            writes.delete(kv)
        return self._commit(writes, None)

    def _begin(self) -> WriteTxn:
        return WriteTxn(self._index, self._leases, self._revision)

    def _commit(self, writes: WriteTxn, response: Response) -> Applied:
        if not writes.changes:
            return Applied(self._revision, response)
        self._revision += 1
        self._log.extend(writes.changes)
        return Applied(self._revision, response, tuple(writes.events))

    # -- checks before a change -------------------------------------------------------
    def _check_exists(self, request: PutRequest) -> None:
        if (request.ignore_value or request.ignore_lease) and self._index.live(request.key) is None:
            raise KeyNotFound()

    def _check_txn_put(self, op: RequestOp) -> None:
        if isinstance(op, PutRequest):
            self._check_exists(op)
            if op.lease and op.lease not in self._leases:
                raise LeaseNotFound()

    def _check_txn_range(self, op: RequestOp) -> None:
        # etcd's checkRange: any revision but 0 counts, so a negative one is "compacted".
        if isinstance(op, RangeRequest) and op.revision:
            if op.revision > self._revision:
                raise FutureRevision()
            if op.revision < self._compacted:
                raise Compacted()

    # -- reads --------------------------------------------------------------------------
    def range(self, request: RangeRequest) -> RangeResponse:
        """A read at ``request.revision`` (<= 0: the current one).

        Raises:
            FutureRevision: the revision is past the current one.
            Compacted: the revision is below the last compaction.
        """
        current = self._revision
        revision = request.revision if request.revision > 0 else current
        if revision > current:
            raise FutureRevision()
        if revision < self._compacted:
            raise Compacted()
        return read_range(self._index, request, revision, revision >= current, current)

    def history(self, start_revision: int, *,
                prev_kv: bool = True) -> Iterator[tuple[int, tuple[Event, ...]]]:
        """Every retained change with revision >= ``start_revision``, grouped by revision.

        Events carry ``prev_kv`` as etcd's watch does (none for a creation, none
        when ``revision - 1`` is compacted) unless ``prev_kv`` is False. Consume
        the iterator before the next ``apply``.

        Raises:
            Compacted: ``start_revision`` is below the last compaction (etcd
                cancels such a watch with ``compact_revision``).
        """
        if start_revision < self.compact_revision:
            raise Compacted()
        return self._replay(start_revision, prev_kv)

    def _replay(self, start_revision: int,
                prev_kv: bool) -> Iterator[tuple[int, tuple[Event, ...]]]:
        for revision, changes in self._log.since(start_revision):
            with_prev = prev_kv and revision - 1 >= self._compacted
            yield revision, tuple(self._event(kv, with_prev) for kv in changes)

    def _event(self, kv: KeyValue, with_prev: bool) -> Event:
        kind = EventType.PUT if kv.version else EventType.DELETE
        if kv.create_revision == kv.mod_revision:
            with_prev = False  # a creation has no previous version (etcd's isCreateEvent)
        before = self._index.at(kv.key, kv.mod_revision - 1) if with_prev else None
        return Event(kind, kv, before)

    def lease(self, lease_id: int) -> LeaseInfo | None:
        """The lease's granted TTL and keys, None if it does not exist."""
        return self._leases.info(lease_id)

    def lease_ids(self) -> tuple[int, ...]:
        """Every lease, in grant order."""
        return tuple(self._leases.ttls())

    def key_count(self) -> int:
        """How many keys exist at the current revision."""
        return self._index.live_count

    def size_bytes(self) -> int:
        """An estimate of the retained data: keys and values of every version kept."""
        return self._index.size_bytes

    def hash_kv(self, revision: int) -> int:
        """A CRC-32 of every version retained up to ``revision`` (etcd's HashKV): members that
        applied the same log answer the same hash; its value is not etcd's (the encodings differ).

        Raises:
            FutureRevision: the revision is past the current one.
            Compacted: the revision is at or below the last compaction (etcd's HashByRev refuses
                the compaction's own revision too, which a range still reads).
        """
        if revision > self._revision:
            raise FutureRevision()
        if revision <= self._compacted:
            raise Compacted()
        crc = zlib.crc32(b"key")  # as etcd's starts with its bucket's name: never 0, even for no keys
        for kv in itertools.chain(self._base, self._log.through(revision)):
            crc = zlib.crc32(_HASHED.pack(kv.create_revision, kv.mod_revision, kv.version, kv.lease,
                                          len(kv.key)), crc)
            crc = zlib.crc32(kv.value, zlib.crc32(kv.key, crc))
        return crc

    # -- snapshots ------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """The whole state: revisions, leases, every retained version and the change log."""
        return self.snapshot_state().encode()

    def snapshot_state(self) -> _snapshot.SnapshotState:
        """What ``snapshot()`` encodes, as a value that later changes leave alone: its versions
        are the store's own immutable ``KeyValue`` objects, gathered by reference (a copy of
        the change log's list and of the lease table, no per-version work). Encoding it
        (``SnapshotState.encode``) can then happen elsewhere, in a worker thread, while the store
        goes on applying."""
        return _snapshot.SnapshotState(
            revision=self._revision, compacted=self._compacted,
            leases=tuple(self._leases.ttls().items()), base=self._base, log=tuple(self._log))

    def load(self, data: bytes) -> None:
        """Become the store whose ``snapshot()`` gave ``data``, in place (a follower installing
        its leader's snapshot: the watch hub and others keep their reference to this store).

        Raises:
            StorageError: ``data`` is not a snapshot this version can read; nothing changed.
        """
        loaded = KvStore.restore(data, min_lease_ttl=self.min_lease_ttl)
        self._index, self._log, self._leases = loaded._index, loaded._log, loaded._leases
        self._revision, self._compacted = loaded._revision, loaded._compacted
        self._base = loaded._base

    @classmethod
    def restore(cls, data: bytes, *, min_lease_ttl: int = 2) -> KvStore:
        """A store equal to the one whose ``snapshot()`` gave ``data``.

        Raises:
            StorageError: ``data`` is not a snapshot this version can read.
        """
        state = _snapshot.decode(data)
        store = cls(min_lease_ttl=min_lease_ttl)
        store._revision, store._compacted = state.revision, state.compacted
        store._base = state.base
        store._index = KeyIndex.built(itertools.chain(state.base, state.log))
        store._log.extend(state.log)
        for lease_id, ttl in state.leases:
            store._leases.grant(lease_id, ttl)
        if state.leases:
            for key in store._index:
                live = store._index.live(key)
                if live is not None and live.lease:
                    store._leases.attach(live.lease, key)
        return store
