"""Fixtures starting real servers on loopback: a confagent store and a real etcd side by side."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from confagent.testing import Processes
from tests.e2e.differential import Pair


@pytest.fixture
def pair(tmp_path: Path, etcd_processes: Processes) -> Iterator[Pair]:
    """A fresh etcd and a fresh confagent store, started concurrently."""
    with ThreadPoolExecutor(2) as pool:
        etcd = pool.submit(etcd_processes.etcd, tmp_path / "etcd")
        ours = pool.submit(etcd_processes.store, tmp_path / "ours")
    client = Pair(etcd.result().url, ours.result().url)
    try:
        yield client
    finally:
        client.close()
