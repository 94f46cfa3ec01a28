"""The fixture of the cluster tests: three ``confagent store`` processes on loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from confagent.testing import ServerProcess, running, store_cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Three members of one cluster, healthy; each is stopped after the test (killed ones too)."""
    with running(store_cluster(tmp_path, 3)) as members:
        yield members
