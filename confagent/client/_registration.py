"""Self-registration: a key kept in the store under a lease for as long as its owner runs.

A :class:`Registration` grants a lease, puts its key with it, and renews the
lease every TTL/3 (clientv3's rhythm) until it is stopped; then it revokes the
lease (best effort, within ``revoke_timeout_s``) so the key goes at once. If
the owner dies without stopping, the store deletes the key when the lease
expires, within one TTL. A template listing ``/services/web/*`` therefore
follows instances that come and go: to it they are ordinary keys.

When to renew and when to start over is decided by
:class:`~confagent.client._renewal.RenewalSchedule`, a pure core (its rules:
a renewal every TTL/3, a lease lost on TTL 0 or past its deadline, a backoff
between calls without an answer); ``Registration`` only does the calls it asks
for, and registers again, with a new lease, when the lease is lost.

Usage::

    async with EtcdClient(["http://127.0.0.1:2379"]) as etcd:
        async with Registration(etcd, b"/services/web/a", b"10.0.0.1:80", ttl_s=5) as reg:
            await reg.wait_registered()
            ...  # serve; the key lives while this block runs, and goes when it ends
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import NoReturn

from confagent.backoff import BackoffPolicy
from confagent.client._client import EtcdClient
from confagent.client._renewal import RenewalAction, RenewalSchedule, RenewalStep
from confagent.errors import ClientError, ConfagentError, ConfigError, LeaseNotFound, Unavailable

__all__ = [
    "REGISTRATION_RETRY",
    "Registration",
    "RegistrationEvent",
    "RegistrationEventKind",
]

# Errors after which trying again may succeed: the store was out of reach, had no
# leader, or the lease vanished between the grant and the put.
_TRANSIENT = (ClientError, Unavailable, LeaseNotFound)


REGISTRATION_RETRY = BackoffPolicy(initial_s=0.2, max_s=5.0)
"""The backoff after calls that got no answer: 0.2 s doubling up to 5 s, with jitter."""


class RegistrationEventKind(enum.Enum):
    REGISTERED = "registered"
    REREGISTERED = "re-registered"
    LOST = "lost"
    REVOKED = "revoked"
    NOT_REVOKED = "not revoked"
    """Stopping could not revoke the lease: the key goes when it expires, within one TTL."""


@dataclass(frozen=True, slots=True)
class RegistrationEvent:
    """A change of a registration, for the owner to log. ``reason`` says why (lost, not revoked)."""

    kind: RegistrationEventKind
    key: bytes
    lease_id: int
    ttl_s: int
    reason: str = ""


EventSink = Callable[[RegistrationEvent], None]


class Registration:
    """Keeps ``key`` = ``value`` in the store under a lease of ``ttl_s`` seconds; see the module."""

    def __init__(self, client: EtcdClient, key: bytes, value: bytes, *, ttl_s: int,
                 on_event: EventSink | None = None, retry: BackoffPolicy = REGISTRATION_RETRY,
                 rng: random.Random | None = None, revoke_timeout_s: float = 2.0) -> None:
        """Set the registration up; nothing is sent before it runs (``async with`` or ``run``).

        Args:
            client: the store to register in (its endpoints fail over).
            ttl_s: the lease's TTL asked for; the store may grant more (its minimum).
            on_event: called with every change (registered, lost, revoked, ...).
            retry: the backoff after calls that got no answer.
            rng: the randomness of the backoff's jitter.
            revoke_timeout_s: how long stopping may spend revoking the lease.

        Raises:
            ConfigError: an empty key, a TTL below 1 s or a non-positive revoke timeout.
        """
        if not key:
            raise ConfigError("a registration needs a key")
        if ttl_s < 1:
            raise ConfigError(f"a registration's TTL must be at least 1 s, got {ttl_s}")
        if revoke_timeout_s <= 0:
            raise ConfigError(f"revoke_timeout_s must be positive, got {revoke_timeout_s}")
        self.key = key
        self.value = value
        self.ttl_s = ttl_s
        self.revoke_timeout_s = revoke_timeout_s
        self.registrations = 0
        self._client = client
        self._on_event = on_event or (lambda event: None)
        self._schedule = RenewalSchedule(retry, rng or random.Random())
        self._lease_id: int | None = None  # the latest lease granted that may hold the key
        self._granted_ttl_s = 0
        self._registered = asyncio.Event()
        self._task: asyncio.Task[NoReturn] | None = None

    @property
    def lease_id(self) -> int | None:
        """The lease holding the key, None while the key is not (known to be) registered."""
        return self._lease_id if self._registered.is_set() else None

    async def __aenter__(self) -> Registration:
        assert self._task is None, "a Registration can be entered once"
        self._task = asyncio.create_task(self.run(), name=f"registration {self.key!r}")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    async def run(self) -> NoReturn:
        """Keep the key registered until cancelled; then revoke the lease and re-raise.

        Raises:
            StoreError: the store refused the key or the TTL for good (not a transient error).
        """
        try:
            step = self._schedule.start()
            while True:
                await asyncio.sleep(step.delay_s)
                step = await self._attempt(step.action)
        finally:
            await self._revoke()

    async def wait_registered(self) -> int:
        """The lease ID once the key is registered (inside ``async with``).

        Raises:
            StoreError: the registration ended with this error instead.
            ClientError: the registration was stopped first.
        """
        task = self._task
        assert task is not None, "wait_registered needs the registration running (async with)"
        waiter = asyncio.create_task(self._registered.wait())
        try:
            await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task.done():
            if task.cancelled():
                raise ClientError(f"the registration of {self.key!r} was stopped")
            task.result()
        assert self._lease_id is not None
        return self._lease_id

    async def stop(self) -> None:
        """Stop renewing and revoke the lease (bounded); no effect if not running.

        Raises:
            StoreError: the error that had ended the registration before, if any.
        """
        task = self._task
        if task is None:
            return
        task.cancel()
        await asyncio.wait({task})
        if not task.cancelled():
            task.result()

    async def _attempt(self, action: RenewalAction) -> RenewalStep:
        sent_at_s = time.monotonic()
        try:
            if action is RenewalAction.REGISTER:
                return await self._register(sent_at_s)
            return await self._renew(sent_at_s)
        except _TRANSIENT as error:
            step = self._schedule.failed(time.monotonic())
            if step.lost:
                self._lose(f"no answer for longer than the TTL ({error})")
            return step

    async def _register(self, sent_at_s: float) -> RenewalStep:
        grant = (await self._client.lease_grant(self.ttl_s)).response
        self._lease_id, self._granted_ttl_s = grant.id, grant.ttl
        await self._client.put(self.key, self.value, lease=grant.id)
        self.registrations += 1
        self._registered.set()
        first = self.registrations == 1
        self._emit(RegistrationEventKind.REGISTERED if first else RegistrationEventKind.REREGISTERED)
        return self._schedule.registered(grant.ttl, sent_at_s=sent_at_s)

    async def _renew(self, sent_at_s: float) -> RenewalStep:
        assert self._lease_id is not None, "renewing without a lease"
        reply = await self._client.lease_keepalive_once(self._lease_id)
        step = self._schedule.renewed(reply.response.ttl_s, sent_at_s=sent_at_s)
        if step.lost:
            self._lose("the lease expired or was revoked")
            self._lease_id = None
        return step

    def _lose(self, reason: str) -> None:
        self._registered.clear()
        self._emit(RegistrationEventKind.LOST, reason)

    async def _revoke(self) -> None:
        lease_id, self._lease_id = self._lease_id, None
        self._registered.clear()
        if lease_id is None:
            return
        try:
            async with asyncio.timeout(self.revoke_timeout_s):
                await self._client.lease_revoke(lease_id)
        except LeaseNotFound:
            pass  # already expired: the key is gone, as revoking would have made it
        except (ConfagentError, TimeoutError) as error:
            self._emit(RegistrationEventKind.NOT_REVOKED, str(error) or type(error).__name__,
                       lease_id=lease_id)
            return
        self._emit(RegistrationEventKind.REVOKED, lease_id=lease_id)

    def _emit(self, kind: RegistrationEventKind, reason: str = "", *,
              lease_id: int | None = None) -> None:
        lease = lease_id if lease_id is not None else self._lease_id or 0
        self._on_event(RegistrationEvent(kind, self.key, lease, self._granted_ttl_s, reason))
