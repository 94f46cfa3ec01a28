"""Fixtures starting real servers on loopback: a confagent store and a real etcd side by side."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from confagent.testing import ServerProcess, start_etcd, start_store
from tests.e2e.differential import Pair


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    """A fresh etcd and a fresh confagent store, started concurrently."""
    with ThreadPoolExecutor(2) as pool:
        etcd_f = pool.submit(start_etcd, tmp_path / "etcd")
        ours_f = pool.submit(start_store, tmp_path / "ours")
        servers: list[ServerProcess] = [etcd_f.result(), ours_f.result()]
    client = Pair(servers[0].url, servers[1].url)
    try:
        yield client
    finally:
        client.close()
        for server in servers:
            server.stop()
