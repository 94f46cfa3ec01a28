"""README's "What did the agent do?" commands run as written (``tests/agent/readme.py``): the quickstart
agent in the background, a put, then ``confagent history`` and ``history show`` from its database."""

from __future__ import annotations

from pathlib import Path

from confagent.testing import Processes
from tests.agent.readme import run_block


def test_the_readmes_history_commands_run_as_written(tmp_path: Path, processes: Processes) -> None:
    live = run_block(processes, tmp_path, "$ confagent history")
    assert "examples/quickstart/data/history.db" in live.created()
