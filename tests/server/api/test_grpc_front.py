"""``_grpc_front``: gRPC (a real grpcio client) and HTTP/1.1 on one uvicorn listener in this process;
what the front answers by itself compared with a real etcd's answers to the same calls."""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import TypeVar

import grpc
import httpx
import pytest
import uvicorn

from confagent.asgi import Receive, Scope, Send, send_response
from confagent.backends._grpc_calls import GrpcCalls
from confagent.errors import StoreError
from confagent.server.api._grpc_front import FLUSH_AT_ONCE_BYTES, STREAM_BUDGET, Call, GrpcMethods
from confagent.server.api._port_protocol import client_port_protocol
from confagent.server.node import Answer
from confagent.testing import until_async

T = TypeVar("T")
DEADLINE_S = 60.0
ECHO = "/test.Echo/Say"
CHAT = "/test.Echo/Chat"
WAIT = "/test.Echo/Wait"
FAIL = "/test.Echo/Fail"
LATER = "/test.Echo/Later"


def run(body: Callable[[], Awaitable[T]]) -> T:
    """Run a test body on a fresh event loop, bounded so that a hang fails instead of stalling."""

    async def bounded() -> T:
        async with asyncio.timeout(DEADLINE_S):
            return await body()

    return asyncio.run(bounded())


async def gateway(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands for the JSON gateway: HTTP/1.1 requests reach it."""
    if scope["type"] == "http":
        body = b"gateway " + scope["path"].encode()
        await send_response(send, 200, [(b"content-type", b"text/plain")], body)


class Echo:
    """The methods under test; ``cancelled`` records calls whose task was cancelled, ``later`` the
    answers of calls whose task has ended, to be given from outside it (as a write's apply step)."""

    def __init__(self) -> None:
        self.cancelled: list[str] = []
        self.release = asyncio.Event()
        self.later: list[tuple[bytes, Answer[bytes]]] = []

    async def say(self, message: bytes, answer: Answer[bytes]) -> None:
        answer.set_result(b"echo:" + message)

    async def fail(self, message: bytes, answer: Answer[bytes]) -> None:
        raise _error(11, "etcdserver: mvcc: required revision has been compacted")

    async def wait(self, message: bytes, answer: Answer[bytes]) -> None:
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(WAIT)
            raise
        answer.set_result(message)

    async def answer_later(self, message: bytes, answer: Answer[bytes]) -> None:
        self.later.append((message, answer))

    async def chat(self, call: Call) -> None:
        try:
            while (message := await call.read()) is not None:
                await call.send(message.upper())
        except asyncio.CancelledError:
            self.cancelled.append(CHAT)
            raise

    def methods(self) -> GrpcMethods:
        return GrpcMethods({ECHO: self.say, FAIL: self.fail, WAIT: self.wait, LATER: self.answer_later},
                           {CHAT: self.chat})


def _error(code: int, message: str) -> StoreError:
    error = StoreError(message)
    error.code = code
    return error


@asynccontextmanager
async def serving(methods: GrpcMethods) -> AsyncIterator[tuple[str, uvicorn.Server]]:
    """A uvicorn listener on a free loopback port whose protocol is the front's; its address."""
    config = uvicorn.Config(gateway, http=client_port_protocol(lambda: methods), loop="none", lifespan="off",
                            log_config=None, log_level="warning", timeout_graceful_shutdown=5)
    config.load()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    serving_task = asyncio.create_task(server.main_loop())
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}", server
    finally:
        server.should_exit = True
        await serving_task
        await server.shutdown()


def channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])


def test_grpc_and_http1_share_the_port() -> None:
    async def scenario() -> None:
        async with serving(Echo().methods()) as (address, _), channel(address) as ch:
            assert await ch.unary_unary(ECHO)(b"hi") == b"echo:hi"
            assert await ch.unary_unary(ECHO)(b"") == b"echo:"
            async with httpx.AsyncClient() as http:
                answer = await http.post(f"http://{address}/v3/kv/range", content=b"{}")
            assert (answer.status_code, answer.text) == (200, "gateway /v3/kv/range")
    run(scenario)


