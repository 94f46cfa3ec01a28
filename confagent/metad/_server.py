"""``MetadServer``: the composition root of the metadata service — store, watch, both listeners.

Order: open the store, follow it until the first snapshot is in memory
(metad blocks the same way), then listen: management API first, then the
data port, so a host never reads an empty state. ``stop()`` answers every
waiting request, closes the listeners, then the watch and the store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from confagent.backends import Backend, CacheRecovered, CacheTrouble
from confagent.errors import BackendError
from confagent.http_listener import HttpListener
from confagent.metad._config import MetadConfig, parse_address
from confagent.metad._data_app import DataApp
from confagent.metad._listener import LISTENER_SETTINGS
from confagent.metad._manage_app import ManageApp
from confagent.metad._metrics import MetadMetrics
from confagent.metad._service import MetadService
from confagent.metad._store import StoreWriter, open_store

__all__ = ["MetadServer"]


class MetadServer:
    """One metadata service (module docstring): ``await start()``, then ``await stop()``.

    Args:
        config: the settings; validated by ``start``.
        on_trouble: told of each problem of the watch (for the log); it recovers alone, and
            says so once a store that failed answers again (``CacheRecovered``).
    """

    def __init__(self, config: MetadConfig,
                 on_trouble: Callable[[CacheTrouble | CacheRecovered], None] | None = None) -> None:
        self.config = config
        self._on_trouble = on_trouble
        self._backend: Backend | None = None
        self._service: MetadService | None = None
        self._following: asyncio.Task[None] | None = None
        self._listeners: list[HttpListener] = []
        self._metrics = MetadMetrics(self._revision, self._waiting)

    @property
    def service(self) -> MetadService:
        assert self._service is not None, "start() first"
        return self._service

    @property
    def data_url(self) -> str:
        return self._listeners[1].url

    @property
    def manage_url(self) -> str:
        return self._listeners[0].url

    async def start(self) -> None:
        """Open the store, load it, listen.

        Raises:
            ConfigError: a bad setting, or an address that cannot be listened on.
            StorageError: the embedded store's data directory cannot be used.
            BackendError: the watch ended before the first snapshot (the store was closed).
        """
        self.config.validate()
        backend, writer = await open_store(self.config.store)
        self._backend = backend
        try:
            await self._load(backend, writer)
            await self._listen()
        except BaseException:
            await self.stop()
            raise

    async def _load(self, backend: Backend, writer: StoreWriter) -> None:
        service = MetadService(self.config.layout(), backend, writer, self.config.limits,
                               on_trouble=self._trouble)
        self._service = service
        self._following = asyncio.create_task(service.run(), name="confagent-metad-watch")
        loaded = asyncio.create_task(service.loaded.wait())
        await asyncio.wait((loaded, self._following), return_when=asyncio.FIRST_COMPLETED)
        if not loaded.done():
            loaded.cancel()
            self._following.result()  # raises what ended it, if anything
            raise BackendError("the store was closed before its first snapshot was read")

    def _trouble(self, event: CacheTrouble | CacheRecovered) -> None:
        if isinstance(event, CacheTrouble):
            self._metrics.troubles.inc()
        if self._on_trouble is not None:
            self._on_trouble(event)

    def _revision(self) -> float:
        return self._service.state.revision if self._service is not None else 0

    def _waiting(self) -> float:
        return self._service.waiting if self._service is not None else 0

    async def _listen(self) -> None:
        config = self.config
        manage = HttpListener(ManageApp(self.service, self._metrics),
                              *parse_address(config.listen_manage, "--listen-manage"), "--listen-manage",
                              LISTENER_SETTINGS)
        data = HttpListener(DataApp(self.service, config.client_addresses()),
                            *parse_address(config.listen, "--listen"), "--listen", LISTENER_SETTINGS)
        for listener in (manage, data):
            await listener.start()
            self._listeners.append(listener)

    async def wait_stopped(self) -> None:
        """Return when the watch ends by itself (the store was closed), raising what ended it."""
        if self._following is not None:
            await asyncio.shield(self._following)

    async def stop(self) -> None:
        if self._service is not None:
            self._service.release_waiters()
        listeners, self._listeners = self._listeners, []
        for listener in reversed(listeners):
            await listener.stop()
        if self._following is not None:
            self._following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._following
            self._following = None
        if self._backend is not None:
            backend, self._backend = self._backend, None
            await backend.close()
