"""The lock and election services in a member run in this process: calls waiting for their turn end when
the member stops (an answer, not a hang), an observe stream ends with it, and a waiter cancelled in
the service lets go of its key."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from confagent.kv import RangeRequest, prefix_end
from confagent.server import StoreServer
from confagent.server.node import ConcurrencyServices
from confagent.settings import StoreConfig
from confagent.testing import b64, free_port, until_async
from confagent.wire import LockRequest


async def _count(client: httpx.AsyncClient, prefix: str) -> int:
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    body = {"key": b64(prefix), "range_end": b64(end), "count_only": True}
    return int((await client.post("/v3/kv/range", json=body)).json().get("count", 0))


async def _scenario(data_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    server = StoreServer(StoreConfig(name="s", data_dir=data_dir, listen_client_urls=(url,),
                                     listen_peer_urls=()))
    await server.start()
    stopped = False
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            for lease in ("1000", "2000"):
                granted = await client.post("/v3/lease/grant", json={"TTL": 60, "ID": lease})
                assert granted.status_code == 200
            held = await client.post("/v3/lock/lock", json={"name": b64("L"), "lease": "1000"})
            assert held.status_code == 200
            waiting = asyncio.create_task(client.post("/v3/lock/lock",
                                                      json={"name": b64("L"), "lease": "2000"}))
            await client.post("/v3/election/campaign", json={"name": b64("E"), "lease": "1000"})
            async with client.stream("POST", "/v3/election/observe", json={"name": b64("E")}) as observed:
                lines = observed.aiter_lines()
                assert '"kv":' in await anext(lines)  # the observer is there

                async def queued() -> bool:
                    return await _count(client, "L/") == 2

                await until_async(queued, "the waiter queued")
                await server.stop()
                stopped = True
                answer = await asyncio.wait_for(waiting, 30)
                assert answer.status_code == 500
                assert answer.json()["message"] == "etcdserver: server stopped"
                assert [line async for line in lines] == []  # the stream ended, without an error
    finally:
        if not stopped:
            await server.stop()


def test_waiting_calls_end_when_the_member_stops(tmp_path: Path) -> None:
    asyncio.run(asyncio.wait_for(_scenario(tmp_path / "data"), 60))


async def _cancelled_waiter(data_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    server = StoreServer(StoreConfig(name="s", data_dir=data_dir, listen_client_urls=(url,),
                                     listen_peer_urls=()))
    await server.start()
    try:
        node = server.node
        assert node is not None
        queue = RangeRequest(key=b"L/", range_end=prefix_end(b"L/"))
        services = ConcurrencyServices(node)
        _, first = await services.lock.lock(LockRequest(name=b"L"))
        waiter = asyncio.create_task(services.lock.lock(LockRequest(name=b"L")))
        await until_async(lambda: len(node.kv.range(queue).kvs) == 2, "the waiter queued")
        waiter.cancel()
        await until_async(lambda: len(node.kv.range(queue).kvs) == 1, "its key to go")
        assert node.kv.range(queue).kvs[0].key == first
        services.close()
    finally:
        await server.stop()


def test_a_cancelled_waiter_lets_go_of_its_key(tmp_path: Path) -> None:
    asyncio.run(asyncio.wait_for(_cancelled_waiter(tmp_path / "data"), 60))