def test_a_store_error_is_the_calls_status() -> None:
    async def scenario() -> None:
        async with serving(Echo().methods()) as (address, _), channel(address) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await ch.unary_unary(FAIL)(b"x")
            assert raised.value.code() == grpc.StatusCode.OUT_OF_RANGE
            assert raised.value.details() == "etcdserver: mvcc: required revision has been compacted"
            assert await ch.unary_unary(ECHO)(b"after") == b"echo:after"  # the connection serves on
    run(scenario)


def test_a_call_is_answered_after_its_task_ended_from_outside_it() -> None:
    """A write's answer is given in its apply step (rule 3): the answer, an error, or nothing once
    the call's deadline has passed (the connection serves on)."""
    async def scenario() -> None:
        echo = Echo()
        loop = asyncio.get_running_loop()
        async with serving(echo.methods()) as (address, _), channel(address) as ch:
            later = ch.unary_unary(LATER)
            answered = asyncio.ensure_future(later(b"a"))
            failed = asyncio.ensure_future(later(b"b"))
            await until_async(lambda: len(echo.later) == 2, "both calls' tasks ended, unanswered")
            answers = dict(echo.later)
            loop.call_soon(answers[b"a"].set_result, b"applied")
            loop.call_soon(answers[b"b"].set_exception, _error(9, "etcdserver: request timed out"))
            assert await answered == b"applied"
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await failed
            assert (raised.value.code(), raised.value.details()) == (grpc.StatusCode.FAILED_PRECONDITION,
                                                                     "etcdserver: request timed out")
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await later(b"c", timeout=0.2)
            assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            echo.later[2][1].set_result(b"too late")  # dropped: the call has ended
            assert await ch.unary_unary(ECHO)(b"on") == b"echo:on"
    run(scenario)


def test_with_calls_in_flight_a_large_answer_leaves_at_once_and_a_small_one_with_the_turn() -> None:
    """Rule 3, seen on a raw connection while the test holds the loop, so that no turn can end: a
    small answer waits for the end of the turn; one of ``FLUSH_AT_ONCE_BYTES`` is written at once."""
    async def scenario() -> None:
        echo = Echo()
        async with serving(echo.methods()) as (address, _):
            with socket.create_connection(_host_port(address)) as sock:
                GrpcCalls(sock, address, LATER, "http").send([b"small", b"large", b"open"])
                await until_async(lambda: len(echo.later) == 3, "three calls in flight")
                await asyncio.sleep(0.05)  # the turn's flush of what the server owes (settings, acks)
                _received(sock, wait_s=0)
                answers = dict(echo.later)
                answers[b"small"].set_result(b"s")
                assert _received(sock, wait_s=0.2) == b"", "a small answer is written with the turn"
                answers[b"large"].set_result(b"x" * FLUSH_AT_ONCE_BYTES)
                assert _received(sock, wait_s=DEADLINE_S), "a large answer is written at once"
                answers[b"open"].set_result(b"o")
    run(scenario)


