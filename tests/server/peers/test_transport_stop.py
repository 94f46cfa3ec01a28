"""PeerTransport.stop ends every peer task, whatever moment of a connection's life it comes at.

A stop that lands while a peer's task is connecting (the connection just made, or
just refused) must end that task, not be mistaken for the end of the attempt:
the task would otherwise go on writing or retrying forever and keep its member
from stopping (issue 10, item 4: an agent that ignored SIGTERM).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvloop

from confagent.raft import Message, MessageType
from confagent.server.peers import PeerTransport
from confagent.testing import free_port

Runner = Callable[[Coroutine[Any, Any, None]], None]
RUNNERS: dict[str, Runner] = {"asyncio": asyncio.run, "uvloop": uvloop.run}
"""The tests' own loop, and the one ``confagent store`` and ``run`` use."""

STEPS = 40
"""Loop iterations swept between start and stop: far more than a loopback connect takes."""
STOP_BOUND_S = 5.0
DEADLINE_S = 20.0


@contextmanager
def _listening(port: int, *, accept: bool) -> Iterator[None]:
    """A peer port that accepts connections (and reads nothing), or none at all (refused)."""
    if not accept:
        yield
        return
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)
    try:
        yield
    finally:
        server.close()


async def _stop_after(steps: int, peer_url: str) -> list[asyncio.Task[None]]:
    """Start a transport towards ``peer_url``, let ``steps`` loop iterations pass, stop it;
    the peer tasks (all of which must have ended)."""
    own_url = f"http://127.0.0.1:{free_port()}"
    transport = PeerTransport(1, own_url, {1: own_url, 2: peer_url}, lambda _: None, lambda m, ok: None)
    await transport.start()
    tasks = [task for task in asyncio.all_tasks() if task.get_name().startswith("peer ")]
    for _ in range(steps):
        await asyncio.sleep(0)
    async with asyncio.timeout(STOP_BOUND_S):
        await transport.stop()
    return tasks


@pytest.mark.parametrize("runner", sorted(RUNNERS))
@pytest.mark.parametrize("accept", [True, False], ids=["connected", "refused"])
def test_stop_at_any_step_of_connecting_ends_the_peer_tasks(accept: bool, runner: str) -> None:
    port = free_port()

    async def body() -> None:
        for steps in range(STEPS):
            tasks = await _stop_after(steps, f"http://127.0.0.1:{port}")
            assert tasks and all(task.done() for task in tasks), f"a peer task outlived stop() (step {steps})"

    with _listening(port, accept=accept):
        RUNNERS[runner](body())


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_stop_ends_a_peer_task_blocked_on_a_peer_that_reads_nothing(runner: str) -> None:
    port = free_port()

    async def body() -> None:
        own_url = f"http://127.0.0.1:{free_port()}"
        transport = PeerTransport(1, own_url, {1: own_url, 2: f"http://127.0.0.1:{port}"},
                                  lambda _: None, lambda m, ok: None)
        await transport.start()
        [task] = [task for task in asyncio.all_tasks() if task.get_name().startswith("peer ")]
        transport.send([Message(MessageType.APPEND, 2, 1, term=1, index=n, context=b"x" * 1_000_000)
                        for n in range(32)], at_once=False)
        async with asyncio.timeout(DEADLINE_S):  # the kernel's buffers full, the rest waits here
            while not _buffered(transport):
                await asyncio.sleep(0.01)
        async with asyncio.timeout(STOP_BOUND_S):
            await transport.stop()
        assert task.done(), "the peer task outlived stop()"

    with _listening(port, accept=True):
        RUNNERS[runner](body())


def _buffered(transport: PeerTransport) -> bool:
    """The connection to member 2 is up and holds bytes the peer has not taken."""
    stream = transport._peers[2]._stream  # the observable condition is inside
    return stream is not None and stream[1].transport.get_write_buffer_size() > 0


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_stop_ends_inbound_connections_without_an_error_from_asyncio(runner: str) -> None:
    """A member stopping while a peer is connected to it ends that connection quietly
    (asyncio reports nothing: no 'Exception in callback', no connection left open)."""

    async def body() -> None:
        errors: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: errors.append(context))
        urls = {1: f"http://127.0.0.1:{free_port()}", 2: f"http://127.0.0.1:{free_port()}"}
        arrived = asyncio.Event()
        receiver = PeerTransport(2, urls[2], urls, lambda _: arrived.set(), lambda m, ok: None)
        sender = PeerTransport(1, urls[1], urls, lambda _: None, lambda m, ok: None)
        await receiver.start()
        await sender.start()
        try:
            async with asyncio.timeout(DEADLINE_S):  # connected: a frame went through
                while not arrived.is_set():
                    sender.send([Message(MessageType.HEARTBEAT, 2, 1, term=1)])
                    await asyncio.sleep(0.01)
            inbound = list(receiver._inbound)  # the observable condition is inside
            assert inbound and not any(connection.is_closing() for connection in inbound)
            async with asyncio.timeout(STOP_BOUND_S):
                await receiver.stop()
            assert all(connection.is_closing() for connection in inbound)
            await asyncio.sleep(0)  # the connections' lost callbacks run
            assert not receiver._inbound
        finally:
            await sender.stop()
        assert not errors, errors

    RUNNERS[runner](body())
