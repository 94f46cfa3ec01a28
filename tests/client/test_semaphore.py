"""The client's semaphore (N slots under a name), against a real etcd and a confagent store alike.

Waits are on what the store shows (a taker's key queued, a lease gone), each
bounded by the test body's deadline (``support.run``).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from confagent.client import EtcdClient, Semaphore, Session
from confagent.errors import ConfigError, LockLost
from confagent.kv import PutRequest, RangeRequest, SortOrder, SortTarget, prefix_range
from confagent.testing import until_async
from tests.client.support import connect, run


@pytest.fixture
def name() -> bytes:
    return f"test-semaphore/{uuid.uuid4().hex[:8]}".encode()


async def _queued(etcd: EtcdClient, name: bytes, count: int) -> None:
    async def reached() -> bool:
        return (await etcd.get(name + b"/", prefix=True, count_only=True)).response.count == count
    await until_async(reached, f"{count} keys queued under {name!r}")


async def _enter(semaphore: Semaphore) -> Semaphore:
    return await semaphore.__aenter__()


def test_n_takers_hold_at_once_and_the_next_waits_for_one_to_leave(store_url: str, name: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd:
            waits: list[int] = []
            first = await _enter(etcd.semaphore(name, 2, ttl_s=10))
            second = await _enter(etcd.semaphore(name, 2, ttl_s=10))
            third = etcd.semaphore(name, 2, ttl_s=10, on_wait=waits.append)
            fourth = etcd.semaphore(name, 2, ttl_s=10)
            waiting = asyncio.create_task(_enter(third))
            await _queued(etcd, name, 3)
            later = asyncio.create_task(_enter(fourth))
            await _queued(etcd, name, 4)
            assert waits == [2] and not waiting.done() and not later.done()
            await second.__aexit__(None, None, None)  # the second leaves: the third, queued first, holds
            await waiting
            assert not later.done()
            assert first.revision < second.revision < third.revision
            assert third.key == name + b"/" + f"{third.session.lease_id:x}".encode()
            await etcd.fenced(third.fence, PutRequest(key=name + b"-data", value=b"third"))
            await first.__aexit__(None, None, None)
            await later
            for holder in (third, fourth):
                await holder.__aexit__(None, None, None)
            assert (await etcd.get(name + b"/", prefix=True, count_only=True)).response.count == 0
    run(body)


def test_a_dead_holders_slot_is_free_once_its_lease_expires(store_url: str, name: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd:
            lease = (await etcd.lease_grant(2)).response.id  # a holder that never renews: dead
            await etcd.put(name + b"/" + f"{lease:x}".encode(), b"dead", lease=lease)
            async with etcd.semaphore(name, 1, ttl_s=10) as taker:
                assert taker.revision > 0
                assert (await etcd.lease_time_to_live(lease)).response.ttl_s == -1
    run(body)


def test_a_cancelled_waiter_leaves_nothing_queued(store_url: str, name: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd, Session(etcd, ttl_s=10) as session, \
                etcd.semaphore(name, 1, ttl_s=10):
            waiting = asyncio.create_task(_enter(etcd.semaphore(name, 1, session=session)))
            await _queued(etcd, name, 2)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            await _queued(etcd, name, 1)  # its key deleted, though its session lives on
            assert not session.lost.is_set()
    run(body)


def test_one_slot_per_session_and_a_session_lost_while_waiting(store_url: str, name: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd, Session(etcd, ttl_s=10) as session, \
                etcd.semaphore(name, 2, session=session) as held:
            with pytest.raises(ConfigError, match="one slot per session"):
                await _enter(etcd.semaphore(name, 2, session=session))
            assert (await etcd.get(held.key)).response.count == 1  # the other's key stays
            other = await _enter(etcd.semaphore(name, 2, ttl_s=10))
            waiter = etcd.semaphore(name, 2, ttl_s=10)
            waiting = asyncio.create_task(_enter(waiter))
            await _queued(etcd, name, 3)
            await etcd.lease_revoke(waiter.session.lease_id)
            with pytest.raises(LockLost):
                await waiting
            await other.__aexit__(None, None, None)
    run(body)


def test_a_wait_whose_history_was_compacted_reads_the_queue_again(store_url: str, name: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd, etcd.semaphore(name, 1, ttl_s=10) as holder:
            waiter = etcd.semaphore(name, 1, ttl_s=10)
            await waiter.session.start()
            try:
                key = name + b"/" + f"{waiter.session.lease_id:x}".encode()
                revision = (await etcd.put(key, lease=waiter.session.lease_id)).header.revision
                for n in range(3):
                    latest = (await etcd.put(name + b"-noise", str(n).encode())).header.revision
                await etcd.compact(latest)  # the deletions after ``revision`` can no longer be watched
                queue = RangeRequest(*prefix_range(name + b"/"), sort_order=SortOrder.ASCEND,
                                     sort_target=SortTarget.CREATE, keys_only=True)
                ahead, seen = await waiter._wait_for_deletes(key, revision, {holder.key}, queue, revision)
                assert (ahead, seen >= latest) == ({holder.key}, True)
                waiting = asyncio.create_task(waiter._wait_for_deletes(key, revision, ahead, queue, seen))
                await etcd.delete(holder.key)
                assert (await waiting)[0] == set()
            finally:
                await waiter.session.close()
    run(body)


def test_bad_slot_counts_are_refused() -> None:
    async def body() -> None:
        async with connect("http://127.0.0.1:1") as etcd:
            for slots in (0, -1, 10_001):
                with pytest.raises(ConfigError, match="slots"):
                    etcd.semaphore(b"/locks/x", slots)
            with pytest.raises(ConfigError, match="name"):
                etcd.semaphore(b"", 1)
    run(body)
