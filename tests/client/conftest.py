"""The client tests run each case against a real etcd and against a confagent store."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["etcd_server", "confagent_server"])
def store_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(request.param)
    return url
