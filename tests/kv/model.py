"""An obviously-correct model of the store: one full dict per revision, no index, no cleverness.

Every revision's state is a complete ``dict[key, KeyValue]``; a read at revision
r looks at ``states[r]``. Semantics are spelled out from etcd 3.4's applier
(see ``confagent/kv/_store.py`` for the rules), independently of the real
implementation's data structures. Slow and memory-hungry on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from confagent.errors import (
    Compacted,
    FutureRevision,
    KeyNotFound,
    LeaseExists,
    LeaseNotFound,
    LeaseTTLTooLarge,
    StoreError,
)
from confagent.kv import (
    MAX_LEASE_TTL,
    CompactionRequest,
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    DeleteRangeResponse,
    Event,
    EventType,
    KeyValue,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseInfo,
    LeaseRevokeRequest,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    Request,
    RequestOp,
    Response,
    ResponseOp,
    SortOrder,
    SortTarget,
    TxnRequest,
    TxnResponse,
)

__all__ = ["ModelStore", "in_range"]

State = dict[bytes, KeyValue]


def in_range(key: bytes, start: bytes, end: bytes) -> bool:
    if not end:
        return key == start
    if end == b"\x00":
        return key >= start
    return start <= key < end


class _Txn:
    """A write in progress: the working state and its events."""

    def __init__(self, before: State, revision: int) -> None:
        self.before = before
        self.state = dict(before)
        self.revision = revision
        self.events: list[Event] = []

    @property
    def header(self) -> int:
        return self.revision if self.events else self.revision - 1


class ModelStore:
    def __init__(self, min_lease_ttl: int = 2) -> None:
        self.states: list[State] = [{}, {}]  # states[r] is the store at revision r
        self.events: dict[int, list[Event]] = {}
        self.compacted = -1
        self.leases: dict[int, int] = {}
        self.min_lease_ttl = min_lease_ttl

    @property
    def revision(self) -> int:
        return len(self.states) - 1

    @property
    def compact_revision(self) -> int:
        return max(self.compacted, 0)

    # -- commands ---------------------------------------------------------------------
    def apply(self, request: Request) -> tuple[int, Response, tuple[Event, ...]]:
        before = self.states[-1]
        txn = _Txn(before, self.revision + 1)
        response: Response
        match request:
            case PutRequest():
                self._check_put(request, before)
                response = self._put(txn, request)
            case DeleteRangeRequest():
                response = self._delete(txn, request)
            case TxnRequest():
                response = self._txn(txn, request)
            case RangeRequest():
                return self.revision, self.range(request), ()
            case CompactionRequest():
                return self._compact(request), None, ()
            case LeaseGrantRequest():
                return self.revision, self._grant(request), ()
            case LeaseRevokeRequest():
                if request.id not in self.leases:
                    raise LeaseNotFound()
                del self.leases[request.id]
                for key in sorted(k for k, kv in before.items() if kv.lease == request.id):
                    self._delete(txn, DeleteRangeRequest(key))
                response = None
        if txn.events:
            self.states.append(txn.state)
            self.events[txn.revision] = txn.events
        return self.revision, response, tuple(txn.events)

    def _check_put(self, request: PutRequest, state: State) -> None:
        if request.lease and request.lease not in self.leases:
            raise LeaseNotFound()
        if (request.ignore_value or request.ignore_lease) and request.key not in state:
            raise KeyNotFound()

    def _put(self, txn: _Txn, request: PutRequest) -> PutResponse:
        key, rev = request.key, txn.revision
        current = txn.state.get(key)
        value = current.value if current and request.ignore_value else request.value
        lease = current.lease if current and request.ignore_lease else request.lease
        if current is None:
            kv = KeyValue(key, rev, rev, 1, value, lease)
        else:
            kv = KeyValue(key, current.create_revision, rev, current.version + 1, value, lease)
        txn.state[key] = kv
        txn.events.append(Event(EventType.PUT, kv, txn.before.get(key) if current else None))
        return PutResponse(prev_kv=current if request.prev_kv else None, header_revision=rev)

    def _delete(self, txn: _Txn, request: DeleteRangeRequest) -> DeleteRangeResponse:
        found = [txn.state[k] for k in sorted(txn.state)
                 if in_range(k, request.key, request.range_end)]
        for kv in found:
            del txn.state[kv.key]
            gone = KeyValue(kv.key, 0, txn.revision, 0)
            txn.events.append(Event(EventType.DELETE, gone, txn.before.get(kv.key)))
        return DeleteRangeResponse(deleted=len(found),
                                   prev_kvs=tuple(found) if request.prev_kv else (),
                                   header_revision=txn.header)

    def _compact(self, request: CompactionRequest) -> int:
        if request.revision <= self.compacted:
            raise Compacted()
        if request.revision > self.revision:
            raise FutureRevision()
        self.compacted = request.revision
        return self.revision

    def _grant(self, request: LeaseGrantRequest) -> LeaseGrantResponse:
        if request.ttl > MAX_LEASE_TTL:
            raise LeaseTTLTooLarge()
        if request.id in self.leases:
            raise LeaseExists()
        self.leases[request.id] = max(request.ttl, self.min_lease_ttl)
        return LeaseGrantResponse(id=request.id, ttl=self.leases[request.id])

    # -- txn ----------------------------------------------------------------------------
    def _txn(self, txn: _Txn, request: TxnRequest) -> TxnResponse:
        path = list(self._path(request, txn.before))
        taken = list(self._taken_ops(request, iter(path)))
        writes = any(not isinstance(op, RangeRequest)
                     for op in (*request.success, *request.failure))
        for op in taken:
            if writes and isinstance(op, PutRequest):
                self._check_put(op, txn.before)
        for op in taken:
            if isinstance(op, RangeRequest) and op.revision:
                if op.revision > self.revision:
                    raise FutureRevision()
                if op.revision < self.compacted:
                    raise Compacted()
        return self._run(txn, request, iter(path))

    def _path(self, request: TxnRequest, state: State) -> Iterator[bool]:
        ok = all(self._compare(c, state) for c in request.compare)
        yield ok
        for op in request.success if ok else request.failure:
            if isinstance(op, TxnRequest):
                yield from self._path(op, state)

    def _taken_ops(self, request: TxnRequest, path: Iterator[bool]) -> Iterator[RequestOp]:
        for op in request.success if next(path) else request.failure:
            if isinstance(op, TxnRequest):
                yield from self._taken_ops(op, path)
            else:
                yield op

    def _run(self, txn: _Txn, request: TxnRequest, path: Iterator[bool]) -> TxnResponse:
        ok = next(path)
        responses: list[ResponseOp] = []
        for op in request.success if ok else request.failure:
            match op:
                case PutRequest():
                    responses.append(self._put(txn, op))
                case DeleteRangeRequest():
                    responses.append(self._delete(txn, op))
                case RangeRequest():
                    state = self.states[op.revision] if op.revision > 0 else txn.state
                    responses.append(_range(state, op, txn.header))
                case TxnRequest():
                    responses.append(self._run(txn, op, path))
        return TxnResponse(succeeded=ok, responses=tuple(responses))

    @staticmethod
    def _compare(compare: Compare, state: State) -> bool:
        kvs = [state[k] for k in sorted(state) if in_range(k, compare.key, compare.range_end)]
        if not kvs:
            if compare.target == CompareTarget.VALUE:
                return False
            kvs = [KeyValue(b"", 0, 0, 0)]
        return all(_holds(compare, kv) for kv in kvs)

    # -- reads --------------------------------------------------------------------------
    def range(self, request: RangeRequest) -> RangeResponse:
        revision = request.revision if request.revision > 0 else self.revision
        if revision > self.revision:
            raise FutureRevision()
        if revision < self.compacted:
            raise Compacted()
        return _range(self.states[revision], request, self.revision)

    def history(self, start: int) -> list[tuple[int, tuple[Event, ...]]]:
        if start < self.compact_revision:
            raise Compacted()
        out = []
        for revision in range(max(start, 1), self.revision + 1):
            events = self.events.get(revision, [])
            if revision == self.compacted:  # what compaction keeps of its own revision
                events = [Event(e.type, e.kv) for e in events
                          if self.states[revision].get(e.kv.key) == e.kv]
            events = [e if e.kv.create_revision != e.kv.mod_revision else Event(e.type, e.kv)
                      for e in events]
            if events:
                out.append((revision, tuple(events)))
        return out

    def lease(self, lease_id: int) -> LeaseInfo | None:
        if lease_id not in self.leases:
            return None
        keys = tuple(sorted(k for k, kv in self.states[-1].items() if kv.lease == lease_id))
        return LeaseInfo(lease_id, self.leases[lease_id], keys)

    def outcome(self, request: Request) -> tuple[int, Response, tuple[Event, ...]] | type:
        """``apply``'s result, or the StoreError class it raised."""
        try:
            return self.apply(request)
        except StoreError as error:
            return type(error)


