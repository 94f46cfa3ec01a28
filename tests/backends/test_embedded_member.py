"""The embedded backend as one member of a three-member cluster, all three in this process.

A fault proxy stands in front of each member's peer port (it advertises the
proxy), so the test can cut a follower off (resetting its connections, so that nothing sent
meanwhile arrives later) while the others write past a log compaction:
after the heal it gets the leader's snapshot, and the backend makes the cache resync.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from pathlib import Path

from confagent.backends import CacheTrouble, CacheUpdate, EmbeddedBackend, PrefixCache
from confagent.errors import ResyncNeeded
from confagent.kv import PutRequest
from confagent.server import StoreServer
from confagent.settings import StoreConfig
from confagent.testing import FaultProxy, PartitionMode, free_port
from tests.backends.harness import run

SNAPSHOT_ENTRIES = 10
"""Small, so that a few writes compact the leader's log past the cut-off member."""


@asynccontextmanager
async def three_members(tmp_path: Path) -> AsyncIterator[tuple[list[EmbeddedBackend], list[FaultProxy]]]:
    """Three started members; each one's peers reach it through its proxy."""
    peer_ports = [free_port() for _ in range(3)]
    proxies = [FaultProxy(free_port(), "127.0.0.1", port) for port in peer_ports]
    cluster = ",".join(f"m{i}=http://127.0.0.1:{proxy.port}" for i, proxy in enumerate(proxies))
    servers = [StoreServer(StoreConfig(
        name=f"m{i}", data_dir=tmp_path / f"m{i}", listen_client_urls=(),
        listen_peer_urls=(f"http://127.0.0.1:{peer_ports[i]}",),
        initial_advertise_peer_urls=(f"http://127.0.0.1:{proxies[i].port}",), initial_cluster=cluster,
        snapshot_entries=SNAPSHOT_ENTRIES)) for i in range(3)]
    await asyncio.gather(*(server.start() for server in servers))
    backends = [EmbeddedBackend(server) for server in servers]
    try:
        yield backends, proxies
    finally:
        await asyncio.gather(*(backend.close() for backend in backends))
        for proxy in proxies:
            proxy.close()


def _leads(backend: EmbeddedBackend) -> bool:
    return backend.node.leader_id == backend.server.info.member_id


def test_a_member_that_gets_the_leaders_snapshot_makes_the_cache_resync(tmp_path: Path) -> None:
    async def body() -> None:
        async with three_members(tmp_path) as (backends, proxies):
            await backends[0].snapshot(["/k/"])  # after a ReadIndex round: a leader is known
            leader = next(b for b in backends if _leads(b))
            follower = next(i for i, b in enumerate(backends) if not _leads(b))
            cache = PrefixCache(backends[follower], ["/k/"])
            async with aclosing(cache.events()) as events:
                first = await anext(events)
                assert isinstance(first, CacheUpdate) and first.resynced
                proxies[follower].partition(PartitionMode.REJECT)  # drops what was in flight
                writes = 3 * SNAPSHOT_ENTRIES
                for i in range(writes):
                    await leader.node.propose(PutRequest(f"/k/{i:02}".encode(), b"v"))
                proxies[follower].heal()
                troubles: list[CacheTrouble] = []
                async for event in events:
                    if isinstance(event, CacheTrouble):
                        troubles.append(event)
                    elif len(event.view) == writes:
                        break
                assert [type(trouble.error) for trouble in troubles] == [ResyncNeeded]
                assert isinstance(event, CacheUpdate) and event.resynced
                assert event.revision == leader.node.kv.revision

    run(body)
