"""Fixtures of the CLI tests."""

from __future__ import annotations

import uuid

import pytest

from tests.cli.support import Tool


@pytest.fixture
def prefix() -> str:
    """Keys of the test's own, under a prefix no other test uses."""
    return f"test-cli/{uuid.uuid4().hex[:8]}/"


@pytest.fixture(params=[
    pytest.param(("etcdctl", "etcd_server"), marks=[pytest.mark.system, pytest.mark.etcd], id="etcdctl-etcd"),
    pytest.param(("ours", "etcd_server"), marks=[pytest.mark.system, pytest.mark.etcd], id="ours-etcd"),
    pytest.param(("ours", "confagent_server"), marks=pytest.mark.system, id="ours-confagent"),
])
def tool(request: pytest.FixtureRequest) -> Tool:
    """etcdctl against etcd, ours against etcd, ours against a confagent store."""
    name, server = request.param
    return Tool(name, request.getfixturevalue(server))
