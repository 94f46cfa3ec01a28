"""Fixtures shared by every test folder: a real etcd 3.4 and a confagent store on loopback ports.

``etcd_server`` and ``confagent_server`` are session-scoped and return their
client URLs, so a test can take either (or be parametrized over both). Tests
that use them must leave no state others depend on: use keys under a prefix of
their own. A missing etcd binary is an error with the install hint, never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from confagent.testing import start_etcd, start_store


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real etcd (``/usr/bin/etcd``, Debian's etcd-server) started for this session."""
    data_dir: Path = tmp_path_factory.mktemp("etcd-session") / "data"
    server = start_etcd(data_dir)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def confagent_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a ``confagent store`` process started for this session."""
    data_dir: Path = tmp_path_factory.mktemp("confagent-session") / "data"
    server = start_store(data_dir)
    try:
        yield server.url
    finally:
        server.stop()
