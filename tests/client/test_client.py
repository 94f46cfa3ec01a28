"""EtcdClient against real servers: kv, txn, leases, watch, errors, failover and ambiguous writes.

Tests take a URL: ``store_url`` runs each against the real etcd and against a
confagent store process. Each test writes
under its own key prefix, so they share one server.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from pathlib import Path

import pytest

from confagent.errors import (
    AmbiguousWrite,
    ClientError,
    Compacted,
    FutureRevision,
    KeyNotProvided,
    LeaseNotFound,
)
from confagent.kv._messages import (
    Compare,
    CompareResult,
    CompareTarget,
    Event,
    EventType,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    SortOrder,
    SortTarget,
    TxnRequest,
    TxnResponse,
)
from confagent.testing import Processes, free_port
from tests.client.support import connect, run


@pytest.fixture
def prefix() -> bytes:
    return f"test-client/{uuid.uuid4().hex[:8]}/".encode()


def test_put_get_delete(store_url: str, prefix: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd:
            put = await etcd.put(prefix + b"a", b"1")
            assert put.response == PutResponse() and put.header.revision > 0
            again = await etcd.put(prefix + b"a", b"\x00\xff", prev_kv=True)
            assert again.response.prev_kv is not None and again.response.prev_kv.value == b"1"
            await etcd.put(prefix + b"b", b"")
            got = await etcd.get(prefix, prefix=True, sort_order=SortOrder.DESCEND,
                                 sort_target=SortTarget.KEY)
            assert [kv.key for kv in got.response.kvs] == [prefix + b"b", prefix + b"a"]
            assert got.response.kvs[1].value == b"\x00\xff" and got.response.kvs[1].version == 2
            assert got.header.revision == again.header.revision + 1
            counted = await etcd.get(prefix, prefix=True, count_only=True, limit=1)
            assert counted.response == RangeResponse(count=2)
            deleted = await etcd.delete(prefix, prefix=True, prev_kv=True)
            assert deleted.response.deleted == 2 and len(deleted.response.prev_kvs) == 2
            assert (await etcd.get(prefix + b"a")).response.kvs == ()

    run(body)


def test_txn_compare_and_swap(store_url: str, prefix: bytes) -> None:
    lock = prefix + b"lock"
    absent = Compare(key=lock, target=CompareTarget.VERSION, result=CompareResult.EQUAL, operand=0)

    def claim(owner: bytes) -> TxnRequest:
        return TxnRequest(compare=(absent,), success=(PutRequest(key=lock, value=owner),),
                          failure=(RangeRequest(key=lock),))

    async def body() -> None:
        async with connect(store_url) as etcd:
            first = await etcd.txn(claim(b"me"))
            second = await etcd.txn(claim(b"you"))
            assert first.response.succeeded and not second.response.succeeded
            (held,) = second.response.responses
            assert isinstance(held, RangeResponse) and held.kvs[0].value == b"me"
            nested = TxnRequest(success=(TxnRequest(success=(RangeRequest(key=lock),)),))
            inner = (await etcd.txn(nested)).response.responses[0]
            assert isinstance(inner, TxnResponse) and inner.succeeded

    run(body)


def test_store_errors_are_typed(store_url: str) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd:
            with pytest.raises(KeyNotProvided):
                await etcd.put(b"", b"x")
            with pytest.raises(FutureRevision):
                await etcd.get(b"x", revision=1 << 40)
            with pytest.raises(LeaseNotFound):
                await etcd.lease_revoke(0x7E57)

    run(body)


def test_leases(store_url: str, prefix: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd:
            grant = (await etcd.lease_grant(60)).response
            await etcd.put(prefix + b"leased", b"v", lease=grant.id)
            ttl = (await etcd.lease_time_to_live(grant.id, keys=True)).response
            assert ttl.granted_ttl_s == 60 and 0 < ttl.ttl_s <= 60
            assert ttl.keys == (prefix + b"leased",)
            assert (await etcd.lease_keepalive_once(grant.id)).response.ttl_s == 60
            assert grant.id in (await etcd.leases()).response
            await etcd.lease_revoke(grant.id)
            assert (await etcd.get(prefix + b"leased")).response.kvs == ()
            assert (await etcd.lease_time_to_live(grant.id)).response.ttl_s == -1
            assert (await etcd.lease_keepalive_once(grant.id)).response.ttl_s == 0

    run(body)


def test_maintenance_and_cluster(store_url: str) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd:
            status = await etcd.status(store_url)
            assert status.response.leader == status.header.member_id
            (member,) = (await etcd.member_list()).response
            assert member.id == status.header.member_id and store_url in member.client_urls
            assert "etcdserver" in await etcd.version(store_url)
            assert await etcd.health(store_url) >= 0

    run(body)


def test_watch_sees_each_change_once(store_url: str, prefix: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd:
            replies = etcd.watch(prefix, prefix=True, prev_kv=True)
            async with aclosing(replies):
                created = await anext(replies)
                assert created.response.created
                await etcd.put(prefix + b"k", b"1")
                await etcd.put(prefix + b"k", b"2")
                await etcd.delete(prefix + b"k")
                seen: list[Event] = []
                while len(seen) < 3:
                    seen.extend((await anext(replies)).response.events)
        assert [(e.type, e.kv.value) for e in seen] == [
            (EventType.PUT, b"1"), (EventType.PUT, b"2"), (EventType.DELETE, b"")]
        assert seen[1].prev_kv is not None and seen[1].prev_kv.value == b"1"

    run(body)


def test_reads_fail_over_and_refused_writes_move_on(store_url: str, prefix: bytes) -> None:
    dead = f"http://127.0.0.1:{free_port()}"

    async def body() -> None:
        async with connect(dead, store_url) as etcd:
            await etcd.put(prefix + b"f", b"v")  # refused before sending: safe elsewhere
            assert (await etcd.get(prefix + b"f")).response.kvs[0].value == b"v"
        async with connect(dead) as etcd:
            with pytest.raises(ClientError, match="no endpoint answered"):
                await etcd.get(b"x")

    run(body)


def test_a_watch_fails_over_from_a_misconfigured_endpoint(store_url: str, prefix: bytes) -> None:
    """httpx refuses a URL without http:// or https:// before sending: the next endpoint is tried."""
    address = store_url.removeprefix("http://")
    misconfigured = (address, f"ftp://{address}")

    async def body() -> None:
        async with connect(*misconfigured, store_url) as etcd:
            replies = etcd.watch(prefix, prefix=True)
            async with aclosing(replies):
                assert (await anext(replies)).response.created
                await etcd.put(prefix + b"w", b"1")
                events = (await anext(replies)).response.events
        assert [(e.type, e.kv.value) for e in events] == [(EventType.PUT, b"1")]

    run(body)


