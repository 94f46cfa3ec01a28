"""One write transaction: the changes that share the next revision (etcd's ``storeTxnWrite``).

Rules:
1. Every change of the transaction gets revision ``begin_revision + 1``; the
   order of ``changes`` is the sub-revision order.
2. Reads inside the transaction see its earlier writes. A response's header
   names ``begin_revision`` until the first change, then the new revision.
3. Changes go straight into the key index; the caller has checked everything
   that could fail, so a transaction never has to be undone.
4. An event's ``prev_kv`` is the key's version at ``revision - 1``, as etcd's
   watch server reads it, so a key written twice in one revision still shows
   the version from before the transaction; a creation has none.
"""

from __future__ import annotations

from confagent.kv._index import KeyIndex, tombstone
from confagent.kv._leases import LeaseTable
from confagent.kv._messages import (
    DeleteRangeRequest,
    DeleteRangeResponse,
    Event,
    EventType,
    KeyValue,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
)
from confagent.kv._reads import read_range

__all__ = ["WriteTxn"]


class WriteTxn:
    """The changes of one revision in the making; the store commits them."""

    __slots__ = ("_index", "_leases", "begin_revision", "changes", "events")

    def __init__(self, index: KeyIndex, leases: LeaseTable, begin_revision: int) -> None:
        self._index = index
        self._leases = leases
        self.begin_revision = begin_revision
        self.changes: list[KeyValue] = []
        self.events: list[Event] = []

    @property
    def read_revision(self) -> int:
        """The revision reads see and headers name: the new one once something changed."""
        return self.begin_revision + 1 if self.changes else self.begin_revision

    def range(self, request: RangeRequest) -> RangeResponse:
        """A read inside the transaction (its revision already checked)."""
        current = self.read_revision
        revision = request.revision if request.revision > 0 else current
        return read_range(self._index, request, revision, revision >= current, current)

    def put(self, request: PutRequest) -> PutResponse:
        """Write one key; ``ignore_value``/``ignore_lease`` need it to exist (checked)."""
        key, revision = request.key, self.begin_revision + 1
        last = self._index.last(key)
        current = last if last is not None and last.version else None
        value, lease = request.value, request.lease
        if current is None:
            kv = KeyValue(key, revision, revision, 1, value, lease)
        else:
            if request.ignore_value:
                value = current.value
            if request.ignore_lease:
                lease = current.lease
            kv = KeyValue(key, current.create_revision, revision, current.version + 1, value, lease)
            if current.lease:
                self._leases.detach(current.lease, key)
        if lease:
            self._leases.attach(lease, key)
        # A creation has no prev_kv, even when the key lived before this txn (etcd's isCreateEvent).
        self._record(EventType.PUT, kv, None if current is None else self._before(key, last))
        return PutResponse(prev_kv=current if request.prev_kv else None, header_revision=revision)

    def delete_range(self, request: DeleteRangeRequest) -> DeleteRangeResponse:
        kvs = tuple(self._index.visible(request.key, request.range_end, 0, latest=True))
        for kv in kvs:
            self.delete(kv)
        return DeleteRangeResponse(deleted=len(kvs), prev_kvs=kvs if request.prev_kv else (),
                                   header_revision=self.read_revision)

    def delete(self, kv: KeyValue) -> None:
        """End the life of the key whose current version is ``kv``."""
        if kv.lease:
            self._leases.detach(kv.lease, kv.key)
        self._record(EventType.DELETE, tombstone(kv.key, self.begin_revision + 1),
                     self._before(kv.key, kv))

    def _before(self, key: bytes, last: KeyValue | None) -> KeyValue | None:
        """The key's version at ``revision - 1``, given its newest version before this change."""
        if last is None or last.mod_revision <= self.begin_revision:
            return last if last is not None and last.version else None
        return self._index.at(key, self.begin_revision)

    def _record(self, kind: EventType, kv: KeyValue, before: KeyValue | None) -> None:
        self._index.append(kv)
        self.changes.append(kv)
        self.events.append(Event(kind, kv, before))
