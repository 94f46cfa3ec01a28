"""TCP proxies on loopback that a test can partition, heal and slow down, one per directed link.

A :class:`FaultProxy` listens on 127.0.0.1 and forwards every connection to
one target on 127.0.0.1, bytes both ways, on an asyncio loop in its own
thread. A :class:`Network` holds one proxy per directed link between nodes:
node ``i`` reaches node ``j`` at ``network.port(i, j)``.

Rules:
1. Loopback only: the proxy listens on 127.0.0.1 and refuses any target that
   is not an IPv4 loopback address (``ConfigError``), so a test can never send
   bytes off the machine.
2. A control call (``partition``, ``heal``, ``delay``) has taken effect when it
   returns: no byte is forwarded after ``partition`` returns, except bytes
   already handed to the kernel, which are on the wire.
3. ``BLACKHOLE`` is a cut cable: connections stay open and new ones are
   accepted, but nothing is read or forwarded. Bytes wait in the kernel's
   buffers and flow again after ``heal``, as TCP retransmission would deliver
   them (connection timeouts are the endpoints' business). ``REJECT`` is a
   host that resets: open connections are reset, new ones reset at once.
4. ``delay(ms)`` holds each chunk that long after it was read, in each
   direction, without slowing the throughput; at most ``CHUNKS_IN_FLIGHT_MAX``
   chunks wait per direction, then reading stops (back-pressure).
5. A target that refuses the connection makes the proxy reset the client's.
6. ``close`` resets every connection, stops the loop and joins its thread;
   both classes are context managers. A connection accepted while the proxy
   stops is reset too: it gets its transport before the server closes, and
   the loop runs until it has reached ``_serve`` (at most ``SETTLE_TURNS``
   turns); otherwise its socket was left to the garbage collector, an
   unclosed socket in whatever test ran next.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import socket
import struct
import threading
from collections.abc import Collection, Coroutine, Iterable, Mapping
from enum import Enum
from types import TracebackType
from typing import Any, Final, Self, TypeAlias, TypeVar

from confagent.errors import ConfigError

__all__ = ["CHUNKS_IN_FLIGHT_MAX", "FaultProxy", "Network", "PartitionMode"]

LOOPBACK: Final = "127.0.0.1"
CHUNK_BYTES: Final = 64 * 1024
CHUNKS_IN_FLIGHT_MAX: Final = 64
CONTROL_TIMEOUT_S: Final = 10.0
SETTLE_TURNS: Final = 100
"""Loop turns a stopping proxy gives the connections accepted meanwhile to reach ``_serve`` (rule 6)."""

ResultT = TypeVar("ResultT")
_Chunks: TypeAlias = "asyncio.Queue[tuple[float, bytes]]"
"""Chunks read and not yet forwarded, each with the loop time it is due (rule 4); b"" is end of stream."""


class PartitionMode(Enum):
    """How a partitioned link behaves (rule 3)."""

    BLACKHOLE = "blackhole"
    REJECT = "reject"


class FaultProxy:
    """Forwards ``127.0.0.1:listen_port`` to ``target_host:target_port``, with faults on demand.

    Args:
        listen_port: the port to listen on; 0 picks a free one (see ``port``).
        target_host: an IPv4 loopback address (rule 1).
        target_port: where connections are forwarded.

    Raises:
        ConfigError: the target is not on loopback, or the port cannot be listened on.
    """

    def __init__(self, listen_port: int, target_host: str, target_port: int) -> None:
        _require_loopback(target_host)
        self.target = (target_host, target_port)
        self._listener = _listen(listen_port)
        self.port: int = self._listener.getsockname()[1]
        self._mode: PartitionMode | None = None
        self._delay_s = 0.0
        self._connections: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._forwarding = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False
        self._closed = False
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, name=f"fault-proxy:{self.port}", daemon=True)
        self._thread.start()
        try:
            self._control(self._start())
        except BaseException:
            self.close()
            raise

    # -- controls (any thread) ---------------------------------------------------------------------
    def partition(self, mode: PartitionMode = PartitionMode.BLACKHOLE) -> None:
        """Stop forwarding (rules 2 and 3) until ``heal``."""
        self._control(self._set_mode(mode))

    def heal(self) -> None:
        """Forward again; connections held by a blackhole carry on."""
        self._control(self._set_mode(None))

    def delay(self, ms: float) -> None:
        """Hold each chunk read from now on ``ms`` milliseconds before forwarding it (rule 4); 0 stops."""
        assert ms >= 0, f"a delay is never negative: {ms}"
        self._control(self._set_delay(ms / 1000))

    @property
    def mode(self) -> PartitionMode | None:
        """How the link is cut, or None while it forwards."""
        return self._mode

    @property
    def connection_count(self) -> int:
        """How many client connections are open (forwarding or held)."""
        return self._control(self._count())

    def close(self) -> None:
        """Reset every connection, stop listening and join the thread (rule 6); idempotent."""
        if self._closed:
            return
        self._closed = True
        self._control(self._stop())
        self._thread.join(CONTROL_TIMEOUT_S)
        assert not self._thread.is_alive(), f"proxy thread on port {self.port} did not stop"
        self._listener.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _control(self, coroutine: Coroutine[Any, Any, ResultT]) -> ResultT:
        """Run ``coroutine`` on the proxy's loop and wait for it (rule 2)."""
        if not self._thread.is_alive():
            coroutine.close()
            raise AssertionError(f"the fault proxy on port {self.port} is closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CONTROL_TIMEOUT_S)

    # -- the loop's side ---------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._stopped.wait())
            self._loop.run_until_complete(self._settle())
        finally:
            self._loop.close()

    async def _start(self) -> None:
        self._forwarding.set()
        self._server = await asyncio.start_server(self._serve, sock=self._listener, limit=CHUNK_BYTES)

    async def _set_mode(self, mode: PartitionMode | None) -> None:
        self._mode = mode
        if mode is None:
            self._forwarding.set()
            return
        self._forwarding.clear()
        if mode is PartitionMode.REJECT:
            await self._reset_all()

    async def _set_delay(self, delay_s: float) -> None:
        self._delay_s = delay_s

    async def _count(self) -> int:
        return len(self._connections)

    async def _stop(self) -> None:
        self._stopping = True
        # Accept nothing more, and let the connections accepted already get their transports while the
        # server is open: on 3.11 a transport made after Server.close fails its __init__ (Server._attach
        # asserts) and its socket is left to the collector. They then reach _serve, which resets them.
        self._loop.remove_reader(self._listener.fileno())
        await asyncio.sleep(0)
        if self._server is not None:
            self._server.close()
        await self._reset_all()
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(0)  # the aborted transports close their sockets in callbacks due now
        self._stopped.set()

    async def _settle(self) -> None:
        """Rule 6: connections accepted while stopping reach ``_serve``, which resets them."""
        current = asyncio.current_task()
        for _ in range(SETTLE_TURNS):
            if not asyncio.all_tasks() - {current}:
                break
            await asyncio.sleep(0)
        await asyncio.sleep(0)  # their transports close their sockets in callbacks due now

    async def _reset_all(self) -> None:
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._mode is PartitionMode.REJECT or self._stopping:
            _reset(client_writer)
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        upstream_writer: asyncio.StreamWriter | None = None
        clean = False
        try:
            await self._forwarding.wait()
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target, limit=CHUNK_BYTES)
            async with asyncio.TaskGroup() as group:
                group.create_task(self._forward(client_reader, upstream_writer))
                group.create_task(self._forward(upstream_reader, client_writer))
            clean = True
        except* (OSError, asyncio.CancelledError):
            # A side broke, the target refused (rule 5), or the proxy reset the link: both sides are reset
            # below. A cancelled handler must still end normally: 3.11's start_server logs it as an error.
            pass
        finally:
            self._connections.discard(task)
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    _close(writer, reset=not clean)

    async def _forward(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Copy ``source`` to ``sink`` until end of stream, through the gate and the delay (rules 3, 4)."""
        chunks: _Chunks = asyncio.Queue(CHUNKS_IN_FLIGHT_MAX)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._read_chunks(source, chunks))
            group.create_task(self._write_chunks(chunks, sink))

    async def _read_chunks(self, source: asyncio.StreamReader, chunks: _Chunks) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._forwarding.wait()
            chunk = await source.read(CHUNK_BYTES)
            await chunks.put((loop.time() + self._delay_s, chunk))
            if not chunk:
                return

    async def _write_chunks(self, chunks: _Chunks, sink: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, chunk = await chunks.get()
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            await self._forwarding.wait()
            if not chunk:
                if sink.can_write_eof():
                    sink.write_eof()
                return
            sink.write(chunk)
            await sink.drain()


class Network:
    """One :class:`FaultProxy` per directed link between nodes: ``i`` reaches ``j`` at ``port(i, j)``.

    Args:
        node_ports: each node's id and the loopback port its peers must reach.

    Usage::

        with Network({1: p1, 2: p2, 3: p3}) as network:
            start node 1 with peers {2: network.port(1, 2), 3: network.port(1, 3)}, ...
            network.isolate(1)
            network.partition([{1, 2}, {3}])
            network.heal_all()
    """

    def __init__(self, node_ports: Mapping[int, int]) -> None:
        self.nodes = tuple(sorted(node_ports))
        self._links: dict[tuple[int, int], FaultProxy] = {}
        try:
            for source, target in itertools.permutations(self.nodes, 2):
                self._links[source, target] = FaultProxy(0, LOOPBACK, node_ports[target])
        except BaseException:
            self.close()
            raise

    def port(self, source: int, target: int) -> int:
        """Where ``source`` connects to reach ``target``."""
        return self._links[source, target].port

    def link(self, source: int, target: int) -> FaultProxy:
        """The proxy carrying ``source``'s connections to ``target`` (both directions of their bytes)."""
        return self._links[source, target]

    def isolate(self, node: int, mode: PartitionMode = PartitionMode.BLACKHOLE) -> None:
        """Cut every link to and from ``node``; the others are left as they are."""
        for (source, target), proxy in self._links.items():
            if node in (source, target):
                proxy.partition(mode)

    def partition(
        self, groups: Iterable[Collection[int]], mode: PartitionMode = PartitionMode.BLACKHOLE
    ) -> None:
        """Make the network exactly ``groups``: links within a group forward, all others are cut.

        A node in no group is alone.
        """
        group_of = {node: number for number, group in enumerate(groups) for node in group}
        unknown = set(group_of) - set(self.nodes)
        assert not unknown, f"no such nodes: {sorted(unknown)}"
        for (source, target), proxy in self._links.items():
            together = source in group_of and group_of.get(target) == group_of[source]
            if together:
                proxy.heal()
            else:
                proxy.partition(mode)

    def heal_all(self) -> None:
        """Every link forwards again, without delay."""
        for proxy in self._links.values():
            proxy.heal()
            proxy.delay(0)

    def close(self) -> None:
        for proxy in self._links.values():
            proxy.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _require_loopback(host: str) -> None:
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ConfigError(f"a fault proxy forwards to IPv4 loopback addresses only, not {host!r}",
                          key="target_host")


def _listen(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, port))
        listener.listen(128)
    except OSError as error:
        listener.close()
        message = f"cannot listen on {LOOPBACK}:{port}: {error.strerror}"
        raise ConfigError(message, key="listen_port") from error
    listener.setblocking(False)
    return listener


def _close(writer: asyncio.StreamWriter, *, reset: bool) -> None:
    if reset:
        _reset(writer)
    else:
        writer.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST rather than a FIN: the peer sees ``ECONNRESET``."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()

