"""``confagent.http_listener`` and ``confagent.asgi`` on their own: a real uvicorn on loopback ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import httpx
import pytest

from confagent.asgi import ASGIApp, Message, Receive, Scope, Send, read_body, send_response
from confagent.errors import ConfigError
from confagent.http_listener import HttpListener, ListenerSettings

T = TypeVar("T")
DEADLINE_S = 30.0
BODY_LIMIT_BYTES = 16


def run(body: Callable[[], Awaitable[T]]) -> T:
    """Run a test body on a fresh event loop, bounded so that a hang fails instead of stalling."""

    async def bounded() -> T:
        return await asyncio.wait_for(body(), DEADLINE_S)

    return asyncio.run(bounded())


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers a request with its own body (413 past ``BODY_LIMIT_BYTES``)."""
    if scope["type"] != "http":
        return
    try:
        body = await read_body(receive, BODY_LIMIT_BYTES, _TooLarge)
    except _TooLarge as too_large:
        await send_response(send, 413, [], f"{too_large.size} bytes".encode())
        return
    await send_response(send, 200, [(b"content-type", b"text/plain")], body, head=scope["method"] == "HEAD")


@asynccontextmanager
async def serving(app: ASGIApp, settings: ListenerSettings | None = None) -> AsyncIterator[HttpListener]:
    """``app`` on a free loopback port, stopped on the way out."""
    listener = HttpListener(app, "127.0.0.1", 0, "--listen", settings)
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop()


def _feed(messages: list[Message]) -> Receive:
    """A ``receive`` that hands out ``messages`` in order."""
    pending = list(messages)

    async def receive() -> Message:
        return pending.pop(0)

    return receive


def test_port_0_serves_the_app_on_the_port_the_system_chose() -> None:
    async def body() -> None:
        async with serving(echo) as listener, httpx.AsyncClient(base_url=listener.url) as http:
            assert listener.port != 0
            assert listener.url == f"http://127.0.0.1:{listener.port}"
            reply = await http.post("/", content=b"hello")
            assert (reply.status_code, reply.content) == (200, b"hello")
            assert reply.headers["content-length"] == "5"
            head = await http.head("/")
            assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "0")

    run(body)


def test_a_body_over_the_limit_raises_the_callers_error_through_a_real_server() -> None:
    async def body() -> None:
        async with serving(echo) as listener, httpx.AsyncClient(base_url=listener.url) as http:
            reply = await http.post("/", content=b"x" * (BODY_LIMIT_BYTES + 1))
            assert (reply.status_code, reply.content) == (413, b"17 bytes")

    run(body)


def test_a_taken_address_is_a_config_error_naming_the_option() -> None:
    async def body() -> None:
        async with serving(echo) as first:
            second = HttpListener(echo, "127.0.0.1", first.port, "--listen-manage")
            with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{first.port}") as caught:
                await second.start()
            assert caught.value.key == "--listen-manage"
            await second.stop()  # never started: nothing to do

    run(body)


def test_stop_closes_the_port_and_a_second_stop_does_nothing() -> None:
    async def body() -> None:
        listener = HttpListener(echo, "127.0.0.1", 0, "--listen")
        await listener.start()
        await listener.stop()
        await listener.stop()
        async with httpx.AsyncClient(base_url=listener.url) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get("/")

    run(body)


def test_stop_cancels_a_request_still_running_after_the_grace() -> None:
    entered = asyncio.Event()

    async def hang(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            entered.set()
            await asyncio.Event().wait()

    async def body() -> None:
        async with (serving(hang, ListenerSettings(shutdown_grace_s=0)) as listener,
                    httpx.AsyncClient(base_url=listener.url) as http):
            request = asyncio.create_task(http.get("/"))
            await entered.wait()
            await listener.stop()
            assert (await request).status_code == 500, "uvicorn's answer for a cancelled request"

    run(body)


@pytest.mark.parametrize("server_header", [True, False])
def test_settings_reach_uvicorn(server_header: bool) -> None:
    async def body() -> None:
        settings = ListenerSettings(server_header=server_header)
        async with serving(echo, settings) as listener, httpx.AsyncClient(base_url=listener.url) as http:
            reply = await http.get("/")
        assert ("server" in reply.headers) is server_header

    run(body)


def test_an_ipv6_host_is_bracketed_in_the_address() -> None:
    assert HttpListener(echo, "::1", 2379, "--listen").url == "http://[::1]:2379"


@pytest.mark.parametrize("make", [lambda: ListenerSettings(backlog=0),
                                  lambda: ListenerSettings(keep_alive_s=0),
                                  lambda: ListenerSettings(shutdown_grace_s=-1)])
def test_a_bad_setting_is_a_config_error(make: Callable[[], ListenerSettings]) -> None:
    with pytest.raises(ConfigError, match="listener"):
        make()


def test_read_body_joins_the_chunks() -> None:
    receive = _feed([{"type": "http.request", "body": b"ab", "more_body": True},
                     {"type": "http.request", "body": b"cd", "more_body": False}])
    assert run(lambda: read_body(receive, 4, _TooLarge)) == b"abcd"


def test_read_body_stops_at_a_disconnect() -> None:
    receive = _feed([{"type": "http.request", "body": b"ab", "more_body": True}, {"type": "http.disconnect"}])
    assert run(lambda: read_body(receive, 4, _TooLarge)) == b"ab"


def test_read_body_over_the_limit_raises_the_callers_error_and_reads_no_further() -> None:
    receive = _feed([{"type": "http.request", "body": b"abc", "more_body": True},
                     {"type": "http.request", "body": b"de", "more_body": True}])
    with pytest.raises(_TooLarge) as caught:
        run(lambda: read_body(receive, 4, _TooLarge))
    assert caught.value.size == 5
