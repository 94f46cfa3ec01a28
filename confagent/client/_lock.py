"""A lock over etcd's lock service, and the fence that keeps a holder's writes safe.

Usage::

    async with client.lock(b"/locks/deploy", ttl_s=10) as lock:
        ...  # lock.key, lock.revision
        await client.fenced(lock.fence, PutRequest(key=b"/app/config", value=b"..."))

Rules:

1. Entering takes a session (``_session``: a lease kept alive) unless one is
   given, then waits for the lock (``/v3/lock/lock`` under the session's
   lease); leaving unlocks, then closes a session of its own (revoking its
   lease). A lock given a session leaves it open: one session may hold several
   locks, or the slots of a semaphore, each under its own key.
2. The lock's ``revision`` (the header revision of the lock's answer, what
   ``confagent lock`` exports as ``ETCD_LOCK_REV``, as etcdctl does) is a
   fencing token: greater than any earlier holder's, and never less than the
   key's create revision. :class:`Fence` holds exactly while its key exists,
   created at or before that revision, so a write made with it (``fenced``) is
   applied only while the lock is held: a holder paused past its lease (Jepsen's
   finding about etcd's locks) cannot undo what a later holder does.
3. If the session is lost while waiting, the wait ends with ``LockLost``;
   while holding, ``lost`` is set, and the holder must stop acting as one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from confagent.client._session import SESSION_TTL_S, LeaseCalls, Session
from confagent.errors import ConfagentError, ConfigError
from confagent.kv import Compare, CompareResult, CompareTarget, RequestOp, TxnRequest
from confagent.wire import Reply, ResponseHeader

__all__ = ["LOCK_KEY_ENV", "LOCK_REV_ENV", "Fence", "Lock", "LockCalls"]

LOCK_KEY_ENV = "ETCD_LOCK_KEY"
LOCK_REV_ENV = "ETCD_LOCK_REV"
"""What ``confagent lock NAME COMMAND`` (and etcdctl's) exports to the command: the key and revision."""
UNLOCK_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Fence:
    """The guard of a holder's writes (rule 2): ``key`` exists, created at or before ``revision``."""

    key: bytes
    revision: int

    def compares(self) -> tuple[Compare, ...]:
        """The txn compares that hold exactly while the lock is held."""
        return (
            Compare(key=self.key, target=CompareTarget.CREATE, result=CompareResult.GREATER, operand=0),
            Compare(key=self.key, target=CompareTarget.CREATE, result=CompareResult.LESS,
                    operand=self.revision + 1),
        )

    def txn(self, *ops: RequestOp) -> TxnRequest:
        """A txn applying ``ops`` only while the lock is held."""
        return TxnRequest(compare=self.compares(), success=ops)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Fence:
        """The fence of the lock a command runs under (``ETCD_LOCK_KEY``, ``ETCD_LOCK_REV``).

        Raises:
            ConfigError: the variables are missing or the revision is not a number.
        """
        key, revision = environ.get(LOCK_KEY_ENV), environ.get(LOCK_REV_ENV)
        if not key or not revision:
            raise ConfigError(f"no lock to fence with: {LOCK_KEY_ENV} and {LOCK_REV_ENV} are not set "
                              "(run under confagent lock NAME COMMAND)")
        try:
            return cls(key=key.encode(), revision=int(revision))
        except ValueError:
            raise ConfigError(f"{LOCK_REV_ENV} is not a revision: {revision!r}") from None


class LockCalls(LeaseCalls, Protocol):
    """The calls a lock makes (``EtcdClient`` has them)."""

    async def acquire_lock(self, name: bytes, lease: int) -> Reply[bytes]: ...
    async def release_lock(self, key: bytes) -> ResponseHeader: ...


class Lock:
    """The lock ``name``, held inside ``async with`` (module rules)."""

    def __init__(self, calls: LockCalls, name: bytes, *, ttl_s: int = SESSION_TTL_S,
                 session: Session | None = None) -> None:
        if not name:
            raise ConfigError("a lock needs a name")
        self.name = name
        self.key = b""
        """The holder's key, ``name/<lease in hex>`` (set once held)."""
        self.revision = 0
        """The revision the lock was taken at: its fencing token (rule 2; set once held)."""
        self._calls = calls
        self._own_session = session is None
        self.session = session or Session(calls, ttl_s=ttl_s)

    @property
    def fence(self) -> Fence:
        assert self.key, "the lock is not held"
        return Fence(self.key, self.revision)

    @property
    def lost(self) -> asyncio.Event:
        """Set once the session is lost (or closed): the lock is no longer held (rule 3)."""
        return self.session.lost

    async def __aenter__(self) -> Lock:
        if self._own_session:
            await self.session.start()
        try:
            reply = await self._acquire()
        except BaseException:
            if self._own_session:
                await self.session.close()
            raise
        self.key, self.revision = reply.response, reply.header.revision
        return self

    async def _acquire(self) -> Reply[bytes]:
        """The lock's answer, unless the session is lost first (rule 3)."""
        return await self.session.until_lost(
            self._calls.acquire_lock(self.name, self.session.lease_id),
            f"the session of the lock {self.name!r} was lost while waiting for it")

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            with contextlib.suppress(ConfagentError, TimeoutError):
                async with asyncio.timeout(UNLOCK_TIMEOUT_S):
                    await self._calls.release_lock(self.key)
        finally:
            self.key = b""
            if self._own_session:
                await self.session.close()
