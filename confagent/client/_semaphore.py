"""A counting semaphore in the store: at most N holders of the slots under one name, fleet-wide.

Usage::

    async with client.semaphore(b"/locks/nginx", 2, ttl_s=10) as slot:
        ...  # one of the 2 slots is held: slot.key, slot.revision, slot.lost

etcd has no semaphore service; this one is built from the calls every etcd v3
server answers (txn, range, watch, leases), as the lock service is built, so it
works against a real etcd and against confagent's store alike. Rules:

1. A taker puts its key ``name/<lease in hex>`` under its session's lease
   (``_session``), in one txn that also reads every key under ``name/``. Keys
   are served in create-revision order: a taker holds a slot once fewer than
   ``slots`` keys created before its own remain (the lock's rule, with N
   instead of 1).
2. While all N slots ahead are taken it waits for deletions of keys created
   before its own (a watch on ``name/`` from the txn's revision on, deletes
   only), each counted once; a watch ended by compaction is replaced by a
   fresh read of the keys ahead and a new watch. Later keys never count:
   they queue behind it.
3. One session holds at most one slot of a name (the key is the lease's):
   asking for a second under the same session is a ``ConfigError``.
4. Clean-up as the lock's: a taker that leaves (a cancelled wait, an error,
   or leaving ``async with``) deletes its key, bounded; a session of its own
   is closed (its lease revoked). A wait cancelled while the txn that queues
   the key is in flight deletes it too: the txn may have been applied and
   its answer not read (the key is known before it is written). A holder that dies frees its slot when its
   lease expires. The session lost while waiting ends the wait with
   ``LockLost``; while holding, ``lost`` is set.
5. All takers of one name must agree on ``slots``: each decides by its own N.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from types import TracebackType
from typing import Protocol

from confagent.client._lock import Fence
from confagent.client._session import SESSION_TTL_S, LeaseCalls, Session
from confagent.errors import ClientError, ConfagentError, ConfigError, LockLost
from confagent.kv import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeResponse,
    EventType,
    KeyValue,
    PutRequest,
    RangeRequest,
    RangeResponse,
    SortOrder,
    SortTarget,
    TxnRequest,
    TxnResponse,
    WatchResponse,
    prefix_range,
)
from confagent.wire import Reply

__all__ = ["SLOTS_MAX", "Semaphore", "SemaphoreCalls"]

SLOTS_MAX = 10_000
"""The most slots a semaphore may have (a bound, far above any fleet's useful concurrency)."""
RELEASE_TIMEOUT_S = 2.0


class SemaphoreCalls(LeaseCalls, Protocol):
    """The calls a semaphore makes (``EtcdClient`` has them)."""

    async def txn(self, request: TxnRequest) -> Reply[TxnResponse]: ...
    async def range(self, request: RangeRequest) -> Reply[RangeResponse]: ...
    async def delete(self, key: bytes, range_end: bytes = b"", *, prefix: bool = False,
                     from_key: bool = False, prev_kv: bool = False) -> Reply[DeleteRangeResponse]: ...
    def watch(self, key: bytes, range_end: bytes = b"", *, prefix: bool = False,
              from_key: bool = False, start_revision: int = 0, prev_kv: bool = False,
              progress_notify: bool = False, no_put: bool = False, no_delete: bool = False,
              resume: bool = False) -> AsyncGenerator[Reply[WatchResponse], None]: ...


class Semaphore:
    """One of the ``slots`` slots of ``name``, held inside ``async with`` (module rules).

    Args:
        calls: the client.
        name: the semaphore's name; its keys are ``name/<lease in hex>``.
        slots: how many may hold at once (1 to ``SLOTS_MAX``).
        ttl_s: the TTL of a session of its own (a dead holder's slot is free after it).
        session: a session to hold the slot under (left open on leaving).
        value: the value of the taker's key (who holds, for people looking).
        on_wait: called once, with how many keys are ahead, when every slot is taken.
    """

    def __init__(self, calls: SemaphoreCalls, name: bytes, slots: int, *, ttl_s: int = SESSION_TTL_S,
                 session: Session | None = None, value: bytes = b"",
                 on_wait: Callable[[int], None] | None = None) -> None:
        if not name:
            raise ConfigError("a semaphore needs a name")
        if not 1 <= slots <= SLOTS_MAX:
            raise ConfigError(f"a semaphore has 1 to {SLOTS_MAX} slots, not {slots}")
        self.name = name
        self.slots = slots
        self.key = b""
        """The taker's key, ``name/<lease in hex>`` (set once held)."""
        self.revision = 0
        """The key's create revision: its turn, and the fencing token of the slot (set once held)."""
        self.value = value
        self._calls = calls
        self._on_wait = on_wait
        self._queued = False
        """The key was put (rule 4: only then is it deleted on leaving; rule 3's key is another's)."""
        self._own_session = session is None
        self.session = session or Session(calls, ttl_s=ttl_s)

    @property
    def fence(self) -> Fence:
        """Holds while this slot's key exists (as a lock's fence)."""
        assert self.key, "no slot is held"
        return Fence(self.key, self.revision)

    @property
    def lost(self) -> asyncio.Event:
        """Set once the session is lost (or closed): the slot is no longer held (rule 4)."""
        return self.session.lost

    async def __aenter__(self) -> Semaphore:
        if self._own_session:
            await self.session.start()
        key = self.name + b"/" + f"{self.session.lease_id:x}".encode()
        try:
            self.revision = await self.session.until_lost(
                self._take(key),
                f"the session of the semaphore {self.name!r} was lost while waiting for a slot")
        except BaseException:
            await self._leave(key if self._queued else b"")
            raise
        self.key = key
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        key, self.key = self.key, b""
        await self._leave(key)

    async def _leave(self, key: bytes) -> None:
        """Delete ``key`` if any (bounded; its lease ends it otherwise), then close a session of its own."""
        self._queued = False
        try:
            if key:
                with contextlib.suppress(ConfagentError, TimeoutError):
                    async with asyncio.timeout(RELEASE_TIMEOUT_S):
                        await self._calls.delete(key)
        finally:
            if self._own_session:
                await self.session.close()

    async def _take(self, key: bytes) -> int:
        """Queue ``key`` and wait for a slot (rules 1-3); the key's create revision."""
        start, end = prefix_range(self.name + b"/")
        queue = RangeRequest(start, end, sort_order=SortOrder.ASCEND, sort_target=SortTarget.CREATE,
                             keys_only=True)
        self._queued = True  # from the moment the txn may be applied: its answer may never be read (rule 4)
        reply = await self._calls.txn(TxnRequest(
            compare=(Compare(key=key, target=CompareTarget.CREATE, result=CompareResult.EQUAL, operand=0),),
            success=(PutRequest(key=key, value=self.value, lease=self.session.lease_id), queue)))
        if not reply.response.succeeded:
            self._queued = False  # the key is this session's other slot: not ours to delete
            raise ConfigError(f"the session already holds or waits for a slot of {self.name!r}: "
                              "one slot per session")
        revision = reply.header.revision
        queued = reply.response.responses[1]
        assert isinstance(queued, RangeResponse), "the txn's second op is a range"
        ahead = _ahead(queued.kvs, key, revision)
        if len(ahead) >= self.slots and self._on_wait is not None:
            self._on_wait(len(ahead))
        seen = revision
        while len(ahead) >= self.slots:
            ahead, seen = await self._wait_for_deletes(key, revision, ahead, queue, seen)
        return revision

    async def _wait_for_deletes(self, key: bytes, revision: int, ahead: set[bytes], queue: RangeRequest,
                                seen: int) -> tuple[set[bytes], int]:
        """``ahead`` once fewer than ``slots`` of it remain, watching from after revision ``seen``; or
        ``ahead`` read again after a compaction, with the revision of that read (rule 2).

        Raises:
            LockLost: the taker's own key was deleted while it waited.
            StoreError, ClientError: the store refused, or did not answer.
        """
        start, end = queue.key, queue.range_end
        watched = self._calls.watch(start, end, start_revision=seen + 1, no_put=True, resume=True)
        async with contextlib.aclosing(watched) as messages:
            async for message in messages:
                if message.response.canceled:
                    fresh = await self._calls.range(queue)
                    return _ahead(fresh.response.kvs, key, revision), fresh.header.revision
                for event in message.response.events:
                    if event.type == EventType.DELETE:
                        if event.kv.key == key:
                            raise LockLost(f"the key {key!r} of a slot of {self.name!r} was deleted "
                                           "while waiting")
                        ahead.discard(event.kv.key)
                if len(ahead) < self.slots:
                    return ahead, seen
        raise ClientError(f"the watch of the semaphore {self.name!r} ended")


def _ahead(kvs: tuple[KeyValue, ...], key: bytes, revision: int) -> set[bytes]:
    """The keys created before ``revision`` (the taker's); LockLost when ``key`` is not among ``kvs``."""
    if not any(kv.key == key for kv in kvs):
        raise LockLost(f"the key {key!r} of a semaphore slot is gone (its lease expired or was revoked)")
    return {kv.key for kv in kvs if kv.create_revision < revision}