@asynccontextmanager
async def swallowing_server() -> AsyncIterator[str]:
    """A server that reads a request and closes the connection without answering."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


def test_a_write_that_may_have_arrived_is_never_retried(store_url: str, prefix: bytes) -> None:
    async def body() -> None:
        async with swallowing_server() as black_hole, connect(black_hole, store_url) as etcd:
            with pytest.raises(AmbiguousWrite):
                await etcd.put(prefix + b"once", b"v")
            assert (await etcd.get(prefix + b"once")).response.kvs == ()
            await etcd.put(prefix + b"once", b"v")  # the endpoint that answered is now first
            assert (await etcd.get(prefix + b"once")).response.count == 1

    run(body)


@asynccontextmanager
async def cuttable_proxy(target_port: int) -> AsyncIterator[tuple[str, Callable[[], None]]]:
    """A TCP proxy to ``target_port`` and a function that cuts every connection through it."""
    writers: list[asyncio.StreamWriter] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        writers.extend((writer, up_writer))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut() -> None:
        for writer in writers:
            writer.transport.abort()
        writers.clear()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", cut


def test_watch_resumes_after_a_broken_stream(store_url: str, prefix: bytes) -> None:
    port = int(store_url.rsplit(":", 1)[1])

    async def body() -> None:
        async with cuttable_proxy(port) as (proxy, cut), connect(proxy, store_url) as watcher, \
                connect(store_url) as writer:
            replies = watcher.watch(prefix, prefix=True, resume=True)
            async with aclosing(replies):
                assert (await anext(replies)).response.created
                await writer.put(prefix + b"r", b"1")
                first = (await anext(replies)).response.events
                cut()
                await writer.put(prefix + b"r", b"2")
                await writer.put(prefix + b"r", b"3")
                rest: list[Event] = []
                while len(rest) < 2:
                    rest.extend((await anext(replies)).response.events)
        assert [e.kv.value for e in (*first, *rest)] == [b"1", b"2", b"3"]

    run(body)


@pytest.fixture
def fresh_etcd(tmp_path: Path, etcd_processes: Processes) -> str:
    """An etcd of one's own, for tests that compact its history."""
    return etcd_processes.etcd(tmp_path / "etcd").url


def test_compaction_cancels_watches_and_old_reads(fresh_etcd: str) -> None:
    async def body() -> None:
        async with connect(fresh_etcd) as etcd:
            first = await etcd.put(b"c", b"1")
            latest = await etcd.put(b"c", b"2")
            await etcd.compact(latest.header.revision, physical=True)
            with pytest.raises(Compacted):
                await etcd.get(b"c", revision=first.header.revision)
            replies = etcd.watch(b"c", start_revision=first.header.revision)
            async with aclosing(replies):
                messages = [reply.response async for reply in replies]
        assert messages[-1].canceled and messages[-1].compact_revision == latest.header.revision

    run(body)

