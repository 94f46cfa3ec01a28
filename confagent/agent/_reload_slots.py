"""``StoreReloadSlots``: the slots of resources' ``reload_lock``, taken from a semaphore in the store.

A key change that touches every host of a fleet must not reload them all at
once: a resource with ``reload_lock = "/locks/nginx"`` and
``reload_concurrency = N`` installs and reloads (rollback included) inside one
of N slots (``confagent.apply`` rule 5). Rules:

1. The slots are ``confagent.client.Semaphore``s in the store the agent
   reads: over the etcd backend's endpoints, or over the embedded store's own
   client URL (from its serving record, as ``_one_shot_backend`` reads
   through a running store; a one-shot pass reading through a running
   store uses that backend's client). Why the client URL and not the node in-process:
   the semaphore is written once, over the client's calls, and is tested
   against etcd and confagent alike; the node has no such calls (a lease kept
   alive, a watch stream of deletions), and giving it some would be a second
   implementation of the same protocol; one loopback request per reload costs
   nothing beside the reload. An embedded store serving no client URL, and
   the file, env and metad backends, have no slots (``for_backend`` gives
   None): their resources with a ``reload_lock`` are deferred, saying why.
2. Every slot of the agent is held under one session (``reload_lock_ttl``),
   granted when first needed and granted again once lost: an agent that dies
   holding a slot frees it when that TTL has passed.
3. Taking a slot waits at most ``reload_lock_wait``; when every slot is taken
   one line says so (``waiting for a reload slot``: the lock, its slots, how
   many are ahead, the bound), and one more once the slot is had. When the
   wait ends, the store does not answer, or the session cannot be granted,
   entering raises ``ReloadDeferred``: a reload never runs without its slot,
   and no resource waits beyond the bound. ``stop_waiting`` (the agent
   stopping) ends the waits the same way at once.
4. Leaving deletes the slot's key (bounded; its lease ends it otherwise);
   ``close`` revokes the session and closes the client.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import structlog

from confagent.backends import Backend, EtcdBackend
from confagent.client import ClientConfig, ClientTls, EtcdClient, Semaphore, Session, replace_session
from confagent.config import AgentConfig
from confagent.errors import ConfagentError, ReloadDeferred

__all__ = ["StoreReloadSlots", "store_client_config"]

Logger = structlog.typing.FilteringBoundLogger


class StoreReloadSlots:
    """``confagent.apply.ReloadSlots`` over a store's semaphores (module rules).

    Args:
        client: a client of the store; closed with the slots if ``own_client``.
        ttl_s: the session's TTL (rule 2).
        wait_s: the longest a slot is waited for (rule 3).
    """

    def __init__(self, client: EtcdClient, *, ttl_s: float, wait_s: float, log: Logger,
                 own_client: bool = True) -> None:
        self._client = client
        self._own_client = own_client
        self._ttl_s = max(1, math.ceil(ttl_s))
        self._wait_s = wait_s
        self._log = log
        self._session: Session | None = None
        self._granting = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._holder = f"{socket.gethostname()} pid {os.getpid()}".encode()

    @classmethod
    def for_backend(cls, backend: Backend, config: AgentConfig, log: Logger) -> StoreReloadSlots | None:
        """The slots of the store ``backend`` reads, or None when it has none to offer (rule 1)."""
        run = config.run
        if isinstance(backend, EtcdBackend):
            return cls(backend.client, ttl_s=run.reload_lock_ttl_s, wait_s=run.reload_lock_wait_s, log=log,
                       own_client=False)
        client_config = store_client_config(backend, config)
        if client_config is None:
            return None
        return cls(EtcdClient(client_config), ttl_s=run.reload_lock_ttl_s, wait_s=run.reload_lock_wait_s,
                   log=log)

    def slot(self, lock: str, concurrency: int) -> AbstractAsyncContextManager[object]:
        """One of the ``concurrency`` slots of ``lock``, held inside ``async with`` (rule 3).

        Raises:
            ReloadDeferred: on entering, when no slot was had within the bound.
        """
        return self._slot(lock, concurrency)

    def stop_waiting(self) -> None:
        """End every wait for a slot now, and refuse new ones (rule 3)."""
        self._stopping.set()

    async def close(self) -> None:
        """Revoke the session (its slots go with it) and close the client (rule 4)."""
        self._stopping.set()
        session, self._session = self._session, None
        try:
            if session is not None:
                await session.close()
        finally:
            if self._own_client:
                await self._client.aclose()

    @asynccontextmanager
    async def _slot(self, lock: str, concurrency: int) -> AsyncIterator[object]:
        started_s = time.monotonic()
        waited: list[int] = []

        def on_wait(ahead: int) -> None:
            waited.append(ahead)
            self._log.info("waiting for a reload slot", lock=lock, slots=concurrency, ahead=ahead,
                           wait_max_s=self._wait_s)

        semaphore = await self._take(lock, concurrency, on_wait)
        if waited:
            self._log.info("reload slot taken", lock=lock, slots=concurrency,
                           waited_s=round(time.monotonic() - started_s, 3))
        try:
            yield semaphore
        finally:
            await semaphore.__aexit__(None, None, None)

    async def _take(self, lock: str, concurrency: int, on_wait: Callable[[int], None]) -> Semaphore:
        """A held slot of ``lock``, or ReloadDeferred (rule 3)."""
        if self._stopping.is_set():
            raise ReloadDeferred(f"no slot of reload_lock {lock!r} is taken: the agent is stopping",
                                 dest=lock)
        taking = asyncio.ensure_future(self._enter(lock, concurrency, on_wait))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((taking, stopping), timeout=self._wait_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not taking.done():
                taking.cancel()
                await asyncio.wait((taking,))
        if taking.cancelled():
            why = ("the agent is stopping" if self._stopping.is_set()
                   else f"all {concurrency} were still held after {self._wait_s:g} s")
            raise ReloadDeferred(f"no slot of reload_lock {lock!r} was had: {why}", dest=lock)
        error = taking.exception()
        if isinstance(error, ConfagentError):
            raise ReloadDeferred(f"no slot of reload_lock {lock!r} could be taken: {error}", dest=lock) \
                from error
        return taking.result()

    async def _enter(self, lock: str, concurrency: int, on_wait: Callable[[int], None]) -> Semaphore:
        session = await self._session_now()
        semaphore = self._client.semaphore(lock.encode(), concurrency, session=session, value=self._holder,
                                           on_wait=on_wait)
        return await semaphore.__aenter__()

    async def _session_now(self) -> Session:
        """The agent's session, granted (again) if there is none alive (rule 2)."""
        async with self._granting:
            if self._session is not None and not self._session.lost.is_set():
                return self._session
            lost, self._session = self._session, None
            self._session = await replace_session(lost, self._client, self._ttl_s)
            return self._session


def store_client_config(backend: Backend, config: AgentConfig) -> ClientConfig | None:
    """How to reach the embedded store ``backend`` runs (rule 1); None when it serves no client URL
    (or is no embedded store). The fleet view's publisher reaches it the same way."""
    if backend.name != "embedded":
        return None
    from confagent.server import read_serving_record  # noqa: PLC0415 - loaded already with the store

    store = config.store
    record = read_serving_record(store.resolved_data_dir)
    urls = () if record is None else record.client_urls
    plain = tuple(url for url in urls if url.startswith("http://"))
    if plain:
        return ClientConfig(endpoints=plain)
    if not urls:
        return None
    cert = (store.cert_file, store.key_file) if store.client_cert_auth else (None, None)
    return ClientConfig(endpoints=urls, tls=ClientTls(ca_file=store.trusted_ca_file, cert_file=cert[0],
                                                      key_file=cert[1]))