def _holds(compare: Compare, kv: KeyValue) -> bool:
    operand = compare.operand
    if compare.target == CompareTarget.VALUE:
        value = operand if isinstance(operand, bytes) else b""
        order = (kv.value > value) - (kv.value < value)
    else:
        actual = {CompareTarget.VERSION: kv.version, CompareTarget.CREATE: kv.create_revision,
                  CompareTarget.MOD: kv.mod_revision, CompareTarget.LEASE: kv.lease}[compare.target]
        number = operand if isinstance(operand, int) else 0
        order = (actual > number) - (actual < number)
    return {CompareResult.EQUAL: order == 0, CompareResult.NOT_EQUAL: order != 0,
            CompareResult.GREATER: order > 0, CompareResult.LESS: order < 0}[compare.result]


_SORT_FIELDS = {SortTarget.KEY: "key", SortTarget.VERSION: "version",
                SortTarget.CREATE: "create_revision", SortTarget.MOD: "mod_revision",
                SortTarget.VALUE: "value"}


def _range(state: State, request: RangeRequest, header: int) -> RangeResponse:
    kvs = [state[k] for k in sorted(state) if in_range(k, request.key, request.range_end)]
    count = len(kvs)
    if request.count_only:
        return RangeResponse(count=count, header_revision=header)
    filters = (request.min_mod_revision, request.max_mod_revision,
               request.min_create_revision, request.max_create_revision)
    if request.sort_order == SortOrder.NONE and not any(filters) and request.limit > 0:
        kvs = kvs[:request.limit + 1]  # etcd reads one more than the limit, then sorts those
    kvs = [kv for kv in kvs
           if (not request.min_mod_revision or kv.mod_revision >= request.min_mod_revision)
           and (not request.max_mod_revision or kv.mod_revision <= request.max_mod_revision)
           and (not request.min_create_revision
                or kv.create_revision >= request.min_create_revision)
           and (not request.max_create_revision
                or kv.create_revision <= request.max_create_revision)]
    order = request.sort_order
    if order == SortOrder.NONE and request.sort_target != SortTarget.KEY:
        order = SortOrder.ASCEND
    if order != SortOrder.NONE:
        field = _SORT_FIELDS[request.sort_target]
        kvs.sort(key=lambda kv: getattr(kv, field), reverse=order == SortOrder.DESCEND)
    more = 0 < request.limit < len(kvs)
    if more:
        kvs = kvs[:request.limit]
    if request.keys_only:
        kvs = [replace(kv, value=b"") for kv in kvs]
    return RangeResponse(kvs=tuple(kvs), more=more, count=count, header_revision=header)
