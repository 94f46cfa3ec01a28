"""Locks, fences and elections from the client, against a real etcd and a confagent store alike.

Waits are on what the store shows (a waiter's key queued, a session's ``lost``),
each bounded by the test body's deadline (``support.run``).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest

from confagent.client import EtcdClient, Fence, Session
from confagent.errors import ElectionNoLeader, ElectionNotLeader, LockLost
from confagent.kv import PutRequest
from confagent.testing import DEADLINE_S, until_async
from tests.client.support import connect, run


@pytest.fixture
def name() -> bytes:
    return f"test-locks/{uuid.uuid4().hex[:8]}".encode()


async def _queued(etcd: EtcdClient, name: bytes, count: int) -> None:
    async def reached() -> bool:
        return (await etcd.get(name + b"/", prefix=True, count_only=True)).response.count == count
    await until_async(reached, f"{count} keys queued under {name!r}")


def test_a_second_holder_waits_for_the_first(store_url: str, name: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd:
            async with etcd.lock(name, ttl_s=10) as first:
                assert first.key == name + b"/" + f"{first.session.lease_id:x}".encode()
                assert first.revision == (await etcd.get(first.key)).response.kvs[0].create_revision
                second = etcd.lock(name, ttl_s=10)
                waiting = asyncio.create_task(second.__aenter__())
                await _queued(etcd, name, 2)
                assert not waiting.done()
            await waiting
            try:
                assert second.revision > first.revision
                assert not second.lost.is_set()
            finally:
                await second.__aexit__(None, None, None)
            assert (await etcd.get(name + b"/", prefix=True, count_only=True)).response.count == 0
    run(body)


def test_a_fenced_write_is_applied_only_while_the_lock_is_held(store_url: str, name: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd:
            data = name + b"-data"
            async with etcd.lock(name, ttl_s=10) as lock:
                fence = lock.fence
                await etcd.fenced(fence, PutRequest(key=data, value=b"first"))
                await etcd.lease_revoke(lock.session.lease_id)  # as if it had expired
                with pytest.raises(LockLost, match="no longer held"):
                    await etcd.fenced(fence, PutRequest(key=data, value=b"late"))
            async with etcd.lock(name, ttl_s=10) as later:
                assert later.revision > fence.revision
                released = later.fence
                await etcd.fenced(released, PutRequest(key=data, value=b"second"))
                with pytest.raises(LockLost):
                    await etcd.fenced(fence, PutRequest(key=data, value=b"stale"))
                with pytest.raises(LockLost):  # the key, created after that revision: another holding
                    await etcd.fenced(Fence(released.key, released.revision - 1), PutRequest(key=data))
            with pytest.raises(LockLost):  # released: the key is gone
                await etcd.fenced(released, PutRequest(key=data, value=b"after"))
            assert (await etcd.get(data)).response.kvs[0].value == b"second"
    run(body)


def test_a_session_lost_while_waiting_or_holding_ends_the_lock(store_url: str, name: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd, etcd.lock(name, ttl_s=10) as holder:
            waiter = etcd.lock(name, ttl_s=3)
            waiting = asyncio.create_task(waiter.__aenter__())
            await _queued(etcd, name, 2)
            await etcd.lease_revoke(waiter.session.lease_id)
            with pytest.raises(LockLost, match="lost while waiting"):
                await waiting
            await etcd.lease_revoke(holder.session.lease_id)
            await asyncio.wait_for(holder.lost.wait(), DEADLINE_S)
    run(body)


def test_locks_and_a_candidate_share_one_session(store_url: str, name: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd, Session(etcd, ttl_s=10) as session:
            async with etcd.lock(name + b"/a", session=session) as a, \
                    etcd.lock(name + b"/b", session=session) as b:
                assert a.session is b.session is session
            async with etcd.election(name + b"/e", session=session) as election:
                await election.campaign(b"v")
            assert not session.lost.is_set()
            assert (await etcd.lease_time_to_live(session.lease_id)).response.ttl_s > 0
    run(body)


def test_an_election_campaign_proclaim_observe_and_resign(store_url: str, name: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd:
            seen: list[bytes] = []
            observer = asyncio.create_task(_observe(etcd, name, seen, 4))
            async with etcd.election(name, ttl_s=10) as a:
                leader = await a.campaign(b"a1")
                assert (leader.name, leader.key) == (name, name + b"/" + f"{a.session.lease_id:x}".encode())
                await until_async(lambda: seen == [b"a1"], "the observer to see the first leader")
                await a.proclaim(b"a2")
                assert (await a.leader()).value == b"a2"
                b = etcd.election(name, ttl_s=10)
                await b.__aenter__()
                try:
                    campaigning = asyncio.create_task(b.campaign(b"b1"))
                    await _queued(etcd, name, 2)
                    await a.resign()
                    with pytest.raises(ElectionNotLeader):
                        await a.proclaim(b"late")
                    await campaigning
                    with pytest.raises(ElectionNotLeader):  # the old leader's key, presented anyway
                        await etcd.proclaim(leader, b"late")
                    await b.proclaim(b"b2")
                finally:
                    await b.__aexit__(None, None, None)
            assert await asyncio.wait_for(observer, DEADLINE_S) == [b"a1", b"a2", b"b1", b"b2"]
            with pytest.raises(ElectionNoLeader):
                await etcd.election(name).leader()
    run(body)


async def _observe(etcd: EtcdClient, name: bytes, seen: list[bytes], count: int) -> list[bytes]:
    async with contextlib.aclosing(etcd.election(name).observe()) as leaders:
        async for kv in leaders:
            seen.append(kv.value)
            if len(seen) == count:
                break
    return seen
