"""Fixtures for the backend tests: every backend behind one ``Harness``, and a confagent store process.

``harness`` runs a test once per backend: ``etcd`` against the real etcd,
``etcd-store`` (the etcd backend against a ``confagent store`` process),
``embedded`` (in this process), ``file``, ``env``, ``redis`` (a real redis-server) and ``zookeeper`` (a
real ZooKeeper). ``writing_harness``,
``compacting_harness`` and ``raw_key_harness`` run it once per backend that
can express the case (a capability, never a name). ``ns`` is a key namespace
of the test's own, since the servers are shared by the session. The parameters
that start a server (``etcd``, ``etcd-store``) carry the ``system`` mark, and
``etcd`` the ``etcd`` mark (``redis`` and ``zookeeper`` start a server for the session:
``system``); ``start_server`` starts a real etcd or a confagent
store on a given port, parametrized the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from confagent.testing import Processes, ServerProcess
from tests.backends.harness import (
    EmbeddedHarness,
    EnvHarness,
    EtcdHarness,
    FileHarness,
    Harness,
    RedisHarness,
    ZookeeperHarness,
)
from tests.backends.redis_server import RedisServer
from tests.backends.zookeeper_server import ZookeeperServer

_MARKS = {"etcd": [pytest.mark.system, pytest.mark.etcd], "etcd-store": [pytest.mark.system],
          "confagent": [pytest.mark.system], "redis": [pytest.mark.system], "zookeeper": [pytest.mark.system]}


def _params(*kinds: str) -> list[object]:
    """``kinds`` as fixture parameters, those that start a server marked as such."""
    return [pytest.param(kind, marks=_MARKS.get(kind, ()), id=kind) for kind in kinds]


HARNESSES = _params("etcd", "etcd-store", "embedded", "file", "env", "redis", "zookeeper")
WRITING = _params("etcd", "etcd-store", "embedded", "file", "redis", "zookeeper")
COMPACTING = _params("etcd", "etcd-store", "embedded")


@pytest.fixture
def ns() -> str:
    return f"/t{uuid.uuid4().hex[:10]}"


def _harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    kind: str = request.param
    if kind == "etcd":
        return EtcdHarness(kind, request.getfixturevalue("etcd_server"))
    if kind == "etcd-store":
        return EtcdHarness(kind, request.getfixturevalue("confagent_server"))
    if kind == "embedded":
        return EmbeddedHarness(tmp_path / "embedded")
    if kind == "file":
        return FileHarness(tmp_path)
    if kind == "redis":
        return RedisHarness(request.getfixturevalue("redis_session").port)
    if kind == "zookeeper":
        return ZookeeperHarness(request.getfixturevalue("zookeeper_session").node)
    return EnvHarness()


@pytest.fixture(params=HARNESSES)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    return _harness(request, tmp_path)


@pytest.fixture(params=WRITING)
def writing_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    return _harness(request, tmp_path)


@pytest.fixture(params=COMPACTING)
def compacting_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    return _harness(request, tmp_path)


@pytest.fixture(params=COMPACTING)
def raw_key_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    """Backends whose keys are bytes, so a key may not be UTF-8, and that keep each write's revision
    (redis, without history, has its own case: tests/backends/test_redis.py)."""
    return _harness(request, tmp_path)


@pytest.fixture(scope="session")
def redis_session(session_processes: Processes, tmp_path_factory: pytest.TempPathFactory) -> RedisServer:
    """A real redis-server for the session's tests (each keeps to its own ``ns``)."""
    return RedisServer(session_processes, tmp_path_factory.mktemp("redis-session")).start()


@pytest.fixture(scope="session")
def zookeeper_session(session_processes: Processes, tmp_path_factory: pytest.TempPathFactory,
                      ) -> ZookeeperServer:
    """A real ZooKeeper for the session's tests (each keeps to its own ``ns``)."""
    return ZookeeperServer(session_processes, tmp_path_factory.mktemp("zookeeper-session")).start()


@pytest.fixture(params=_params("etcd", "confagent"))
def start_server(request: pytest.FixtureRequest, processes: Processes) -> Callable[..., ServerProcess]:
    """How to start the parameter's server: ``start(data_dir, port=...)``, stopped when the test ends."""
    return processes.etcd if request.param == "etcd" else processes.store
