"""README's "What did the agent do?" commands run as written (``tests/agent/readme.py``): the quickstart
agent in the background, a put, then ``confagent history`` and ``history show`` from its database."""

from __future__ import annotations

from pathlib import Path

from confagent.testing import Processes
from tests.agent.readme import _BLOCK, session

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readmes_history_commands_run_as_written(tmp_path: Path, processes: Processes) -> None:
    blocks = [block for block in _BLOCK.findall(README.read_text()) if "$ confagent history" in block]
    assert len(blocks) == 1, "the README shows one confagent history session"
    excerpt = tmp_path / "README-history.md"
    excerpt.write_text(f"```console\n{blocks[0]}```\n")
    from tests.agent.readme import commands  # noqa: PLC0415 - read after the excerpt is written

    steps = commands(excerpt)
    with session(processes, tmp_path / "work", excerpt) as live:
        for step in steps:
            live.run(step)
    assert "examples/quickstart/data/history.db" in live.created()
