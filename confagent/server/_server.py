"""Assemble and run a store member: recover the node, serve gateway and gRPC on each client URL, stop cleanly.

``StoreServer`` runs a member from its ``StoreConfig`` (``confagent.settings``:
etcd's flags with etcd's meanings and defaults); it owns the node and the
HTTP listeners and is what the ``confagent store`` command and the agent's
embedded backend both start.
While it runs, its data directory says where it takes client requests
(``storage._serving``), for a one-shot pass that cannot open the directory itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
from urllib.parse import urlsplit

import structlog

from confagent.errors import MemberFailed, MemberRemoved, MemberStopped, NoLeader
from confagent.http_listener import HttpListener, ListenerSettings
from confagent.server._bootstrap import client_tls_of, node_config_of, server_info_of, token_settings_of
from confagent.server.api import ClientPort, GatewayApp, Metrics, watch_removal
from confagent.server.node import ConcurrencyServices, StoreNode
from confagent.server.storage import (
    Identity,
    load_or_keep_identity,
    log_recovery,
    remove_serving_record,
    write_serving_record,
)
from confagent.settings import StoreConfig

__all__ = ["StoreServer"]

log = structlog.get_logger("confagent.store")

GRACEFUL_SHUTDOWN_S = 5
"""How long a stopping member waits for in-flight requests before dropping their connections."""
CLIENT_LISTENER = ListenerSettings(backlog=2048, shutdown_grace_s=GRACEFUL_SHUTDOWN_S, keep_alive_s=300,
                                   proxy_headers=False)
"""How each client URL is served; ``tls`` is set per URL, for the ``https://`` ones."""


def _keep_joined_identity(node: StoreNode) -> None:
    """A joining member got the cluster's state: keep its identity with the cluster's ID."""
    load_or_keep_identity(node.config.data_dir, Identity(node.config.member_id, node.cluster_id))


class StoreServer:
    """A running member: its node and one HTTP listener per client URL."""

    def __init__(self, config: StoreConfig) -> None:
        config.validate()
        self.config = config
        self.info = server_info_of(config)
        self._tokens = token_settings_of(config)
        self.node: StoreNode | None = None
        self._listeners: list[HttpListener] = []
        self._removal_watch: asyncio.Task[None] | None = None
        self._app: GatewayApp | None = None
        self._services: ConcurrencyServices | None = None

    async def start(self) -> None:
        """Recover the data directory, elect, and start listening."""
        config, info = self.config, self.info
        node_config = node_config_of(config, self._tokens)
        derived = Identity(node_config.member_id, node_config.cluster_id)
        # A joining member's cluster ID is the cluster's: it keeps its identity once it has learned it.
        identity_path = config.resolved_data_dir / "member" / "identity.json"
        joining = node_config.joining and not await asyncio.to_thread(identity_path.exists)
        identity = derived
        if not joining:
            identity = await asyncio.to_thread(load_or_keep_identity, config.resolved_data_dir, derived)
        node_config = dataclasses.replace(node_config, joining=joining)
        if identity != derived:
            # Restarted with other peer URLs: the same member still, with its first ID.
            members = tuple(dataclasses.replace(m, id=identity.member_id) if m.id == derived.member_id
                            else m for m in node_config.initial_members)
            node_config = dataclasses.replace(node_config, member_id=identity.member_id,
                                              cluster_id=identity.cluster_id, initial_members=members)
            self.info = info = dataclasses.replace(info, member_id=identity.member_id,
                                                   cluster_id=identity.cluster_id)
        node = await StoreNode.open(node_config)
        log_recovery(node.recovery, log)
        self.node = node
        if joining:
            node.add_restore_listener(lambda: _keep_joined_identity(node))
        self._removal_watch = asyncio.create_task(watch_removal(node), name="watch-removal")
        await node.start()
        metrics = Metrics()
        self._services = services = ConcurrencyServices(node)
        port = ClientPort.of(node, info, services, metrics, config.watch_progress_notify_interval_s,
                             bcrypt_cost=config.bcrypt_cost)
        self._app = port.app
        for url in config.listen_client_urls:
            await self._listen(port, url)
        urls = [listener.url for listener in self._listeners]
        await asyncio.to_thread(write_serving_record, config.resolved_data_dir, info.member_id,
                                info.cluster_id, urls)
        log.info("store started", name=config.name, member_id=f"{info.member_id:x}",
                 data_dir=str(config.resolved_data_dir), revision=node.kv.revision,
                 listen=list(config.listen_client_urls))

    async def _listen(self, port: ClientPort, url: str) -> None:
        parts = urlsplit(url)
        tls = client_tls_of(self.config) if parts.scheme == "https" else None
        settings = dataclasses.replace(CLIENT_LISTENER, tls=tls, protocol=port.protocol)
        listener = HttpListener(port.app, parts.hostname or "127.0.0.1", parts.port or 2379,
                                "--listen-client-urls", settings)
        await listener.start()
        self._listeners.append(listener)

    async def run_until(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set.

        Raises:
            MemberStopped: the member cannot go on (``stop_cause``): stop it then.
        """
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self.wait_stopped())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        cause = self.stop_cause()
        if cause is not None:
            raise cause

    async def wait_stopped(self) -> None:
        """Return once the member cannot go on (``stop_cause``)."""
        node = self.node
        assert node is not None, "start() first"
        waits = [asyncio.create_task(event.wait()) for event in (node.removed, node.failed)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()

    async def wait_for_leader(self, timeout_s: float) -> int:
        """The leader's ID once one is known; a member that stops meanwhile ends the wait.

        Raises:
            NoLeader: none known within ``timeout_s``.
            MemberStopped: the member cannot go on (``stop_cause``).
        """
        node = self.node
        assert node is not None, "start() first"
        leader = asyncio.create_task(node.wait_for_leader(timeout_s))
        stopped = asyncio.create_task(self.wait_stopped())
        try:
            await asyncio.wait((leader, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            leader.cancel()
            stopped.cancel()
        cause = self.stop_cause()
        if cause is not None:
            raise cause
        if leader.cancelled():
            raise NoLeader()
        return leader.result()

    def stop_cause(self) -> MemberStopped | None:
        """Why the member cannot go on, if it cannot: ``MemberRemoved`` once it applied (or heard
        of) its removal from the cluster; ``MemberFailed`` once a task owning its state ended
        with an error (logged with its traceback by the node), after which a supervisor
        restarts it from its log."""
        node = self.node
        if node is None:
            return None
        if node.removed.is_set():
            return MemberRemoved()
        if node.failure is not None:
            return MemberFailed(f"the store member failed ({node.failure!r}): restart it")
        return None

    async def stop(self) -> None:
        """Stop accepting, end open streams, finish in-flight requests, stop the node and close the log."""
        if self._app is not None:
            self._app.close_streams()
        if self._services is not None:
            self._services.close()
        if self._removal_watch is not None:
            self._removal_watch.cancel()
        await asyncio.gather(*(listener.stop() for listener in self._listeners))
        if self.node is not None:
            await asyncio.to_thread(remove_serving_record, self.config.resolved_data_dir)  # still locked
            await self.node.stop()
        log.info("store stopped", name=self.config.name)
