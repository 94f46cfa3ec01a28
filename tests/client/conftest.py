"""The client tests run each case against a real etcd and against a confagent store."""

from __future__ import annotations

import pytest


@pytest.fixture(params=[pytest.param("etcd_server", marks=[pytest.mark.system, pytest.mark.etcd]),
                        pytest.param("confagent_server", marks=pytest.mark.system)])
def store_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(request.param)
    return url