def _host_port(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


def _received(sock: socket.socket, wait_s: float) -> bytes:
    """What ``sock`` holds now, or, if nothing yet, what arrives within ``wait_s`` (blocking the loop)."""
    readable, _, _ = select.select([sock], [], [], wait_s)
    sock.setblocking(False)
    data = b""
    with suppress(BlockingIOError):
        while readable and (more := sock.recv(1 << 20)):
            data += more
    return data


def test_a_stream_carries_messages_both_ways_until_the_client_half_closes() -> None:
    async def scenario() -> None:
        async with serving(Echo().methods()) as (address, _), channel(address) as ch:
            call = ch.stream_stream(CHAT)()
            for word in (b"a", b"bb", b"x" * 100_000):
                await call.write(word)
                assert await call.read() == word.upper()
            await call.done_writing()
            assert await call.read() == grpc.aio.EOF
            assert await call.code() == grpc.StatusCode.OK
    run(scenario)


def test_a_deadline_or_a_cancel_ends_the_servers_call() -> None:
    async def scenario() -> None:
        echo = Echo()
        async with serving(echo.methods()) as (address, _), channel(address) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await ch.unary_unary(WAIT)(b"x", timeout=0.2)
            assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            await until_async(lambda: WAIT in echo.cancelled, "the waiting call's task cancelled")
            call = ch.stream_stream(CHAT)()
            await call.write(b"a")
            assert await call.read() == b"A"
            call.cancel()
            await until_async(lambda: CHAT in echo.cancelled, "the stream's task cancelled")
            assert await ch.unary_unary(ECHO)(b"on") == b"echo:on"
    run(scenario)


def test_a_connection_serves_past_zttps_stream_limit_with_calls_in_flight() -> None:
    """zttp ends a connection past 4096 streams; the front moves the client on first (rule 4)."""
    async def scenario() -> None:
        async with serving(Echo().methods()) as (address, _), channel(address) as ch:
            say = ch.unary_unary(ECHO)
            calls = 4096 + STREAM_BUDGET // 2

            async def caller(n: int) -> None:
                for i in range(n, calls, 8):
                    assert await say(b"%d" % i) == b"echo:%d" % i

            await asyncio.gather(*(caller(n) for n in range(8)))
    run(scenario)


def test_a_client_making_one_call_at_a_time_moves_on_at_the_stream_budget_without_losing_one() -> None:
    """The call that reaches the budget is in flight when GOAWAY goes: the connection waits for its answer."""
    async def scenario() -> None:
        async with serving(Echo().methods()) as (address, _), channel(address) as ch:
            say = ch.unary_unary(ECHO)
            for i in range(STREAM_BUDGET + 2):
                assert await say(b"%d" % i) == b"echo:%d" % i
    run(scenario)


def test_stopping_ends_open_streams_with_unavailable() -> None:
    async def scenario() -> None:
        async with serving(Echo().methods()) as (address, server), channel(address) as ch:
            call = ch.stream_stream(CHAT)()
            await call.write(b"a")
            assert await call.read() == b"A"
            server.should_exit = True
            stopping = asyncio.create_task(server.shutdown())
            assert await call.code() == grpc.StatusCode.UNAVAILABLE
            assert await call.details() == "etcdserver: server stopped"
            await stopping
    run(scenario)


# -- against etcd: what the front answers by itself ------------------------------------------
async def _answer(address: str, path: str, message: bytes) -> tuple[grpc.StatusCode, str]:
    async with channel(address) as ch:
        try:
            await ch.unary_unary(path)(message)
        except grpc.aio.AioRpcError as error:
            return error.code(), error.details() or ""
        return grpc.StatusCode.OK, ""


def _both(etcd_server: str, methods: GrpcMethods, path: str,
          message: bytes) -> list[tuple[grpc.StatusCode, str]]:
    """etcd's answer to one call, then the front's."""
    async def scenario() -> list[tuple[grpc.StatusCode, str]]:
        etcd = await _answer(etcd_server.removeprefix("http://"), path, message)
        async with serving(methods) as (address, _):
            return [etcd, await _answer(address, path, message)]
    return run(scenario)


@pytest.mark.parametrize("path", ["/etcdserverpb.KV/Nothing", "/etcdserverpb.Nothing/Range"])
def test_an_unknown_method_or_service_is_answered_as_etcd_does(etcd_server: str, path: str) -> None:
    etcd, ours = _both(etcd_server, GrpcMethods({"/etcdserverpb.KV/Range": Echo().say}, {}), path, b"")
    assert etcd[0] == grpc.StatusCode.UNIMPLEMENTED
    assert ours == etcd


def test_a_message_over_the_limit_is_refused_as_etcd_refuses_it(etcd_server: str) -> None:
    put = "/etcdserverpb.KV/Put"
    message = b"\x0a\x01k\x12\x83\x80\xc0\x01" + b"v" * (3 * 1024 * 1024 + 3)  # PutRequest{key, 3 MiB value}
    etcd, ours = _both(etcd_server, GrpcMethods({put: Echo().say}, {}), put, message)
    assert etcd[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert ours == etcd
