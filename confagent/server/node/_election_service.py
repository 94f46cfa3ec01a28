"""etcd's election service (``v3election``: Campaign, Proclaim, Leader, Observe, Resign), served once
for both fronts.

An election ``name`` is the queue of keys under ``name/``, each candidate's
``name/<its lease in hex>`` holding its proposal; the oldest leads
(``PrefixWaits`` rule 2). As etcd's ``concurrency.Election``:

1. Campaign puts the candidate's key with its value unless it exists; a key
   that exists with another value is proclaimed the new value first (refused:
   the campaign resigns and fails). It then waits for every older key to go and
   answers the LeaderKey (name, key, create revision, lease) with the revision
   of its first write (or read).
2. A candidate that leaves while waiting (its request cancelled) resigns.
3. Proclaim and Resign act only while the key still exists at the LeaderKey's
   create revision (a transaction's compare): Proclaim otherwise fails with
   ``ElectionNotLeader``, Resign does nothing. Either refuses a request without a
   LeaderKey (``LeaderKeyMissing``). A LeaderKey naming lease 0 gets a new lease
   (``PrefixWaits`` rule 1), under which Proclaim puts the value: etcd's doing.
4. Leader answers the leader's key-value, or ``ElectionNoLeader``.
5. Observe yields the leader's key-value now (or once a first candidate
   appears), then each new value it proclaims, then the next leader's when its
   key goes, until the caller leaves; each with the revision it was read or
   written at. It ends quietly if its history is compacted away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from confagent.errors import (
    Compacted,
    ConcurrencyError,
    ElectionNoLeader,
    ElectionNotLeader,
    LeaderKeyMissing,
    Stopped,
)
from confagent.kv import (
    Compare,
    CompareTarget,
    DeleteRangeRequest,
    EventType,
    KeyValue,
    PutRequest,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    prefix_end,
)
from confagent.server.node._lock_service import lock_key
from confagent.server.node._prefix_waits import PrefixWaits
from confagent.wire import CampaignRequest, LeaderKey, ProclaimRequest, ResignRequest

__all__ = ["ElectionService"]


def _is_leader(leader: LeaderKey) -> Compare:
    return Compare(key=leader.key, target=CompareTarget.CREATE, operand=leader.rev)


class ElectionService:
    """The election calls of one member (module rules); errors are ``ConcurrencyError``."""

    def __init__(self, waits: PrefixWaits) -> None:
        self._waits = waits

    async def campaign(self, request: CampaignRequest) -> tuple[int, LeaderKey]:
        """The revision of the candidate's write and its LeaderKey, once it leads (rules 1, 2)."""
        lease = await self._waits.session_lease(request.lease)
        prefix = request.name + b"/"
        key = lock_key(prefix, lease)
        revision, response = await self._waits.txn(TxnRequest(
            compare=(Compare(key=key, target=CompareTarget.CREATE, operand=0),),
            success=(PutRequest(key=key, value=request.value, lease=lease),),
            failure=(RangeRequest(key=key),),
        ))
        leader = LeaderKey(name=request.name, key=key, rev=revision, lease=lease)
        if not response.succeeded:
            existing = response.responses[0]
            assert isinstance(existing, RangeResponse) and len(existing.kvs) == 1
            kv = existing.kvs[0]
            leader = LeaderKey(name=request.name, key=key, rev=kv.create_revision, lease=lease)
            if kv.value != request.value:
                await self._proclaim_or_resign(leader, request.value)
        try:
            await self._waits.wait_deletes(prefix, leader.rev - 1)
        except BaseException:  # the candidate left (rule 2), or the wait failed
            self._waits.detach(self._resign(leader))
            raise
        return revision, leader

    async def _proclaim_or_resign(self, leader: LeaderKey, value: bytes) -> None:
        try:
            await self._proclaim(leader, value)
        except ConcurrencyError:
            await self._resign(leader)
            raise

    async def proclaim(self, request: ProclaimRequest) -> int:
        """Put the leader's new value (rule 3); the revision after it."""
        if request.leader is None:
            raise LeaderKeyMissing()
        lease = await self._waits.session_lease(request.leader.lease)
        return await self._proclaim(
            LeaderKey(request.leader.name, request.leader.key, request.leader.rev, lease), request.value)

    async def _proclaim(self, leader: LeaderKey, value: bytes) -> int:
        revision, response = await self._waits.txn(TxnRequest(
            compare=(_is_leader(leader),),
            success=(PutRequest(key=leader.key, value=value, lease=leader.lease),),
        ))
        if not response.succeeded:
            raise ElectionNotLeader()
        return revision

    async def resign(self, request: ResignRequest) -> int:
        """Delete the leader's key if it still leads (rule 3); the revision after the call."""
        if request.leader is None:
            raise LeaderKeyMissing()
        await self._waits.session_lease(request.leader.lease)
        return await self._resign(request.leader)

    async def _resign(self, leader: LeaderKey) -> int:
        revision, _response = await self._waits.txn(TxnRequest(
            compare=(_is_leader(leader),), success=(DeleteRangeRequest(key=leader.key),)))
        return revision

    async def leader(self, name: bytes) -> tuple[int, KeyValue]:
        """The revision read at and the leader's key-value (rule 4)."""
        revision, kv = await self._waits.oldest(name + b"/")
        if kv is None:
            raise ElectionNoLeader()
        return revision, kv

    async def observe(self, name: bytes) -> AsyncIterator[tuple[int, KeyValue]]:
        """The leaders of ``name`` and their values as they change (rule 5)."""
        prefix = name + b"/"
        try:
            while True:
                revision, kv = await self._waits.oldest(prefix)
                if kv is None:
                    kv = await self._first_candidate(prefix, revision)
                    revision = kv.mod_revision
                yield revision, kv
                async for answer in self._values_of(kv.key, revision + 1):
                    yield answer
        except Compacted:
            return

    async def _first_candidate(self, prefix: bytes, revision: int) -> KeyValue:
        """The first key put under ``prefix`` from ``revision`` on."""
        async with self._waits.watch(prefix, prefix_end(prefix), start_revision=revision) as watch:
            async for _revision, events in watch:
                for event in events:
                    if event.type is EventType.PUT:
                        return event.kv
        raise Stopped()

    async def _values_of(self, key: bytes, revision: int) -> AsyncIterator[tuple[int, KeyValue]]:
        """Each new value of the leader's ``key`` from ``revision`` on, until it is deleted."""
        async with self._waits.watch(key, start_revision=revision) as watch:
            async for at, events in watch:
                for event in events:
                    if event.type is EventType.DELETE:
                        return
                    yield at, event.kv
        raise Stopped()
