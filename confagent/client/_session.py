"""A session: one lease kept alive for as long as its owner runs, what locks and elections hold under.

etcd's ``concurrency.Session`` in the client's terms: :class:`Session` grants a
lease, renews it on :class:`~confagent.client._renewal.RenewalSchedule`'s
rhythm (every TTL/3, a backoff between calls without an answer), and revokes it
when closed (bounded), so every key put under it goes at once. Rules:

1. A lost lease is not replaced (a registration's is): the session is over,
   ``lost`` is set, and what was held under it (a lock's key, a candidate's) is
   gone or going. ``lost`` is set too once the session is closed.
2. Several holders may share one session (a lock, an election, slots of a
   semaphore), each putting its own key under the lease; closing the session
   releases them all.
3. A session that cannot be granted raises from ``start`` and holds nothing.

Usage::

    async with Session(client, ttl_s=10) as session:
        ...  # session.lease_id; session.lost is set if the lease is lost
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable
from types import TracebackType
from typing import Protocol, TypeVar

from confagent.backoff import BackoffPolicy
from confagent.client._renewal import RenewalSchedule, RenewalStep
from confagent.errors import ConfagentError, ConfigError, LockLost
from confagent.kv import LeaseGrantResponse
from confagent.wire import LeaseKeepAlive, Reply, ResponseHeader

__all__ = ["SESSION_RETRY", "SESSION_TTL_S", "LeaseCalls", "Session", "replace_session"]

SESSION_TTL_S = 60
"""A session's TTL unless told otherwise: clientv3's default."""
SESSION_RETRY = BackoffPolicy(initial_s=0.2, max_s=2.0)
"""The backoff between renewals that got no answer (never past the lease's deadline)."""
REVOKE_TIMEOUT_S = 2.0


T = TypeVar("T")

class LeaseCalls(Protocol):
    """The calls a session makes (``EtcdClient`` has them)."""

    async def lease_grant(self, ttl_s: int, lease_id: int = 0) -> Reply[LeaseGrantResponse]: ...
    async def lease_keepalive_once(self, lease_id: int) -> Reply[LeaseKeepAlive]: ...
    async def lease_revoke(self, lease_id: int) -> ResponseHeader: ...


class Session:
    """A lease kept alive until closed or lost (module rules); ``start``/``close``, or ``async with``."""

    def __init__(self, calls: LeaseCalls, *, ttl_s: int = SESSION_TTL_S, retry: BackoffPolicy = SESSION_RETRY,
                 rng: random.Random | None = None) -> None:
        """Nothing is sent before ``start``.

        Raises:
            ConfigError: a TTL below 1 s.
        """
        if ttl_s < 1:
            raise ConfigError(f"a session's TTL must be at least 1 s, got {ttl_s}")
        self.ttl_s = ttl_s
        self.lost = asyncio.Event()
        """Set once the lease is lost or the session closed (rule 1)."""
        self._calls = calls
        self._schedule = RenewalSchedule(retry, rng or random.Random())
        self._lease_id: int | None = None
        self._renewing: asyncio.Task[None] | None = None

    @property
    def lease_id(self) -> int:
        """The session's lease (started sessions only)."""
        assert self._lease_id is not None, "start the session first"
        return self._lease_id

    async def __aenter__(self) -> Session:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def start(self) -> None:
        """Grant the lease and start renewing it.

        Raises:
            StoreError, ClientError: the lease could not be granted (rule 3).
        """
        assert self._lease_id is None, "a session starts once"
        sent_at_s = time.monotonic()
        grant = (await self._calls.lease_grant(self.ttl_s)).response
        self._lease_id = grant.id
        step = self._schedule.registered(grant.ttl, sent_at_s=sent_at_s)
        self._renewing = asyncio.create_task(self._renew_from(step), name=f"session {grant.id:x}")

    async def close(self) -> None:
        """Stop renewing and revoke the lease (bounded: it expires by itself otherwise)."""
        if self._renewing is not None:
            self._renewing.cancel()
            await asyncio.wait((self._renewing,))
        self.lost.set()
        lease_id, self._lease_id = self._lease_id, None
        if lease_id is None:
            return
        with contextlib.suppress(ConfagentError, TimeoutError):
            async with asyncio.timeout(REVOKE_TIMEOUT_S):
                await self._calls.lease_revoke(lease_id)

    async def until_lost(self, work: Awaitable[T], what: str) -> T:
        """``work``'s result, unless the session is lost first: then ``work`` is cancelled.

        Raises:
            LockLost: the session was lost first (``what`` is the message).
        """
        call = asyncio.ensure_future(work)
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            await asyncio.wait((call, lost), return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not call.done():
                call.cancel()
                await asyncio.wait((call,))
        if call.cancelled():
            raise LockLost(what)
        return call.result()

    async def _renew_from(self, step: RenewalStep) -> None:
        try:
            while not step.lost:
                await asyncio.sleep(step.delay_s)
                sent_at_s = time.monotonic()
                try:
                    reply = await self._calls.lease_keepalive_once(self.lease_id)
                except ConfagentError:  # no answer, or a refusal: not renewed (``_renewal`` rule 3)
                    step = self._schedule.failed(time.monotonic())
                    continue
                step = self._schedule.renewed(reply.response.ttl_s, sent_at_s=sent_at_s)
        finally:
            self.lost.set()


async def replace_session(lost: Session | None, calls: LeaseCalls, ttl_s: int) -> Session:
    """A new session, started, in place of ``lost`` (closed first, if any: its lease revoked, bounded).

    Raises:
        StoreError, ClientError: the new lease could not be granted (rule 3).
    """
    if lost is not None:
        await lost.close()
    session = Session(calls, ttl_s=ttl_s)
    await session.start()
    return session
