"""Fixtures for the backend tests: every backend behind one ``Harness``, and a confagent store process.

``harness`` runs a test once per backend: ``etcd`` against the real etcd,
``etcd-store`` (the etcd backend against a ``confagent store`` process),
``embedded`` (in this process), ``file`` and ``env``. ``writing_harness``,
``compacting_harness`` and ``raw_key_harness`` run it once per backend that
can express the case (a capability, never a name). ``ns`` is a key namespace
of the test's own, since the servers are shared by the session.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.backends.harness import EmbeddedHarness, EnvHarness, EtcdHarness, FileHarness, Harness

HARNESSES = ["etcd", "etcd-store", "embedded", "file", "env"]
WRITING = ["etcd", "etcd-store", "embedded", "file"]
COMPACTING = ["etcd", "etcd-store", "embedded"]


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
    """Backends whose keys are bytes, so a key may not be UTF-8."""
    return _harness(request, tmp_path)
