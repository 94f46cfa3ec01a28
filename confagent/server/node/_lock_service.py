"""etcd's lock service (``v3lock``: Lock, Unlock), served once for both fronts.

A lock ``name`` is the queue of keys under ``name/``; a caller's key is
``name/<its lease in hex>``, put under that lease, so a holder that goes away
loses the lock when its lease expires. As etcd's ``concurrency.Mutex``:

1. Lock puts the caller's key unless it exists (a lease that holds the lock
   already gets the same key back), and holds the lock at once when its key
   is the oldest under the prefix (``PrefixWaits`` rule 2); the answer's
   revision is then that write's (or the read's, for a key that existed).
2. Otherwise it waits for every older key to go (``PrefixWaits.wait_deletes``);
   the answer's revision is the read that found none left.
3. A caller that leaves while waiting (its request cancelled) has its key
   deleted, so it never blocks the waiters behind it.
4. When the turn comes but the caller's own key has gone meanwhile (its lease
   expired or was revoked), the answer is ``LockSessionExpired``, as etcd 3.5
   answers (etcd 3.4 grants the lock to the vanished key, and so a second holder
   at once: see ``errors.LockSessionExpired``).
5. Unlock deletes the key given, whoever holds it; a key that does not exist is
   no error. Both answer with the revision after the call.

The answer's revision, never less than the key's create revision and greater
than any earlier holder's, is the lock's fencing token (``confagent lock``
exports it as ``ETCD_LOCK_REV``): "the key still exists, created at or before
that revision" holds exactly while the lock is held.
"""

from __future__ import annotations

from confagent.errors import LockSessionExpired
from confagent.kv import (
    Compare,
    CompareTarget,
    PutRequest,
    RangeRequest,
    RangeResponse,
    TxnRequest,
)
from confagent.server.node._prefix_waits import PrefixWaits, oldest_under
from confagent.wire import LockRequest

__all__ = ["LockService", "lock_key"]


def lock_key(prefix: bytes, lease: int) -> bytes:
    """A caller's key in a lock's (or an election's) queue: ``prefix`` + its lease in hex, as Go's ``%x``."""
    return prefix + f"{lease:x}".encode()


class LockService:
    """Lock and Unlock of one member (module rules); errors are ``ConcurrencyError``."""

    def __init__(self, waits: PrefixWaits) -> None:
        self._waits = waits

    async def lock(self, request: LockRequest) -> tuple[int, bytes]:
        """The revision the lock was taken at and the caller's key, once it holds the lock."""
        lease = await self._waits.session_lease(request.lease)
        prefix = request.name + b"/"
        key = lock_key(prefix, lease)
        revision, response = await self._waits.txn(TxnRequest(
            compare=(Compare(key=key, target=CompareTarget.CREATE, operand=0),),
            success=(PutRequest(key=key, lease=lease), oldest_under(prefix)),
            failure=(RangeRequest(key=key), oldest_under(prefix)),
        ))
        mine, oldest = response.responses
        assert isinstance(oldest, RangeResponse)
        created = revision if response.succeeded else _only(mine).kvs[0].create_revision
        if not oldest.kvs or oldest.kvs[0].create_revision == created:
            return revision, key  # rule 1
        try:
            revision = await self._waits.wait_deletes(prefix, created - 1)
        except BaseException:  # the caller left (rule 3), or the wait failed: as etcd, let go
            self._waits.detach(self._waits.delete(key))
            raise
        if not self._waits.node.kv.range(RangeRequest(key=key)).kvs:
            raise LockSessionExpired()  # rule 4
        return revision, key

    async def unlock(self, key: bytes) -> int:
        """Delete ``key`` (rule 5); the revision after it."""
        return await self._waits.delete(key)


def _only(response: object) -> RangeResponse:
    assert isinstance(response, RangeResponse) and len(response.kvs) == 1, response
    return response
