"""Fixtures shared by every test folder: a real etcd 3.4 on a loopback port.

``etcd_server`` is session-scoped and returns its client URL. Tests that use it
must leave no state others depend on: use keys under a prefix of their own.
A missing etcd binary is an error with the install hint, never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from confagent.testing import start_etcd


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real etcd (``/usr/bin/etcd``, Debian's etcd-server) started for this session."""
    data_dir: Path = tmp_path_factory.mktemp("etcd-session") / "data"
    server = start_etcd(data_dir)
    try:
        yield server.url
    finally:
        server.stop()
