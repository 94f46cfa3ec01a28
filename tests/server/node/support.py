"""Two members of one cluster started in this process on loopback, for tests of the node's driver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from confagent.server import StoreServer
from confagent.settings import StoreConfig
from confagent.testing import free_port


@asynccontextmanager
async def first_and_joined(root: Path, *, learner: bool, timeout_s: float) -> AsyncIterator[
        tuple[StoreServer, StoreServer, httpx.AsyncClient]]:
    """A lone member serving clients (``a``, the leader), a second one added to it as a learner or a voter
    and started (``b``, its peer URL only), and a client of the first; both stopped at the end."""
    client_url = f"http://127.0.0.1:{free_port()}"
    first_peer, second_peer = (f"http://127.0.0.1:{free_port()}" for _ in range(2))
    first = StoreServer(StoreConfig(name="a", data_dir=root / "a", listen_client_urls=(client_url,),
                                    listen_peer_urls=(first_peer,), initial_cluster=f"a={first_peer}"))
    await first.start()
    second: StoreServer | None = None
    try:
        async with httpx.AsyncClient(base_url=client_url, timeout=timeout_s) as client:
            added = await client.post("/v3/cluster/member/add", json={"peerURLs": [second_peer],
                                                                      "isLearner": learner})
            assert added.status_code == 200, added.text
            second = StoreServer(StoreConfig(
                name="b", data_dir=root / "b", listen_peer_urls=(second_peer,),
                initial_cluster=f"a={first_peer},b={second_peer}", initial_cluster_state="existing"))
            await second.start()
            yield first, second, client
    finally:
        if second is not None:
            await second.stop()
        await first.stop()
