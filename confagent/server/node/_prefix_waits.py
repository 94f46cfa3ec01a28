"""What the lock and election services share: a call's lease, the oldest key under a prefix, and
waiting for one's turn.

etcd serves ``v3lock`` and ``v3election`` as clients of its own server
(clientv3/concurrency: the session, ``waitDeletes``); a member here does the
same against its own KV, lease and watch, through the node's public calls
(``StoreNode.propose``, ``range``, the watch fan-out), so on a follower the
writes go to the leader and the reads are linearizable, as any client's.

Rules:
1. A call naming lease 0 gets a lease of ``SESSION_TTL_S`` granted for it,
   which nobody renews (etcd's session, orphaned at once); any other lease is
   used as given, unchecked (lease -1 for Leader and Observe, never written).
2. The keys under a prefix queue by create revision: the oldest holds the lock,
   or leads the election.
3. A waiter waits for the deletion of the newest key created before its own,
   then looks again, until none is left (``wait_deletes``): each waiter watches
   one key, and a release wakes one waiter, not all.
4. A store error met here reaches the caller as a ``ConcurrencyError``: gRPC
   code 2 with the store's message, as etcd's services answer it.
5. Clean-up after a caller that left while waiting (``detach``) runs on its
   own, bounded by the request timeout; ``close`` cancels what is still running.
6. With auth enabled, everything is done as the caller (``node._auth`` rule 5), as
   etcd's services are clients of etcd with the caller's token: the writes carry the
   caller's credentials into the log (a lock's txn wants write on the caller's key
   and read on the prefix), the reads are checked when made.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

from confagent.errors import ConcurrencyError, Stopped, StoreError
from confagent.kv import (
    DeleteRangeRequest,
    EventType,
    KeyValue,
    LeaseGrantRequest,
    LeaseGrantResponse,
    RangeRequest,
    SortOrder,
    SortTarget,
    TxnRequest,
    TxnResponse,
    check_raft_request_size,
    prefix_end,
)
from confagent.server.node._local import LocalWatch, LocalWatchHub
from confagent.server.node._node import StoreNode

__all__ = ["SESSION_TTL_S", "PrefixWaits", "service_errors"]

SESSION_TTL_S = 60
"""The TTL of the lease granted to a call that names none (clientv3's default session TTL)."""


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """Store errors as the services answer them: code 2, the store's message (rule 4)."""
    try:
        yield
    except ConcurrencyError:
        raise
    except StoreError as error:
        raise ConcurrencyError(error.message) from error


class PrefixWaits:
    """One member's share of the services' machinery (module rules)."""

    def __init__(self, node: StoreNode) -> None:
        self.node = node
        self._watches = LocalWatchHub(node)
        self._detached: set[asyncio.Task[None]] = set()
        self._closed = False

    async def session_lease(self, lease: int) -> int:
        """``lease``, or a new one of ``SESSION_TTL_S`` when it is 0 (rule 1)."""
        if lease:
            return lease
        with service_errors():
            grant = LeaseGrantRequest(ttl=SESSION_TTL_S, id=self.node.new_lease_id())
            applied = await self.node.propose(grant, self.node.auth.credentials())
        assert isinstance(applied.response, LeaseGrantResponse)
        return applied.response.id

    async def txn(self, request: TxnRequest) -> tuple[int, TxnResponse]:
        """The revision after ``request`` (its header's) and its response.

        Raises:
            ConcurrencyError: refused ("etcdserver: request is too large" past etcd's Raft limit).
        """
        with service_errors():
            check_raft_request_size(request)
            applied = await self.node.propose(request, self.node.auth.credentials())
        assert isinstance(applied.response, TxnResponse)
        return applied.revision, applied.response

    async def delete(self, key: bytes) -> int:
        """Delete ``key``; the revision after it."""
        with service_errors():
            applied = await self.node.propose(DeleteRangeRequest(key=key), self.node.auth.credentials())
        return applied.revision

    async def oldest(self, prefix: bytes) -> tuple[int, KeyValue | None]:
        """The revision read at and the oldest key under ``prefix`` (rule 2), if any."""
        with service_errors():
            response = await self.node.range(oldest_under(prefix))
        return self.node.kv.revision, response.kvs[0] if response.kvs else None

    async def wait_deletes(self, prefix: bytes, max_create_revision: int) -> int:
        """Return once no key under ``prefix`` was created at or before ``max_create_revision``
        (rule 3); the revision of the read that found none."""
        request = RangeRequest(key=prefix, range_end=prefix_end(prefix), limit=1,
                               sort_order=SortOrder.DESCEND, sort_target=SortTarget.CREATE,
                               max_create_revision=max_create_revision)
        while True:
            with service_errors():
                response = await self.node.range(request)
            revision = self.node.kv.revision
            if not response.kvs:
                return revision
            await self.wait_delete(response.kvs[0].key, revision)

    async def wait_delete(self, key: bytes, revision: int) -> None:
        """Return once ``key`` is deleted at ``revision`` or later.

        Raises:
            ConcurrencyError: that history was compacted away, or the member is stopping.
        """
        with service_errors():
            async with self.watch(key, start_revision=revision) as watch:
                async for _revision, events in watch:
                    if any(event.type is EventType.DELETE for event in events):
                        return
            raise Stopped()  # the watch ended without the deletion: the member closed its watches

    @contextlib.asynccontextmanager
    async def watch(self, key: bytes, range_end: bytes = b"", *,
                    start_revision: int) -> AsyncIterator[LocalWatch]:
        """An in-process watch of ``[key, range_end)`` from ``start_revision``, closed on leaving.

        Raises:
            Stopped: the member is stopping (``close`` was called).
        """
        if self._closed:
            raise Stopped()
        watch = self._watches.watch(key, range_end, start_revision=start_revision)
        try:
            yield watch
        finally:
            watch.close()

    def detach(self, cleanup: Coroutine[Any, Any, object]) -> None:
        """Run ``cleanup`` on its own (rule 5): the caller that wanted it has gone."""
        async def bounded() -> None:
            with contextlib.suppress(StoreError, TimeoutError):
                async with asyncio.timeout(self.node.config.request_timeout_s):
                    await cleanup
        task = asyncio.create_task(bounded(), name="lock clean-up")
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)

    def close(self) -> None:
        """End every watch, and cancel every clean-up still running (the member is stopping:
        its proposals fail anyway)."""
        self._closed = True
        self._watches.close()
        for task in self._detached:
            task.cancel()


def oldest_under(prefix: bytes) -> RangeRequest:
    """The read of the oldest key under ``prefix`` (clientv3's ``WithFirstCreate``)."""
    return RangeRequest(key=prefix, range_end=prefix_end(prefix), limit=1,
                        sort_order=SortOrder.ASCEND, sort_target=SortTarget.CREATE)
