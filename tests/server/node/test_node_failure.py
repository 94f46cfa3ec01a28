"""A member whose Raft driver dies of a bug stops, loudly, instead of answering nothing forever.

The bug is injected through the node's public ``add_listener`` (a listener that raises while
an entry is applied, inside the driver): the write that met it and every later one are
answered 'server stopped' at once, ``/health`` says false, and ``run_until`` raises
``MemberFailed`` so that the store command exits non-zero and a supervisor restarts it.
Before, the driver's death went unnoticed: writes waited out their timeout, reads and
``/health`` went on as if nothing had happened.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx
import pytest

from confagent.errors import MemberFailed
from confagent.kv import Event
from confagent.server import StoreServer
from confagent.settings import StoreConfig
from confagent.testing import free_port

STOPPED = {"error": "etcdserver: server stopped", "message": "etcdserver: server stopped", "code": 14}


def _put(key: str) -> dict[str, str]:
    return {"key": base64.b64encode(key.encode()).decode(), "value": "eA=="}


def _listener_with_a_bug(revision: int, events: tuple[Event, ...]) -> None:
    if any(event.kv.key == b"boom" for event in events):
        raise RuntimeError("a bug in what runs when an entry is applied")


async def _scenario(data_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    server = StoreServer(StoreConfig(name="s", data_dir=data_dir, listen_client_urls=(url,),
                                     listen_peer_urls=()))
    await server.start()
    assert server.node is not None
    server.node.add_listener(_listener_with_a_bug)
    serving = asyncio.create_task(server.run_until(asyncio.Event()))
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            assert (await client.post("/v3/kv/put", json=_put("a"))).status_code == 200
            assert (await client.get("/health")).json() == {"health": "true"}
            boom = await client.post("/v3/kv/put", json=_put("boom"))
            assert (boom.status_code, boom.json()) == (503, STOPPED)
            later = await client.post("/v3/kv/put", json=_put("b"))
            assert (later.status_code, later.json()) == (503, STOPPED)
            health = await client.get("/health")
            assert (health.status_code, health.json()) == (503, {"health": "false"})
        with pytest.raises(MemberFailed, match="a bug in what runs when an entry is applied"):
            await asyncio.wait_for(serving, 30)
    finally:
        serving.cancel()
        await server.stop()


def test_a_driver_that_dies_fails_its_requests_and_stops_the_member(tmp_path: Path) -> None:
    asyncio.run(_scenario(tmp_path / "data"))
