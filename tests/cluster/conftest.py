"""The fixture of the cluster tests: three ``confagent store`` processes on loopback ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from confagent.testing import Processes, ServerProcess


@pytest.fixture
def cluster(tmp_path: Path, processes: Processes) -> list[ServerProcess]:
    """Three members of one cluster, healthy; each is stopped after the test (killed ones too)."""
    return processes.running_cluster(tmp_path, 3)
