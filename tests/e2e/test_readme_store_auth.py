"""The README's store auth example runs as written (``tests/agent/readme.py``): a store with
``--auth-token jwt,...`` and ``--bcrypt-cost``, auth enabled with the CLI, a JWT from Authenticate."""

from __future__ import annotations

from pathlib import Path

from confagent.testing import Processes
from tests.agent.readme import commands, session

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readmes_store_auth_commands_run_as_written(tmp_path: Path, processes: Processes,
                                                         subprocesses: None) -> None:
    steps = commands(README)
    assert any("--auth-token jwt," in step.text for step in steps), "the README shows the JWT store"
    with session(processes, tmp_path, README) as live:
        for step in steps:
            live.run(step)
